"""The checks a prescription passes before issue: small functions in one pipeline.

Each rule looks at a `Draft` (what the doctor filled in, resolved to records) and raises
`PrescriptionRefused` with its own code and a Russian message saying what to do; rules may also
fill in what they worked out (the right, the validity). To add a rule — the MO's allocation limit
of the procurement issue, say — write one more function and put it in `RULES`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from django.conf import settings

from llo.errors import ValidationFailed
from llo.models import (
    Diagnosis,
    Doctor,
    Organization,
    Package,
    Program,
    ProgramKind,
    StandardizedDrug,
)
from llo.reference.selectors import program_covers_diagnosis, program_covers_drug
from registry.models import BenefitRight, DisabilityGroup, Person
from registry.selectors import rights_on

from .models import Form, Urgency

STANDARD_DAYS, LONG_DAYS, LIST_II_DAYS = 30, 90, 15
PENSION_AGE = {"M": 65, "F": 60}  # the ages the pension reform arrives at (docs/prescriptions.md)


class PrescriptionRefused(ValidationFailed):
    code = "prescription.refused"


@dataclass
class Draft:
    day: date
    organization: Organization  # the MO (legal entity) the prescription is written in
    doctor: Doctor | None
    person: Person | None
    program: Program | None
    drug: StandardizedDrug | None
    package: Package | None = None
    vk_protocol: str = ""
    diagnosis: Diagnosis | None = None
    icd10: str = ""
    dosage: str = ""
    quantity: int | None = None
    signa: str = ""
    validity_days: int | None = None
    urgency: str = Urgency.NONE
    form: str = Form.SUBSIDIZED
    right: BenefitRight | None = field(default=None, init=False)


def _refuse(code: str, message: str, **details) -> None:
    raise PrescriptionRefused(message, code=code, details=details)


MANDATORY = (("person", "пациент"), ("program", "программа"), ("drug", "препарат"), ("doctor", "врач"),
             ("diagnosis", "код МКБ-10"), ("dosage", "дозировка"), ("quantity", "количество"),
             ("signa", "способ применения"))


def mandatory_fields(d: Draft) -> None:
    missing = [name for name, _ in MANDATORY if getattr(d, name) in (None, "")]
    if missing:
        labels = ", ".join(label for name, label in MANDATORY if name in missing)
        _refuse("prescription.field_missing", f"Заполните обязательные поля: {labels}", fields=missing)


def doctor_may_prescribe(d: Draft) -> None:
    doctor = d.doctor
    if doctor.organization_id != d.organization.pk:
        _refuse("doctor.other_mo", "Врач работает в другой МО: рецепт выписывает врач своей МО", doctor=doctor.pk)
    if doctor.employed_from > d.day or (doctor.employed_to is not None and doctor.employed_to < d.day):
        _refuse("doctor.not_employed", "Врач не работает в МО на дату рецепта: проверьте данные ФРМР",
                doctor=doctor.pk)
    if d.form == Form.SUBSIDIZED and not doctor.may_prescribe_subsidized:
        _refuse("doctor.not_authorized", "У врача нет права выписки льготных рецептов: обратитесь к ответственному "
                "за ЛЛО в МО", doctor=doctor.pk)


def person_alive(d: Draft) -> None:
    if d.person.death_date is not None and d.person.death_date <= d.day:
        _refuse("person.deceased", "Пациент умер по данным регистра: рецепт не выписывается",
                death_date=d.person.death_date.isoformat())
    if d.person.merged_into_id is not None:
        _refuse("person.merged", "Эта запись объединена с другой: найдите пациента заново по СНИЛС")


def references_valid(d: Draft) -> None:
    for name, label in (("program", "Программа"), ("drug", "Препарат"), ("package", "Торговое наименование"),
                        ("diagnosis", "Код МКБ-10")):
        record = getattr(d, name)
        if record is not None and not record.is_valid_on(d.day):
            _refuse("reference.not_valid", f"{label} не действует на дату рецепта {d.day:%d.%m.%Y}: выберите "
                    "действующую запись справочника", field=name)


def right_in_force(d: Draft) -> None:
    rights = [r for r in rights_on(d.person, d.day) if r.program_id == d.program.pk]
    if not rights:
        _refuse("right.not_found", f"У пациента нет права по программе «{d.program.name}» на "
                f"{d.day:%d.%m.%Y}: выберите другую программу или подайте заявку на включение в регистр",
                program=d.program.code)
    in_force = [r for r in rights if r.in_force]
    if not in_force:
        _refuse("right.nsu_refused", f"Пациент отказался от лекарственной части НСУ на {d.day.year} год: "
                "рецепт за счёт федерального бюджета не выписывается", program=d.program.code)
    with_diagnosis = [r for r in in_force if r.diagnosis_id and r.diagnosis_id == d.diagnosis.pk]
    d.right = (with_diagnosis or in_force)[0]


def drug_on_list(d: Draft) -> None:
    if not program_covers_drug(d.program, d.drug, on=d.day):
        _refuse("drug.not_on_list", f"Препарата нет в перечне программы «{d.program.name}» на {d.day:%d.%m.%Y}: "
                "выберите препарат из перечня", drug=d.drug.pk, program=d.program.code)


def diagnosis_allowed(d: Draft) -> None:
    if d.program.requires_diagnosis and not program_covers_diagnosis(d.program, d.diagnosis, on=d.day):
        _refuse("diagnosis.not_allowed", f"Диагноз {d.diagnosis.code} не входит в перечень программы "
                f"«{d.program.name}»: рецепт по ней выписывается только при заболеваниях из перечня",
                icd10=d.diagnosis.code, program=d.program.code)


def trade_name_by_commission(d: Draft) -> None:
    if d.package is None:
        if d.vk_protocol:
            _refuse("prescription.vk_without_trade_name", "Протокол ВК указывается только при выписке по "
                    "торговому наименованию: выберите упаковку или уберите номер протокола")
        return
    if d.package.trade_name.drug_id != d.drug.pk:
        _refuse("package.not_of_drug", "Выбранная упаковка относится к другому препарату (МНН, форма, дозировка)",
                package=d.package.pk, drug=d.drug.pk)
    if not d.vk_protocol.strip():
        _refuse("prescription.vk_protocol_required", "По торговому наименованию рецепт выписывается только по "
                "решению врачебной комиссии: укажите номер протокола ВК")


def quantity_allowed(d: Draft) -> None:
    if not 1 <= d.quantity <= settings.PRESCRIPTION_MAX_PACKS:
        _refuse("prescription.quantity_invalid", f"Количество — от 1 до {settings.PRESCRIPTION_MAX_PACKS} упаковок",
                quantity=d.quantity, max=settings.PRESCRIPTION_MAX_PACKS)


def allowed_validity(d: Draft) -> tuple[int, ...]:
    """15 days for List II (except patches), else 30, or 90 for pensioners, group I disabled,
    disabled children and chronic patients."""
    if d.drug.is_list_ii and "трансдермал" not in d.drug.dosage_form.lower():
        return (LIST_II_DAYS,)
    return (STANDARD_DAYS, LONG_DAYS) if long_validity_allowed(d) else (STANDARD_DAYS,)


def long_validity_allowed(d: Draft) -> bool:
    person, right = d.person, d.right
    age = d.day.year - person.birth_date.year - ((d.day.month, d.day.day) < (person.birth_date.month,
                                                                              person.birth_date.day))
    return (
        age >= PENSION_AGE.get(person.sex, 65)
        or right.disability_group in (DisabilityGroup.FIRST, DisabilityGroup.CHILD)
        or right.program.kind in (ProgramKind.VZN, ProgramKind.REGIONAL_DISEASE) or right.diagnosis_id is not None
        or right.category.federal_code in settings.PRESCRIPTION_LONG_VALIDITY_CATEGORIES
    )


def validity_allowed(d: Draft) -> None:
    allowed = allowed_validity(d)
    if d.validity_days is None:
        d.validity_days = allowed[0]
    elif d.validity_days not in allowed:
        shown = " или ".join(str(days) for days in allowed)
        _refuse("prescription.validity_not_allowed", f"Для этого пациента и препарата срок действия рецепта — "
                f"{shown} дней", validity_days=d.validity_days, allowed=list(allowed))


RULES = (mandatory_fields, doctor_may_prescribe, person_alive, references_valid, right_in_force, drug_on_list,
         diagnosis_allowed, trade_name_by_commission, quantity_allowed, validity_allowed)


def check(draft: Draft) -> Draft:
    for rule in RULES:
        rule(draft)
    return draft
