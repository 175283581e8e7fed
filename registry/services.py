"""Writes of the register: persons, rights, НСУ choices, register entries, inclusion requests and
the merge of duplicates. Every write runs in the acting user's audit context."""

from __future__ import annotations

from datetime import date

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from llo.audit import audit_context
from llo.errors import ConflictError, ValidationFailed
from llo.models import BenefitCategory, Diagnosis, Organization, Program
from llo.reference import selectors as reference

from .models import (
    BenefitRight, InclusionRequest, NsuRefusal, Person, PersonLookup, RegisterEntry, RegisterKind, RequestStatus,
    RightSource,
)
from .snils import validate_snils


def _clean(obj, code: str) -> None:
    try:
        obj.full_clean(validate_constraints=False)  # constraints: the database answers, race-free
    except ValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        raise ValidationFailed(messages[0], code=code, details={"field": field, **exc.message_dict}) from None


def normalize_snils(value: str, *, code: str) -> str:
    try:
        return validate_snils(value)
    except ValidationError as exc:
        raise ValidationFailed(exc.messages[0], code=code, details={"field": "snils"}) from None


def person_save(*, user, person: Person | None = None, snils: str = "", last_name: str, first_name: str,
                patronymic: str = "", birth_date: date, sex: str, oms_policy: str = "", document_type: str = "",
                document_number: str = "", address: str = "", region_code: str = "", is_out_of_town: bool = False,
                attached_mo: Organization | None = None, death_date: date | None = None) -> Person:
    """Create or correct a person by hand (regional register, inclusion requests)."""
    if birth_date > timezone.localdate():
        raise ValidationFailed("Дата рождения в будущем", code="person.birth_in_future", details={"field": "birth_date"})
    if attached_mo is not None and attached_mo.kind != "medical_org":
        raise ValidationFailed("Прикрепление — к медицинской организации", code="person.bad_attachment")
    person = person or Person()
    values = {
        "snils": normalize_snils(snils, code="person.invalid_snils") if snils else None,
        "last_name": last_name.strip(), "first_name": first_name.strip(), "patronymic": patronymic.strip(),
        "birth_date": birth_date, "sex": sex, "oms_policy": oms_policy.strip(), "document_type": document_type,
        "document_number": document_number.strip(), "address": address.strip(), "region_code": region_code,
        "is_out_of_town": is_out_of_town, "attached_mo": attached_mo, "death_date": death_date,
    }
    for attr, value in values.items():
        setattr(person, attr, value)
    person.updated_at = timezone.now()
    _clean(person, "person.invalid")
    try:
        with transaction.atomic(), audit_context(user=user, action="person.save"):
            person.save()
    except IntegrityError:
        raise ConflictError(f"Гражданин со СНИЛС {snils} уже есть в регистре", code="person.snils_taken") from None
    return person


def _day_to_check(program: Program, valid_from: date, valid_to: date | None) -> date:
    """The lists are checked on today for a current right, on its last day for a past one, and never before
    the program itself starts (a right may be older than the program's record in the catalogue)."""
    today = timezone.localdate()
    return max(valid_from, program.valid_from, min(valid_to or today, today))


def _check_right(*, program: Program, category: BenefitCategory, diagnosis: Diagnosis | None, valid_from: date,
                 valid_to: date | None):
    day = _day_to_check(program, valid_from, valid_to)
    if (valid_to is not None and valid_to < program.valid_from) or not program.is_valid_on(day):
        raise ValidationFailed(f"Программа {program.code} не действует в период права", code="right.program_not_in_force")
    if program.category_rows.exists() and not reference.program_covers_category(program, category, on=day):
        raise ValidationFailed(
            f"Категория {category.federal_code} не входит в программу {program.code} на {day:%d.%m.%Y}",
            code="right.category_not_in_program")
    if program.requires_diagnosis:
        if diagnosis is None:
            raise ValidationFailed(f"Программа {program.code} — по заболеваниям: укажите диагноз МКБ-10",
                                   code="right.diagnosis_required")
        if not reference.program_covers_diagnosis(program, diagnosis, on=day):
            raise ValidationFailed(f"Диагноз {diagnosis.code} не входит в перечень программы {program.code}",
                                   code="right.diagnosis_not_in_program")


