"""SFR, EGISZ, MDLP, NSI: clients, documents, outbox handlers, emulators."""

from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "Внешние системы"

    def ready(self) -> None:
        from .mdlp import navigation  # noqa: F401  (the sidebar section of the MDLP reconciliation page)
