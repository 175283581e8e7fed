"""Reads of the pharmacy desk: where a user may dispense, which dispensings and packs they see, the
prescription a desk opens, and the deferrals (the deadlines page)."""

from __future__ import annotations

from datetime import date

from django.db import models
from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone

from llo.access import get_for
from llo.errors import ValidationFailed
from llo.models import Organization, Role
from llo.models.organizations import OrganizationKind as K
from llo.roles import has_role
from prescriptions.models import Prescription, Status
from warehouse.models import MarkedPack, PackState

from .models import Deferral, DeferralStatus, Dispensation
from .workdays import add_working_days, working_days_left

DISPENSING_ROLES = frozenset({Role.PHARMACIST})
READ_ALL_ROLES = frozenset({Role.MINISTRY_ADMIN, Role.MINISTRY_ANALYST})
STOCK_ROLES = DISPENSING_ROLES | READ_ALL_ROLES
ACTIVE_DEFERRAL = (DeferralStatus.OPEN, DeferralStatus.OVERDUE)  # waiting to be served
ON_SERVICE = (Status.DEFERRED, Status.RESERVED)  # the prescription's statuses while its deferral really waits


def places_for(user) -> QuerySet[Organization]:
    """Dispensing points a pharmacist acts at: their own point, or — a pharmacist of the pharmacy
    organization (its system) — every point of it."""
    points = Organization.objects.filter(kind=K.DISPENSING_POINT, is_active=True)
    if not has_role(user, DISPENSING_ROLES) or not user.organization_id:
        return points.none()
    return points.filter(Q(pk=user.organization_id) | Q(parent_id=user.organization_id))


def may_dispense_at(user, place: Organization) -> bool:
    """The same rule as `places_for`, without a query."""
    return (has_role(user, DISPENSING_ROLES) and place.kind == K.DISPENSING_POINT and place.is_active
            and user.organization_id in (place.pk, place.parent_id))


def place_for(user, pk: int | None) -> Organization:
    """The point named (404 if the user may not act there), or the user's own point."""
    if pk is None:
        own = places_for(user).filter(pk=user.organization_id).first() if user.organization_id else None
        if own is None:
            raise ValidationFailed("Укажите пункт отпуска (place): учётная запись аптечной организации работает "
                                   "за все её пункты", code="dispensation.place_required")
        return own
    place = places_for(user).filter(pk=pk).first()
    if place is None:
        raise Http404
    return place


def stock_places_for(user) -> QuerySet[Organization]:
    """Points whose packs a user may list: their own (pharmacists), the region's (the ministry)."""
    if has_role(user, READ_ALL_ROLES):
        return Organization.objects.filter(kind=K.DISPENSING_POINT, region_id=user.organization.region_id)
    return places_for(user)


def dispensations_for(user) -> QuerySet[Dispensation]:
    """Dispensings at the user's points; the ministry reads the region's; nobody else."""
    qs = Dispensation.objects.select_related("prescription", "place", "pharmacist")
    if has_role(user, READ_ALL_ROLES):
        return qs.filter(place__region_id=user.organization.region_id)
    if has_role(user, DISPENSING_ROLES):
        return qs.filter(place__in=places_for(user))
    return qs.none()


def dispensation_for(user, pk: int) -> Dispensation:
    """One dispensing the user may see (404 otherwise), with its rows in `item_rows`."""
    dispensation = get_for(dispensations_for(user), pk=pk)
    dispensation.item_rows = list(dispensation.items.select_related("package__trade_name").order_by("pk"))
    return dispensation


DESK_RELATED = ("doctor", "person", "drug__inn", "package__trade_name", "program", "category", "reserved_at",
                "organization")


def prescription_for_desk(user, *, pk: int | None = None, series: str = "", number: str = "",
                          related: tuple[str, ...] = ("doctor",)) -> Prescription:
    """A prescription of the region, by id or by series and number (a patient may go to any pharmacy
    of the region). 404 when there is none or the user does not dispense. The desk page reads what
    it shows with it (`DESK_RELATED`)."""
    if not has_role(user, DISPENSING_ROLES) or not user.organization_id:
        raise Http404
    region = Organization.objects.filter(pk=user.organization_id).values("region_id")[:1]
    qs = Prescription.objects.select_related(*related).filter(organization__region_id=region)
    if pk is not None:
        rx = qs.filter(pk=pk).first()
    else:
        rx = qs.filter(series=series.strip().upper(), number=number.strip()).first()
    if rx is None:
        raise Http404
    return rx