def right_add(*, user, person: Person, program: Program, category: BenefitCategory, valid_from: date,
              valid_to: date | None = None, source: str = RightSource.MANUAL, document_name: str = "",
              document_number: str = "", document_date: date | None = None, diagnosis: Diagnosis | None = None,
              disability_group: str = "") -> BenefitRight:
    """Give a person a right under a program; a right under another program for the same days is
    allowed (and shown as a conflict), the same program and category twice is not."""
    if person.merged_into_id:
        raise ConflictError("Запись объединена с другой: добавляйте права в основную", code="person.merged")
    if valid_to is not None and valid_to < valid_from:
        raise ValidationFailed("Дата окончания права раньше даты начала", code="right.dates_reversed")
    _check_right(program=program, category=category, diagnosis=diagnosis, valid_from=valid_from, valid_to=valid_to)
    with transaction.atomic(), audit_context(user=user, action="right.add"):
        locked = Person.objects.select_for_update().get(pk=person.pk)  # one writer of a person's rights at a time
        if locked.merged_into_id:  # merged after the caller loaded it: the right would be lost on it
            raise ConflictError("Запись объединена с другой: добавляйте права в основную", code="person.merged")
        same = BenefitRight.objects.filter(person=person, program=program, category=category).exclude(
            valid_to__lt=valid_from)
        if valid_to is not None:
            same = same.filter(valid_from__lte=valid_to)
        if same.exists():
            raise ConflictError("У гражданина уже есть это право на эти даты", code="right.duplicate")
        right = BenefitRight(
            person=person, program=program, category=category, valid_from=valid_from, valid_to=valid_to, source=source,
            document_name=document_name.strip(), document_number=document_number.strip(), document_date=document_date,
            diagnosis=diagnosis, disability_group=disability_group,
        )
        _clean(right, "right.invalid")
        right.save()
    return right


def right_close(*, user, right: BenefitRight, last_day: date) -> BenefitRight:
    if last_day < right.valid_from:
        raise ValidationFailed("Последний день права раньше его начала", code="right.end_before_start")
    if right.valid_to is not None and right.valid_to <= last_day:
        raise ConflictError(f"Право уже действует только по {right.valid_to:%d.%m.%Y}", code="right.already_closed")
    with transaction.atomic(), audit_context(user=user, action="right.close"):
        BenefitRight.objects.filter(pk=right.pk).update(valid_to=last_day, updated_at=timezone.now())
    right.refresh_from_db()
    return right


def refusal_set(*, user, person: Person, year: int, refused: bool, applied_on: date | None = None) -> NsuRefusal:
    """The person's choice about the drug part of НСУ for `year`."""
    if not 2005 <= year <= timezone.localdate().year + 1:
        raise ValidationFailed(f"Год {year}: выбор делается на текущий или следующий год", code="refusal.bad_year")
    with transaction.atomic(), audit_context(user=user, action="refusal.set"):
        choice, _ = NsuRefusal.objects.update_or_create(
            person=person, year=year, defaults={"refused": refused, "applied_on": applied_on,
                                                "source": RightSource.MANUAL})
    return choice


def register_include(*, user, person: Person, register: str, included_on: date, basis: str = "",
                     source: str = RightSource.REGIONAL) -> RegisterEntry:
    if register not in RegisterKind.values or register == RegisterKind.FEDERAL:
        raise ValidationFailed("Вручную включают в региональный или дополнительный регистр; федеральный ведёт СФР",
                               code="register.not_manual")
    with transaction.atomic(), audit_context(user=user, action="register.include"):
        Person.objects.select_for_update().get(pk=person.pk)  # two inclusions at once: one sees the other's
        if person.register_entries.filter(register=register, excluded_on__isnull=True).exists():
            raise ConflictError("Гражданин уже в этом регистре", code="register.already_included")
        return RegisterEntry.objects.create(person=person, register=register, included_on=included_on,
                                            source=source, basis=basis)


def lookup_log(*, user, person: Person, method: str) -> None:
    """A read of a person's data by someone outside the ministry: who, how, when."""
    PersonLookup.objects.create(person=person, user=user, organization_id=user.organization_id, method=method)


