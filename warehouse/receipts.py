"""Receipt from a supplier under a state contract.

Direct acceptance: the supplier's document lists the packs (SGTIN, or SSCC boxes of them); the
clerk scans what arrived, refuses what is damaged, and posts — scanned packs are accepted, the
rest refused. Reverse acceptance: the receipt lists lines (pack, series, expiry, quantity) from
the paper invoice and the clerk scans each pack into it. Unmarked goods are received by quantity.
A recalled series can be neither scanned nor posted. Posting puts the packs into stock, writes the
ledger and tells MDLP (outbox topic `warehouse.receipt`) — in one transaction.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date

from django.db import transaction
from django.utils import timezone

from llo import outbox
from llo.audit import audit_context
from llo.barcodes import BarcodeError, parse_scan
from llo.errors import ConflictError, ValidationFailed
from llo.models import Package
from procurement.models import ContractStatus, StateContract

from . import ledger
from .documents import document_create, document_transition, editable, place_of, stock_arrived
from .models import (
    Acceptance,
    CodeStatus,
    DocumentCode,
    DocumentKind,
    DocumentLine,
    DocumentStatus,
    MarkedPack,
    Reason,
    RecalledSeries,
    StockDocument,
    TransportPack,
)
from .packs import NewPack, packs_create

RECEIPT_TOPIC = "warehouse.receipt"


@dataclass(frozen=True)
class ExpectedPack:
    """A pack (or a box) as the supplier's document lists it."""

    sgtin: str = ""
    sscc: str = ""
    parent_sscc: str = ""
    gtin: str = ""
    series: str = ""
    expiry: date | None = None


@dataclass(frozen=True)
class ReceiptLine:
    package: Package
    series: str
    expiry: date
    quantity: int


@dataclass(frozen=True)
class ScanOutcome:
    message: str
    sgtin: str = ""
    sscc: str = ""
    packs: int = 1


def _packages_by_gtin(contract: StateContract) -> dict[str, Package]:
    return {item.package.gtin: item.package for item in contract.items.select_related("package") if item.package.gtin}


def _check_recall(package_id: int, series: str) -> None:
    recall = RecalledSeries.objects.filter(package_id=package_id, series=series, is_active=True).first()
    if recall:
        raise ConflictError(f"Серия {series} забракована ({recall.letter}): приёмка и отпуск запрещены",
                            code="stock.series_recalled", details={"series": series})


def receipt_create(*, user, contract: StateContract, acceptance: str, supplier_number: str = "",
                   supplier_date: date | None = None, expected: list[ExpectedPack] = (),
                   lines: list[ReceiptLine] = ()) -> StockDocument:
    place = place_of(user)
    if contract.status != ContractStatus.ACTIVE:
        raise ConflictError(f"{contract} не исполняется: приёмка по нему невозможна", code="receipt.contract_closed")
    if acceptance not in Acceptance.values:
        raise ValidationFailed("Порядок приёмки: прямой или обратный", code="receipt.bad_acceptance")
    if acceptance == Acceptance.DIRECT and not expected:
        raise ValidationFailed("Для прямой приёмки нужен документ поставщика со списком упаковок",
                               code="receipt.expected_missing")
    today = timezone.localdate()
    expired = [x for x in [*lines, *expected] if x.expiry is not None and x.expiry < today]
    if expired:
        raise ValidationFailed(f"Срок годности истёк ({expired[0].expiry:%d.%m.%Y}): просроченный товар не принимают",
                               code="receipt.expired", details={"count": len(expired)})
    by_gtin = _packages_by_gtin(contract)
    contracted = {p.pk for p in by_gtin.values()} | set(contract.items.values_list("package_id", flat=True))
    for line in lines:
        if line.package.pk not in contracted:
            raise ValidationFailed(f"{line.package} нет в контракте", code="receipt.not_in_contract")
        if line.quantity <= 0:
            raise ValidationFailed("Количество должно быть больше нуля", code="receipt.bad_quantity")
        _check_recall(line.package.pk, line.series)
    codes = []
    for item in expected:
        if item.sgtin:
            package = by_gtin.get(item.sgtin[:14])
            if package is None:
                raise ValidationFailed(f"Упаковки с GTIN {item.sgtin[:14]} нет в контракте",
                                       code="receipt.not_in_contract", details={"sgtin": item.sgtin})
            if not item.series or item.expiry is None:
                raise ValidationFailed(f"Для {item.sgtin} не указаны серия и срок годности",
                                       code="receipt.series_missing")
            codes.append(DocumentCode(sgtin=item.sgtin, parent_sscc=item.parent_sscc, package=package,
                                      series=item.series, expiry=item.expiry))
        else:
            codes.append(DocumentCode(sscc=item.sscc, parent_sscc=item.parent_sscc))
    with transaction.atomic(), audit_context(user=user, action="receipt.create"):
        document = document_create(
            user=user, kind=DocumentKind.RECEIPT, place=place, counterparty=contract.supplier, contract=contract,
            acceptance=acceptance, supplier_number=supplier_number.strip(), supplier_date=supplier_date)
        for code in codes:
            code.document = document
        DocumentCode.objects.bulk_create(codes, batch_size=5000)
        DocumentLine.objects.bulk_create(
            DocumentLine(document=document, package=line.package, series=line.series.strip(), expiry=line.expiry,
                         funding_source=contract.funding_source, contract=contract, quantity=line.quantity)
            for line in lines)
    return document


