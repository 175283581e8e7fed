"""Dispensing desk, deferred service queue."""

from django.apps import AppConfig


class PharmacyConfig(AppConfig):
    name = "pharmacy"
    verbose_name = "Аптечный отпуск"

    def ready(self) -> None:
        from llo.demo import register_demo_seeder

        from . import navigation  # noqa: F401  (the sidebar sections of the pharmacy pages)
        from .demo import seed_pharmacy

        register_demo_seeder("pharmacy", seed_pharmacy, order=210)  # after the prescriptions it dispenses
