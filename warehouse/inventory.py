"""Inventory count: blind (the counter never sees what the system expects), by scanning every
marked pack and entering unmarked quantities; the differences are approved by a second person and
posted as adjustments — a missing pack leaves circulation, a shortage or surplus of unmarked goods
corrects the balance. A found pack the system does not hold here is listed, not posted: it needs a
receipt or a move."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from llo import outbox
from llo.audit import audit_context
from llo.barcodes import BarcodeError, parse_scan
from llo.errors import ConflictError, ValidationFailed
from llo.models import Package

from . import ledger
from .documents import document_create, document_transition, place_of
from .models import (
    CodeStatus, DocumentCode, DocumentKind, DocumentLine, DocumentStatus, MarkedPack, PackState, Reason,
    StockBalance, StockDocument, StorageAddress,
)
from .packs import packs_move
from .receipts import ScanOutcome

INVENTORY_TOPIC = "warehouse.inventory"


def inventory_start(*, user, comment: str = "") -> StockDocument:
    place = place_of(user)
    with transaction.atomic(), audit_context(user=user, action="inventory.start"):
        return document_create(user=user, kind=DocumentKind.INVENTORY, place=place, comment=comment.strip())


def _counting(document: StockDocument, user) -> StockDocument:
    locked = StockDocument.objects.select_for_update().get(pk=document.pk)
    if locked.kind != DocumentKind.INVENTORY or locked.place_id != user.organization_id:
        raise ConflictError("Инвентаризация другого места", code="stock.document_of_another_place")
    if locked.status != DocumentStatus.DRAFT:
        raise ConflictError("Инвентаризация уже завершена", code="stock.document_closed")
    return locked


def inventory_scan(*, user, document: StockDocument, raw: str) -> ScanOutcome:
    try:
        scanned = parse_scan(raw)
    except BarcodeError as exc:
        raise ValidationFailed(exc.message, code=f"scan.{exc.code}") from None
    if scanned.kind != "sgtin":
        raise ValidationFailed("Отсканируйте код DataMatrix упаковки", code="scan.not_a_pack")
    with transaction.atomic():
        document = _counting(document, user)
        _, created = DocumentCode.objects.get_or_create(
            document=document, sgtin=scanned.sgtin,
            defaults={"status": CodeStatus.SCANNED, "scanned_at": timezone.now(),
                      "package": Package.objects.filter(gtin=scanned.gtin).first()})
    if not created:
        raise ConflictError(f"Упаковка {scanned.sgtin} уже посчитана", code="inventory.already_counted")
    return ScanOutcome(message="Посчитано", sgtin=scanned.sgtin)


def inventory_count(*, user, document: StockDocument, package: Package, series: str, quantity: int,
                    address: StorageAddress | None = None) -> None:
    """The counted quantity of an unmarked series (entered again, it replaces the earlier count; zero
    leaves no line). The line's funding is empty: a count is of goods, the funding comes from the
    balances when the difference is posted."""
    if package.is_marked:
        raise ValidationFailed("Маркированные упаковки считают сканированием", code="stock.marked_by_scan")
    if quantity < 0:
        raise ValidationFailed("Количество не может быть отрицательным", code="stock.bad_quantity")
    with transaction.atomic():
        document = _counting(document, user)
        DocumentLine.objects.filter(document=document, package=package, series=series, address=address).delete()
        if quantity:
            expiry = (StockBalance.objects.filter(package=package, series=series).values_list("expiry", flat=True)
                      .first() or timezone.localdate())
            DocumentLine.objects.create(document=document, package=package, series=series, expiry=expiry,
                                        funding_source="", address=address, quantity=quantity)


@dataclass
class Differences:
    missing: list[str] = field(default_factory=list)  # in stock here, not found
    found_elsewhere: list[str] = field(default_factory=list)  # found here, held elsewhere or unknown
    unmarked: dict[tuple[int, str], tuple[int, int]] = field(default_factory=dict)  # (package, series) -> (had, counted)


def inventory_differences(document: StockDocument) -> Differences:
    counted = set(DocumentCode.objects.filter(document=document).values_list("sgtin", flat=True))
    held = set(MarkedPack.objects.filter(place_id=document.place_id, state=PackState.IN_STOCK)
               .values_list("sgtin", flat=True))
    result = Differences(missing=sorted(held - counted), found_elsewhere=sorted(counted - held))
    had = dict(((p, s), q) for p, s, q in StockBalance.objects.filter(
        place_id=document.place_id, package__is_marked=False).values("package_id", "series")
        .annotate(q=Sum("quantity")).values_list("package_id", "series", "q"))
    counts = defaultdict(int)
    for package_id, series, quantity in DocumentLine.objects.filter(document=document).values_list(
            "package_id", "series", "quantity"):
        counts[package_id, series] += quantity
    for key in sorted(set(had) | set(counts)):
        if had.get(key, 0) != counts.get(key, 0):
            result.unmarked[key] = (had.get(key, 0), counts.get(key, 0))
    return result


def inventory_approve(*, user, document: StockDocument) -> Differences:
    """A second person approves: the differences become adjustments in one transaction."""
    with transaction.atomic(), audit_context(user=user, action="inventory.approve"):
        document = _counting(document, user)
        if document.created_by_id == user.pk:
            raise ConflictError("Результаты утверждает другой сотрудник, не проводивший подсчёт",
                                code="inventory.same_person")
        differences = inventory_differences(document)
        moves = []
        if differences.missing:
            packs = list(MarkedPack.objects.filter(sgtin__in=differences.missing))
            packs_move(differences.missing, from_states=[PackState.IN_STOCK], to_state=PackState.WITHDRAWN,
                       at_place_id=document.place_id, document_id=document.pk, user_id=user.pk,
                       reference="недостача по инвентаризации", unpack=True)
            moves += [ledger.Move(ledger.StockKey(p.place_id, p.address_id, p.package_id, p.series, p.funding_source,
                                                  p.contract_id), p.expiry, -1) for p in packs]
        for (package_id, series), (had, counted) in differences.unmarked.items():
            moves += _unmarked_adjustment(document.place_id, package_id, series, counted - had)
        ledger.post(moves, reason=Reason.ADJUSTMENT, document_id=document.pk, user_id=user.pk)
        document_transition(document, from_status=DocumentStatus.DRAFT, to_status=DocumentStatus.POSTED)
        outbox.publish(INVENTORY_TOPIC, {"document_id": document.pk, "missing": differences.missing},
                       key=f"warehouse-inventory-{document.pk}")
    return differences


def _unmarked_adjustment(place_id: int, package_id: int, series: str, delta: int) -> list[ledger.Move]:
    balances = list(StockBalance.objects.filter(place_id=place_id, package_id=package_id, series=series)
                    .order_by("-quantity", "pk"))
    if not balances:
        raise ConflictError(f"Излишек серии {series}, которой не было на складе: оформите приходом",
                            code="inventory.surplus_unknown_series")
    if delta > 0:  # a surplus joins the largest balance of the series
        b = balances[0]
        return [ledger.Move(ledger.StockKey(place_id, b.address_id, package_id, series, b.funding_source,
                                            b.contract_id), b.expiry, delta)]
    moves, left = [], -delta
    for b in balances:
        take = min(left, b.quantity)
        if take:
            moves.append(ledger.Move(ledger.StockKey(place_id, b.address_id, package_id, series, b.funding_source,
                                                     b.contract_id), b.expiry, -take))
            left -= take
    return moves