def receipt_scan(*, user, document: StockDocument, raw: str) -> ScanOutcome:
    """One scan at the receiving desk: a pack's DataMatrix or a box's SSCC."""
    try:
        scanned = parse_scan(raw)
    except BarcodeError as exc:
        raise ValidationFailed(exc.message, code=f"scan.{exc.code}") from None
    with transaction.atomic():
        document = editable(document, user)
        if scanned.kind == "sscc":
            return _scan_box(document, scanned.sscc)
        if scanned.kind != "sgtin":
            raise ValidationFailed("Отсканируйте код DataMatrix упаковки или SSCC короба", code="scan.not_a_pack")
        if MarkedPack.objects.filter(sgtin=scanned.sgtin).exists():
            raise ConflictError(f"Упаковка {scanned.sgtin} уже принята ранее", code="receipt.already_received")
        if document.acceptance == Acceptance.DIRECT:
            return _scan_expected(document, scanned.sgtin)
        return _scan_into_line(document, scanned)


def _scan_expected(document: StockDocument, sgtin: str) -> ScanOutcome:
    code = DocumentCode.objects.filter(document=document, sgtin=sgtin).first()
    if code is None:
        raise ConflictError(f"Упаковки {sgtin} нет в документе поставщика: отложите её и сообщите поставщику",
                            code="receipt.not_expected")
    if code.status != CodeStatus.EXPECTED:
        raise ConflictError(f"Упаковка {sgtin} уже отсканирована", code="receipt.already_scanned")
    _check_recall(code.package_id, code.series)
    DocumentCode.objects.filter(pk=code.pk).update(status=CodeStatus.SCANNED, scanned_at=timezone.now())
    return ScanOutcome(message=f"Принято: {code.package} серия {code.series}", sgtin=sgtin)


def _scan_box(document: StockDocument, sscc: str) -> ScanOutcome:
    if document.acceptance != Acceptance.DIRECT:
        raise ValidationFailed("При обратной приёмке сканируйте каждую упаковку", code="receipt.box_in_reverse")
    inside = DocumentCode.objects.filter(document=document, parent_sscc=sscc).exclude(sgtin="")
    if not inside.exists():
        raise ConflictError(f"Короба {sscc} нет в документе поставщика", code="receipt.not_expected")
    if MarkedPack.objects.filter(sgtin__in=inside.values("sgtin")).exists():
        raise ConflictError(f"Упаковки короба {sscc} уже приняты ранее", code="receipt.already_received")
    recalled = RecalledSeries.objects.filter(is_active=True, package_id__in=inside.values("package_id"),
                                             series__in=inside.values("series")).first()
    if recalled:
        _check_recall(recalled.package_id, recalled.series)
    now = timezone.now()
    count = inside.filter(status=CodeStatus.EXPECTED).update(status=CodeStatus.SCANNED, scanned_at=now)
    DocumentCode.objects.filter(document=document, sscc=sscc).update(status=CodeStatus.SCANNED, scanned_at=now)
    if not count:
        raise ConflictError(f"Короб {sscc} уже отсканирован", code="receipt.already_scanned")
    return ScanOutcome(message=f"Короб {sscc}: принято упаковок {count}", sscc=sscc, packs=count)


def _scan_into_line(document: StockDocument, scanned) -> ScanOutcome:
    lines = list(DocumentLine.objects.filter(document=document, package__gtin=scanned.gtin)
                 .select_related("package").order_by("pk"))
    if not lines:
        raise ConflictError(f"Препарата с GTIN {scanned.gtin} нет в приходной накладной: добавьте строку",
                            code="receipt.not_expected")
    if DocumentCode.objects.filter(document=document, sgtin=scanned.sgtin).exists():
        raise ConflictError(f"Упаковка {scanned.sgtin} уже отсканирована", code="receipt.already_scanned")
    done = Counter(DocumentCode.objects.filter(document=document, line__in=lines).values_list("line_id", flat=True))
    line = next((line for line in lines if done[line.pk] < line.quantity), None)
    if line is None:
        raise ConflictError(f"По строкам с GTIN {scanned.gtin} уже отсканировано всё количество накладной",
                            code="receipt.over_quantity")
    _check_recall(line.package_id, line.series)
    DocumentCode.objects.create(document=document, line=line, sgtin=scanned.sgtin, package=line.package,
                                series=line.series,
                                expiry=line.expiry, status=CodeStatus.SCANNED, scanned_at=timezone.now())
    count = done[line.pk] + 1
    return ScanOutcome(message=f"Принято: {line.package} серия {line.series} ({count} из {line.quantity})",
                       sgtin=scanned.sgtin)


