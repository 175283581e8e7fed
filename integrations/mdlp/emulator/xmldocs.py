"""The XML the emulated MDLP writes: receipts (200 `result`), notifications to counterparties (601, 602,
607), the answer to a 210 query (211 `kiz_info`) and, on request, a hostile file."""

from __future__ import annotations

import copy
import time
from collections.abc import Iterable
from datetime import UTC, datetime

from lxml import etree

VERSION = "1.38"

OPERATION_NAMES = {
    210: "Запрос информации по номеру SGTIN/SSCC",
    415: "Регистрация в ИС МДЛП сведений об отгрузке лекарственных препаратов (прямой порядок акцептования)",
    416: "Регистрация в ИС МДЛП сведений о приемке лекарственных препаратов (обратный порядок акцептования)",
    431: "Регистрация в ИС МДЛП сведений о перемещении лекарственных препаратов между местами деятельности",
    521: "Регистрация в ИС МДЛП сведений о выдаче лекарственного препарата по льготному рецепту",
    531: "Регистрация в ИС МДЛП сведений о выдаче лекарственного препарата для оказания медицинской помощи",
    541: "Регистрация в ИС МДЛП сведений о передаче лекарственных препаратов на уничтожение",
    542: "Регистрация в ИС МДЛП сведений об уничтожении лекарственных препаратов",
    552: "Регистрация в ИС МДЛП сведений о выводе из оборота лекарственных препаратов по различным причинам",
    701: "Регистрация в ИС МДЛП сведений о подтверждении (акцептовании) сведений",
    911: "Регистрация в ИС МДЛП сведений об агрегировании во множественную упаковку",
    912: "Регистрация в ИС МДЛП сведений о расформировании транспортной упаковки",
    913: "Регистрация в ИС МДЛП сведений об изъятии из упаковки",
    914: "Регистрация в ИС МДЛП сведений о вложении в упаковку",
}
# a notification the counterparty receives when a document is accepted: (type, element name)
NOTIFICATIONS = {415: (601, "move_order_notification"), 416: (602, "receive_order_notification"),
                 701: (607, "accept_notification")}


def stamp(moment: float) -> str:
    """MDLP's timestamps in JSON: ISO 8601 in UTC with milliseconds, e.g. 2026-02-01T09:30:00.123Z."""
    seconds = int(moment)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{int((moment - seconds) * 1000):03d}Z"


def now_text() -> str:
    return datetime.now(UTC).astimezone().isoformat(timespec="seconds")


def _documents() -> etree._Element:
    return etree.Element("documents", version=VERSION)


def _sub(parent: etree._Element, name: str, text: str | None = None, **attrs) -> etree._Element:
    element = etree.SubElement(parent, name, **attrs)
    if text is not None:
        element.text = text
    return element


