"""Stock ledger and balances for every place, receipt, shipment, inventory."""

from django.apps import AppConfig


class WarehouseConfig(AppConfig):
    name = "warehouse"
    verbose_name = "Склад и остатки"
