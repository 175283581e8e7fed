"""Sections of the beneficiary register in the sidebar (imported from `RegistryConfig.ready()`)."""

from llo.navigation import Section, register

from .roles import ADMIN_ROLES, REQUEST_ROLES, SEARCH_ROLES, SFR_ROLES

register(Section(
    "register", "Регистр льготников", "register_search", SEARCH_ROLES,
    "Поиск гражданина по СНИЛС, полису ОМС, QR-коду или ФИО; льготные права, карта 030-Л/у.", order=10,
))
register(Section(
    "inclusion_requests", "Заявки на включение", "register_requests", REQUEST_ROLES,
    "Заявки медицинских организаций на включение пациентов в региональный регистр.", order=12,
))
register(Section(
    "register_conflicts", "Конфликты программ", "register_conflicts", ADMIN_ROLES,
    "Граждане с правами по нескольким программам на одни и те же дни.", order=14,
))
register(Section(
    "register_duplicates", "Дубликаты записей", "register_duplicates", ADMIN_ROLES,
    "Записи с одинаковыми ФИО, датой рождения и полом: проверка и объединение.", order=15,
))
register(Section(
    "sfr_imports", "Загрузки регистра СФР", "sfr_imports", SFR_ROLES,
    "Федеральный регистр из Социального фонда: файлы C_REGO/C_REGL, сервис изменений, журнал загрузок.",
    order=810,
))
