"""Reads of the desk page: what the pharmacist sees once a prescription is open — whether it may be
dispensed, its reservation here, the matching stock here earliest expiry first, and the packs
accepted so far (the basket). The writes are `dispensing` and `deferrals`; the API has its own
reads (`selectors`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from django.utils import timezone

from llo.errors import ApplicationError
from llo.models import Organization, Package
from prescriptions.models import Prescription, Status
from prescriptions.services import label_of
from warehouse.models import ReservationState, StockReservation
from warehouse.reservations import FreeLot, free_stock

from . import checks, lookups
from .models import Deferral, DeferralStatus, Dispensation


@dataclass
class StockRow:
    package: Package
    series: str
    expiry: date
    quantity: int
    held_here: bool = False  # this prescription's own reservation


@dataclass
class DeskView:
    rx: Prescription
    place: Organization
    ok: bool
    code: str = ""
    message: str = ""
    stock: list[StockRow] = field(default_factory=list)
    free_total: int = 0
    deferral: Deferral | None = None
    dispensation: Dispensation | None = None

    @property
    def can_defer(self) -> bool:
        return self.ok and self.rx.status != Status.DEFERRED and self.free_total < self.rx.quantity

    @property
    def has_unmarked(self) -> bool:
        return any(not row.package.is_marked for row in self.stock)


def prescription_verdict(rx: Prescription, *, today: date) -> tuple[bool, str, str]:
    """Whether the prescription may be dispensed at all (status, dates, completeness, signature)."""
    try:
        checks.check_prescription(rx, today=today)
        checks.check_signature(rx)
    except ApplicationError as exc:
        return False, exc.code, exc.message
    return True, "", ""


def desk_view(rx: Prescription, place: Organization) -> DeskView:
    today = timezone.localdate()
    ok, code, message = prescription_verdict(rx, today=today)
    view = DeskView(rx=rx, place=place, ok=ok, code=code, message=message)
    if rx.status == Status.DISPENSED:
        view.dispensation = Dispensation.objects.filter(prescription=rx).select_related("place").first()
        return view
    if not ok:
        return view
    matching = (Package.objects.filter(pk=rx.package_id) if rx.package_id else
                Package.objects.valid_on(today).filter(trade_name__drug_id=rx.drug_id))  # as package_ids_for
    packages = {p.pk: p for p in matching.select_related("trade_name")}
    own = StockReservation.objects.filter(reference=label_of(rx), place=place, state=ReservationState.ACTIVE,
                                          package_id__in=packages)
    held = [StockRow(packages[r.package_id], r.series, r.expiry, r.quantity, held_here=True) for r in own]
    lots: list[FreeLot] = free_stock(place_ids=[place.pk], package_ids=list(packages), today=today)
    view.stock = held + [StockRow(packages[lot.package_id], lot.series, lot.expiry, lot.quantity) for lot in lots]
    view.free_total = sum(row.quantity for row in view.stock)
    if rx.status in (Status.DEFERRED, Status.RESERVED):
        view.deferral = (Deferral.objects.filter(prescription=rx, status__in=[DeferralStatus.OPEN,
                                                                              DeferralStatus.OVERDUE])
                         .select_related("place").first())
    return view


@dataclass(frozen=True)
class BasketRow:
    key: str  # what the form carries: the SGTIN, or "package|series|quantity" for unmarked goods
    package: Package
    series: str
    expiry: date | None
    quantity: int
    sgtin: str = ""


@dataclass
class Basket:
    rows: list[BasketRow]
    needed: int

    @property
    def count(self) -> int:
        return sum(row.quantity for row in self.rows)

    @property
    def complete(self) -> bool:
        return self.count == self.needed

    @property
    def sgtins(self) -> list[str]:
        return [row.sgtin for row in self.rows if row.sgtin]


def unmarked_key(package_id: int, series: str, quantity: int) -> str:
    return f"{package_id}|{series}|{quantity}"


def parse_unmarked(value: str) -> tuple[int, str, int] | None:
    package, _, rest = (value or "").partition("|")
    series, _, quantity = rest.rpartition("|")
    if not (package.isdigit() and series and quantity.isdigit()):
        return None
    return int(package), series, int(quantity)


def basket_of(rx: Prescription, *, sgtins: list[str], items: list[str]) -> Basket:
    """The packs the desk accepted, in the order they were scanned, read in one query (two with
    unmarked goods); what no longer reads as a pack is dropped (it is checked again on dispensing)."""
    packs = lookups.packs_by_sgtin(sgtins) if sgtins else {}
    rows = [BasketRow(s, packs[s].package, packs[s].series, packs[s].expiry, 1, sgtin=s)
            for s in dict.fromkeys(sgtins) if s in packs]
    parsed = [p for p in map(parse_unmarked, items) if p]
    if parsed:
        by_pk = Package.objects.select_related("trade_name").in_bulk({p for p, _, _ in parsed})
        rows += [BasketRow(unmarked_key(p, s, q), by_pk[p], s, None, q) for p, s, q in parsed if p in by_pk]
    return Basket(rows=rows, needed=rx.quantity)


def check_unmarked(row: BasketRow, *, rx: Prescription) -> None:
    """An unmarked line before it joins the basket: goods without marking, what was prescribed."""
    if row.package.is_marked:
        raise checks.PackNeedsScan(f"{row.package} подлежит маркировке: отсканируйте DataMatrix каждой упаковки",
                                   details={"package_id": row.package.pk})
    checks.check_package(row.package, rx=rx)


def dispensed_today(place: Organization, *, limit: int = 10) -> list[Dispensation]:
    """The point's latest dispensings today (the desk's opening page: the slip again, at hand)."""
    start = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    return list(Dispensation.objects.filter(place=place, at__gte=start)
                .select_related("prescription", "pharmacist").order_by("-at")[:limit])
