"""The demo region: a ministry, two municipalities, five MOs, two pharmacy chains with six
dispensing points, the regional warehouse, two suppliers, one user of every role, and the
reference data (catalogue, ICD-10, categories, programs; see `llo/reference/demo.py`).

Idempotent: records are found by their natural keys (organization code, SNILS, username)
and created only when missing; demo passwords and API keys are reset to the printed values.
"""

import base64
import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from django.conf import settings
from django.db import transaction

from . import services
from .api_auth import token_digest
from .audit import audit_context
from .models import ApiToken, Doctor, Organization, PharmacyAttachment, Region, Role, User
from .models.organizations import OrganizationKind as K
from .validators import inn10_complete, ogrn_complete, snils_complete

REGION_CODE = "99"
DEMO_PASSWORD = "Demo-2026-llo"
SINCE = date(2026, 1, 1)


@dataclass
class Credentials:
    users: list[dict] = field(default_factory=list)
    api_tokens: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"users": self.users, "api_tokens": self.api_tokens}


def _ids(n: int) -> dict:
    """Valid ОГРН and ИНН for the n-th demo legal entity."""
    return {
        "ogrn": ogrn_complete(f"10299{n:02d}{n:05d}"[:12].ljust(12, "0")),
        "inn": inn10_complete(f"99{n:02d}{n:05d}"),
        "kpp": f"99{n:02d}01001",
    }


def _org(region, code, kind, name, short, parent=None, n=None, **extra) -> Organization:
    existing = Organization.objects.filter(code=code).first()
    if existing:
        return existing
    ids = _ids(n) if n is not None else {}
    return services.organization_create(
        region=region, kind=kind, code=code, name=name, short_name=short, parent=parent, **ids, **extra
    )


