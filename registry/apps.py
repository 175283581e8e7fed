"""Beneficiaries, benefit rights, refusals, inclusion requests, conflicts."""

from django.apps import AppConfig


class RegistryConfig(AppConfig):
    name = "registry"
    verbose_name = "Регистр льготополучателей"