# --- inclusion requests ----------------------------------------------------------------------

def inclusion_request_submit(*, user, person: Person | None = None, snils: str = "", last_name: str = "",
                             first_name: str = "", patronymic: str = "", birth_date: date | None = None,
                             sex: str = "", oms_policy: str = "", address: str = "",
                             register: str = RegisterKind.REGIONAL, program: Program, category: BenefitCategory,
                             diagnosis: Diagnosis | None = None, disability_group: str = "", document_name: str,
                             document_number: str = "", valid_from: date, valid_to: date | None = None,
                             comment: str = "") -> InclusionRequest:
    """An MO asks to include its patient (known or new) with a right; the ministry decides."""
    organization = user.organization
    if organization is None or organization.kind not in ("medical_org", "mo_subdivision"):
        raise ValidationFailed("Заявку подаёт медицинская организация", code="request.not_mo")
    if register not in (RegisterKind.REGIONAL, RegisterKind.ADDITIONAL):
        raise ValidationFailed("Включение возможно в региональный или дополнительный регистр",
                               code="request.bad_register")
    if person is None:
        if not (last_name.strip() and first_name.strip() and birth_date and sex):
            raise ValidationFailed("Укажите фамилию, имя, дату рождения и пол гражданина", code="request.person_missing")
        if snils:
            snils = normalize_snils(snils, code="request.invalid_snils")
            person = Person.objects.filter(snils=snils, merged_into__isnull=True).first()
    if birth_date is not None and birth_date > timezone.localdate():
        raise ValidationFailed("Дата рождения в будущем", code="request.birth_in_future")
    if valid_to is not None and valid_to < valid_from:
        raise ValidationFailed("Дата окончания права раньше даты начала", code="request.dates_reversed")
    if not document_name.strip():
        raise ValidationFailed("Укажите документ, подтверждающий право", code="request.document_missing")
    _check_right(program=program, category=category, diagnosis=diagnosis, valid_from=valid_from, valid_to=valid_to)
    request = InclusionRequest(
        organization=organization.parent if organization.kind == "mo_subdivision" else organization,
        created_by=user, person=person, snils=snils if person is None else "", last_name=last_name.strip(),
        first_name=first_name.strip(), patronymic=patronymic.strip(), birth_date=birth_date, sex=sex,
        oms_policy=oms_policy.strip(), address=address.strip(), register=register, program=program, category=category,
        diagnosis=diagnosis, disability_group=disability_group, document_name=document_name.strip(),
        document_number=document_number.strip(), valid_from=valid_from, valid_to=valid_to, comment=comment.strip(),
    )
    _clean(request, "request.invalid")
    with transaction.atomic(), audit_context(user=user, action="request.submit"):
        request.save()
    return request


def _decide(request: InclusionRequest, *, user, status: str, reason: str, right: BenefitRight | None = None) -> None:
    done = InclusionRequest.objects.filter(pk=request.pk, status=RequestStatus.SUBMITTED).update(
        status=status, decided_by=user, decided_at=timezone.now(), decision_reason=reason, right=right)
    if done != 1:
        raise ConflictError("Заявка уже рассмотрена", code="request.already_decided")


