"""Deferred service: a prescription that a point cannot serve from stock is registered, gets a
deadline in working days by the rule in force on its issue date, and is served when the stock
arrives — reserved automatically and the patient notified. Every change of a deferral writes a row
of its journal (`DeferralEvent`) in the same transaction. See docs/pharmacy.md «Deferred service».
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.module_loading import import_string

from llo.errors import ConflictError, ValidationFailed
from llo.models import Organization, Package
from prescriptions.models import OPEN_STATUSES, Prescription, Status, Urgency
from prescriptions.services import label_of, prescription_transition
from warehouse.models import ReservationState
from warehouse.reservations import NotEnoughStock, free_stock, reservation_close, reservation_make

from .models import Deferral, DeferralEvent, DeferralStatus, Notification, NotificationChannel
from .models import DeferralEventKind as E
from .selectors import ACTIVE_DEFERRAL, ON_SERVICE, may_dispense_at
from .workdays import add_working_days

ACTIVE = ACTIVE_DEFERRAL  # waiting to be served
VISIT_TEXT_MAX = 300

_D, _E, _P = Deferral._meta.db_table, DeferralEvent._meta.db_table, Prescription._meta.db_table


@dataclass(frozen=True)
class DeferralRule:
    """Periods in working days of one order."""

    order: str
    normal: int
    cito: int | None = None  # None: no shorter period for cito
    purchase: int | None = None  # when the drug has to be purchased
    vk: int | None = None  # a drug prescribed by the ВК decision (trade name)


# (valid from, rule), newest first; chosen by the prescription's issue date.
DEFERRAL_PERIODS: tuple[tuple[date, DeferralRule], ...] = (
    (date(2025, 9, 1), DeferralRule(order="100н", normal=10, cito=3, purchase=30)),
    (date(1900, 1, 1), DeferralRule(order="403н", normal=10, vk=15)),
)


def rule_for(issued_on: date) -> DeferralRule:
    return next(rule for since, rule in DEFERRAL_PERIODS if issued_on >= since)


def period_for(prescription: Prescription, *, purchase: bool) -> int:
    """Working days the point has to serve the prescription."""
    rule = rule_for(prescription.issued_on)
    if rule.cito is not None and prescription.urgency in (Urgency.CITO, Urgency.STATIM):
        return rule.cito
    if purchase and rule.purchase is not None:
        return rule.purchase
    if rule.vk is not None and prescription.vk_protocol:
        return rule.vk
    return rule.normal


def deadline_for(prescription: Prescription, *, on: date, purchase: bool) -> date:
    """The last day to serve a prescription deferred on `on`."""
    return add_working_days(on, period_for(prescription, purchase=purchase))


def package_ids_for(prescription: Prescription, *, today: date) -> list[int]:
    """What may be given out on it: the trade-name pack prescribed, or any valid pack of the drug."""
    if prescription.package_id:
        return [prescription.package_id]
    return list(Package.objects.valid_on(today).filter(trade_name__drug_id=prescription.drug_id)
                .values_list("pk", flat=True))


def prescription_defer(*, user, prescription: Prescription, place: Organization, purchase: bool = False) -> Deferral:
    """Register deferred service of an open prescription at `place`, where its stock is missing."""
    rx, today = prescription, timezone.localdate()
    if not may_dispense_at(user, place):
        raise ValidationFailed("На отсроченное обслуживание ставит провизор этого пункта отпуска",
                               code="deferral.not_your_place", details={"place": place.pk})
    if rx.status not in OPEN_STATUSES or rx.status == Status.DEFERRED:
        code = "deferral.already_open" if rx.status == Status.DEFERRED else "deferral.prescription_closed"
        raise ConflictError(f"Рецепт в статусе «{Status(rx.status).label}»: поставить его на отсроченное "
                            "обслуживание нельзя", code=code, details={"status": rx.status})
    if rx.expires_on < today:
        raise ConflictError("Срок действия рецепта истёк", code="deferral.prescription_closed",
                            details={"expires_on": rx.expires_on.isoformat()})
    held_here = rx.status == Status.RESERVED and rx.reserved_at_id == place.pk
    free = sum(lot.quantity for lot in free_stock(place_ids=[place.pk],
                                                  package_ids=package_ids_for(rx, today=today), today=today))
    if held_here or free >= rx.quantity:
        raise ValidationFailed("Препарат есть в наличии в этом пункте: отпустите рецепт, а не ставьте его на "
                               "отсроченное обслуживание", code="deferral.stock_available",
                               details={"place": place.pk, "free": free, "needed": rx.quantity})
    deadline = deadline_for(rx, on=today, purchase=purchase)
    before = rx.status, rx.status_changed_at, rx.reserved_at_id, rx.reserved_until
    try:
        with transaction.atomic():
            was = rx.status
            if was == Status.ISSUED:  # issued again after a hold from an arrival ran out: that deferral is over
                deferrals_close_stale(prescription_id=rx.pk)
            prescription_transition(prescription=rx, to=Status.DEFERRED, user=user, reserved_at=None,
                                    reserved_until=None,
                                    comment=f"отсроченное обслуживание в {place.short_name} до {deadline:%d.%m.%Y}"
                                    + (" (закупка)" if purchase else ""))
            if was == Status.RESERVED:  # a hold at another point is given up
                reservation_close(reference=label_of(rx), state=ReservationState.RELEASED)
            deferral = Deferral.objects.create(prescription=rx, place=place, registered_by=user, deadline=deadline,
                                               purchase=purchase)
            DeferralEvent.objects.create(deferral=deferral, at=deferral.registered_at, kind=E.REGISTERED, by=user,
                                         text=f"{place.short_name}, срок до {deadline:%d.%m.%Y}"
                                         + (" (требуется закупка)" if purchase else ""))
            return deferral
    except IntegrityError:
        rx.status, rx.status_changed_at, rx.reserved_at_id, rx.reserved_until = before
        raise ConflictError("Рецепт уже на отсроченном обслуживании", code="deferral.already_open",
                            details={"prescription": rx.pk}) from None
    except Exception:
        rx.status, rx.status_changed_at, rx.reserved_at_id, rx.reserved_until = before
        raise


_SERVED = f"""
    WITH served AS (
        UPDATE {_D} SET status = 'served', served_at = %(now)s, outcome = %(outcome)s
        WHERE prescription_id = %(rx)s AND status IN ('open', 'overdue') RETURNING id)
    INSERT INTO {_E} (deferral_id, at, kind, by_id, text)
    SELECT id, %(now)s, 'served', %(by)s, %(outcome)s FROM served
