"""Which MDLP documents an operation makes: one function per outbox topic turns the message into the
documents' dataclasses (split at 25,000 codes), read from the posted operation — which no longer changes.

| topic | documents |
|---|---|
| mdlp.recipe (dispensing by prescription) | 521 recipe |
| warehouse.receipt, reverse acceptance | 416 receive_order from the supplier |
| warehouse.receipt, direct acceptance | 701 accept of the packs that arrived, answering the supplier's 415/601, then 252 refusal_receiver of the refused ones |
| warehouse.shipment | 431 move_place within one legal entity (same ИНН), else 415 move_order (sale) |
| warehouse.shipment_received | after a 415: the point's 701 accept; after a 431: nothing |
| warehouse.return | 415 move_order, turnover_type 2, to the supplier |
| warehouse.withdrawal | 552 withdrawal (expired/recalled: 13, damaged: 16, destruction: 13 — see docs) |
| warehouse.inventory | 552 withdrawal, type 11 (shortage), for the packs found missing |
| warehouse.aggregation / disaggregation | 911 unit_pack / 912 unit_unpack |
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

from django.utils import timezone

from integrations.models import OperationKind
from llo.models import Organization, OutboxMessage

from .documents import (
    Accept,
    InvalidInput,
    MoveOrder,
    MovePlace,
    ReceiveOrder,
    Recipe,
    SgtinLine,
    UnitPack,
    UnitUnpack,
    Withdrawal,
    split,
)
from .documents.values import ContractType, ReceiveType, Source, TurnoverType, WithdrawalType

VAT_RATE = Decimal("10")  # drugs: 10 % VAT, included in the contract price
SOURCE = {"1": Source.FEDERAL, "2": Source.REGIONAL, "3": Source.REGIONAL}  # municipal money counts as regional
WITHDRAWAL_TYPE = {"expired": WithdrawalType.WRITE_OFF_WITHOUT_DESTRUCTION,
                   "recalled": WithdrawalType.WRITE_OFF_WITHOUT_DESTRUCTION,
                   "damaged": WithdrawalType.BROKEN_CONSUMER_PACK,
                   "destruction": WithdrawalType.WRITE_OFF_WITHOUT_DESTRUCTION}


@dataclass(frozen=True)
class Planned:
    """The documents of one message, in the order they must be sent, and the operation they report (its
    kind is the topic's, `KINDS`)."""

    operation_id: str
    place: Organization | None
    documents: Sequence = ()


def plan(message: OutboxMessage) -> Planned:
    """The documents `message` needs; InvalidInput when the operation's data cannot make a valid one."""
    return PLANNERS[message.topic](message)


_places: ContextVar[dict[str, Organization | None] | None] = ContextVar("mdlp_places", default=None)


@contextmanager
def places_remembered() -> Iterator[None]:
    """Within: each dispensing point is looked up by its MDLP id once (a batch of dispensing reports names
    the same few points over and over)."""
    token = _places.set({})
    try:
        yield
    finally:
        _places.reset(token)


def _place(mdlp_place_id: str) -> Organization | None:
    remembered = _places.get()
    if remembered is not None and mdlp_place_id in remembered:
        return remembered[mdlp_place_id]
    place = Organization.objects.filter(mdlp_place_id=mdlp_place_id).first()
    if remembered is not None:
        remembered[mdlp_place_id] = place
    return place


def _mdlp_id(org: Organization | None, role: str) -> str:
    if org is None or not org.mdlp_place_id:
        name = org.short_name if org is not None else "не указан"
        raise InvalidInput(f"{role} ({name}): не указан ID места деятельности МДЛП — заполните его в справочнике "
                           "организаций и отправьте документ повторно", field="mdlp_place_id")
    return org.mdlp_place_id


def _aware(value: str | datetime) -> datetime:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return timezone.localtime(moment)


def _recipe(message: OutboxMessage) -> Planned:
    payload = message.payload
    place = _place(payload["place_mdlp_id"])
    rx = payload["prescription"]
    doc = Recipe(subject_id=_mdlp_id(place, "Пункт отпуска"), operation_date=_aware(payload["operation_date"]),
                 doc_date=date.fromisoformat(rx["date"]), doc_num=rx["number"], doc_series=rx.get("series") or None,
                 sgtins=list(payload["sgtins"]))
    return Planned(str(payload["dispensation_id"]), place, split(doc))


# --- warehouse documents ---------------------------------------------------------------------------

def _stock_document(payload: dict):
    from warehouse.models import StockDocument

    return StockDocument.objects.select_related("place", "counterparty", "contract").get(pk=payload["document_id"])


def _codes(document, *, accepted_only: bool = False) -> list[tuple[str, int, int | None]]:
    """(sgtin, package_id, contract_id) of the document's marked packs."""
    from warehouse.models import CodeStatus, DocumentCode, MarkedPack

    codes = DocumentCode.objects.filter(document=document).exclude(sgtin="")
    if accepted_only:
        codes = codes.filter(status=CodeStatus.ACCEPTED)
    sgtins = list(codes.order_by("pk").values_list("sgtin", flat=True))
    packs = dict(MarkedPack.objects.filter(sgtin__in=sgtins).values_list("sgtin", "contract_id"))
    packages = dict(codes.values_list("sgtin", "package_id"))
    return [(s, packages[s], packs.get(s, document.contract_id)) for s in sgtins]


def _priced(codes: list[tuple[str, int, int | None]]) -> list[SgtinLine]:
    from procurement.models import ContractItem

    prices = {(c, p): price for c, p, price in ContractItem.objects.filter(
        contract_id__in={c for _, _, c in codes}).values_list("contract_id", "package_id", "price")}
    lines = []
    for sgtin, package_id, contract_id in codes:
        price = prices.get((contract_id, package_id))
        if price is None:
            raise InvalidInput(f"Упаковка {sgtin}: нет цены в государственном контракте — проверьте позиции контракта",
                               field="cost", sgtin=sgtin)
        vat = (price * VAT_RATE / (100 + VAT_RATE)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        lines.append(SgtinLine(sgtin=sgtin, cost=price, vat_value=vat))
    return lines


def _header(document) -> dict:
    when = document.posted_at or document.created_at
    return {"operation_date": timezone.localtime(when), "doc_num": document.number,
            "doc_date": timezone.localdate(when)}


def _contract(document) -> dict:
    contract = document.contract
    if contract is None:
        return {"source": Source.REGIONAL, "contract_type": ContractType.STATE_DRUG_PROVISION}
    return {"source": SOURCE.get(contract.funding_source, Source.REGIONAL),
            "contract_type": ContractType.STATE_DRUG_PROVISION, "contract_num": contract.registry_number or None,
            "contract_gos_num": contract.number, "contract_gos_date": contract.signed_on}


def _one_entity(a: Organization, b: Organization) -> bool:
    return a.inn == b.inn


def _receipt(message: OutboxMessage) -> Planned:
    payload = message.payload
    document = _stock_document(payload)
    place, supplier = document.place, document.counterparty
    codes = _codes(document, accepted_only=True)
    common = {"operation_date": _header(document)["operation_date"]}
    if payload.get("acceptance") == "direct":
        # answer the supplier's 415/601: 701 for the packs taken, then 252 for the ones refused (they go back)
        from collections import Counter

        from warehouse.models import CodeStatus, DocumentCode

        from .documents.outgoing import RefusalReceiver

        refused = list(DocumentCode.objects.filter(document=document, status=CodeStatus.REFUSED).exclude(sgtin="")
                       .order_by("pk").values_list("sgtin", "refusal_reason"))
        docs = []
        if codes:
            docs += split(Accept(subject_id=_mdlp_id(place, "Место приёмки"),
                                  counterparty_id=_mdlp_id(supplier, "Поставщик"),
                                  sgtins=[s for s, _, _ in codes], **common))
        if refused:
            reasons = Counter(reason or "не принята" for _, reason in refused)
            reason = "Отказ от приёмки: " + "; ".join(f"{text} — {n} уп." for text, n in reasons.items())
            reason = " ".join("".join(ch if ch.isprintable() else " " for ch in reason).split())[:1000]
            docs += split(RefusalReceiver(subject_id=_mdlp_id(place, "Место приёмки"),
                                           shipper_id=_mdlp_id(supplier, "Поставщик"), reason=reason,
                                           sgtins=[s for s, _ in refused], **common))
        return Planned(str(document.pk), place, docs)
    doc = ReceiveOrder(subject_id=_mdlp_id(place, "Место приёмки"), shipper_id=_mdlp_id(supplier, "Поставщик"),
                       doc_num=document.supplier_number or document.number,
                       doc_date=document.supplier_date or _header(document)["doc_date"],
                       receive_type=ReceiveType.ARRIVAL, sgtins=_priced(codes), **common, **_contract(document))
    return Planned(str(document.pk), place, split(doc) if codes else [])


def _shipment(message: OutboxMessage) -> Planned:
    payload = message.payload
    document = _stock_document(payload)
    place, point = document.place, document.counterparty
    codes = _codes(document)
    if _one_entity(place, point):
        doc = MovePlace(subject_id=_mdlp_id(place, "Склад"), receiver_id=_mdlp_id(point, "Пункт отпуска"),
                        sgtins=[s for s, _, _ in codes], **_header(document))
    else:
        doc = MoveOrder(subject_id=_mdlp_id(place, "Склад"), receiver_id=_mdlp_id(point, "Пункт отпуска"),
                        turnover_type=TurnoverType.SALE, sgtins=_priced(codes), **_header(document),
                        **_contract(document))
    return Planned(str(document.pk), place, split(doc) if codes else [])


def _shipment_received(message: OutboxMessage) -> Planned:
    payload = message.payload
    document = _stock_document(payload)
    warehouse, point = document.place, document.counterparty
    codes = [s for s, _, _ in _codes(document)]
    docs = []
    if codes and not _one_entity(warehouse, point):  # a 415 is answered; a 431 needs no answer
        docs = split(Accept(subject_id=_mdlp_id(point, "Пункт отпуска"), counterparty_id=_mdlp_id(warehouse, "Склад"),
                             operation_date=timezone.localtime(document.updated_at), sgtins=codes))
    return Planned(str(document.pk), point, docs)


def _return(message: OutboxMessage) -> Planned:
    payload = message.payload
    document = _stock_document(payload)
    codes = _codes(document)
    doc = MoveOrder(subject_id=_mdlp_id(document.place, "Место"), receiver_id=_mdlp_id(document.counterparty,
                                                                                       "Поставщик"),
                    turnover_type=TurnoverType.RETURN, sgtins=_priced(codes), **_header(document),
                    **_contract(document))
    return Planned(str(document.pk), document.place, split(doc) if codes else [])


def _withdrawal(message: OutboxMessage) -> Planned:
    payload = message.payload
    document = _stock_document(payload)
    codes = [s for s, _, _ in _codes(document)]
    kind = WITHDRAWAL_TYPE.get(payload.get("reason") or document.write_off_reason,
                               WithdrawalType.WRITE_OFF_WITHOUT_DESTRUCTION)
    doc = Withdrawal(subject_id=_mdlp_id(document.place, "Место"), withdrawal_type=kind, sgtins=codes,
                     **_header(document))
    return Planned(str(document.pk), document.place, split(doc) if codes else [])


def _inventory(message: OutboxMessage) -> Planned:
    payload = message.payload
    document = _stock_document(payload)
    missing = list(payload.get("missing") or [])
    doc = Withdrawal(subject_id=_mdlp_id(document.place, "Место"), withdrawal_type=WithdrawalType.SHORTAGE,
                     sgtins=missing, **_header(document))
    return Planned(str(document.pk), document.place, split(doc) if missing else [])


def _box_place(sscc: str) -> Organization | None:
    from warehouse.models import TransportPack

    box = TransportPack.objects.select_related("place").filter(sscc=sscc).first()
    return box.place if box is not None else None


def _aggregation(message: OutboxMessage) -> Planned:
    payload = message.payload
    place = _box_place(payload["sscc"])
    doc = UnitPack(subject_id=_mdlp_id(place, "Место"), sscc=payload["sscc"], operation_date=timezone.localtime(message.created_at),
                   sgtins=list(payload.get("sgtins") or []), ssccs=list(payload.get("ssccs") or []))
    return Planned(payload["sscc"], place, split(doc))


def _disaggregation(message: OutboxMessage) -> Planned:
    payload = message.payload
    place = _box_place(payload["sscc"])
    doc = UnitUnpack(subject_id=_mdlp_id(place, "Место"), operation_date=timezone.localtime(message.created_at),
                     ssccs=[payload["sscc"]])
    return Planned(payload["sscc"], place, [doc])


PLANNERS: dict[str, Callable[[OutboxMessage], Planned]] = {
    "mdlp.recipe": _recipe,
    "warehouse.receipt": _receipt,
    "warehouse.shipment": _shipment,
    "warehouse.shipment_received": _shipment_received,
    "warehouse.return": _return,
    "warehouse.withdrawal": _withdrawal,
    "warehouse.inventory": _inventory,
    "warehouse.aggregation": _aggregation,
    "warehouse.disaggregation": _disaggregation,
}
TOPICS = tuple(PLANNERS)
KINDS = {"mdlp.recipe": OperationKind.DISPENSATION, "warehouse.receipt": OperationKind.RECEIPT,
         "warehouse.shipment": OperationKind.SHIPMENT, "warehouse.shipment_received": OperationKind.SHIPMENT_RECEIPT,
         "warehouse.return": OperationKind.RETURN, "warehouse.withdrawal": OperationKind.WRITE_OFF,
         "warehouse.inventory": OperationKind.INVENTORY, "warehouse.aggregation": OperationKind.AGGREGATION,
         "warehouse.disaggregation": OperationKind.DISAGGREGATION}
