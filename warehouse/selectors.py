"""Reads of stock: balances by place, series and expiry; what expires soon."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django.db import connection
from django.db.models import Case, Count, Q, QuerySet, Sum, When

from llo.models import FundingSource, Organization, Package
from procurement.models import ContractItem, ContractStatus, StateContract

from .inventory import inventory_differences
from .models import (
    PLACE_KINDS, Acceptance, CodeStatus, DocumentCode, DocumentKind, DocumentLine, DocumentStatus, MarkedPack,
    PackState, StockBalance, StockDocument, StockMovement,
)

_STOCK = """
    SELECT b.place_id, o.code, o.short_name, o.kind, b.package_id, p.gtin, t.name, t.drug_id, b.series, b.expiry,
           b.funding_source, sum(b.quantity)::integer
    FROM warehouse_stockbalance b
    JOIN llo_package p ON p.id = b.package_id
    JOIN llo_tradename t ON t.id = p.trade_name_id
    JOIN llo_organization o ON o.id = b.place_id
    WHERE b.quantity > 0 {filters}
    GROUP BY b.place_id, o.code, o.short_name, o.kind, b.package_id, p.gtin, t.name, t.drug_id, b.series, b.expiry,
             b.funding_source
    ORDER BY o.code, t.name, b.expiry, b.series
    LIMIT %(limit)s
"""
STOCK_FIELDS = ("place_id", "place_code", "place_name", "place_kind", "package_id", "gtin", "trade_name", "drug_id",
                "series", "expiry", "funding_source", "quantity")


def stock(*, drug_id: int | None = None, package_id: int | None = None, place_id: int | None = None,
          place_ids: list[int] | None = None, expiring_before: date | None = None, limit: int = 1000) -> list[dict]:
    """Quantities in stock (summed over addresses and contracts) by place, pack, series, expiry and
    funding source, in one statement over the balances (never over the ledger)."""
    filters, params = [], {"limit": limit}
    for column, name, value in (("t.drug_id", "drug", drug_id), ("b.package_id", "package", package_id),
                                ("b.place_id", "place", place_id)):
        if value is not None:
            filters.append(f"AND {column} = %({name})s")
            params[name] = value
    if place_ids is not None:
        filters.append("AND b.place_id = ANY(%(places)s)")
        params["places"] = place_ids
    if expiring_before is not None:
        filters.append("AND b.expiry < %(before)s")
        params["before"] = expiring_before
    with connection.cursor() as cursor:
        cursor.execute(_STOCK.format(filters=" ".join(filters)), params)
        return [dict(zip(STOCK_FIELDS, row)) for row in cursor.fetchall()]


def expiring(*, place_ids: list[int] | None, today: date, days: int) -> list[dict]:
    """What expires within `days` (30 / 60 / 90), where: for the expiry monitor."""
    return stock(place_ids=place_ids, expiring_before=today + timedelta(days=days + 1), limit=5000)


_SLOW = """
    SELECT b.place_id, b.package_id, b.series, b.expiry, sum(b.quantity)::integer
    FROM warehouse_stockbalance b JOIN llo_organization o ON o.id = b.place_id
    WHERE b.quantity > 0 AND o.kind = 'dispensing_point' AND (%(places)s::bigint[] IS NULL OR b.place_id = ANY(%(places)s))
      AND NOT EXISTS (SELECT 1 FROM warehouse_stockmovement m WHERE m.place_id = b.place_id
                      AND m.package_id = b.package_id AND m.quantity < 0 AND m.created_at >= %(since)s)
    GROUP BY 1, 2, 3, 4 ORDER BY 4, 1, 2
    LIMIT 1000
"""
_TAKERS = """
    SELECT m.package_id, m.place_id, -sum(m.quantity)::integer AS taken
    FROM warehouse_stockmovement m JOIN llo_organization o ON o.id = m.place_id
    WHERE m.package_id = ANY(%(packages)s) AND m.quantity < 0 AND m.reason = 'dispensing'
      AND m.created_at >= %(since)s AND o.kind = 'dispensing_point'
    GROUP BY 1, 2 ORDER BY 1, 3 DESC