"""


def deferral_served(*, prescription: Prescription, outcome: str = "отпущен", user=None) -> int:
    """Close the prescription's active deferral as served and journal it (dispensing calls it inside
    its transaction, for a deferred or reserved prescription): one statement. `user`: the pharmacist."""
    with connection.cursor() as cursor:
        cursor.execute(_SERVED, {"now": timezone.now(), "outcome": outcome[:300], "rx": prescription.pk,
                                 "by": getattr(user, "pk", None)})
        return cursor.rowcount


def deferrals_serve_arrivals(*, place_id: int, package_ids: list[int]) -> int:
    """Stock of `package_ids` arrived at the point: each deferred prescription there that it can serve,
    oldest first, gets its packs reserved, moves deferred → reserved, and its patient a notice.
    Idempotent (a served one is no longer deferred). Returns how many were reserved."""
    today = timezone.localdate()
    drugs = Package.objects.filter(pk__in=package_ids).values("trade_name__drug_id")
    arrived = Q(prescription__package_id__in=package_ids) | Q(prescription__package__isnull=True,
                                                              prescription__drug_id__in=drugs)
    waiting = Deferral.objects.filter(arrived, place_id=place_id, status__in=ACTIVE,
                                      prescription__status=Status.DEFERRED)
    count = 0
    for deferral in waiting.select_related("prescription", "place").order_by("registered_at", "pk"):
        if _reserve(deferral, today):
            count += 1
    return count


def _reserve(deferral: Deferral, today: date) -> bool:
    rx, place = deferral.prescription, deferral.place
    until = timezone.now() + timedelta(days=settings.PHARMACY_DEFERRAL_HOLD_DAYS)
    try:
        with transaction.atomic():
            reservation_make(place_id=place.pk, package_ids=package_ids_for(rx, today=today), quantity=rx.quantity,
                             reference=label_of(rx), until=until, user_id=None)
            prescription_transition(prescription=rx, to=Status.RESERVED, reserved_at=place, reserved_until=until,
                                    comment=f"поступил товар: бронь в {place.short_name} до {until:%d.%m.%Y}")
            now = timezone.now()
            Deferral.objects.filter(pk=deferral.pk).update(reserved_at=now)
            DeferralEvent.objects.create(deferral=deferral, at=now, kind=E.RESERVED,
                                         text=f"бронь в {place.short_name} до {timezone.localtime(until):%d.%m.%Y}")
            Notification.objects.create(
                prescription=rx, person_id=rx.person_id, channel=settings.PHARMACY_NOTIFICATION_CHANNEL,
                text=(f"Лекарственный препарат по рецепту {rx.series} № {rx.number} поступил в {place.short_name}. "
                      f"Он забронирован для вас до {timezone.localtime(until):%d.%m.%Y}."))
        return True
    except (NotEnoughStock, ConflictError):  # not enough yet, or the prescription moved meanwhile
        return False


def notifications_send(*, limit: int = 200) -> int:
    """Send unsent notices through the sender configured for their channel; returns how many were sent."""
    senders = {channel: import_string(path) for channel, path in settings.PHARMACY_NOTIFICATION_SENDERS.items()}
    sent = 0
    pending = Notification.objects.filter(sent_at__isnull=True, channel__in=list(senders)).exclude(
        channel=NotificationChannel.NONE).order_by("pk")[:limit]
    for notification in pending:
        senders[notification.channel](notification)
        now = timezone.now()
        with transaction.atomic():
            if Notification.objects.filter(pk=notification.pk, sent_at__isnull=True).update(sent_at=now):
                _journal_notified(notification, now)
        sent += 1
    return sent


# the deferral the notice is about: the prescription's active one, or the one just served
_NOTIFIED = f"""
    INSERT INTO {_E} (deferral_id, at, kind, by_id, text)
    SELECT id, %(now)s, 'notified', NULL, %(text)s FROM {_D}
    WHERE prescription_id = %(rx)s AND status IN ('open', 'overdue', 'served')
    ORDER BY registered_at DESC, id DESC LIMIT 1
