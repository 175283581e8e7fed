"""Shipment from the warehouse to a dispensing point: a first-expired-first-out pick list, every
pack (or SSCC box) scanned against it, shipped (the packs leave the warehouse's stock and travel),
and received at the pharmacy (they enter its stock). MDLP is told through the outbox
(`warehouse.shipment`, `warehouse.shipment_received`)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from llo import outbox
from llo.audit import audit_context
from llo.barcodes import BarcodeError, parse_scan
from llo.errors import ConflictError, ValidationFailed
from llo.models import Organization, Package

from . import ledger
from .documents import document_create, document_transition, editable, place_of, stock_arrived
from .models import (
    CodeStatus,
    DocumentCode,
    DocumentKind,
    DocumentLine,
    DocumentStatus,
    MarkedPack,
    PackState,
    Reason,
    RecalledSeries,
    StockBalance,
    StockDocument,
    TransportPack,
)
from .packs import packs_move
from .receipts import ScanOutcome
from .storage import boxes_within

SHIPMENT_TOPIC = "warehouse.shipment"
RECEIVED_TOPIC = "warehouse.shipment_received"


@dataclass(frozen=True)
class Wanted:
    package: Package
    quantity: int


def pick_list(place: Organization, package: Package, quantity: int) -> list[StockBalance]:
    """Balances to take `quantity` from, earliest expiry first, skipping expired and recalled series;
    each returned balance carries `take`. Raises when the place has less."""
    today = timezone.localdate()
    recalled = RecalledSeries.objects.filter(package=package, is_active=True).values("series")
    balances = (StockBalance.objects.filter(place=place, package=package, quantity__gt=0, expiry__gte=today)
                .exclude(series__in=recalled).order_by("expiry", "series", "address_id", "pk"))
    picked, left = [], quantity
    for balance in balances:
        balance.take = min(left, balance.quantity)
        picked.append(balance)
        left -= balance.take
        if not left:
            return picked
    raise ConflictError(f"{package}: на складе {quantity - left} упак. годных, нужно {quantity}",
                        code="shipment.short", details={"package_id": package.pk, "available": quantity - left})


def shipment_create(*, user, destination: Organization, wanted: list[Wanted]) -> StockDocument:
    place = place_of(user)
    if destination.kind != "dispensing_point" or destination.pk == place.pk:
        raise ValidationFailed("Отгрузка — в пункт отпуска", code="shipment.bad_destination")
    if not wanted or any(w.quantity <= 0 for w in wanted):
        raise ValidationFailed("Укажите препараты и количество больше нуля", code="shipment.empty")
    with transaction.atomic(), audit_context(user=user, action="shipment.create"):
        document = document_create(user=user, kind=DocumentKind.SHIPMENT, place=place, counterparty=destination)
        lines = [DocumentLine(document=document, package=w.package, series=b.series, expiry=b.expiry,
                              funding_source=b.funding_source, contract_id=b.contract_id, address_id=b.address_id,
                              quantity=b.take)
                 for w in wanted for b in pick_list(place, w.package, w.quantity)]
        DocumentLine.objects.bulk_create(lines)
    return document


def _line_for(document: StockDocument, pack: MarkedPack, planned: Counter) -> DocumentLine:
    lines = DocumentLine.objects.filter(document=document, package_id=pack.package_id, series=pack.series,
                                        funding_source=pack.funding_source, contract_id=pack.contract_id)
    for line in lines:
        if planned[line.pk] < line.quantity:
            return line
    raise ConflictError(f"{pack.package} серии {pack.series} нет в листе подбора или уже набрано всё количество",
                        code="shipment.not_in_pick_list")


def shipment_scan(*, user, document: StockDocument, raw: str) -> ScanOutcome:
    try:
        scanned = parse_scan(raw)
    except BarcodeError as exc:
        raise ValidationFailed(exc.message, code=f"scan.{exc.code}") from None
    with transaction.atomic():
        document = editable(document, user)
        if scanned.kind == "sscc":
            box = TransportPack.objects.filter(sscc=scanned.sscc, place_id=document.place_id).first()
            if box is None:
                raise ConflictError(f"Короба {scanned.sscc} нет на складе", code="shipment.unknown_box")
            sgtins = list(MarkedPack.objects.filter(transport_pack_id__in=boxes_within(box))
                          .values_list("sgtin", flat=True))
            if not sgtins:
                raise ConflictError(f"Короб {scanned.sscc} пуст: он расформирован или его упаковки уже ушли",
                                    code="shipment.empty_box")
        elif scanned.kind == "sgtin":
            sgtins = [scanned.sgtin]
        else:
            raise ValidationFailed("Отсканируйте код DataMatrix упаковки или SSCC короба", code="scan.not_a_pack")
        packs = list(MarkedPack.objects.filter(sgtin__in=sgtins).select_related("package"))
        if len(packs) != len(sgtins):
            raise ConflictError(f"Упаковки {scanned.sgtin or scanned.sscc} нет в системе: она не принималась",
                                code="shipment.unknown_pack")
        planned = Counter(DocumentCode.objects.filter(document=document).values_list("line_id", flat=True))
        codes = []
        for pack in packs:
            if pack.place_id != document.place_id or pack.state != PackState.IN_STOCK:
                raise ConflictError(f"Упаковка {pack.sgtin}: {PackState(pack.state).label}, не на этом складе",
                                    code="shipment.pack_not_here")
            if pack.expiry < timezone.localdate():
                raise ConflictError(f"Упаковка {pack.sgtin}: срок годности истёк {pack.expiry:%d.%m.%Y}",
                                    code="shipment.expired")
            if DocumentCode.objects.filter(document=document, sgtin=pack.sgtin).exists():
                raise ConflictError(f"Упаковка {pack.sgtin} уже отсканирована", code="shipment.already_scanned")
            line = _line_for(document, pack, planned)
            planned[line.pk] += 1
            codes.append(DocumentCode(document=document, line=line, sgtin=pack.sgtin, package_id=pack.package_id,
                                      series=pack.series, expiry=pack.expiry, status=CodeStatus.SCANNED,
                                      scanned_at=timezone.now(), parent_sscc=scanned.sscc or ""))
        DocumentCode.objects.bulk_create(codes)
    first = packs[0]
    return ScanOutcome(message=f"В отгрузку: {first.package} серия {first.series}"
                               + (f" и ещё {len(packs) - 1}" if len(packs) > 1 else ""),
                       sgtin=scanned.sgtin or "", sscc=scanned.sscc or "", packs=len(packs))


def shipment_ship(*, user, document: StockDocument) -> StockDocument:
    """Every marked line fully scanned: the packs leave this place's stock and travel to the point."""
    with transaction.atomic(), audit_context(user=user, action="shipment.ship"):
        document = editable(document, user)
        if document.kind != DocumentKind.SHIPMENT:
            raise ValidationFailed("Это не расходная накладная", code="shipment.wrong_kind")
        lines = list(DocumentLine.objects.filter(document=document).select_related("package").order_by("pk"))
        scanned = Counter(DocumentCode.objects.filter(document=document).values_list("line_id", flat=True))
        short = [line for line in lines if line.package.is_marked and scanned[line.pk] != line.quantity]
        if short:
            line = short[0]
            raise ConflictError(f"{line.package} серия {line.series}: отсканировано {scanned[line.pk]} из "
                                f"{line.quantity}", code="shipment.not_fully_scanned",
                                details={"lines": [{"line_id": x.pk, "scanned": scanned[x.pk], "quantity": x.quantity}
                                                   for x in short]})
        sgtins = list(DocumentCode.objects.filter(document=document).exclude(sgtin="").values_list("sgtin", flat=True))
        # packs first, then balances: every operation locks in this order
        packs_move(sgtins, from_states=[PackState.IN_STOCK], to_state=PackState.SHIPPED,
                   at_place_id=document.place_id, to_place_id=document.counterparty_id, document_id=document.pk,
                   user_id=user.pk, unpack=True)
        ledger.post([ledger.Move(_key(document.place_id, line, line.address_id), line.expiry, -line.quantity)
                     for line in lines], reason=Reason.SHIPMENT, document_id=document.pk, user_id=user.pk)
        document_transition(document, from_status=DocumentStatus.DRAFT, to_status=DocumentStatus.SHIPPED)
        outbox.publish(SHIPMENT_TOPIC, {"document_id": document.pk, "packs": len(sgtins)},
                       key=f"warehouse-shipment-{document.pk}")
    return document


