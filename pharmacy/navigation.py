"""The pharmacy's sections of the sidebar (imported from `PharmacyConfig.ready()`)."""

from llo.navigation import Section, register

from .selectors import DISPENSING_ROLES, READ_ALL_ROLES

register(Section(
    "pharmacy_desk", "Отпуск по рецепту", "pharmacy_desk", DISPENSING_ROLES,
    "Рабочее место провизора: рецепт по штрихкоду, серии и номеру или QR-коду пациента, сканирование "
    "упаковок, отпуск и отсроченное обслуживание.", order=20,
))
register(Section(
    "pharmacy_deferrals", "Отсроченное обслуживание", "pharmacy_deferrals", DISPENSING_ROLES | READ_ALL_ROLES,
    "Рецепты на отсроченном обслуживании: сроки в рабочих днях, нарушенные и истекающие, журнал, выгрузка.",
    order=21,
))