"""


def _journal_notified(notification: Notification, now) -> None:
    text = f"{NotificationChannel(notification.channel).label}: {notification.text}"
    with connection.cursor() as cursor:
        cursor.execute(_NOTIFIED, {"now": now, "text": text[:300], "rx": notification.prescription_id})


_OVERDUE = f"""
    WITH late AS (
        UPDATE {_D} d SET status = 'overdue'
        WHERE d.status = 'open' AND d.deadline < %(today)s AND d.reserved_at IS NULL
          AND EXISTS (SELECT 1 FROM {_P} p WHERE p.id = d.prescription_id AND p.status = 'deferred')
        RETURNING d.id, d.deadline)
    INSERT INTO {_E} (deferral_id, at, kind, by_id, text)
    SELECT id, %(now)s, 'overdue', NULL, 'последний день срока — ' || to_char(deadline, 'DD.MM.YYYY') FROM late
"""


def deferrals_mark_overdue(*, today: date) -> int:
    """Open deferrals past their deadline and not yet served from arrived stock become overdue, each
    with an `overdue` row in its journal: one set-based statement. A deferral whose prescription left
    deferred service is left to `deferrals_close_stale`."""
    with connection.cursor() as cursor:
        cursor.execute(_OVERDUE, {"today": today, "now": timezone.now()})
        return cursor.rowcount


_STALE = f"""
    WITH closed AS (
        UPDATE {_D} d
        SET status = CASE WHEN p.status = 'dispensed' THEN 'served' ELSE 'cancelled' END,
            served_at = CASE WHEN p.status = 'dispensed' THEN %(now)s ELSE d.served_at END,
            outcome = left(CASE
                WHEN p.status = 'cancelled' THEN 'рецепт аннулирован: ' || p.cancel_reason
                WHEN p.status = 'expired' THEN 'истёк срок действия рецепта'
                WHEN p.status = 'dispensed' THEN 'отпущен'
                WHEN d.reserved_at IS NOT NULL THEN 'бронь истекла: гражданин не обратился'
                ELSE 'рецепт снят с отсроченного обслуживания' END, 300)
        FROM {_P} p
        WHERE p.id = d.prescription_id AND d.status IN ('open', 'overdue')
          AND p.status NOT IN ('deferred', 'reserved') {{only}}
        RETURNING d.id, d.status, d.outcome)
    INSERT INTO {_E} (deferral_id, at, kind, by_id, text)
    SELECT id, %(now)s, CASE WHEN status = 'served' THEN 'served' ELSE 'closed' END, NULL, outcome FROM closed
