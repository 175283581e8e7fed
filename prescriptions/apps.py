"""Numbering, issue/copy/cancel, validation, reservation, print forms."""

from django.apps import AppConfig


class PrescriptionsConfig(AppConfig):
    name = "prescriptions"
    verbose_name = "Рецепты"
