"""SFR, EGISZ, MDLP, NSI: clients, documents, outbox handlers, emulators."""

from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "Внешние системы"
