"""The demo region's beneficiaries: a synthetic register of a few hundred persons (the federal part
loaded through the Social Fund import of generated `C_REGO`/`C_REGL` files), plus named patients of
the demo doctor's MO that cover every program and show the register's special cases: a conflict of
programs, an НСУ refusal, a probable duplicate and a pending inclusion request.

Idempotent: nothing is added once the first named patient exists.
"""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from llo.audit import audit_context
from llo.demo import REGION_CODE
from llo.models import BenefitCategory, Diagnosis, Organization, Program, User

from .models import Person, RegisterKind, RightSource
from .seeding import seed_region
from .services import inclusion_request_submit, person_save, refusal_set, register_include, right_add
from .snils import snils_complete

SYNTHETIC = 300
SINCE = date(2026, 1, 1)
DOCTOR_MO = "10002"
# SNILS (9 digits), last, first, patronymic, birth date, sex, [(program, category, diagnosis, document)]
PATIENTS = [
    ("100200300", "Смирнова", "Галина", "Ивановна", date(1948, 5, 12), "F",
     [("ONLP", "082", None, "Справка МСЭ об инвалидности II группы"),
      ("REG-50", "703", None, "Пенсионное удостоверение")]),
    ("100200301", "Козлов", "Николай", "Петрович", date(1956, 11, 3), "M",
     [("ONLP", "081", None, "Справка МСЭ об инвалидности I группы")]),
    ("100200302", "Орлова", "Елена", "Викторовна", date(1984, 2, 21), "F",
     [("VZN", "704", "G35", "Заключение врачебной комиссии")]),
    ("100200303", "Васильев", "Игорь", "Олегович", date(1962, 7, 30), "M",
     [("REG-DIS", "704", "E11", "Выписка из медицинской карты")]),
    ("100200304", "Петров", "Артём", "Андреевич", date(2024, 3, 15), "M",
     [("REG-CAT", "701", None, "Свидетельство о рождении")]),
    ("100200305", "Андреев", "Максим", "Сергеевич", date(2016, 9, 1), "M",
     [("KRUG-DOBRA", "084", "E84", "Решение экспертного совета фонда «Круг добра»")]),
    ("100200306", "Сидоров", "Павел", "Юрьевич", date(1979, 12, 8), "M",
     [("HIV-TB", "704", "B24", "Заключение центра СПИД")]),
    ("100200307", "Кузнецова", "Мария", "Петровна", date(1950, 3, 8), "F",
     [("ONLP", "083", None, "Справка МСЭ об инвалидности III группы")]),
]


def seed_beneficiaries() -> None:
    if Person.objects.filter(snils=snils_complete(PATIENTS[0][0])).exists():
        return
    with tempfile.TemporaryDirectory(prefix="demo-sfr-") as scratch:
        seed_region(SYNTHETIC, directory=Path(scratch), region_code=REGION_CODE, seed=99)
    _seed_patients()


@transaction.atomic
def _seed_patients() -> None:
    admin = User.objects.get(username="minadmin")
    mo = Organization.objects.get(code=DOCTOR_MO)
    with audit_context(user=admin, source="seed_demo"):
        patients = {}
        for n, (digits, last, first, patronymic, birth, sex, rights) in enumerate(PATIENTS):
            person = person_save(
                user=admin, snils=snils_complete(digits), last_name=last, first_name=first, patronymic=patronymic,
                birth_date=birth, sex=sex, oms_policy=f"99{n:02d}5000{n:04d}0000"[:16], document_type="14",
                document_number=f"99 0{n} 10{n:04d}", address=f"г. Северск, ул. Садовая, {10 + n}, кв. {n + 1}",
                region_code=settings.LLO_REGION_OKATO, attached_mo=mo)
            register_include(user=admin, person=person, register=RegisterKind.REGIONAL, included_on=SINCE,
                             basis="Демонстрационные данные")
            for program, category, diagnosis, document in rights:
                right_add(user=admin, person=person, program=Program.objects.get(code=program),
                          category=BenefitCategory.objects.get(federal_code=category), valid_from=SINCE,
                          source=RightSource.REGIONAL, document_name=document, document_number=f"Д-{digits[-3:]}",
                          diagnosis=Diagnosis.objects.get(code=diagnosis) if diagnosis else None)
            patients[last] = person
        refusal_set(user=admin, person=patients["Козлов"], year=timezone.localdate().year, refused=True)
        # a probable duplicate: the same person entered again without SNILS
        person_save(user=admin, last_name="Кузнецова", first_name="Мария", patronymic="Петровна",
                    birth_date=date(1950, 3, 8), sex="F", address="г. Северск, ул. Садовая, 17", attached_mo=mo,
                    region_code=settings.LLO_REGION_OKATO)
    officer = User.objects.get(username="mo_officer")
    with audit_context(user=officer, source="seed_demo"):
        inclusion_request_submit(
            user=officer, last_name="Белова", first_name="Ольга", patronymic="Ивановна", birth_date=date(1971, 4, 19),
            sex="F", snils=snils_complete("100200399"), address="г. Северск, пр. Мира, 3, кв. 41",
            program=Program.objects.get(code="REG-DIS"), category=BenefitCategory.objects.get(federal_code="704"),
            diagnosis=Diagnosis.objects.get(code="J45"), document_name="Выписка из медицинской карты",
            document_number="ВК-118", valid_from=timezone.localdate(), comment="Бронхиальная астма, впервые выявлена")
