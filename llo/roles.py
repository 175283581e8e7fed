"""What each role may do. Views and access helpers ask here; nothing else lists roles."""

from .models import Role

REGION_WIDE_ROLES = frozenset({Role.MINISTRY_ANALYST, Role.MINISTRY_ADMIN, Role.SYSTEM_ADMIN})
OUTBOX_ROLES = frozenset({Role.MINISTRY_ADMIN, Role.SYSTEM_ADMIN})
AUDIT_ROLES = frozenset({Role.MINISTRY_ADMIN})
API_ONLY_ROLES = frozenset({Role.MIS_CLIENT})
CURATOR_ROLES = frozenset({Role.MINISTRY_ADMIN})  # reference data: programs, lists, catalogue flags
NSI_ROLES = frozenset({Role.MINISTRY_ADMIN, Role.SYSTEM_ADMIN})  # see NSI imports; only curators start them
# Personal data of beneficiaries: who may read a person's record at all (analysts see depersonalized
# figures only), who may browse by name (within their MO; the ministry region-wide), who manages.
PERSON_READ_ROLES = frozenset({Role.DOCTOR, Role.MO_DRUG_OFFICER, Role.PHARMACIST, Role.MIS_CLIENT,
                               Role.MINISTRY_ADMIN})
MO_ROLES = frozenset({Role.DOCTOR, Role.MO_DRUG_OFFICER, Role.MIS_CLIENT})
REGISTER_ADMIN_ROLES = frozenset({Role.MINISTRY_ADMIN})
SFR_ROLES = frozenset({Role.MINISTRY_ADMIN, Role.SYSTEM_ADMIN})  # Social Fund register imports: see and start
WEB_ROLES = frozenset(set(Role) - API_ONLY_ROLES)

ROLE_SUMMARY = {
    Role.DOCTOR: "Проверка льготных прав пациента, выписка и печать льготных рецептов, "
    "остатки в прикреплённых аптеках.",
    Role.MO_DRUG_OFFICER: "Заявочная кампания МО, включение пациентов в регистр, контроль выписки в МО.",
    Role.PHARMACIST: "Отпуск по рецептам со сканированием DataMatrix, отсроченное обслуживание, "
    "приёмка товара и учёт остатков пункта отпуска.",
    Role.WAREHOUSE_CLERK: "Приёмка по государственным контрактам, адресное хранение, отгрузка в аптеки, "
    "списание, инвентаризация, агрегация.",
    Role.MINISTRY_ANALYST: "Мониторинг обеспечения, отчёты и показатели по региону.",
    Role.MINISTRY_ADMIN: "Справочники и организации региона, заявочная кампания, контракты, "
    "журнал изменений, очередь обмена с внешними системами.",
    Role.MIS_CLIENT: "Учётная запись медицинской информационной системы: работа только через REST API.",
    Role.SYSTEM_ADMIN: "Состояние системы, очередь обмена, пользователи и ключи API.",
}


def has_role(user, roles) -> bool:
    return bool(user and user.is_authenticated and user.role in roles)
