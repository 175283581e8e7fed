"""Curation of the reference data by the ministry: programs and their dated lists, catalogue
flags, the mapping of benefit categories. Every change runs in the acting user's audit context.

A flag set by hand is remembered in `curated_fields`; NSI imports leave such fields alone until
the ministry hands them back (`curation_reset`).
"""

from __future__ import annotations

import copy
from datetime import date
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from llo.audit import audit_context
from llo.errors import ConflictError, ValidationFailed
from llo.models import (
    BenefitCategory, ControlList, Diagnosis, FundingSource, NsiBenefitCategory, Package, PaymentShare, Program,
    ProgramCategory, ProgramDiagnosis, ProgramDrug, ProgramKind, StandardizedDrug,
)

from .nsi.fields import atc as parse_atc

LIST_MODELS = {"drug": ProgramDrug, "category": ProgramCategory, "diagnosis": ProgramDiagnosis}
ITEM_LABELS = {"drug": "Препарат", "category": "Категория", "diagnosis": "Диагноз"}
SHARE_PERCENT = {PaymentShare.FREE: Decimal(100), PaymentShare.HALF: Decimal(50)}


def _full_clean(obj, code: str) -> None:
    try:
        obj.full_clean()
    except ValidationError as exc:
        messages = next(iter(exc.message_dict.values()))
        raise ValidationFailed(messages[0], code=code, details=exc.message_dict) from None


def program_save(
    *,
    user,
    program: Program | None = None,
    code: str,
    name: str,
    kind: str,
    funding_source: str,
    payment_share: str,
    payment_percent: Decimal | None = None,
    requires_diagnosis: bool = False,
    basis: str = "",
    valid_from: date,
    valid_to: date | None = None,
) -> Program:
    """Create a program (or change one): the percent follows the payment share unless it is «other»."""
    if kind not in ProgramKind.values:
        raise ValidationFailed(f"Неизвестный вид программы: {kind}", code="program.unknown_kind")
    if payment_share in SHARE_PERCENT:
        payment_percent = SHARE_PERCENT[payment_share]
    elif payment_percent is None or not (0 < payment_percent < 100):
        raise ValidationFailed("Для «иного процента» укажите процент оплаты от 1 до 99", code="program.bad_percent")
    program = copy.copy(program) if program else Program()  # the caller's object stays as it was on failure
    for attr, value in {
        "code": code.strip().upper(), "name": name.strip(), "kind": kind, "funding_source": funding_source,
        "payment_share": payment_share, "payment_percent": payment_percent, "requires_diagnosis": requires_diagnosis,
        "basis": basis.strip(), "valid_from": valid_from, "valid_to": valid_to,
    }.items():
        setattr(program, attr, value)
    if funding_source not in FundingSource.values:
        raise ValidationFailed("Неизвестный источник финансирования", code="program.unknown_funding")
    _full_clean(program, "program.invalid")
    with transaction.atomic(), audit_context(user=user, action="program.save"):
        program.save()
    return program


def _item_field(kind: str) -> str:
    if kind not in LIST_MODELS:
        raise ValidationFailed(f"Неизвестный перечень: {kind}", code="program.unknown_list")
    return kind


def program_row_add(
    *, user, program: Program, kind: str, item, valid_from: date, valid_to: date | None = None, basis: str = "",
):
    """Put a drug, a benefit category or an ICD-10 code on a program's list for a period."""
    field = _item_field(kind)
    model = LIST_MODELS[kind]
    expected = {"drug": StandardizedDrug, "category": BenefitCategory, "diagnosis": Diagnosis}[kind]
    if not isinstance(item, expected):
        raise ValidationFailed("Неверный элемент перечня", code="program.bad_item")
    if valid_to is not None and valid_to < valid_from:
        raise ValidationFailed("Дата окончания раньше даты начала", code="program.dates_reversed")
    if item.valid_to is not None and item.valid_to < valid_from:
        raise ValidationFailed(
            f"«{item}» действует только по {item.valid_to:%d.%m.%Y}: включать его с {valid_from:%d.%m.%Y} нельзя",
            code="program.item_retired",
        )
    overlapping = _overlapping(model, program=program, field=field, item=item, valid_from=valid_from, valid_to=valid_to)
    if overlapping is not None:
        raise ConflictError(
            f"«{item}» уже в перечне программы {program.code} {_period(overlapping)}: "
            "измените существующую строку или выберите другой период",
            code="program.row_overlaps", details={"row": overlapping.pk},
        )
    row = model(program=program, valid_from=valid_from, valid_to=valid_to, basis=basis.strip(), **{field: item})
    try:
        with transaction.atomic(), audit_context(user=user, action=f"program.{kind}_add"):
            row.save()
    except IntegrityError:  # a concurrent add of the same item won the race; the constraint refused ours
        raise ConflictError(f"«{item}» только что добавлен в перечень другим пользователем", code="program.row_overlaps") from None
    return row


