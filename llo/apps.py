from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules


class LloConfig(AppConfig):
    name = "llo"
    verbose_name = "ЛЛО: ядро"

    def ready(self) -> None:
        # Outbox topic handlers live in `<app>/handlers.py` (integrations/*/handlers.py too).
        autodiscover_modules("handlers")
        from .reference import navigation  # noqa: F401  (sidebar sections of the reference pages)
