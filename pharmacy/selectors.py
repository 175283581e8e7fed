"""Reads of the pharmacy desk: where a user may dispense, which dispensings and packs they see, and
the prescription a desk opens."""

from __future__ import annotations

from datetime import date

from django.db.models import Q, QuerySet
from django.http import Http404

from llo.access import get_for
from llo.errors import ValidationFailed
from llo.models import Organization, Role
from llo.models.organizations import OrganizationKind as K
from llo.roles import has_role
from prescriptions.models import Prescription
from warehouse.models import MarkedPack, PackState

from .models import Deferral, DeferralStatus, Dispensation

DISPENSING_ROLES = frozenset({Role.PHARMACIST})
READ_ALL_ROLES = frozenset({Role.MINISTRY_ADMIN, Role.MINISTRY_ANALYST})
STOCK_ROLES = DISPENSING_ROLES | READ_ALL_ROLES


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


def prescription_for_desk(user, *, pk: int | None = None, series: str = "", number: str = "") -> Prescription:
    """A prescription of the region, by id or by series and number (a patient may go to any pharmacy
    of the region). 404 when there is none or the user does not dispense."""
    if not has_role(user, DISPENSING_ROLES) or not user.organization_id:
        raise Http404
    region = Organization.objects.filter(pk=user.organization_id).values("region_id")[:1]
    qs = Prescription.objects.select_related("doctor").filter(organization__region_id=region)
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


def deferrals_due(user, *, until: date | None = None) -> QuerySet[Deferral]:
    """Active (open or overdue) deferrals the user sees, due by `until` (all when None), soonest first."""
    qs = deferrals_for(user).filter(status__in=[DeferralStatus.OPEN, DeferralStatus.OVERDUE])
    if until is not None:
        qs = qs.filter(deadline__lte=until)
    return qs.order_by("deadline", "registered_at", "pk")
