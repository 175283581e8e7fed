"""Inside one place: storage addresses, putting packs away and moving them between addresses, and
our own SSCC boxes (aggregation and disaggregation, reported to MDLP as 911/912)."""

from __future__ import annotations

from dataclasses import replace

from django.db import IntegrityError, transaction
from django.utils import timezone

from llo import outbox
from llo.audit import audit_context
from llo.barcodes import BarcodeError, parse_scan
from llo.errors import ConflictError, ValidationFailed
from llo.models import Package

from . import ledger
from .documents import place_of
from .models import MarkedPack, PackState, Reason, StockBalance, StorageAddress, TransportPack
from .packs import packs_move
from .receipts import ScanOutcome
from .sscc import sscc_next

AGGREGATION_TOPIC = "warehouse.aggregation"
DISAGGREGATION_TOPIC = "warehouse.disaggregation"


def address_create(*, user, zone: str, rack: str, shelf: str, cell: str) -> StorageAddress:
    place = place_of(user)
    parts = [part.strip().upper() for part in (zone, rack, shelf, cell)]
    if not all(parts) or not all(part.isalnum() for part in parts):
        raise ValidationFailed("Зона, стеллаж, полка и ячейка — буквы и цифры", code="address.invalid")
    try:
        with transaction.atomic(), audit_context(user=user, action="address.create"):
            return StorageAddress.objects.create(place=place, zone=parts[0], rack=parts[1], shelf=parts[2],
                                                 cell=parts[3])
    except IntegrityError:
        raise ConflictError(f"Адрес {'-'.join(parts)} уже есть", code="address.exists") from None


def _address(user, raw: str) -> StorageAddress:
    """An address label (`ADR-A-01-02-03`) scanned or typed, of the user's place."""
    try:
        scanned = parse_scan(raw)
        code = scanned.value if scanned.kind == "address" else raw.strip().upper()
    except BarcodeError:
        code = raw.strip().upper()
    address = StorageAddress.objects.filter(place=place_of(user), code=code, is_active=True).first()
    if address is None:
        raise ValidationFailed(f"Адреса {code} нет на этом складе", code="address.unknown")
    return address


def pack_put_away(*, user, raw_pack: str, raw_address: str) -> ScanOutcome:
    """Scan a pack, then the cell: the pack (and its stock) moves there."""
    address = _address(user, raw_address)
    try:
        scanned = parse_scan(raw_pack)
    except BarcodeError as exc:
        raise ValidationFailed(exc.message, code=f"scan.{exc.code}") from None
    if scanned.kind != "sgtin":
        raise ValidationFailed("Отсканируйте код DataMatrix упаковки", code="scan.not_a_pack")
    with transaction.atomic(), audit_context(user=user, action="stock.move"):
        pack = MarkedPack.objects.select_for_update().filter(sgtin=scanned.sgtin, place=address.place).first()
        if pack is None or pack.state != PackState.IN_STOCK:
            raise ConflictError(f"Упаковки {scanned.sgtin} нет в наличии на этом складе", code="stock.pack_not_here")
        if pack.address_id == address.pk:
            return ScanOutcome(message=f"Упаковка уже в ячейке {address.code}", sgtin=pack.sgtin, packs=0)
        packs_move([pack.sgtin], from_states=[PackState.IN_STOCK], to_state=PackState.IN_STOCK,
                   at_place_id=address.place_id, address_id=address.pk, user_id=user.pk)
        key = ledger.StockKey(pack.place_id, pack.address_id, pack.package_id, pack.series, pack.funding_source,
                              pack.contract_id)
        ledger.post([ledger.Move(key, pack.expiry, -1), ledger.Move(replace(key, address_id=address.pk), pack.expiry, 1)],
                    reason=Reason.MOVE, user_id=user.pk)
    return ScanOutcome(message=f"Размещено в ячейку {address.code}", sgtin=pack.sgtin)


