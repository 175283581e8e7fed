"""Parsers of what MDLP sends: 200 result, 211 kiz_info, 601, 602, 607 and 617 notifications.

Each reads the bytes only through xsd.parse_safely (no DTD, no entities, no network, a size limit),
checks that the document is of its scheme (WrongDocumentType otherwise) and that what it needs is
there and well-formed (DocumentIncomplete otherwise); nothing is returned from a document it refuses.
`validate=True` also checks the document against documents.xsd first.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation

from lxml import etree

from .. import xsd
from .errors import DocumentIncomplete, WrongDocumentType
from .incoming import (
    AcceptNotification,
    Decision,
    KizInfo,
    MoveOrderNotification,
    ObjectError,
    OperationResult,
    PackLevel,
    PackNode,
    ReceiveOrderErrorsNotification,
    ReceiveOrderNotification,
    Result,
    SgtinInfo,
)
from .outgoing import SgtinLine, SsccDetail, SsccLine


class _Node:
    """An element with typed readers of its children; its path is worked out only for an error message."""

    __slots__ = ("el",)

    def __init__(self, el: etree._Element):
        self.el = el

    @property
    def path(self) -> str:
        return self.el.getroottree().getpath(self.el)

    def child(self, tag: str) -> _Node | None:
        found = self.el.find(tag)
        return None if found is None else _Node(found)

    def need(self, tag: str) -> _Node:
        found = self.el.find(tag)
        if found is None:
            where = f"{self.path}/{tag}"
            raise DocumentIncomplete(f"В документе МДЛП нет обязательного элемента {where}",
                                     details={"errors": [f"{where}: отсутствует"]})
        return _Node(found)

    def children(self, tag: str):
        return map(_Node, self.el.iterchildren(tag))

    def text(self) -> str:
        value = (self.el.text or "").strip()
        if not value:
            self.bad("пустое значение")
        return value

    def bad(self, what: str):
        raise DocumentIncomplete(f"Документ МДЛП: {self.path}: {what}", details={"errors": [f"{self.path}: {what}"]})

    # typed readers of a required (`str`) or optional (`opt_*`) child

    def string(self, tag: str) -> str:
        return self.need(tag).text()

    def opt_string(self, tag: str) -> str | None:
        node = self.child(tag)
        return None if node is None else node.text()

    def integer(self, tag: str) -> int:
        node = self.need(tag)
        try:
            return int(node.text())
        except ValueError:
            node.bad(f"ожидается целое число, получено «{node.el.text}»")

    def boolean(self, tag: str) -> bool:
        node = self.need(tag)
        value = node.text()
        if value not in ("true", "false", "1", "0"):
            node.bad(f"ожидается true или false, получено «{value}»")
        return value in ("true", "1")

    def opt_boolean(self, tag: str) -> bool | None:
        return None if self.child(tag) is None else self.boolean(tag)

    def decimal(self, tag: str) -> Decimal:
        node = self.need(tag)
        try:
            value = Decimal(node.text())
        except InvalidOperation:
            node.bad(f"ожидается сумма, получено «{node.el.text}»")
        if not value.is_finite():
            node.bad(f"ожидается сумма, получено «{node.el.text}»")
        return value

    def date(self, tag: str) -> date:
        return _date(self.need(tag))

    def opt_date(self, tag: str) -> date | None:
        node = self.child(tag)
        return None if node is None else _date(node)

    def moment(self, tag: str) -> datetime:
        node = self.need(tag)
        return _datetime(node, node.text())


def _date(node: _Node) -> date:
    value = node.text()
    try:
        return datetime.strptime(value, "%d.%m.%Y").date()
    except ValueError:
        node.bad(f"ожидается дата ДД.ММ.ГГГГ, получено «{value}»")


def _datetime(node: _Node, value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        node.bad(f"ожидается дата и время ГГГГ-ММ-ДДTчч:мм:сс+чч:мм, получено «{value}»")
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _open(xml: bytes, element: str, action_id: int, *, validate: bool, max_bytes: int | None) -> _Node:
    """The document's operation element after the envelope and type checks."""
    # `parse` hands over the tree it has already read
    root = xml if isinstance(xml, etree._Element) else xsd.parse_safely(xml, max_bytes=max_bytes)
    body = _body(root)
    if body.tag != element:
        raise WrongDocumentType(
            f"Ожидался документ МДЛП {action_id} ({element}), получен «{body.tag}»",
            details={"expected": element, "received": body.tag, "errors": []})
    declared = body.get("action_id")
    if declared != str(action_id):
        raise WrongDocumentType(
            f"Документ МДЛП {element}: action_id «{declared}», ожидался {action_id}",
            details={"expected": str(action_id), "received": declared, "errors": []})
    if validate:
        xsd.validate_tree(root)
    return _Node(body)


