"""Stock leaving a place other than by shipment: return to the supplier and write-off (expired,
damaged, recalled, handed over for destruction). The clerk scans the packs (or enters unmarked
quantities) into a draft and posts it: the packs leave circulation or go back, the ledger is
written, and MDLP is told (`warehouse.return`, `warehouse.withdrawal`) — in one transaction."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from llo import outbox
from llo.audit import audit_context
from llo.barcodes import BarcodeError, parse_scan
from llo.errors import ConflictError, ValidationFailed
from llo.models import Package
from procurement.models import StateContract

from . import ledger
from .documents import document_create, document_transition, editable, place_of
from .models import (
    CodeStatus, DocumentCode, DocumentKind, DocumentLine, DocumentStatus, MarkedPack, PackState, Reason,
    StockBalance, StockDocument, WriteOffReason,
)
from .packs import packs_move
from .receipts import ScanOutcome

TOPICS = {DocumentKind.RETURN: "warehouse.return", DocumentKind.WRITE_OFF: "warehouse.withdrawal"}
PACK_STATE = {DocumentKind.RETURN: PackState.RETURNED, DocumentKind.WRITE_OFF: PackState.WITHDRAWN}
REASON = {DocumentKind.RETURN: Reason.RETURN, DocumentKind.WRITE_OFF: Reason.WRITE_OFF}


def return_create(*, user, contract: StateContract, comment: str = "") -> StockDocument:
    place = place_of(user)
    with transaction.atomic(), audit_context(user=user, action="return.create"):
        return document_create(user=user, kind=DocumentKind.RETURN, place=place, counterparty=contract.supplier,
                               contract=contract, comment=comment.strip())


def write_off_create(*, user, reason: str, comment: str = "") -> StockDocument:
    place = place_of(user)
    if reason not in WriteOffReason.values:
        raise ValidationFailed("Укажите причину списания", code="write_off.reason_missing")
    with transaction.atomic(), audit_context(user=user, action="write_off.create"):
        return document_create(user=user, kind=DocumentKind.WRITE_OFF, place=place, write_off_reason=reason,
                               comment=comment.strip())


def _line_for(document: StockDocument, *, package_id: int, series: str, expiry, funding_source: str,
              contract_id: int | None, address_id: int | None, quantity: int) -> DocumentLine:
    line, created = DocumentLine.objects.get_or_create(
        document=document, package_id=package_id, series=series, funding_source=funding_source,
        contract_id=contract_id, address_id=address_id, defaults={"expiry": expiry, "quantity": quantity})
    if not created:
        DocumentLine.objects.filter(pk=line.pk).update(quantity=line.quantity + quantity)
    return line


def outgoing_scan(*, user, document: StockDocument, raw: str) -> ScanOutcome:
    try:
        scanned = parse_scan(raw)
    except BarcodeError as exc:
        raise ValidationFailed(exc.message, code=f"scan.{exc.code}") from None
    if scanned.kind != "sgtin":
        raise ValidationFailed("Отсканируйте код DataMatrix упаковки", code="scan.not_a_pack")
    with transaction.atomic():
        document = editable(document, user)
        pack = MarkedPack.objects.filter(sgtin=scanned.sgtin).select_related("package").first()
        if pack is None or pack.place_id != document.place_id or pack.state != PackState.IN_STOCK:
            where = "нет в системе" if pack is None else f"{PackState(pack.state).label}, не в этом месте"
            raise ConflictError(f"Упаковка {scanned.sgtin}: {where}", code="stock.pack_not_here")
        if document.kind == DocumentKind.RETURN and pack.contract_id != document.contract_id:
            raise ConflictError("Упаковка поставлена по другому контракту: верните её по нему",
                                code="return.other_contract")
        if DocumentCode.objects.filter(document=document, sgtin=pack.sgtin).exists():
            raise ConflictError(f"Упаковка {pack.sgtin} уже в документе", code="stock.already_scanned")
        line = _line_for(document, package_id=pack.package_id, series=pack.series, expiry=pack.expiry,
                         funding_source=pack.funding_source, contract_id=pack.contract_id,
                         address_id=pack.address_id, quantity=1)
        DocumentCode.objects.create(document=document, line=line, sgtin=pack.sgtin, package_id=pack.package_id,
                                    series=pack.series, expiry=pack.expiry, status=CodeStatus.SCANNED,
                                    scanned_at=timezone.now())
    return ScanOutcome(message=f"В документ: {pack.package} серия {pack.series}", sgtin=pack.sgtin)


def outgoing_add_quantity(*, user, document: StockDocument, package: Package, series: str, quantity: int) -> None:
    """Unmarked goods: `quantity` packs of a series at this place (from the balances, earliest first)."""
    if package.is_marked:
        raise ValidationFailed("Маркированные упаковки сканируйте по одной", code="stock.marked_by_scan")
    if quantity <= 0:
        raise ValidationFailed("Количество должно быть больше нуля", code="stock.bad_quantity")
    with transaction.atomic():
        document = editable(document, user)
        balances = StockBalance.objects.filter(place_id=document.place_id, package=package, series=series,
                                               quantity__gt=0)
        if document.kind == DocumentKind.RETURN:
            balances = balances.filter(contract_id=document.contract_id)
        left = quantity
        for balance in balances.order_by("address_id", "pk"):
            take = min(left, balance.quantity)
            _line_for(document, package_id=package.pk, series=series, expiry=balance.expiry,
                      funding_source=balance.funding_source, contract_id=balance.contract_id,
                      address_id=balance.address_id, quantity=take)
            left -= take
            if not left:
                return
        raise ConflictError(f"{package} серии {series}: в наличии {quantity - left} упак.", code="stock.insufficient")


def outgoing_post(*, user, document: StockDocument) -> StockDocument:
    with transaction.atomic(), audit_context(user=user, action=f"{document.kind}.post"):
        document = editable(document, user)
        if document.kind not in TOPICS:
            raise ValidationFailed("Это не возврат и не списание", code="stock.wrong_kind")
        lines = list(DocumentLine.objects.filter(document=document).order_by("pk"))
        if not lines:
            raise ValidationFailed("Документ пуст: отсканируйте упаковки", code="stock.document_empty")
        sgtins = list(DocumentCode.objects.filter(document=document).values_list("sgtin", flat=True))
        packs_move(sgtins, from_states=[PackState.IN_STOCK], to_state=PACK_STATE[document.kind],
                   at_place_id=document.place_id, document_id=document.pk, user_id=user.pk, unpack=True)
        ledger.post([ledger.Move(ledger.StockKey(document.place_id, line.address_id, line.package_id, line.series,
                                                 line.funding_source, line.contract_id), line.expiry, -line.quantity)
                     for line in lines], reason=REASON[document.kind], document_id=document.pk, user_id=user.pk)
        document_transition(document, from_status=DocumentStatus.DRAFT, to_status=DocumentStatus.POSTED)
        outbox.publish(TOPICS[document.kind], {"document_id": document.pk, "packs": len(sgtins),
                                               "reason": document.write_off_reason},
                       key=f"warehouse-{document.kind}-{document.pk}")
    return document