def aggregate(*, user, raws: list[str]) -> TransportPack:
    """Put scanned packs, and boxes, of this place into a new box of ours (a new SSCC): boxes into a
    pallet make the tree."""
    place = place_of(user)
    sgtins, ssccs = [], []
    for raw in raws:
        try:
            scanned = parse_scan(raw)
        except BarcodeError as exc:
            raise ValidationFailed(exc.message, code=f"scan.{exc.code}") from None
        if scanned.kind == "sgtin":
            sgtins.append(scanned.sgtin)
        elif scanned.kind == "sscc":
            ssccs.append(scanned.sscc)
        else:
            raise ValidationFailed("В короб кладут упаковки или короба: отсканируйте DataMatrix или SSCC",
                                   code="scan.not_a_pack")
    if not raws or len(set(sgtins)) != len(sgtins) or len(set(ssccs)) != len(ssccs):
        raise ValidationFailed("Отсканируйте упаковки для короба, каждую один раз", code="aggregation.bad_list")
    with transaction.atomic(), audit_context(user=user, action="aggregation"):
        box = TransportPack.objects.create(sscc=sscc_next(), place=place, is_ours=True)
        taken = (MarkedPack.objects.filter(sgtin__in=sgtins, place=place, state=PackState.IN_STOCK,
                                           transport_pack__isnull=True)
                 .update(transport_pack=box, updated_at=timezone.now()))
        nested = (TransportPack.objects.filter(sscc__in=ssccs, place=place, parent__isnull=True,
                                               disaggregated_at__isnull=True).update(parent=box))
        if (taken, nested) != (len(sgtins), len(ssccs)):
            raise ConflictError("Не все упаковки и короба в наличии на этом складе и вне других коробов",
                                code="aggregation.not_free")
        outbox.publish(AGGREGATION_TOPIC, {"sscc": box.sscc, "sgtins": sorted(sgtins), "ssccs": sorted(ssccs)},
                       key=f"warehouse-aggregation-{box.sscc}")
    return box


def boxes_within(box: TransportPack) -> list[int]:
    """The box and every box nested in it, at any depth."""
    ids, frontier = [box.pk], [box.pk]
    while frontier:
        frontier = list(TransportPack.objects.filter(parent_id__in=frontier, disaggregated_at__isnull=True)
                        .values_list("pk", flat=True))
        ids += frontier
    return ids


def quantity_move(*, user, package: Package, series: str, quantity: int, from_address: StorageAddress | None,
                  to_address: StorageAddress | None) -> None:
    """Unmarked goods from one address of the place to another."""
    place = place_of(user)
    if package.is_marked:
        raise ValidationFailed("Маркированные упаковки перемещают сканированием", code="stock.marked_by_scan")
    if quantity <= 0 or from_address == to_address:
        raise ValidationFailed("Укажите количество и другой адрес", code="stock.bad_move")
    for address in (from_address, to_address):
        if address is not None and address.place_id != place.pk:
            raise ValidationFailed(f"Адрес {address.code} другого склада", code="address.unknown")
    with transaction.atomic(), audit_context(user=user, action="stock.move"):
        balances = StockBalance.objects.filter(place=place, package=package, series=series, address=from_address,
                                               quantity__gt=0).order_by("pk")
        moves, left = [], quantity
        for balance in balances:
            take = min(left, balance.quantity)
            key = ledger.StockKey(place.pk, balance.address_id, package.pk, series, balance.funding_source,
                                  balance.contract_id)
            moves += [ledger.Move(key, balance.expiry, -take),
                      ledger.Move(replace(key, address_id=to_address.pk if to_address else None), balance.expiry, take)]
            left -= take
            if not left:
                break
        if left:
            raise ledger.InsufficientStock(f"{package} серии {series}: по адресу {quantity - left} упак.",
                                           details={"available": quantity - left, "needed": quantity})
        ledger.post(moves, reason=Reason.MOVE, user_id=user.pk)


def disaggregate(*, user, raw: str) -> int:
    place = place_of(user)
    try:
        scanned = parse_scan(raw)
    except BarcodeError as exc:
        raise ValidationFailed(exc.message, code=f"scan.{exc.code}") from None
    if scanned.kind != "sscc":
        raise ValidationFailed("Отсканируйте SSCC короба", code="scan.not_a_box")
    with transaction.atomic(), audit_context(user=user, action="disaggregation"):
        box = TransportPack.objects.select_for_update().filter(sscc=scanned.sscc, place=place,
                                                               disaggregated_at__isnull=True).first()
        if box is None:
            raise ConflictError(f"Короба {scanned.sscc} нет на этом складе", code="aggregation.unknown_box")
        count = MarkedPack.objects.filter(transport_pack=box).update(transport_pack=None, updated_at=timezone.now())
        count += TransportPack.objects.filter(parent=box).update(parent=None)
        TransportPack.objects.filter(pk=box.pk).update(disaggregated_at=timezone.now())
        outbox.publish(DISAGGREGATION_TOPIC, {"sscc": box.sscc}, key=f"warehouse-disaggregation-{box.sscc}")
    return count
