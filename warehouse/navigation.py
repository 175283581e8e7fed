"""Sections of the stock pages in the sidebar (imported from `WarehouseConfig.ready()`)."""

from llo.navigation import Section, register

from .roles import INCOMING_ROLES, READ_ROLES, STORAGE_ROLES

register(Section(
    "stock_documents", "Складские документы", "stock_documents", READ_ROLES,
    "Приёмка, отгрузка, возврат, списание, инвентаризация: сканирование упаковок и проведение.", order=40,
))
register(Section(
    "stock_incoming", "Входящие поставки", "stock_incoming", INCOMING_ROLES,
    "Накладные склада в пути в ваш пункт отпуска: приёмка в остатки.", order=41,
))
register(Section(
    "stock_overview", "Остатки", "stock_overview", READ_ROLES,
    "Остатки по препаратам, сериям, срокам и адресам; сроки годности, неликвиды, перераспределение.", order=42,
))
register(Section(
    "stock_storage", "Хранение и короба", "stock_addresses", STORAGE_ROLES,
    "Адреса хранения и этикетки, размещение упаковок, формирование и расформирование коробов SSCC.", order=44,
))
