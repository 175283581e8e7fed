"""Request campaign, funding limits, lots, state contracts, allocations."""

from django.apps import AppConfig


class ProcurementConfig(AppConfig):
    name = "procurement"
    verbose_name = "Закупки"
