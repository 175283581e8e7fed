"""Beneficiaries, benefit rights, refusals, inclusion requests, conflicts."""

from django.apps import AppConfig


class RegistryConfig(AppConfig):
    name = "registry"
    verbose_name = "Регистр льготополучателей"

    def ready(self) -> None:
        from llo.demo import register_demo_seeder

        from . import navigation  # noqa: F401  (sidebar sections of the register pages)
        from .demo import seed_beneficiaries

        register_demo_seeder("registry", seed_beneficiaries)