def packs_in_stock(*, place: Organization, package_id: int | None = None, limit: int = 1000) -> list[MarkedPack]:
    """Marked packs in stock at the point, earliest expiry first (FEFO)."""
    qs = MarkedPack.objects.filter(place=place, state=PackState.IN_STOCK)
    if package_id is not None:
        qs = qs.filter(package_id=package_id)
    return list(qs.select_related("package__trade_name").order_by("expiry", "series", "sgtin")[:limit])


def deferrals_for(user) -> QuerySet[Deferral]:
    """Deferrals at the user's points; the ministry reads the region's; nobody else."""
    qs = Deferral.objects.select_related("prescription", "place")
    if has_role(user, READ_ALL_ROLES):
        return qs.filter(place__region_id=user.organization.region_id)
    if has_role(user, DISPENSING_ROLES):
        return qs.filter(place__in=places_for(user))
    return qs.none()


def deferrals_active(user) -> QuerySet[Deferral]:
    """Active (open or overdue) deferrals the user sees whose prescription is still on deferred service
    (deferred, or reserved from an arrival): one cancelled, expired or issued again drops out at once,
    before `deferrals.deferrals_close_stale` closes it."""
    return deferrals_for(user).filter(status__in=ACTIVE_DEFERRAL, prescription__status__in=ON_SERVICE)


def deferrals_due(user, *, until: date | None = None) -> QuerySet[Deferral]:
    """Active deferrals the user sees (`deferrals_active`), due by `until` (all when None), soonest first."""
    qs = deferrals_active(user)
    if until is not None:
        qs = qs.filter(deadline__lte=until)
    return qs.order_by("deadline", "registered_at", "pk")


class DeferralState(models.TextChoices):
    """What the deadlines page shows of an active deferral."""

    OPEN = "open", "На обслуживании"
    OVERDUE = "overdue", "Срок нарушен"
    RESERVED = "reserved", "Товар поступил, ожидает гражданина"


SOON = 2  # working days left or fewer: the deadlines page highlights the row


def deferral_places_for(user) -> QuerySet[Organization]:
    """Points whose deferrals the user sees: the region's (the ministry), their own (pharmacists)."""
    return stock_places_for(user).order_by("short_name", "pk")


def deferrals_page(user, *, today: date, due_within: int | None = None, place_id: int | None = None,
                   state: str | None = None) -> QuerySet[Deferral]:
    """The deadlines page (and its CSV): active deferrals the user sees, due within `due_within`
    working days of today (0: today, overdue included), at one point, in one state; soonest first,
    with what a row shows in the same query."""
    until = add_working_days(today, due_within) if due_within is not None else None
    qs = deferrals_due(user, until=until).select_related(
        "prescription__person", "prescription__drug__inn", "prescription__package__trade_name")
    if place_id is not None:
        qs = qs.filter(place_id=place_id)
    waiting = Q(reserved_at__isnull=True)
    if state == DeferralState.RESERVED:
        qs = qs.filter(reserved_at__isnull=False)
    elif state == DeferralState.OVERDUE:
        qs = qs.filter(waiting & (Q(status=DeferralStatus.OVERDUE) | Q(deadline__lt=today)))
    elif state == DeferralState.OPEN:
        qs = qs.filter(waiting, status=DeferralStatus.OPEN, deadline__gte=today)
    return qs


def with_days_left(rows: list[Deferral], *, today: date) -> list[Deferral]:
    """Each row gets `days_left` (working days to its deadline, negative when passed), `state`
    (`DeferralState`) and `alert` ("late", "soon" or ""): one query for all rows (the calendar's
    overrides of the window)."""
    left = working_days_left(today, [row.deadline for row in rows])
    for row in rows:
        row.days_left = left[row.deadline]
        if row.reserved_at is not None:
            row.state = DeferralState.RESERVED
        elif row.status == DeferralStatus.OVERDUE or row.days_left < 0:
            row.state = DeferralState.OVERDUE
        else:
            row.state = DeferralState.OPEN
        row.alert = ("late" if row.state == DeferralState.OVERDUE
                     else "soon" if row.state == DeferralState.OPEN and row.days_left <= SOON else "")
    return rows


def deferral_for(user, pk: int) -> Deferral:
    """One deferral the user sees (404 otherwise: another point's, another pharmacy's), with its
    journal in `event_rows` and `days_left`/`state`/`alert` while active."""
    deferral = get_for(deferrals_for(user).select_related(
        "prescription__person", "prescription__drug__inn", "prescription__package__trade_name",
        "registered_by"), pk=pk)
    deferral.event_rows = list(deferral.events.select_related("by").order_by("at", "pk"))
    deferral.is_active = deferral.status in ACTIVE_DEFERRAL and deferral.prescription.status in ON_SERVICE
    if deferral.is_active:
        with_days_left([deferral], today=timezone.localdate())
    return deferral
