"""Builders: an outgoing dataclass -> the XML of its scheme, in the element order of the official XSD.

`build(doc)` checks the cheap invariants of the scheme (ids, code formats and check digits, unique
codes, dates, enumerations, amounts, at least one and at most MAX_ITEMS items) and raises InvalidInput
instead of writing a document MDLP would reject; tests check every scheme's output against
documents.xsd (xsd.validate).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from lxml import etree

from .errors import InvalidInput
from .outgoing import (
    Accept,
    Envelope,
    HealthCare,
    MoveDestruction,
    MoveOrder,
    MovePlace,
    QueryKizInfo,
    ReceiveOrder,
    Recipe,
    SgtinPart,
    UnitAppend,
    UnitExtract,
    UnitPack,
    UnitUnpack,
    Withdrawal,
)
from .splitting import item_count, item_limit
from .values import (
    CodeChecker,
    ContractType,
    DestructionReason,
    DestructionType,
    ReceiveType,
    Source,
    TurnoverType,
    WithdrawalType,
    check_country,
    check_enum,
    check_guid,
    check_inn_kpp,
    check_part,
    check_subject_any,
    check_subject_id,
    check_text,
    check_unique,
    format_date,
    format_datetime,
    format_price,
)

SubElement = etree.SubElement
XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'


class _Context:
    """What one build needs besides the document: the code checker and the clock."""

    def __init__(self, now: datetime | None):
        self.codes = CodeChecker()
        self.now = now


def _text(parent, tag: str, text: str) -> etree._Element:
    element = SubElement(parent, tag)
    element.text = text
    return element


def _optional(parent, tag: str, text: str | None) -> None:
    if text is not None:
        _text(parent, tag, text)


def _opt_text(value, field: str) -> str | None:
    return None if value is None else check_text(value, field)


def _opt_date(value, field: str) -> str | None:
    return None if value is None else format_date(value, field)


def _codes(container, sgtins, ssccs, ctx: _Context) -> None:
    """`<sgtin>`/`<sscc>` children (the choice of 431, 701, 911, 913, 914 and 552 without parts)."""
    check_unique(sgtins, "sgtins")
    check_unique(ssccs, "ssccs")
    sgtin, sscc = ctx.codes.sgtin, ctx.codes.sscc
    for index, code in enumerate(sgtins):
        SubElement(container, "sgtin").text = sgtin(code, f"sgtins[{index}]")
    for index, code in enumerate(ssccs):
        SubElement(container, "sscc").text = sscc(code, f"ssccs[{index}]")


def _parts(sgtins) -> list[SgtinPart]:
    return [item if isinstance(item, SgtinPart) else SgtinPart(item) for item in sgtins]


def _contract(el, doc, ctx) -> None:
    _text(el, "source", check_enum(doc.source, Source, "source"))
    _text(el, "contract_type", check_enum(doc.contract_type, ContractType, "contract_type"))
    _optional(el, "contract_num", _opt_text(doc.contract_num, "contract_num"))
    _optional(el, "contract_gos_num", _opt_text(doc.contract_gos_num, "contract_gos_num"))
    _optional(el, "contract_gos_date", _opt_date(doc.contract_gos_date, "contract_gos_date"))


def _priced_details(el, doc, ctx: _Context) -> None:
    """order_details of 415/416: a `union` per SGTIN or SSCC with the price of one pack."""
    check_unique([line.sgtin for line in doc.sgtins], "sgtins")
    check_unique([line.sscc for line in doc.ssccs], "ssccs")
    details = SubElement(el, "order_details")
    codes = ctx.codes
    for index, line in enumerate(doc.sgtins):
        field = f"sgtins[{index}]"
        union = SubElement(details, "union")
        SubElement(union, "sgtin").text = codes.sgtin(line.sgtin, field)
        SubElement(union, "cost").text = format_price(line.cost, f"{field}.cost")
        SubElement(union, "vat_value").text = format_price(line.vat_value, f"{field}.vat_value")
    for index, line in enumerate(doc.ssccs):
        field = f"ssccs[{index}]"
        union = SubElement(details, "union")
        sscc_detail = SubElement(union, "sscc_detail")
        SubElement(sscc_detail, "sscc").text = codes.sscc(line.sscc, field)
        if len(line.details) > 100:
            raise InvalidInput(f"{field}: не более 100 строк цены содержимого SSCC, получено {len(line.details)}",
                               field=f"{field}.details", value=len(line.details))
        for number, detail in enumerate(line.details):
            where = f"{field}.details[{number}]"
            row = SubElement(sscc_detail, "detail")
            SubElement(row, "gtin").text = codes.gtin(detail.gtin, f"{where}.gtin")
            SubElement(row, "series_number").text = check_text(detail.series_number, f"{where}.series_number", 20)
            SubElement(row, "cost").text = format_price(detail.cost, f"{where}.cost")
            SubElement(row, "vat_value").text = format_price(detail.vat_value, f"{where}.vat_value")
        SubElement(union, "cost").text = format_price(line.cost, f"{field}.cost")
        SubElement(union, "vat_value").text = format_price(line.vat_value, f"{field}.vat_value")


def _move_order(el, doc: MoveOrder, ctx: _Context) -> None:
    _text(el, "subject_id", check_subject_id(doc.subject_id))
    _text(el, "receiver_id", check_subject_id(doc.receiver_id, "receiver_id"))
    _text(el, "operation_date", format_datetime(doc.operation_date, now=ctx.now))
    _text(el, "doc_num", check_text(doc.doc_num, "doc_num"))
    _text(el, "doc_date", format_date(doc.doc_date, "doc_date"))
    _text(el, "turnover_type", check_enum(doc.turnover_type, TurnoverType, "turnover_type"))
    _contract(el, doc, ctx)
    _priced_details(el, doc, ctx)


def _receive_order(el, doc: ReceiveOrder, ctx: _Context) -> None:
    _text(el, "subject_id", check_subject_id(doc.subject_id))
    _text(el, "shipper_id", check_subject_id(doc.shipper_id, "shipper_id"))
    _text(el, "operation_date", format_datetime(doc.operation_date, now=ctx.now))
    _text(el, "doc_num", check_text(doc.doc_num, "doc_num"))
    _text(el, "doc_date", format_date(doc.doc_date, "doc_date"))
    _text(el, "receive_type", check_enum(doc.receive_type, ReceiveType, "receive_type",
                                         allowed=(ReceiveType.ARRIVAL, ReceiveType.RETURN)))
    _contract(el, doc, ctx)
    _priced_details(el, doc, ctx)


def _accept(el, doc: Accept, ctx: _Context) -> None:
    _text(el, "subject_id", check_subject_any(doc.subject_id))
    _text(el, "counterparty_id", check_subject_any(doc.counterparty_id, "counterparty_id"))
    _text(el, "operation_date", format_datetime(doc.operation_date, now=ctx.now))
    if doc.confirm_paused is not None:
        _text(el, "confirm_paused", "true" if doc.confirm_paused else "false")
    _codes(SubElement(el, "order_details"), doc.sgtins, doc.ssccs, ctx)


def _move_place(el, doc: MovePlace, ctx: _Context) -> None:
    _text(el, "subject_id", check_subject_id(doc.subject_id))
    _text(el, "receiver_id", check_subject_id(doc.receiver_id, "receiver_id"))
    if doc.receiver_id == doc.subject_id:
        raise InvalidInput("receiver_id: перемещение в то же место деятельности", field="receiver_id",
                           value=doc.receiver_id)
    _text(el, "operation_date", format_datetime(doc.operation_date, now=ctx.now))
    _text(el, "doc_num", check_text(doc.doc_num, "doc_num"))
    _text(el, "doc_date", format_date(doc.doc_date, "doc_date"))
    _codes(SubElement(el, "order_details"), doc.sgtins, doc.ssccs, ctx)


def _sold(el, sgtins, ctx: _Context) -> None:
    """order_details of 521/531: a `union` of an SGTIN and its optional sold_part."""
    items = _parts(sgtins)
    check_unique([item.sgtin for item in items], "sgtins")
    details = SubElement(el, "order_details")
    sgtin = ctx.codes.sgtin
    for index, item in enumerate(items):
        union = SubElement(details, "union")
        SubElement(union, "sgtin").text = sgtin(item.sgtin, f"sgtins[{index}]")
        if item.part is not None:
            SubElement(union, "sold_part").text = check_part(item.part, f"sgtins[{index}].part")


def _recipe(el, doc: Recipe, ctx: _Context) -> None:
    _text(el, "subject_id", check_subject_id(doc.subject_id))
    _text(el, "operation_date", format_datetime(doc.operation_date, now=ctx.now))
    _text(el, "doc_date", format_date(doc.doc_date, "doc_date"))
    _optional(el, "doc_series", _opt_text(doc.doc_series, "doc_series"))
    _text(el, "doc_num", check_text(doc.doc_num, "doc_num"))
    _sold(el, doc.sgtins, ctx)


def _health_care(el, doc: HealthCare, ctx: _Context) -> None:
    _text(el, "subject_id", check_subject_id(doc.subject_id))
    _text(el, "operation_date", format_datetime(doc.operation_date, now=ctx.now))
    _text(el, "doc_date", format_date(doc.doc_date, "doc_date"))
    _text(el, "doc_num", check_text(doc.doc_num, "doc_num"))
    _sold(el, doc.sgtins, ctx)


def _withdrawal(el, doc: Withdrawal, ctx: _Context) -> None:
    _text(el, "subject_id", check_subject_any(doc.subject_id))
    _text(el, "operation_date", format_datetime(doc.operation_date, now=ctx.now))
    _optional(el, "doc_num", _opt_text(doc.doc_num, "doc_num"))
    _optional(el, "doc_date", _opt_date(doc.doc_date, "doc_date"))
    _text(el, "withdrawal_type", check_enum(doc.withdrawal_type, WithdrawalType, "withdrawal_type"))
    if doc.export_country_code is not None:
        _text(el, "export_country_code", check_country(doc.export_country_code, "export_country_code"))
    items = _parts(doc.sgtins)
    check_unique([item.sgtin for item in items], "sgtins")
    check_unique(doc.ssccs, "ssccs")
    details = SubElement(el, "order_details")
    for index, item in enumerate(items):
        node = SubElement(details, "sgtin")
        node.text = ctx.codes.sgtin(item.sgtin, f"sgtins[{index}]")
        if item.part is not None:
            node.set("withdrawal_part", check_part(item.part, f"sgtins[{index}].part"))
    for index, code in enumerate(doc.ssccs):
        SubElement(details, "sscc").text = ctx.codes.sscc(code, f"ssccs[{index}]")


def _move_destruction(el, doc: MoveDestruction, ctx: _Context) -> None:
    _text(el, "subject_id", check_subject_id(doc.subject_id))
    _text(el, "operation_date", format_datetime(doc.operation_date, now=ctx.now))
    org = SubElement(el, "destruction_org")
    _text(org, "fias_addr", check_guid(doc.destruction_org.fias_addr, "destruction_org.fias_addr"))
    inn, kpp = check_inn_kpp(doc.destruction_org.inn, doc.destruction_org.kpp, "destruction_org")
    holder = SubElement(org, "ul" if kpp else "fl")
    _text(holder, "inn", inn)
    if kpp:
        _text(holder, "kpp", kpp)
    _text(el, "doc_num", check_text(doc.doc_num, "doc_num"))
    _text(el, "doc_date", format_date(doc.doc_date, "doc_date"))
    _text(el, "act_number", check_text(doc.act_number, "act_number"))
    _text(el, "act_date", format_date(doc.act_date, "act_date"))
    decision = _opt_text(doc.decision, "decision")
    basis = check_enum(doc.destruction_type, DestructionType, "destruction_type")
    reason = (None if doc.reason_for_destruction is None
              else check_enum(doc.reason_for_destruction, DestructionReason, "reason_for_destruction"))
    check_unique(doc.sgtins, "sgtins")
    check_unique(doc.ssccs, "ssccs")
    details = SubElement(el, "order_details")
    codes = [("sgtin", ctx.codes.sgtin(code, f"sgtins[{i}]")) for i, code in enumerate(doc.sgtins)]
    codes += [("sscc", ctx.codes.sscc(code, f"ssccs[{i}]")) for i, code in enumerate(doc.ssccs)]
    for tag, code in codes:
        detail = SubElement(details, "detail")
        SubElement(detail, tag).text = code
        if decision is not None:
            SubElement(detail, "decision").text = decision
        SubElement(detail, "destruction_type").text = basis
        if reason is not None:
            SubElement(detail, "reason_for_destruction").text = reason


def _unit_pack(el, doc: UnitPack, ctx: _Context) -> None:
    _text(el, "subject_id", check_subject_any(doc.subject_id))
    _text(el, "sscc", ctx.codes.sscc(doc.sscc, "sscc"))
    _text(el, "operation_date", format_datetime(doc.operation_date, now=ctx.now))
    if doc.sscc in doc.ssccs:
        raise InvalidInput(f"ssccs: SSCC {doc.sscc} не может быть вложен сам в себя", field="ssccs", value=doc.sscc)
    _codes(SubElement(el, "content"), doc.sgtins, doc.ssccs, ctx)


def _unit_unpack(el, doc: UnitUnpack, ctx: _Context) -> None:
    _text(el, "subject_id", check_subject_any(doc.subject_id))
    _text(el, "operation_date", format_datetime(doc.operation_date, now=ctx.now))
    check_unique(doc.ssccs, "ssccs")
    for index, code in enumerate(doc.ssccs):
        _text(el, "sscc", ctx.codes.sscc(code, f"ssccs[{index}]"))
    if doc.is_recursive:
        _text(el, "is_recursive", "true")


def _unit_extract(el, doc: UnitExtract, ctx: _Context) -> None:
    _text(el, "subject_id", check_subject_any(doc.subject_id))
    _text(el, "operation_date", format_datetime(doc.operation_date, now=ctx.now))
    _codes(SubElement(el, "content"), doc.sgtins, doc.ssccs, ctx)


def _unit_append(el, doc: UnitAppend, ctx: _Context) -> None:
    _text(el, "subject_id", check_subject_any(doc.subject_id))
    _text(el, "operation_date", format_datetime(doc.operation_date, now=ctx.now))
    _text(el, "sscc", ctx.codes.sscc(doc.sscc, "sscc"))
    if doc.sscc in doc.ssccs:
        raise InvalidInput(f"ssccs: SSCC {doc.sscc} не может быть вложен сам в себя", field="ssccs", value=doc.sscc)
    _codes(SubElement(el, "content"), doc.sgtins, doc.ssccs, ctx)


def _query_kiz_info(el, doc: QueryKizInfo, ctx: _Context) -> None:
    _text(el, "subject_id", check_subject_any(doc.subject_id))
    asked = [(tag, value) for tag, value in (("sgtin", doc.sgtin), ("sscc_down", doc.sscc_down),
                                              ("sscc_up", doc.sscc_up)) if value is not None]
    if len(asked) != 1:
        raise InvalidInput("Запрос 210: укажите ровно одно из sgtin, sscc_down, sscc_up", field="sgtin",
                           value=len(asked))
    tag, value = asked[0]
    _text(el, tag, ctx.codes.sgtin(value, tag) if tag == "sgtin" else ctx.codes.sscc(value, tag))


# type -> (element, action_id, builder)
SCHEMES: dict[type, tuple[str, int, Callable]] = {
    MoveOrder: ("move_order", 415, _move_order),
    ReceiveOrder: ("receive_order", 416, _receive_order),
    Accept: ("accept", 701, _accept),
    MovePlace: ("move_place", 431, _move_place),
    Recipe: ("recipe", 521, _recipe),
    HealthCare: ("health_care", 531, _health_care),
    Withdrawal: ("withdrawal", 552, _withdrawal),
    MoveDestruction: ("move_destruction", 541, _move_destruction),
    UnitPack: ("unit_pack", 911, _unit_pack),
    UnitUnpack: ("unit_unpack", 912, _unit_unpack),
    UnitExtract: ("unit_extract", 913, _unit_extract),
    UnitAppend: ("unit_append", 914, _unit_append),
    QueryKizInfo: ("query_kiz_info", 210, _query_kiz_info),
}


def scheme_of(doc) -> tuple[str, int]:
    """(element name, action_id) of an outgoing document, e.g. ('move_order', 415)."""
    try:
        element, action_id, _ = SCHEMES[type(doc)]
    except KeyError:
        raise TypeError(f"not an MDLP outgoing document: {type(doc).__name__}") from None
    return element, action_id


def build_element(doc, *, envelope: Envelope | None = None, now: datetime | None = None) -> etree._Element:
    """The `<documents>` tree of `doc` (see build)."""
    element, action_id, builder = SCHEMES.get(type(doc), (None, None, None))
    if builder is None:
        raise TypeError(f"not an MDLP outgoing document: {type(doc).__name__}")
    count, limit = item_count(doc), item_limit(doc)
    items = "ssccs" if isinstance(doc, UnitUnpack) else "sgtins"
    if count == 0 and not isinstance(doc, QueryKizInfo):
        raise InvalidInput(f"Документ {action_id} ({element}) без единого SGTIN/SSCC", field=items, value=0)
    if count > limit:
        raise InvalidInput(f"Документ {action_id}: {count} позиций при пределе {limit}; разделите его (split)",
                           field=items, value=count, limit=limit)
    envelope = envelope or Envelope()
    root = etree.Element("documents", version=check_text(envelope.version, "version", 200))
    for name in ("session_ui", "original_id", "client_identifier"):
        value = getattr(envelope, name)
        if value is not None:
            root.set(name, check_text(value, name, 200))
    body = SubElement(root, element, action_id=str(action_id))
    builder(body, doc, _Context(now))
    return root


def build(doc, *, envelope: Envelope | None = None, now: datetime | None = None) -> bytes:
    """The document as UTF-8 XML with a declaration: `<documents version="1.38"><move_order action_id="415">…`.

    Raises InvalidInput (nothing built) for input the scheme refuses, including more than MAX_ITEMS items
    (use split first) and an operation_date later than `now` (default: the current time) plus a few minutes."""
    root = build_element(doc, envelope=envelope, now=now)
    return XML_DECLARATION + etree.tostring(root, encoding="UTF-8", pretty_print=True)


# --- 252 refusal_receiver (appended) ---------------------------------------------------------------

from .outgoing import RefusalReceiver


def _refusal_receiver(el, doc: RefusalReceiver, ctx: _Context) -> None:
    _text(el, "subject_id", check_subject_any(doc.subject_id))
    _text(el, "operation_date", format_datetime(doc.operation_date, now=ctx.now))
    _text(el, "shipper_id", check_subject_any(doc.shipper_id, "shipper_id"))
    if doc.shipper_id == doc.subject_id:
        raise InvalidInput("shipper_id: отказ от приёмки у самого себя", field="shipper_id", value=doc.shipper_id)
    _text(el, "reason", check_text(doc.reason, "reason", 1000))
    if doc.confirm_paused is not None:
        _text(el, "confirm_paused", "true" if doc.confirm_paused else "false")
    _codes(SubElement(el, "order_details"), doc.sgtins, doc.ssccs, ctx)


SCHEMES[RefusalReceiver] = ("refusal_receiver", 252, _refusal_receiver)
