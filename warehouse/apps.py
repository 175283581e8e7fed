"""Stock ledger and balances for every place, receipt, shipment, inventory."""

from django.apps import AppConfig


class WarehouseConfig(AppConfig):
    name = "warehouse"
    verbose_name = "Склад и остатки"

    def ready(self) -> None:
        from llo.demo import register_demo_seeder

        from . import navigation  # noqa: F401  (sidebar sections of the stock pages)
        from .demo import seed_stock

        register_demo_seeder("warehouse", seed_stock)
