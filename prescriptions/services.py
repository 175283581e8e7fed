"""Writes of prescriptions: issue (checked, numbered, signed, optionally reserved), status moves by
compare-and-swap, cancel, expiry, hand-written registration."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from llo import prebuilt
from llo.barcodes import prescription_label
from llo.errors import ApplicationError, ConflictError, ValidationFailed
from llo.models import Diagnosis, Doctor, Organization, Package, Program, StandardizedDrug
from llo.selectors import current_attachments
from registry.models import Person
from warehouse import reservations
from warehouse.models import ReservationState

from . import numbering, rules, semd, signing
from .models import Form, Prescription, PrintMethod, Status, StatusChange

# from -> the statuses a prescription may move to (every move goes through prescription_transition)
TRANSITIONS: dict[str, frozenset[str]] = {
    Status.ISSUED: frozenset({Status.RESERVED, Status.DEFERRED, Status.DISPENSED, Status.CANCELLED, Status.EXPIRED}),
    Status.RESERVED: frozenset({Status.ISSUED, Status.DEFERRED, Status.DISPENSED, Status.CANCELLED, Status.EXPIRED}),
    Status.DEFERRED: frozenset({Status.RESERVED, Status.DISPENSED, Status.CANCELLED, Status.EXPIRED}),
    Status.DISPENSED: frozenset(),
    Status.CANCELLED: frozenset(),
    Status.EXPIRED: frozenset(),
}


class StatusConflict(ConflictError):
    code = "prescription.status_conflict"


@dataclass
class Reservation:
    place: Organization
    days: int


def label_of(prescription: Prescription) -> str:
    return prescription_label(prescription.series, prescription.number)


def prescription_issue(*, user, draft: rules.Draft, method: str = PrintMethod.SYSTEM,
                       reserve: Reservation | None = None, idempotency_key: str | None = None,
                       fingerprint: str = "", copied_from: Prescription | None = None) -> tuple[Prescription, bool]:
    """Check, number, sign and save a prescription; returns (prescription, replayed). The same
    `idempotency_key` from the same user returns the first prescription (replayed=True).

    The key is looked up only when the issue fails (a repeat fails on the unique key, or earlier on
    a check its first run changed, e.g. the reserved stock): a first request costs no extra query."""
    try:
        rules.check(draft)
        if reserve is not None:
            _check_reservation(draft, reserve)
        with transaction.atomic():
            return _issue(user, draft, method, reserve, idempotency_key, fingerprint, copied_from), False
    except (ApplicationError, IntegrityError):
        earlier = _replay(user, idempotency_key, fingerprint) if idempotency_key else None
        if earlier is not None:
            return earlier, True
        raise


def _replay(user, key: str, fingerprint: str) -> Prescription | None:
    earlier = Prescription.objects.filter(created_by=user, idempotency_key=key).first()
    if earlier is not None and fingerprint and earlier.request_fingerprint != fingerprint:
        raise ValidationFailed("Этот Idempotency-Key уже использован для другого рецепта: для нового рецепта "
                               "сгенерируйте новый ключ", code="idempotency.key_reused",
                               details={"prescription": earlier.pk})
    return earlier


def _check_reservation(draft: rules.Draft, reserve: Reservation) -> None:
    if not 1 <= reserve.days <= settings.PRESCRIPTION_MAX_RESERVE_DAYS:
        raise ValidationFailed(f"Бронь — от 1 до {settings.PRESCRIPTION_MAX_RESERVE_DAYS} дней",
                               code="reservation.days_invalid", details={"reserve_days": reserve.days})
    attached = current_attachments(on=draft.day).filter(medical_org=draft.organization,
                                                        dispensing_point=reserve.place).exists()
    if not attached:
        raise ValidationFailed("Эта аптека не прикреплена к вашей МО: выберите аптеку из списка прикреплённых",
                               code="reservation.place_not_attached", details={"reserve_at": reserve.place.pk})


def _issue(user, d: rules.Draft, method: str, reserve: Reservation | None, idempotency_key: str | None,
           fingerprint: str, copied_from: Prescription | None) -> Prescription:
    series, number = numbering.take_number(organization=d.organization, program=d.program, year=d.day.year,
                                           method=method)
    now = timezone.now()
    rx = _new(d, user, now, series=series, number=number, print_method=method, idempotency_key=idempotency_key or None,
              request_fingerprint=fingerprint, copied_from=copied_from)
    rx.document = semd.build_document(rx)
    rx.signature = signing.signer().sign(doctor=d.doctor, data=rx.document)
    rx.signed_at = now
    events = [StatusChange(from_status="", to_status=Status.ISSUED, at=now, user=user)]
    if reserve is not None:
        package_ids = [d.package.pk] if d.package else list(
            Package.objects.valid_on(d.day).filter(trade_name__drug=d.drug).values_list("pk", flat=True))
        reservations.reservation_make(place_id=reserve.place.pk, package_ids=package_ids, quantity=d.quantity,
                                      reference=prescription_label(series, number),
                                      until=now + timedelta(days=reserve.days), user_id=user.pk)
        rx.status, rx.reserved_at, rx.reserved_until = Status.RESERVED, reserve.place, now + timedelta(days=reserve.days)
        events.append(StatusChange(from_status=Status.ISSUED, to_status=Status.RESERVED, at=now, user=user,
                                        comment=f"бронь: {reserve.place.short_name}, {reserve.days} дн."))
    rx.save(force_insert=True)
    for event in events:
        event.prescription = rx
    StatusChange.objects.bulk_create(events)
    return rx


def _new(d: rules.Draft, user, now: datetime, **fields) -> Prescription:
    """A prescription from a checked draft, with what the form prints copied from the right and program."""
    category = d.right.category
    return Prescription(
        form=d.form, issued_on=d.day, urgency=d.urgency, validity_days=d.validity_days,
        expires_on=d.day + timedelta(days=d.validity_days - 1), organization=d.organization,
        subdivision_id=d.doctor.subdivision_id, doctor=d.doctor, person=d.person, right=d.right, program=d.program,
        category=category, category_code=category.federal_code, funding_source=d.program.funding_source,
        payment_share=d.program.payment_share, payment_percent=d.program.payment_percent, diagnosis=d.diagnosis,
        icd10=d.diagnosis.code, drug=d.drug, package=d.package, vk_protocol=d.vk_protocol.strip(), dosage=d.dosage,
        quantity=d.quantity, signa=d.signa, status=Status.ISSUED, status_changed_at=now, created_by=user,
        created_at=now, **fields)


def prescription_transition(*, prescription: Prescription, to: str, user=None, comment: str = "",
                            **fields) -> Prescription:
    """Move the status by compare-and-swap: exactly one row must still be in the status we read."""
    old = prescription.status
    if to not in TRANSITIONS[old]:
        raise StatusConflict(f"Рецепт в статусе «{Status(old).label}»: перевести его в «{Status(to).label}» нельзя",
                             details={"status": old, "to": to})
    now = timezone.now()
    if not _move_and_record(prescription.pk, old, to, now, user, comment[:300], fields):
        current = Prescription.objects.values_list("status", flat=True).get(pk=prescription.pk)
        raise StatusConflict(f"Рецепт уже в статусе «{Status(current).label}»: обновите страницу",
                             details={"status": current, "to": to})
    prescription.status, prescription.status_changed_at = to, now
    for name, value in fields.items():
        setattr(prescription, name, value)
    return prescription


def _move_and_record(pk: int, old: str, to: str, now, user, comment: str, fields: dict) -> bool:
    """The compare-and-swap UPDATE and its history row in one statement (one round trip on the hot
    paths: issuing with a reservation, dispensing); False when the row was no longer in `old`."""
    columns = {"status": to, "status_changed_at": now, **fields}
    assignments, values = [], []
    for name, value in columns.items():
        field = Prescription._meta.get_field(name)
        if hasattr(value, "prepare_database_save"):  # a model instance for a foreign key: its key
            value = value.prepare_database_save(field)
        assignments.append(f"{connection.ops.quote_name(field.column)} = %s")
        values.append(field.get_db_prep_save(value, connection))
    sql = (f"WITH moved AS (UPDATE {Prescription._meta.db_table} SET {', '.join(assignments)} "
           "WHERE id = %s AND status = %s RETURNING id) "
           f"INSERT INTO {StatusChange._meta.db_table} (prescription_id, from_status, to_status, at, user_id, comment) "
           "SELECT id, %s, %s, %s, %s, %s FROM moved RETURNING id")
    with prebuilt.cursor() as cursor:
        cursor.execute(sql, [*values, pk, old, old, to, now, getattr(user, "pk", None), comment])
        return cursor.fetchone() is not None


@transaction.atomic
def prescription_cancel(*, prescription: Prescription, user, reason: str) -> Prescription:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("Укажите причину аннулирования", code="prescription.cancel_reason_missing")
    prescription_transition(prescription=prescription, to=Status.CANCELLED, user=user, comment=reason,
                            cancel_reason=reason[:300])
    reservations.reservation_close(reference=label_of(prescription), state=ReservationState.RELEASED)
    return prescription


def prescriptions_expire(*, today: date) -> int:
    """Open prescriptions past their last day become expired (the periodic task); returns how many.

    The validity of a prescription on deferred service is extended for the time of the service (the
    patient must not lose it because the pharmacy had no stock): `deferred` ones are not expired, nor
    `reserved` ones whose last move was deferred → reserved (the drug arrived and waits for the
    patient). When that hold runs out (`reservations_expire`) the prescription is issued again and
    expires here on the next run."""
    last_from = StatusChange.objects.filter(prescription=OuterRef("pk")).order_by("-at", "-pk").values("from_status")
    due = (Prescription.objects.filter(status__in=[Status.ISSUED, Status.RESERVED], expires_on__lt=today)
           .annotate(last_from=Coalesce(Subquery(last_from[:1]), Value("")))
           .exclude(status=Status.RESERVED, last_from=Status.DEFERRED)
           .only("pk", "status", "series", "number"))
    count = 0
    for rx in due.iterator(chunk_size=500):
        try:
            with transaction.atomic():
                prescription_transition(prescription=rx, to=Status.EXPIRED, comment="истёк срок действия")
                reservations.reservation_close(reference=label_of(rx), state=ReservationState.EXPIRED)
            count += 1
        except StatusConflict:  # dispensed or cancelled meanwhile
            continue
    return count


def reservations_expire(*, now: datetime) -> int:
    """Reservations whose time ran out return their packs; their prescriptions are issued again.
    The prescription moves first, then the hold — the order dispensing and cancelling take them."""
    count = 0
    for reference in reservations.reservations_due(now=now):
        series, number = reference.removeprefix("RX-").split("-", 1)
        with transaction.atomic():
            rx = Prescription.objects.filter(series=series, number=number, status=Status.RESERVED).first()
            if rx is not None:
                try:
                    prescription_transition(prescription=rx, to=Status.ISSUED, comment="бронь истекла",
                                            reserved_at=None, reserved_until=None)
                except StatusConflict:
                    pass
            reservations.reservation_close(reference=reference, state=ReservationState.EXPIRED)
        count += 1
    return count


@transaction.atomic
def prescription_register_handwritten(*, user, draft: rules.Draft, series: str, number: str) -> Prescription:
    """Enter a prescription written by hand on a printed blank into the separate register: the same
    checks; series and number as on the blank."""
    series, number = (series or "").strip().upper(), (number or "").strip()
    if not numbering.SERIES_SHAPE.match(series) or not numbering.NUMBER_SHAPE.match(number):
        raise ValidationFailed("Серия — до 12 цифр и заглавных латинских букв, номер — до 20 цифр, как на бланке",
                               code="prescription.series_number_invalid")
    if Prescription.objects.filter(series=series, number=number).exists():
        raise ConflictError(f"Рецепт {series} № {number} уже есть в системе", code="prescription.duplicate_number")
    rules.check(draft)
    now = timezone.now()
    rx = _new(draft, user, now, series=series, number=number, print_method=PrintMethod.HANDWRITTEN,
              is_handwritten=True)
    rx.save(force_insert=True)
    StatusChange.objects.create(prescription=rx, to_status=Status.ISSUED, at=now, user=user,
                                     comment="зарегистрирован рецепт, выписанный от руки")
    return rx


def draft_for(*, organization: Organization, doctor: Doctor | None, person: Person | None, program: Program | None,
              drug: StandardizedDrug | None, diagnosis: Diagnosis | None, day: date | None = None,
              **fields) -> rules.Draft:
    return rules.Draft(day=day or timezone.localdate(), organization=organization, doctor=doctor, person=person,
                       program=program, drug=drug, diagnosis=diagnosis, form=fields.pop("form", Form.SUBSIDIZED),
                       **fields)