def receipt_refuse(*, user, document: StockDocument, sgtin: str, reason: str) -> None:
    """Refuse a listed pack (damaged, wrong): it is not taken into stock, MDLP is told."""
    if not reason.strip():
        raise ValidationFailed("Укажите причину отказа от упаковки", code="receipt.reason_missing")
    with transaction.atomic(), audit_context(user=user, action="receipt.refuse"):
        document = editable(document, user)
        done = DocumentCode.objects.filter(document=document, sgtin=sgtin).exclude(
            status=CodeStatus.REFUSED).update(status=CodeStatus.REFUSED, refusal_reason=reason.strip()[:300])
        if not done:
            raise ConflictError(f"Упаковки {sgtin} нет в документе или от неё уже отказались",
                                code="receipt.not_expected")


def receipt_post(*, user, document: StockDocument) -> StockDocument:
    """Accept what was scanned (and the unmarked lines), refuse what was not, in one transaction."""
    with transaction.atomic(), audit_context(user=user, action="receipt.post"):
        document = editable(document, user)
        if document.kind != DocumentKind.RECEIPT:
            raise ValidationFailed("Это не приходная накладная", code="receipt.wrong_kind")
        contract = document.contract
        scanned = list(DocumentCode.objects.filter(document=document, status=CodeStatus.SCANNED).exclude(sgtin="")
                       .values_list("sgtin", "package_id", "series", "expiry", "parent_sscc"))
        unmarked = list(DocumentLine.objects.filter(document=document, package__is_marked=False))
        if not scanned and not unmarked:
            raise ValidationFailed("Не отсканировано ни одной упаковки", code="receipt.empty")
        for package_id, series in {(p, s) for _, p, s, _, _ in scanned} | {(x.package_id, x.series) for x in unmarked}:
            _check_recall(package_id, series)
        boxes = _boxes_received(document, {box for *_, box in scanned if box})
        packs_create([NewPack(sgtin=s, package_id=p, series=series, expiry=expiry,
                              funding_source=contract.funding_source, contract_id=contract.pk,
                              transport_pack_id=boxes.get(box))
                      for s, p, series, expiry, box in scanned],
                     place_id=document.place_id, address_id=None, document_id=document.pk, user_id=user.pk)
        moves = [ledger.Move(ledger.StockKey(document.place_id, None, p, series, contract.funding_source, contract.pk),
                             expiry, 1) for _, p, series, expiry, _ in scanned]
        moves += [ledger.Move(ledger.StockKey(document.place_id, None, line.package_id, line.series,
                                              contract.funding_source, contract.pk), line.expiry, line.quantity)
                  for line in unmarked]
        ledger.post(moves, reason=Reason.RECEIPT, document_id=document.pk, user_id=user.pk)
        DocumentCode.objects.filter(document=document, status=CodeStatus.SCANNED).update(status=CodeStatus.ACCEPTED)
        refused = DocumentCode.objects.filter(document=document, status=CodeStatus.EXPECTED).exclude(sgtin="").update(
            status=CodeStatus.REFUSED, refusal_reason="не поступила")
        document_transition(document, from_status=DocumentStatus.DRAFT, to_status=DocumentStatus.POSTED)
        outbox.publish(RECEIPT_TOPIC, {"document_id": document.pk, "acceptance": document.acceptance,
                                       "accepted": len(scanned), "refused": refused},
                       key=f"warehouse-receipt-{document.pk}")
        stock_arrived(place_id=document.place_id,
                      package_ids={p for _, p, _, _, _ in scanned} | {line.package_id for line in unmarked},
                      key=f"warehouse-stock-arrived-{document.pk}")
    return document


def _boxes_received(document: StockDocument, ssccs: set[str]) -> dict[str, int]:
    """The supplier's boxes whose every pack arrived stay boxes here (they can be shipped whole)."""
    incomplete = set(DocumentCode.objects.filter(document=document, parent_sscc__in=ssccs).exclude(
        status=CodeStatus.SCANNED).values_list("parent_sscc", flat=True))
    boxes = {}
    for sscc in sorted(ssccs - incomplete):
        box, _ = TransportPack.objects.update_or_create(
            sscc=sscc, defaults={"place_id": document.place_id, "parent": None, "disaggregated_at": None})
        boxes[sscc] = box.pk
    return boxes