MOS = [
    # code, full name, short name, municipality index (None: under the ministry), address
    ("10001", "Государственное бюджетное учреждение здравоохранения «Областная клиническая больница»",
     "ГБУЗ «ОКБ»", None, "г. Северск, ул. Больничная, 1"),
    ("10002", "Государственное бюджетное учреждение здравоохранения «Городская поликлиника № 1»",
     "ГБУЗ «ГП № 1»", 0, "г. Северск, пр. Мира, 12"),
    ("10003", "Государственное бюджетное учреждение здравоохранения «Городская поликлиника № 2»",
     "ГБУЗ «ГП № 2»", 0, "г. Северск, ул. Садовая, 45"),
    ("10004", "Государственное бюджетное учреждение здравоохранения «Детская городская поликлиника»",
     "ГБУЗ «ДГП»", 0, "г. Северск, ул. Школьная, 7"),
    ("10005", "Государственное бюджетное учреждение здравоохранения «Заречная центральная районная больница»",
     "ГБУЗ «Заречная ЦРБ»", 1, "пгт Заречный, ул. Ленина, 3"),
]
SUBDIVISIONS = [("01", "Поликлиническое отделение"), ("02", "Терапевтическое отделение")]
DOCTORS = [
    # MO index, last, first, patronymic, position, may prescribe subsidized
    (1, "Петрова", "Анна", "Игоревна", "врач-терапевт участковый", True),
    (1, "Соколов", "Дмитрий", "Андреевич", "врач-эндокринолог", True),
    (0, "Кузнецова", "Елена", "Викторовна", "врач-кардиолог", True),
    (0, "Морозов", "Павел", "Сергеевич", "врач-невролог", False),
    (2, "Волкова", "Ирина", "Николаевна", "врач-терапевт участковый", True),
    (2, "Лебедев", "Олег", "Петрович", "врач общей практики", True),
    (3, "Новикова", "Мария", "Александровна", "врач-педиатр участковый", True),
    (3, "Фёдоров", "Артём", "Ильич", "врач-педиатр", False),
    (4, "Козлова", "Татьяна", "Владимировна", "врач-терапевт", True),
    (4, "Смирнов", "Андрей", "Юрьевич", "врач общей практики", True),
]
PHARMACY_ORGS = [
    ("AP-01", "Государственное унитарное предприятие «Областная аптечная сеть»", "ГУП «Областная аптечная сеть»", [
        ("AP-01-01", "Аптека № 1 (центр)", "г. Северск, пр. Мира, 10"),
        ("AP-01-02", "Аптека № 7 (Садовая)", "г. Северск, ул. Садовая, 40"),
        ("AP-01-03", "Аптека № 12 (Заречный)", "пгт Заречный, ул. Ленина, 5"),
    ]),
    ("AP-02", "Общество с ограниченной ответственностью «Фарма-Сервис»", "ООО «Фарма-Сервис»", [
        ("AP-02-01", "Аптека «Фарма-Сервис» на Больничной", "г. Северск, ул. Больничная, 3"),
        ("AP-02-02", "Аптека «Фарма-Сервис» на Школьной", "г. Северск, ул. Школьная, 9"),
        ("AP-02-03", "Аптека «Фарма-Сервис» в ТЦ «Северный»", "г. Северск, ул. Северная, 2"),
    ]),
]
# MO index -> dispensing point codes its patients use
ATTACHMENTS = {
    0: ["AP-02-01", "AP-01-01"],
    1: ["AP-01-01", "AP-02-03"],
    2: ["AP-01-02", "AP-02-03"],
    3: ["AP-02-02", "AP-01-01"],
    4: ["AP-01-03"],
}
USERS = [
    # username, role, organization code, last, first, patronymic, position
    ("doctor", Role.DOCTOR, "10002", "Петрова", "Анна", "Игоревна", "врач-терапевт участковый"),
    ("mo_officer", Role.MO_DRUG_OFFICER, "10002", "Григорьева", "Ольга", "Павловна", "заместитель главного врача"),
    ("pharmacist", Role.PHARMACIST, "AP-01-01", "Белова", "Наталья", "Сергеевна", "провизор"),
    # a pharmacist at every other dispensing point (the desk try-out sets: pharmacy/demo.py)
    ("pharm_ap_01_02", Role.PHARMACIST, "AP-01-02", "Сергеева", "Ирина", "Викторовна", "провизор"),
    ("pharm_ap_01_03", Role.PHARMACIST, "AP-01-03", "Никитина", "Людмила", "Андреевна", "фармацевт"),
    ("pharm_ap_02_01", Role.PHARMACIST, "AP-02-01", "Антонова", "Юлия", "Сергеевна", "провизор"),
    ("pharm_ap_02_02", Role.PHARMACIST, "AP-02-02", "Ковалёв", "Денис", "Игоревич", "провизор"),
    ("pharm_ap_02_03", Role.PHARMACIST, "AP-02-03", "Макарова", "Елена", "Павловна", "провизор"),
    ("warehouse", Role.WAREHOUSE_CLERK, "WH-01", "Орлов", "Виктор", "Михайлович", "кладовщик"),
    ("analyst", Role.MINISTRY_ANALYST, "MZ", "Зайцева", "Светлана", "Олеговна", "главный специалист-аналитик"),
    ("minadmin", Role.MINISTRY_ADMIN, "MZ", "Егоров", "Максим", "Валерьевич", "начальник отдела лекарственного обеспечения"),
    ("mis_gp1", Role.MIS_CLIENT, "10002", "", "МИС ГП № 1", "", "интеграция МИС"),
    ("mis_okb", Role.MIS_CLIENT, "10001", "", "МИС ОКБ", "", "интеграция МИС"),
    ("mis_gp2", Role.MIS_CLIENT, "10003", "", "МИС ГП № 2", "", "интеграция МИС"),
    ("mis_dgp", Role.MIS_CLIENT, "10004", "", "МИС ДГП", "", "интеграция МИС"),
    ("mis_crb", Role.MIS_CLIENT, "10005", "", "МИС Заречной ЦРБ", "", "интеграция МИС"),
    ("apteka_ap01", Role.PHARMACIST, "AP-01", "", "Учётная система ГУП «Областная аптечная сеть»", "",
     "интеграция аптечной системы"),
    ("apteka_ap02", Role.PHARMACIST, "AP-02", "", "Учётная система ООО «Фарма-Сервис»", "",
     "интеграция аптечной системы"),
    ("sysadmin", Role.SYSTEM_ADMIN, "MZ", "Тихонов", "Кирилл", "Романович", "системный администратор"),
]