def _body(root: etree._Element) -> etree._Element:
    if root.tag != "documents":
        raise WrongDocumentType(f"Это не документ МДЛП: корневой элемент «{root.tag}», ожидался «documents»",
                                details={"expected": "documents", "received": str(root.tag), "errors": []})
    children = [child for child in root if isinstance(child.tag, str)]
    if len(children) != 1:
        raise WrongDocumentType(f"Документ МДЛП должен содержать ровно одну операцию, найдено {len(children)}",
                                details={"expected": 1, "received": len(children), "errors": []})
    return children[0]


def document_element(xml: bytes, *, max_bytes: int | None = None) -> str:
    """The operation element of an MDLP document ('result', 'move_order_notification', ...)."""
    return _body(xsd.parse_safely(xml, max_bytes=max_bytes)).tag


# --- the schemes -------------------------------------------------------------------------------

def _errors(nodes) -> tuple[ObjectError, ...]:
    return tuple(ObjectError(code=node.string("error_code"), description=node.string("error_desc"),
                             object_id=node.opt_string("object_id")) for node in nodes)


def _warnings(body: _Node) -> tuple[str, ...]:
    return tuple(node.string("operation_warning") for node in body.children("operation_warnings"))


def parse_result(xml: bytes, *, validate: bool = False, max_bytes: int | None = None) -> Result:
    """200 result."""
    body = _open(xml, "result", 200, validate=validate, max_bytes=max_bytes)
    outcome = body.string("operation_result")
    try:
        result = OperationResult(outcome)
    except ValueError:
        body.need("operation_result").bad(f"неизвестный результат «{outcome}»")
    accept_time = body.el.get("accept_time")
    if not accept_time:
        body.bad("нет атрибута accept_time")
    comment = body.child("operation_comment")
    return Result(operation=body.string("operation"), operation_id=body.string("operation_id"),
                  operation_result=result, accept_time=_datetime(body, accept_time),
                  comment=None if comment is None else (comment.el.text or "").strip() or None,
                  warnings=_warnings(body), errors=_errors(body.children("errors")))


def _sgtin_info(node: _Node, sgtin: str | None = None) -> SgtinInfo:
    info = node.need("info_sgtin")
    decision = node.child("info_decision")
    return SgtinInfo(
        sgtin=sgtin or info.string("sgtin"), status=info.string("status"), sscc=info.opt_string("sscc"),
        gtin=info.string("gtin"), series_number=info.string("series_number"),
        expiration_date=info.date("expiration_date"),
        decision=None if decision is None else Decision(id=decision.string("id_decision"),
                                                        doc_num=decision.string("doc_num"),
                                                        doc_date=decision.date("doc_date")))


def parse_kiz_info(xml: bytes, *, validate: bool = False, max_bytes: int | None = None) -> KizInfo:
    """211 kiz_info."""
    body = _open(xml, "kiz_info", 211, validate=validate, max_bytes=max_bytes)
    result = body.need("result")
    asked_sgtin, asked_sscc = result.opt_string("sgtin"), result.opt_string("sscc")
    if (asked_sgtin is None) == (asked_sscc is None):
        result.bad("ожидается ровно один из sgtin, sscc")
    sgtin = body.child("sgtin")
    down = body.child("sscc_down")
    up = body.child("sscc_up")
    return KizInfo(
        found=result.boolean("found"), sgtin=asked_sgtin, sscc=asked_sscc, warnings=_warnings(body),
        sgtin_info=None if sgtin is None else _sgtin_info(sgtin, asked_sgtin),
        sscc_down=() if down is None else tuple(
            PackNode(sscc=tree.opt_string("sscc"),
                     sgtin=None if tree.child("sgtin") is None else _sgtin_info(tree.need("sgtin")),
                     parent_sscc=tree.opt_string("parent_sscc"))
            for tree in down.children("tree")),
        sscc_up=() if up is None else tuple(
            PackLevel(sscc=info.string("sscc"), level=info.integer("level")) for info in up.children("info")))


def _money(fields: dict, parent: etree._Element, tag: str) -> Decimal:
    element = fields.get(tag)
    if element is None:
        _Node(parent).need(tag)
    text = (element.text or "").strip()
    try:
        value = Decimal(text)
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite():
        _Node(element).bad(f"ожидается сумма, получено «{element.text}»")
    return value


