"""Numbering, issue/copy/cancel, validation, reservation, print forms."""

from django.apps import AppConfig


class PrescriptionsConfig(AppConfig):
    name = "prescriptions"
    verbose_name = "Рецепты"

    def ready(self) -> None:
        from llo.demo import register_demo_seeder
        from registry.seeding import HISTORY_SEEDERS

        from . import navigation  # noqa: F401  (the sidebar section of the prescription pages)
        from .demo import seed_prescriptions
        from .seeding import seed_prescription_history

        register_demo_seeder("prescriptions", seed_prescriptions, order=200)  # after the stock
        HISTORY_SEEDERS["prescriptions"] = (seed_prescription_history, "how many past prescriptions (benchmarks)")