"""


def slow_moving(*, place_ids: list[int] | None, today: date, days: int = 90) -> list[dict]:
    """Stock at dispensing points that nothing has left for `days` days."""
    since = today - timedelta(days=days)
    with connection.cursor() as cursor:
        cursor.execute(_SLOW, {"places": place_ids, "since": since})
        return [dict(zip(("place_id", "package_id", "series", "expiry", "quantity"), row))
                for row in cursor.fetchall()]


def redistribution(*, today: date, days: int = 90) -> list[dict]:
    """For each slow-moving series, the points that dispensed that pack most in the same period:
    where to move it before it expires."""
    slow = slow_moving(place_ids=None, today=today, days=days)
    if not slow:
        return []
    with connection.cursor() as cursor:
        cursor.execute(_TAKERS, {"packages": sorted({s["package_id"] for s in slow}),
                                 "since": today - timedelta(days=days)})
        takers: dict[int, list[tuple[int, int]]] = {}
        for package_id, place_id, taken in cursor.fetchall():
            takers.setdefault(package_id, []).append((place_id, taken))
    return [{**s, "to_place_id": to_place, "dispensed_there": taken}
            for s in slow for to_place, taken in takers.get(s["package_id"], [])[:1] if to_place != s["place_id"]]


# --- pages and API: documents, their progress, places, contracts ----------------------------

@dataclass
class Progress:
    """Where a document's scanning stands. `rows` are its lines (each with `.scanned`), or for a direct
    receipt the supplier's list grouped by pack and series (dicts); `expected` is None when the
    document has no plan to scan against (return, write-off, and the blind inventory)."""

    rows: list
    expected: int | None
    scanned: int
    refused: int
    recent: list[DocumentCode]
    by_supplier_list: bool


def document_progress(document: StockDocument, *, recent: int = 8) -> Progress:
    """Three statements whatever the document's size: rows, code totals, the latest scans."""
    direct = document.kind == DocumentKind.RECEIPT and document.acceptance == Acceptance.DIRECT
    done = Q(status__in=[CodeStatus.SCANNED, CodeStatus.ACCEPTED])
    refused = Q(status=CodeStatus.REFUSED)
    if direct:
        rows = list(DocumentCode.objects.filter(document=document).exclude(sgtin="")
                    .values("package_id", "package__trade_name__name", "package__pack_description",
                            "package__pack_quantity", "series", "expiry")
                    .annotate(quantity=Count("pk"), scanned=Count("pk", filter=done),
                              refused=Count("pk", filter=refused))
                    .order_by("package__trade_name__name", "expiry", "series"))
        for row in rows:
            row["label"] = f"{row['package__trade_name__name']}, " \
                           f"{row['package__pack_description'] or row['package__pack_quantity']}"
    else:
        rows = list(DocumentLine.objects.filter(document=document)
                    .select_related("package__trade_name", "address").annotate(scanned=Count("codes"))
                    .order_by("pk"))
    totals = DocumentCode.objects.filter(document=document).exclude(sgtin="").aggregate(
        total=Count("pk"), scanned=Count("pk", filter=done), refused=Count("pk", filter=refused))
    if direct:
        expected = totals["total"]
    elif document.kind in (DocumentKind.RECEIPT, DocumentKind.SHIPMENT):
        expected = sum(line.quantity for line in rows if line.package.is_marked)
    else:
        expected = None
    latest = list(DocumentCode.objects.filter(document=document, scanned_at__isnull=False)
                  .select_related("package__trade_name").order_by("-scanned_at", "-pk")[:recent])
    return Progress(rows=rows, expected=expected, scanned=totals["scanned"], refused=totals["refused"],
                    recent=latest, by_supplier_list=direct)


def incoming_shipments(place_id: int) -> QuerySet[StockDocument]:
    """Shipments travelling to a dispensing point (first) and the ones it received."""
    return (StockDocument.objects.filter(kind=DocumentKind.SHIPMENT, counterparty_id=place_id,
                                         status__in=[DocumentStatus.SHIPPED, DocumentStatus.RECEIVED])
            .select_related("place").annotate(packs=Sum("lines__quantity"))
            .order_by(Case(When(status=DocumentStatus.SHIPPED, then=0), default=1), "-updated_at", "-pk"))


def places_of_region(region_id: int) -> QuerySet[Organization]:
    return Organization.objects.filter(region_id=region_id, kind__in=PLACE_KINDS, is_active=True).order_by(
        "kind", "code")


def dispensing_points(region_id: int, *, exclude_id: int | None = None) -> QuerySet[Organization]:
    return places_of_region(region_id).filter(kind="dispensing_point").exclude(pk=exclude_id)


def region_contracts(place: Organization) -> QuerySet[StateContract]:
    """State contracts of the place's region (the ministry is their customer), in any state."""
    return (StateContract.objects.filter(Q(customer=place) | Q(customer__region_id=place.region_id))
            .select_related("supplier").order_by("-signed_on", "number"))


def contracts_for(place: Organization) -> QuerySet[StateContract]:
    """Active contracts of the place's region: what a receipt or a return is made under."""
    return region_contracts(place).filter(status=ContractStatus.ACTIVE)


def contract_packages(contracts) -> list[ContractItem]:
    return list(ContractItem.objects.filter(contract__in=contracts)
                .select_related("package__trade_name", "contract").order_by("package__trade_name__name", "pk"))