def _priced_items(body: _Node) -> tuple[tuple[SgtinLine, ...], tuple[SsccLine, ...]]:
    """order_details of 601/602; the hot loop of a 25,000-item notification reads each union's children once."""
    sgtins, ssccs = [], []
    for union in body.need("order_details").el.iterchildren("union"):
        fields = {child.tag: child for child in union}
        cost, vat = _money(fields, union, "cost"), _money(fields, union, "vat_value")
        sgtin = fields.get("sgtin")
        if sgtin is not None:
            sgtins.append(SgtinLine(sgtin=_Node(sgtin).text(), cost=cost, vat_value=vat))
            continue
        box = _Node(union).need("sscc_detail")
        ssccs.append(SsccLine(sscc=box.string("sscc"), cost=cost, vat_value=vat, details=tuple(
            SsccDetail(gtin=d.string("gtin"), series_number=d.string("series_number"), cost=d.decimal("cost"),
                       vat_value=d.decimal("vat_value")) for d in box.children("detail"))))
    return tuple(sgtins), tuple(ssccs)


def _contract(body: _Node) -> dict:
    return {"source": body.integer("source"), "contract_type": body.integer("contract_type"),
            "contract_num": body.opt_string("contract_num"), "contract_gos_num": body.opt_string("contract_gos_num"),
            "contract_gos_date": body.opt_date("contract_gos_date")}


def parse_move_order_notification(xml: bytes, *, validate: bool = False,
                                  max_bytes: int | None = None) -> MoveOrderNotification:
    """601 move_order_notification."""
    body = _open(xml, "move_order_notification", 601, validate=validate, max_bytes=max_bytes)
    sgtins, ssccs = _priced_items(body)
    return MoveOrderNotification(
        subject_id=body.string("subject_id"), receiver_id=body.string("receiver_id"),
        operation_date=body.moment("operation_date"), doc_num=body.string("doc_num"), doc_date=body.date("doc_date"),
        turnover_type=body.integer("turnover_type"), sgtins=sgtins, ssccs=ssccs, **_contract(body))


def parse_receive_order_notification(xml: bytes, *, validate: bool = False,
                                     max_bytes: int | None = None) -> ReceiveOrderNotification:
    """602 receive_order_notification."""
    body = _open(xml, "receive_order_notification", 602, validate=validate, max_bytes=max_bytes)
    sgtins, ssccs = _priced_items(body)
    return ReceiveOrderNotification(
        subject_id=body.string("subject_id"), shipper_id=body.string("shipper_id"),
        operation_date=body.moment("operation_date"), doc_num=body.string("doc_num"), doc_date=body.date("doc_date"),
        receive_type=body.integer("receive_type"), sgtins=sgtins, ssccs=ssccs, **_contract(body))


def parse_accept_notification(xml: bytes, *, validate: bool = False,
                              max_bytes: int | None = None) -> AcceptNotification:
    """607 accept_notification."""
    body = _open(xml, "accept_notification", 607, validate=validate, max_bytes=max_bytes)
    details = body.need("order_details")
    return AcceptNotification(
        subject_id=body.string("subject_id"), counterparty_id=body.string("counterparty_id"),
        operation_date=body.moment("operation_date"), confirm_paused=body.opt_boolean("confirm_paused"),
        sgtins=tuple(node.text() for node in details.children("sgtin")),
        ssccs=tuple(node.text() for node in details.children("sscc")))


def parse_receive_order_errors_notification(xml: bytes, *, validate: bool = False,
                                            max_bytes: int | None = None) -> ReceiveOrderErrorsNotification:
    """617 receive_order_errors_notification."""
    body = _open(xml, "receive_order_errors_notification", 617, validate=validate, max_bytes=max_bytes)
    return ReceiveOrderErrorsNotification(
        subject_id=body.string("subject_id"), shipper_id=body.string("shipper_id"),
        operation_date=body.moment("operation_date"),
        errors=_errors(body.need("order_details").children("errors")))


PARSERS: dict[str, Callable] = {
    "result": parse_result,
    "kiz_info": parse_kiz_info,
    "move_order_notification": parse_move_order_notification,
    "receive_order_notification": parse_receive_order_notification,
    "accept_notification": parse_accept_notification,
    "receive_order_errors_notification": parse_receive_order_errors_notification,
}


def parse(xml: bytes, *, validate: bool = False, max_bytes: int | None = None):
    """Any document the system reads, by its operation element; WrongDocumentType for the others."""
    root = xsd.parse_safely(xml, max_bytes=max_bytes)
    element = _body(root).tag
    parser = PARSERS.get(element)
    if parser is None:
        raise WrongDocumentType(f"Документ МДЛП «{element}» система не читает",
                                details={"expected": sorted(PARSERS), "received": element, "errors": []})
    return parser(root, validate=validate)