"""


def deferrals_close_stale(*, prescription_id: int | None = None) -> int:
    """Close the active deferrals whose prescription is no longer on deferred service: cancelled
    («рецепт аннулирован: <причина>»), expired («истёк срок действия рецепта»), or issued again because
    the hold from an arrival ran out («бронь истекла: гражданин не обратился») — `cancelled`, with a
    `closed` row in the journal; one dispensed without closing it becomes `served`. One set-based
    statement (the periodic task; `prescription_defer` for one prescription). Idempotent."""
    only = "AND d.prescription_id = %(rx)s" if prescription_id is not None else ""
    with connection.cursor() as cursor:
        cursor.execute(_STALE.format(only=only), {"now": timezone.now(), "rx": prescription_id})
        return cursor.rowcount


def deferral_visit(*, user, deferral: Deferral, text: str = "") -> DeferralEvent:
    """Record a repeat visit of the patient about an active deferral (the pharmacist of its point, or
    of its pharmacy organization): a `visit` row in its journal."""
    text = (text or "").strip()
    if not may_dispense_at(user, deferral.place):
        raise ValidationFailed("Повторное обращение записывает провизор пункта отпуска, где рецепт на отсроченном "
                               "обслуживании", code="deferral.not_your_place", details={"place": deferral.place_id})
    if len(text) > VISIT_TEXT_MAX:
        raise ValidationFailed(f"Примечание — не длиннее {VISIT_TEXT_MAX} символов", code="deferral.text_too_long",
                               details={"max_length": VISIT_TEXT_MAX, "length": len(text)})
    with transaction.atomic():
        status, rx_status = (Deferral.objects.select_for_update(of=("self",)).filter(pk=deferral.pk)
                             .values_list("status", "prescription__status").get())
        if status not in ACTIVE:
            raise ValidationFailed(f"Отсроченное обслуживание уже закрыто («{DeferralStatus(status).label}»): "
                                   "повторное обращение не записывается", code="deferral.closed",
                                   details={"deferral": deferral.pk, "status": status})
        if rx_status not in ON_SERVICE:
            raise ValidationFailed(f"Рецепт в статусе «{Status(rx_status).label}» и снят с отсроченного "
                                   "обслуживания: повторное обращение не записывается",
                                   code="deferral.prescription_closed",
                                   details={"deferral": deferral.pk, "prescription_status": rx_status})
        return DeferralEvent.objects.create(deferral=deferral, kind=E.VISIT, by=user, text=text)