def inclusion_request_approve(*, user, request: InclusionRequest, reason: str = "") -> InclusionRequest:
    """Include the person (created from the request when new), give the right, close the request."""
    with transaction.atomic(), audit_context(user=user, action="request.approve"):
        locked = InclusionRequest.objects.select_for_update().get(pk=request.pk)
        if locked.status != RequestStatus.SUBMITTED:
            raise ConflictError("Заявка уже рассмотрена", code="request.already_decided")
        person = locked.person
        if person is None and locked.snils:  # a new patient who has entered the register since (another request)
            person = Person.objects.filter(snils=locked.snils, merged_into__isnull=True).first()
        if person is None:
            person = person_save(user=user, snils=locked.snils, last_name=locked.last_name,
                                 first_name=locked.first_name, patronymic=locked.patronymic,
                                 birth_date=locked.birth_date, sex=locked.sex, oms_policy=locked.oms_policy,
                                 address=locked.address, attached_mo=locked.organization)
        elif person.merged_into_id:
            person = Person.objects.get(pk=person.merged_into_id)
        Person.objects.select_for_update().get(pk=person.pk)  # requests for one person: one at a time
        if not person.register_entries.filter(register=locked.register, excluded_on__isnull=True).exists():
            RegisterEntry.objects.create(person=person, register=locked.register, included_on=locked.valid_from,
                                         source=RightSource.REGIONAL, basis=f"Заявка № {locked.pk}")
        right = right_add(user=user, person=person, program=locked.program, category=locked.category,
                          valid_from=locked.valid_from, valid_to=locked.valid_to, source=RightSource.REGIONAL,
                          document_name=locked.document_name, document_number=locked.document_number,
                          diagnosis=locked.diagnosis, disability_group=locked.disability_group)
        InclusionRequest.objects.filter(pk=locked.pk).update(person=person)
        _decide(locked, user=user, status=RequestStatus.APPROVED, reason=reason.strip(), right=right)
    request.refresh_from_db()
    return request


def inclusion_request_reject(*, user, request: InclusionRequest, reason: str) -> InclusionRequest:
    if not reason.strip():
        raise ValidationFailed("Укажите причину отказа: её увидит медицинская организация", code="request.reason_missing")
    with transaction.atomic(), audit_context(user=user, action="request.reject"):
        _decide(request, user=user, status=RequestStatus.REJECTED, reason=reason.strip())
    request.refresh_from_db()
    return request


# --- duplicates ------------------------------------------------------------------------------

def persons_merge(*, user, survivor: Person, duplicate: Person) -> Person:
    """Fold `duplicate` into `survivor`: its rights, choices, register entries and requests move; the
    duplicate stays, pointing at the survivor, with its history. A SNILS the survivor lacks moves too."""
    if survivor.pk == duplicate.pk:
        raise ValidationFailed("Нельзя объединить запись с самой собой", code="merge.same")
    with transaction.atomic(), audit_context(user=user, action="person.merge"):
        locked = {p.pk: p for p in Person.objects.select_for_update().filter(pk__in=[survivor.pk, duplicate.pk])
                  .order_by("pk")}
        survivor, duplicate = locked[survivor.pk], locked[duplicate.pk]
        if survivor.merged_into_id or duplicate.merged_into_id:
            raise ConflictError("Одна из записей уже объединена с другой", code="merge.already_merged")
        if survivor.snils and duplicate.snils and survivor.snils != duplicate.snils:
            raise ConflictError("У записей разные СНИЛС: это разные люди или ошибка в СНИЛС — исправьте его сначала",
                                code="merge.different_snils")
        snils = duplicate.snils
        Person.objects.filter(pk=duplicate.pk).update(merged_into=survivor, updated_at=timezone.now())
        if snils and not survivor.snils:
            Person.objects.filter(pk=survivor.pk).update(snils=snils, updated_at=timezone.now())
        BenefitRight.objects.filter(person=duplicate).update(person=survivor, updated_at=timezone.now())
        years = set(NsuRefusal.objects.filter(person=survivor).values_list("year", flat=True))
        NsuRefusal.objects.filter(person=duplicate).exclude(year__in=years).update(person=survivor)
        kept = set(RegisterEntry.objects.filter(person=survivor).values_list("register", "included_on"))
        for entry in RegisterEntry.objects.filter(person=duplicate):
            if (entry.register, entry.included_on) not in kept:
                RegisterEntry.objects.filter(pk=entry.pk).update(person=survivor)
        InclusionRequest.objects.filter(person=duplicate).update(person=survivor)
        if not survivor.attached_mo_id and duplicate.attached_mo_id:
            Person.objects.filter(pk=survivor.pk).update(attached_mo=duplicate.attached_mo_id)
    survivor.refresh_from_db()
    return survivor


def person_live(person: Person) -> Person:
    """The record that stands for `person` (itself, or the one it was merged into)."""
    seen = set()
    while person.merged_into_id and person.pk not in seen:
        seen.add(person.pk)
        person = Person.objects.get(pk=person.merged_into_id)
    return person