def _period(row) -> str:
    return f"с {row.valid_from:%d.%m.%Y}" + (f" по {row.valid_to:%d.%m.%Y}" if row.valid_to else " бессрочно")


def _overlapping(model, *, program, field, item, valid_from, valid_to, exclude=None):
    qs = model.objects.filter(program=program, **{field: item})
    if valid_to is not None:
        qs = qs.filter(valid_from__lte=valid_to)
    qs = qs.exclude(valid_to__lt=valid_from)
    if exclude is not None:
        qs = qs.exclude(pk=exclude.pk)
    return qs.order_by("valid_from").first()


def program_row_end(*, user, row, last_day: date):
    """Exclude an item from a list from the day after `last_day`; history stays."""
    if last_day < row.valid_from:
        raise ValidationFailed(
            f"Строка действует с {row.valid_from:%d.%m.%Y}: последний день не может быть раньше. "
            "Строку, которая ещё не начала действовать, можно удалить.",
            code="program.end_before_start",
        )
    if row.valid_to is not None and row.valid_to <= last_day:
        raise ConflictError(f"Строка уже действует только по {row.valid_to:%d.%m.%Y}", code="program.row_already_ended")
    with transaction.atomic(), audit_context(user=user, action="program.row_end"):
        type(row).objects.filter(pk=row.pk).update(valid_to=last_day)
    row.refresh_from_db()
    return row


def program_row_delete(*, user, row) -> None:
    """Remove a row that has not come into force yet (a mistake); rows that were ever in force stay."""
    if row.valid_from <= timezone.localdate():
        raise ConflictError(
            "Строка уже действовала: её нельзя удалить, только завершить (история сохраняется)",
            code="program.row_was_in_force",
        )
    with transaction.atomic(), audit_context(user=user, action="program.row_delete"):
        row.delete()


def _curate(obj, changes: dict, *, user, action: str, together: tuple[set, ...] = ()):
    """Apply `changes` and mark the changed fields (and any group in `together` they touch) curated."""
    changed = {field: value for field, value in changes.items() if getattr(obj, field) != value}
    if not changed:
        return obj
    for field, value in changed.items():
        setattr(obj, field, value)
    curated = set(changed)
    for group in together:
        if curated & group:
            curated |= group
    obj.curated_fields = sorted(set(obj.curated_fields) | curated)
    _full_clean(obj, f"{action}.invalid")
    with transaction.atomic(), audit_context(user=user, action=action):
        obj.save(update_fields=[*changed, "curated_fields"])
    return obj


def package_flags_set(*, user, package: Package, is_jnvlp: bool, price_cap: Decimal | None, is_marked: bool) -> Package:
    if price_cap is not None and not is_jnvlp:
        raise ValidationFailed("Предельная цена устанавливается только для препаратов ЖНВЛП", code="package.price_cap_not_jnvlp")
    if price_cap is not None and price_cap <= 0:
        raise ValidationFailed("Предельная цена должна быть больше нуля", code="package.bad_price_cap")
    if is_marked and not package.gtin:
        raise ValidationFailed("У упаковки нет GTIN: маркировку без него не отследить", code="package.marked_without_gtin")
    changes = {"is_jnvlp": is_jnvlp, "price_cap": price_cap, "is_marked": is_marked}
    # ЖНВЛП and its price cap go together: an import must not bring back one without the other
    return _curate(package, changes, user=user, action="package.flags_set", together=({"is_jnvlp", "price_cap"},))


def drug_flags_set(*, user, drug: StandardizedDrug, control_list: str, atc_code: str) -> StandardizedDrug:
    if control_list not in ControlList.values:
        raise ValidationFailed(f"Неизвестный список НС и ПВ: {control_list}", code="drug.unknown_control_list")
    if atc_code:
        try:
            atc_code = parse_atc(atc_code)
        except ValueError as exc:
            raise ValidationFailed(str(exc), code="drug.bad_atc") from None
    return _curate(drug, {"control_list": control_list, "atc_code": atc_code}, user=user, action="drug.flags_set")


def curation_reset(*, user, obj: Package | StandardizedDrug):
    """Hand the curated fields back to the NSI: the next import of the dictionary sets them again."""
    if not obj.curated_fields:
        return obj
    with transaction.atomic(), audit_context(user=user, action="curation.reset"):
        type(obj).objects.filter(pk=obj.pk).update(curated_fields=[])
    obj.refresh_from_db()
    return obj


def benefit_category_map(*, user, category: BenefitCategory, nsi_category: NsiBenefitCategory | None) -> BenefitCategory:
    """Which entry of the NSI list 99.2.541 codes this federal category (used in СЭМД and federal exchanges)."""
    if category.nsi_category_id == (nsi_category.pk if nsi_category else None):
        return category
    with transaction.atomic(), audit_context(user=user, action="benefit_category.map"):
        category.nsi_category = nsi_category
        category.save(update_fields=["nsi_category"])
    return category