def packages_in_stock(place_id: int) -> list[Package]:
    """Packs the place holds, each with `.in_stock` (packs): the choices of a shipment."""
    held = dict(StockBalance.objects.filter(place_id=place_id, quantity__gt=0).values("package_id")
                .annotate(n=Sum("quantity")).values_list("package_id", "n"))
    packages = list(Package.objects.filter(pk__in=held).select_related("trade_name").order_by("trade_name__name"))
    for package in packages:
        package.in_stock = held[package.pk]
    return packages


def with_addresses(rows: list[dict]) -> list[dict]:
    """`stock()` rows with their `package`, funding label and `addresses`: [(address code or None,
    quantity)] of the row's place, pack, series, expiry and funding."""
    if not rows:
        return rows
    spread: dict[tuple, list] = {}
    fields = ("place_id", "package_id", "series", "expiry", "funding_source")
    for *key, code, quantity in (
            StockBalance.objects.filter(place_id__in={r["place_id"] for r in rows},
                                        package_id__in={r["package_id"] for r in rows}, quantity__gt=0)
            .values(*fields, "address__code").annotate(n=Sum("quantity"))
            .order_by("address__code").values_list(*fields, "address__code", "n")):
        spread.setdefault(tuple(key), []).append((code, quantity))
    packages = Package.objects.select_related("trade_name").in_bulk({r["package_id"] for r in rows})
    funding = dict(FundingSource.choices)
    for row in rows:
        row["addresses"] = spread.get(tuple(row[f] for f in fields), [])
        row["package"] = packages.get(row["package_id"])
        row["funding"] = funding.get(row["funding_source"], row["funding_source"])
    return rows


def with_names(rows: list[dict]) -> list[dict]:
    """Rows of `slow_moving()` / `redistribution()` with their `package`, `place` and `to_place` objects."""
    packages = Package.objects.select_related("trade_name").in_bulk({r["package_id"] for r in rows})
    places = Organization.objects.in_bulk({r["place_id"] for r in rows} | {r.get("to_place_id") for r in rows} - {None})
    for row in rows:
        row["package"] = packages.get(row["package_id"])
        row["place"] = places.get(row["place_id"])
        row["to_place"] = places.get(row.get("to_place_id"))
    return rows


@dataclass
class DifferencesView:
    missing: list[MarkedPack]
    missing_groups: list[dict]  # the missing packs by pack, series and expiry, with `count`
    found_elsewhere: list[str]
    unmarked: list[dict]


def pack_groups(packs: list[MarkedPack]) -> list[dict]:
    """Packs counted by pack, series and expiry (in the order given)."""
    groups: dict[tuple, dict] = {}
    for pack in packs:
        key = (pack.package_id, pack.series, pack.expiry)
        groups.setdefault(key, {"package": pack.package, "series": pack.series, "expiry": pack.expiry, "count": 0})
        groups[key]["count"] += 1
    return list(groups.values())


def differences_of(document: StockDocument) -> DifferencesView:
    """The inventory's differences with the packs and packages named, for the approval page."""
    found = inventory_differences(document)
    packages = Package.objects.select_related("trade_name").in_bulk({p for p, _ in found.unmarked})
    missing = list(MarkedPack.objects.filter(sgtin__in=found.missing).select_related("package__trade_name", "address")
                   .order_by("package__trade_name__name", "package_id", "series", "sgtin"))
    return DifferencesView(
        missing=missing, missing_groups=pack_groups(missing), found_elsewhere=found.found_elsewhere,
        unmarked=[{"package": packages.get(package_id), "series": series, "had": had, "counted": counted,
                   "delta": counted - had} for (package_id, series), (had, counted) in found.unmarked.items()])


def free_packs(place_id: int, sgtins: list[str]) -> dict[str, MarkedPack]:
    """Packs in stock at the place and in no box, by SGTIN: what may go into a new box."""
    return {p.sgtin: p for p in MarkedPack.objects.filter(sgtin__in=sgtins, place_id=place_id, state=PackState.IN_STOCK,
                                                         transport_pack__isnull=True)
            .select_related("package__trade_name")}


def document_movements(document: StockDocument) -> list[StockMovement]:
    """The ledger lines a posted document wrote."""
    return list(StockMovement.objects.filter(document=document).select_related("package__trade_name", "address",
                                                                               "place").order_by("pk"))


def withdrawn_packs(document: StockDocument) -> list[MarkedPack]:
    """Packs the document took out of circulation (an inventory's shortage, a write-off)."""
    return list(MarkedPack.objects.filter(events__document=document, events__to_state=PackState.WITHDRAWN)
                .select_related("package__trade_name").order_by("package__trade_name__name", "package_id", "series",
                                                                 "sgtin"))
