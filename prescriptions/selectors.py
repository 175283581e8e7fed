"""Reads of prescriptions: who sees which, the list filters, a lookup by number, and the stock a
doctor sees while prescribing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.db.models import Q, QuerySet

from llo.access import get_for
from llo.models import Doctor, Organization, Package, ProgramDrug, StandardizedDrug
from llo.roles import has_role
from llo.selectors import current_attachments
from registry.snils import validate_snils
from warehouse.reservations import FreeLot, free_stock

from .models import Prescription, Status
from .roles import MO_READ_ROLES, REGION_READ_ROLES


def _base() -> QuerySet[Prescription]:
    return Prescription.objects.select_related("person", "doctor", "program", "drug__inn", "package__trade_name",
                                               "organization", "reserved_at")


def prescriptions_for(user) -> QuerySet[Prescription]:
    """MO roles: their MO's prescriptions; the ministry's admins: the region's; nobody else browses."""
    if not (user and user.is_authenticated and user.organization_id):
        return Prescription.objects.none()
    if has_role(user, REGION_READ_ROLES):
        return _base().filter(organization__region_id=user.organization.region_id)
    if has_role(user, MO_READ_ROLES):
        return _base().filter(organization_id=user.organization.legal_entity_id)
    return Prescription.objects.none()


def prescription_for(user, pk: int) -> Prescription:
    return get_for(prescriptions_for(user), pk=pk)


FILTERS = ("series", "number", "status", "snils", "person", "doctor", "program", "drug", "issued_from",
           "issued_to", "expires_before", "handwritten", "reserved_at")


def prescriptions_search(qs: QuerySet[Prescription], *, series: str = "", number: str = "", status: str = "",
                         snils: str = "", person: int | None = None, doctor: int | None = None, program: str = "",
                         drug: int | None = None, issued_from: date | None = None, issued_to: date | None = None,
                         expires_before: date | None = None, handwritten: bool | None = None,
                         reserved_at: int | None = None) -> QuerySet[Prescription]:
    """The list filters of the MO's page and of the API; every filter is optional. Newest first."""
    conditions = Q()
    if series:
        conditions &= Q(series=series.strip().upper())
    if number:
        conditions &= Q(number=number.strip())
    if status:
        conditions &= Q(status=status)
    if snils:
        conditions &= Q(person__snils=validate_snils(snils))
    for field, value in (("person_id", person), ("doctor_id", doctor), ("drug_id", drug),
                         ("reserved_at_id", reserved_at), ("is_handwritten", handwritten)):
        if value is not None:
            conditions &= Q(**{field: value})
    if program:
        conditions &= Q(program__code=program.strip().upper())
    if issued_from:
        conditions &= Q(issued_on__gte=issued_from)
    if issued_to:
        conditions &= Q(issued_on__lte=issued_to)
    if expires_before:
        conditions &= Q(expires_on__lt=expires_before)
    return qs.filter(conditions).order_by("-issued_on", "-id")


def of_person(user, person_id: int, *, limit: int = 20) -> list[Prescription]:
    """A patient's latest prescriptions in the user's sight (the patient's page, «copy»)."""
    return list(prescriptions_for(user).filter(person_id=person_id).order_by("-issued_on", "-id")[:limit])


def open_of_person(person_id: int) -> list[Prescription]:
    """What a patient may still get (the pharmacy desk after a patient QR scan)."""
    return list(_base().filter(person_id=person_id, status__in=[Status.ISSUED, Status.RESERVED, Status.DEFERRED])
                .order_by("-issued_on", "-id"))


def doctors_for(user) -> QuerySet[Doctor]:
    """The doctors of the caller's MO (the API's staff list, the MIS picks `doctor` from it)."""
    if not (user and user.is_authenticated and user.organization_id and has_role(user, MO_READ_ROLES)):
        return Doctor.objects.none()
    return Doctor.objects.filter(organization_id=user.organization.legal_entity_id).order_by("last_name", "pk")


def doctor_of(user) -> Doctor | None:
    return Doctor.objects.filter(user=user).select_related("organization", "subdivision").first()


def attached_points(organization: Organization, *, on: date) -> list[Organization]:
    ids = current_attachments(on=on).filter(medical_org=organization).values("dispensing_point_id")
    return list(Organization.objects.filter(pk__in=ids).order_by("short_name"))


@dataclass
class StockLine:
    place: Organization
    package: Package
    lot: FreeLot


def stock_for_prescribing(*, organization: Organization, drug: StandardizedDrug, day: date,
                          package: Package | None = None) -> list[StockLine]:
    """Free stock (not reserved for others, in date, not recalled) of the drug — or of the chosen
    trade-name package — at the dispensing points attached to the MO, by series and expiry."""
    points = {p.pk: p for p in attached_points(organization, on=day)}
    packages = {p.pk: p for p in ([package] if package else
                                  Package.objects.valid_on(day).filter(trade_name__drug=drug)
                                  .select_related("trade_name"))}
    lots = free_stock(place_ids=list(points), package_ids=list(packages), today=day)
    return [StockLine(points[lot.place_id], packages[lot.package_id], lot) for lot in lots]


def equivalents_in_stock(*, organization: Organization, drug: StandardizedDrug, program_id: int,
                         day: date) -> list[tuple[StandardizedDrug, int]]:
    """Other forms and dosages of the same INN on the program's list that the attached points have:
    what the doctor can prescribe instead when the chosen one is missing."""
    others = list(StandardizedDrug.objects.valid_on(day).filter(inn_id=drug.inn_id).exclude(pk=drug.pk)
                  .filter(pk__in=ProgramDrug.objects.valid_on(day).filter(program_id=program_id).values("drug_id"))
                  .select_related("inn"))
    if not others:
        return []
    points = [p.pk for p in attached_points(organization, on=day)]
    packages = dict(Package.objects.valid_on(day).filter(trade_name__drug__in=others)
                    .values_list("pk", "trade_name__drug_id"))
    totals: dict[int, int] = {}
    for lot in free_stock(place_ids=points, package_ids=list(packages), today=day):
        totals[packages[lot.package_id]] = totals.get(packages[lot.package_id], 0) + lot.quantity
    return [(d, totals[d.pk]) for d in others if totals.get(d.pk)]
