"""Sections of the reference data in the sidebar (imported from `LloConfig.ready()`)."""

from llo.navigation import Section, register
from llo.roles import NSI_ROLES, WEB_ROLES

register(Section(
    "catalogue", "Каталог", "catalogue", WEB_ROLES,
    "Препараты, медицинские изделия и питание: МНН, торговые наименования, упаковки, GTIN, ЖНВЛП.", order=20,
))
register(Section(
    "programs", "Программы ЛЛО", "program_list", WEB_ROLES,
    "Федеральные и региональные программы: финансирование, перечни препаратов, категорий и диагнозов.", order=25,
))
register(Section(
    "benefit_categories", "Льготные категории", "benefit_categories", WEB_ROLES,
    "Федеральные коды льготных категорий и их соответствие справочнику НСИ 99.2.541.", order=30,
))
register(Section(
    "nsi", "Справочники НСИ", "nsi_dictionaries", NSI_ROLES,
    "Версии федеральных справочников НСИ, проверка портала и журнал загрузок.", order=800,
))