def _bytes(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def result(*, document_id: str, doc_type: int | None, outcome: str, errors: Iterable[tuple[str, str, str | None]],
           comment: str | None = None) -> bytes:
    """A 200 `result`: outcome Accepted / Rejected / Partial, errors (code, description, object_id)."""
    root = _documents()
    element = _sub(root, "result", action_id="200", accept_time=now_text())
    _sub(element, "operation", OPERATION_NAMES.get(doc_type, f"Документ {doc_type or 'неизвестного типа'}"))
    _sub(element, "operation_id", document_id)
    _sub(element, "operation_result", outcome)
    if comment:
        _sub(element, "operation_comment", comment)
    for code, description, object_id in errors:
        item = _sub(element, "errors")
        _sub(item, "error_code", code)
        _sub(item, "error_desc", description[:4000])
        if object_id:
            _sub(item, "object_id", object_id[:128])
    return _bytes(root)


def notification(operation: etree._Element, doc_type: int) -> tuple[int, bytes]:
    """The counterparty's notification of an accepted 415/416/701: the same content under the
    notification's element (the schemes share their fields)."""
    kind, name = NOTIFICATIONS[doc_type]
    root = _documents()
    copied = copy.deepcopy(operation)
    copied.tag = name
    copied.set("action_id", str(kind))
    root.append(copied)
    return kind, _bytes(root)


def move_order_601(*, sender: str, receiver: str, sgtins: Iterable[str], boxes: dict[str, list[str]],
                   doc_num: str, doc_date: str, source: int, contract_type: int, contract_num: str | None,
                   cost: str, vat_value: str) -> bytes:
    """A supplier's shipment as the receiver sees it (601 `move_order_notification`)."""
    root = _documents()
    element = _sub(root, "move_order_notification", action_id="601")
    _sub(element, "subject_id", sender)
    _sub(element, "receiver_id", receiver)
    _sub(element, "operation_date", now_text())
    _sub(element, "doc_num", doc_num)
    _sub(element, "doc_date", doc_date)
    _sub(element, "turnover_type", "1")
    _sub(element, "source", str(source))
    _sub(element, "contract_type", str(contract_type))
    if contract_num:
        _sub(element, "contract_num", contract_num)
    details = _sub(element, "order_details")
    for sgtin in sgtins:
        union = _sub(details, "union")
        _sub(union, "sgtin", sgtin)
        _sub(union, "cost", cost)
        _sub(union, "vat_value", vat_value)
    for sscc in boxes:
        union = _sub(details, "union")
        _sub(_sub(union, "sscc_detail"), "sscc", sscc)
        _sub(union, "cost", cost)
        _sub(union, "vat_value", vat_value)
    return _bytes(root)


def kiz_info(*, sgtin: dict | None = None, sscc_tree: list[dict] | None = None, sscc: str | None = None,
             up: list[str] | None = None) -> bytes:
    """A 211 `kiz_info`: a pack's state (`sgtin` = {sgtin, status, sscc, gtin, series_number,
    expiration_date}), the packs inside a box (`sscc_tree` = [{sscc, sgtin info, parent_sscc}]), or the boxes
    around it (`up`, outermost first)."""
    root = _documents()
    element = _sub(root, "kiz_info", action_id="211")
    head = _sub(element, "result")
    _sub(head, "found", "true")
    if sgtin is not None:
        _sub(head, "sgtin", sgtin["sgtin"])
        info = _sub(_sub(element, "sgtin"), "info_sgtin")
        _pack_info(info, sgtin, with_sgtin=False)
    elif sscc_tree is not None:
        _sub(head, "sscc", sscc)
        down = _sub(element, "sscc_down")
        for node in sscc_tree:
            tree = _sub(down, "tree")
            _sub(tree, "sscc", node["sscc"])
            _pack_info(_sub(_sub(tree, "sgtin"), "info_sgtin"), node, with_sgtin=True)
            if node.get("parent_sscc"):
                _sub(tree, "parent_sscc", node["parent_sscc"])
    else:
        _sub(head, "sscc", sscc)
        boxes = _sub(element, "sscc_up")
        for level, code in enumerate(up or [], start=1):
            info = _sub(boxes, "info")
            _sub(info, "sscc", code)
            _sub(info, "level", str(level))
    return _bytes(root)


def _pack_info(info: etree._Element, pack: dict, *, with_sgtin: bool) -> None:
    if with_sgtin:
        _sub(info, "sgtin", pack["sgtin"])
    _sub(info, "status", pack["status"])
    if pack.get("sscc"):
        _sub(info, "sscc", pack["sscc"])
    _sub(info, "gtin", pack["sgtin"][:14])
    _sub(info, "series_number", pack["series_number"])
    _sub(info, "expiration_date", pack["expiration_date"])


def xml_bomb() -> bytes:
    """The billion laughs: what a hostile or broken intermediary could put into a file."""
    lines = ['<?xml version="1.0"?>', "<!DOCTYPE documents [", '  <!ENTITY lol "lol">']
    for level in range(1, 10):
        previous = "lol" if level == 1 else f"lol{level - 1}"
        lines.append(f'  <!ENTITY lol{level} "' + f"&{previous};" * 10 + '">')
    lines += ["]>", '<documents version="1.38"><result>&lol9;</result></documents>']
    return "\n".join(lines).encode()