def demo_api_key(username: str) -> str:
    """Stable per installation (derived from SECRET_KEY), so re-seeding keeps the printed key valid."""
    digest = hmac.new(settings.SECRET_KEY.encode(), f"demo-api-key:{username}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


# Apps that build on the core add their part of the demo region here (from their AppConfig.ready()),
# so that this module never imports them: name -> seeder, run in registration order after the core.
DEMO_SEEDERS: dict[str, tuple[int, Callable[[], None]]] = {}


def register_demo_seeder(name: str, seeder: Callable[[], None], *, order: int = 100) -> None:
    """`order`: seeders run lowest first (prescriptions need the stock the warehouse seeds)."""
    DEMO_SEEDERS[name] = (order, seeder)


def seed_demo() -> Credentials:
    from .reference.demo import seed_reference

    credentials = _seed_organizations()
    seed_reference()
    for _order, seeder in sorted(DEMO_SEEDERS.values(), key=lambda entry: entry[0]):
        seeder()
    return credentials


@transaction.atomic
def _seed_organizations() -> Credentials:
    with audit_context(source="seed_demo"):
        region, _ = Region.objects.get_or_create(code=REGION_CODE, defaults={"name": "Демонстрационная область"})
        ministry = _org(region, "MZ", K.MINISTRY, "Министерство здравоохранения Демонстрационной области",
                        "Минздрав области", n=1, address="г. Северск, пл. Советов, 1",
                        frmo_oid="1.2.643.5.1.13.13.12.2.99.1")
        municipalities = [
            _org(region, "MU-01", K.MUNICIPAL_AUTHORITY, "Управление здравоохранения администрации г. Северска",
                 "Управление здравоохранения г. Северска", parent=ministry, n=2),
            _org(region, "MU-02", K.MUNICIPAL_AUTHORITY, "Отдел здравоохранения администрации Заречного района",
                 "Отдел здравоохранения Заречного района", parent=ministry, n=3),
        ]
        mos = []
        for i, (code, name, short, mu, address) in enumerate(MOS):
            parent = ministry if mu is None else municipalities[mu]
            mo = _org(region, code, K.MEDICAL_ORG, name, short, parent=parent, n=10 + i, address=address,
                      frmo_oid=f"1.2.643.5.1.13.13.12.2.99.{100 + i}")
            for sub_code, sub_name in SUBDIVISIONS:
                _org(region, f"{code}-{sub_code}", K.MO_SUBDIVISION, f"{sub_name} {short}", sub_name, parent=mo,
                     address=address, frmo_oid=f"1.2.643.5.1.13.13.12.2.99.{100 + i}.{int(sub_code)}")
            mos.append(mo)

        points = {}
        for j, (code, name, short, branch) in enumerate(PHARMACY_ORGS):
            chain = _org(region, code, K.PHARMACY_ORG, name, short, n=20 + j)
            for k, (point_code, point_name, address) in enumerate(branch):
                points[point_code] = _org(region, point_code, K.DISPENSING_POINT, f"{point_name}, {short}",
                                          point_name, parent=chain, address=address,
                                          mdlp_place_id=f"0000099{20 + j:02d}{k + 1:05d}")
        _org(region, "WH-01", K.REGIONAL_WAREHOUSE, "Акционерное общество «Областной фармацевтический склад»",
             "АО «Облфармсклад»", n=30, address="г. Северск, Промышленный пр., 15", mdlp_place_id="00000993000001")
        _org(region, "SUP-01", K.SUPPLIER, "Общество с ограниченной ответственностью «МедФармПоставка»",
             "ООО «МедФармПоставка»", n=40, mdlp_place_id="00000994000001")
        _org(region, "SUP-02", K.SUPPLIER, "Акционерное общество «Центр лекарственной дистрибуции»",
             "АО «ЦЛД»", n=41, mdlp_place_id="00000994100001")

        for mo_index, point_codes in ATTACHMENTS.items():
            for point_code in point_codes:
                if not PharmacyAttachment.objects.filter(
                    medical_org=mos[mo_index], dispensing_point=points[point_code], valid_from=SINCE
                ).exists():
                    services.attachment_create(
                        medical_org=mos[mo_index], dispensing_point=points[point_code], valid_from=SINCE
                    )

        credentials = Credentials()
        for username, role, org_code, last, first, patronymic, position in USERS:
            org = Organization.objects.get(code=org_code)
            user = User.objects.filter(username=username).first() or services.user_create(
                username=username, organization=org, role=role, last_name=last, first_name=first,
                patronymic=patronymic, position=position,
            )
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
            credentials.users.append(
                {"username": username, "password": DEMO_PASSWORD, "role": role.value, "organization": org.short_name}
            )
            if services.may_hold_api_token(user):
                key = demo_api_key(username)
                if not ApiToken.objects.filter(digest=token_digest(key), revoked_at__isnull=True).exists():
                    services.api_token_issue(user=user, name="Демо-ключ", key=key)
                credentials.api_tokens.append({"username": username, "token": key, "organization": org.short_name})

        doctor_user = User.objects.get(username="doctor")
        for n, (mo_index, last, first, patronymic, position, may) in enumerate(DOCTORS):
            snils = snils_complete(f"{150 + n:03d}{200 + n:03d}{300 + n:03d}")
            if Doctor.objects.filter(snils=snils).exists():
                continue
            mo = mos[mo_index]
            services.doctor_create(
                organization=mo, subdivision=mo.children.order_by("code").first(),
                user=doctor_user if (last, first) == (doctor_user.last_name, doctor_user.first_name) else None,
                last_name=last, first_name=first, patronymic=patronymic, snils=snils,
                code=f"{mo.code}{n + 1:03d}", position=position, may_prescribe_subsidized=may,
                employed_from=date(2020, 1, 1),
            )
    return credentials
