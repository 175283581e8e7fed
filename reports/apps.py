"""Dashboards, regulated reports, medico-economic control, exports."""

from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "reports"
    verbose_name = "Отчёты"