def shipment_receive(*, user, document: StockDocument) -> StockDocument:
    """At the dispensing point: the travelling packs and quantities enter its stock."""
    place = place_of(user)
    with transaction.atomic(), audit_context(user=user, action="shipment.receive"):
        document = StockDocument.objects.select_for_update().get(pk=document.pk)
        if document.counterparty_id != place.pk:
            raise ConflictError("Накладная адресована другому пункту отпуска", code="shipment.not_for_you")
        lines = list(DocumentLine.objects.filter(document=document).order_by("pk"))
        sgtins = list(DocumentCode.objects.filter(document=document).exclude(sgtin="").values_list("sgtin", flat=True))
        document_transition(document, from_status=DocumentStatus.SHIPPED, to_status=DocumentStatus.RECEIVED)
        packs_move(sgtins, from_states=[PackState.SHIPPED], to_state=PackState.IN_STOCK, at_place_id=place.pk,
                   document_id=document.pk, user_id=user.pk)
        ledger.post([ledger.Move(_key(place.pk, line, None), line.expiry, line.quantity) for line in lines],
                    reason=Reason.SHIPMENT_RECEIPT, document_id=document.pk, user_id=user.pk)
        outbox.publish(RECEIVED_TOPIC, {"document_id": document.pk, "packs": len(sgtins)},
                       key=f"warehouse-shipment-received-{document.pk}")
        stock_arrived(place_id=place.pk, package_ids={line.package_id for line in lines},
                      key=f"warehouse-stock-arrived-{document.pk}")
    return document


def _key(place_id: int, line: DocumentLine, address_id: int | None) -> ledger.StockKey:
    return ledger.StockKey(place_id, address_id, line.package_id, line.series, line.funding_source, line.contract_id)
