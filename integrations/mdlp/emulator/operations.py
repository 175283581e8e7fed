"""Processing a received document: check each pack or box it names against the registry, apply what
passes, and write the receipt (200 `result`) and the counterparty's notification.

Movements between places (415, 416, 431) and aggregation (911, 912, 914) are all or nothing: one bad
object rejects the document. Withdrawals (521, 531, 541, 542, 552), acceptance (701) and extraction (913)
go object by object: the good ones are applied and the receipt is Partial, listing the bad ones. The error
codes are the emulator's own (ERRORS below), in the form of the real ones: a code, a description, the
object.

Called by the store under its lock; the document was checked against the XSD when it was received, and is
read here with the project's safe parser and a few XPath lookups (the emulator is the far side: it does
not use our own builders).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from integrations.mdlp import xsd

from . import xmldocs

if TYPE_CHECKING:
    from .store import Document, Mdlp

IN_CIRCULATION = "in_circulation"

ERRORS = {
    "not_found": "2",  # the code or box is unknown
    "not_owner": "3",  # another place holds it
    "wrong_state": "4",  # not in circulation (dispensed, withdrawn, in transit …)
    "in_box": "5",  # lies in a box: extract it first
    "not_shipped": "6",  # 701 of something not shipped to this place by this counterparty
    "sscc_exists": "7",  # 911 of a box number already used
    "not_in_box": "8",  # 913 of something not in a box
    "unsupported": "9",  # a document type the emulator does not process
    "same_place": "10",  # sender and receiver are the same place
}

Error = tuple[str, str, str | None]


@dataclass
class Outcome:
    result: str  # Accepted / Rejected / Partial
    ticket: bytes
    notifications: list[tuple[int, bytes, str, str]] = field(default_factory=list)  # type, xml, from, to


@dataclass
class Plan:
    atomic: bool
    checked: list[tuple[tuple[str, str], Error | None, Callable[[], None]]] = field(default_factory=list)
    document_errors: list[Error] = field(default_factory=list)
    before: Callable[[], None] | None = None


def apply_document(mdlp: Mdlp, document: Document) -> Outcome:
    op = xsd.parse_safely(document.xml)[0]
    doc_type = int(op.get("action_id"))
    if doc_type == 210:
        return _query(mdlp, document, op)
    planner = PLANNERS.get(doc_type)
    if planner is None:
        errors = [(ERRORS["unsupported"], f"Документ типа {doc_type} эмулятором МДЛП не обрабатывается", None)]
        return Outcome("Rejected", xmldocs.result(document_id=document.document_id, doc_type=doc_type,
                                                  outcome="Rejected", errors=errors))
    plan = planner(_Context(mdlp, op))
    errors = plan.document_errors + [error for _, error, _ in plan.checked if error]
    good = [(obj, action) for obj, error, action in plan.checked if not error]
    if plan.document_errors or (plan.atomic and errors):
        good = []
    if good:
        if plan.before is not None:
            plan.before()
        for _, action in good:
            action()
    outcome = "Accepted" if not errors else ("Rejected" if not good else "Partial")
    result = Outcome(outcome, xmldocs.result(document_id=document.document_id, doc_type=doc_type, outcome=outcome,
                                             errors=errors))
    if good and doc_type in xmldocs.NOTIFICATIONS:
        rejected = {obj for obj, error, _ in plan.checked if error}
        kept = copy.deepcopy(op)
        for element in list(kept.iter("sgtin", "sscc")):
            if (element.tag, (element.text or "").strip()) in rejected:
                element.getparent().remove(element)
        kind, xml = xmldocs.notification(kept, doc_type)
        counterparty = _text(op, "receiver_id") or _text(op, "shipper_id") or _text(op, "counterparty_id")
        result.notifications.append((kind, xml, _text(op, "subject_id"), counterparty))
    return result


def _text(op, path: str) -> str:
    return (op.findtext(path) or "").strip()


class _Context:
    def __init__(self, mdlp: Mdlp, op):
        self.mdlp = mdlp
        self.op = op
        self.subject = _text(op, "subject_id")

    def objects(self, *paths: str) -> list[tuple[str, str]]:
        seen, found = set(), []
        for element in self.op.xpath(" | ".join(paths)):
            obj = (element.tag, (element.text or "").strip())
            if obj not in seen:
                seen.add(obj)
                found.append(obj)
        return found

    def packs(self, obj: tuple[str, str]):
        kind, code = obj
        if kind == "sgtin":
            pack = self.mdlp.packs.get(code)
            return [pack] if pack else []
        return self.mdlp.packs_in(code)

    def check(self, obj: tuple[str, str], owner: str, *, loose: bool = True, states=(IN_CIRCULATION,)) -> Error | None:
        """The object exists, `owner` holds it, every pack in it is in one of `states`; with loose=False it
        must not lie in a box."""
        kind, code = obj
        if kind == "sgtin":
            pack = self.mdlp.packs.get(code)
            if pack is None:
                return ERRORS["not_found"], f"Код маркировки {code} не найден в реестре МДЛП", code
            holder, parent = pack.owner, pack.sscc
        else:
            box = self.mdlp.boxes.get(code)
            if box is None:
                return ERRORS["not_found"], f"Транспортная упаковка {code} не найдена в реестре МДЛП", code
            holder, parent = box.owner, box.parent
        if holder != owner:
            text = f"{_name(kind, code)} не принадлежит месту деятельности {owner} (владелец — {holder})"
            return ERRORS["not_owner"], text, code
        for pack in self.packs(obj):
            if pack.state not in states:
                text = f"{_name('sgtin', pack.sgtin)} в статусе «{pack.state}»: операция не может быть выполнена"
                return ERRORS["wrong_state"], text, code
        if not loose and parent is not None:
            text = f"{_name(kind, code)} вложен(а) в транспортную упаковку {parent}: сначала изымите из неё (913)"
            return ERRORS["in_box"], text, code
        return None

    def set(self, obj: tuple[str, str], **changes) -> Callable[[], None]:
        def apply() -> None:
            stamp = xmldocs.stamp(time.time())
            for pack in self.packs(obj):
                for name, value in changes.items():
                    setattr(pack, name, value)
                pack.status_date = stamp
            if obj[0] == "sscc" and "owner" in changes:
                for box in self.mdlp.boxes_in(obj[1]):
                    box.owner = changes["owner"]

        return apply

    def detach(self, obj: tuple[str, str]) -> None:
        """Take a pack or a box out of the box it lies in."""
        kind, code = obj
        if kind == "sgtin":
            pack = self.mdlp.packs.get(code)
            if pack and pack.sscc and pack.sscc in self.mdlp.boxes:
                self.mdlp.boxes[pack.sscc].sgtins.remove(code)
            if pack:
                pack.sscc = None
        else:
            box = self.mdlp.boxes.get(code)
            if box and box.parent and box.parent in self.mdlp.boxes:
                self.mdlp.boxes[box.parent].boxes.remove(code)
            if box:
                box.parent = None

    def attach(self, obj: tuple[str, str], sscc: str) -> None:
        self.detach(obj)
        kind, code = obj
        if kind == "sgtin":
            self.mdlp.packs[code].sscc = sscc
            self.mdlp.boxes[sscc].sgtins.append(code)
        else:
            self.mdlp.boxes[code].parent = sscc
            self.mdlp.boxes[sscc].boxes.append(code)

    def dissolve(self, sscc: str, *, recursive: bool) -> None:
        """Remove a box: what lay in it moves to the box around it (or lies loose)."""
        box = self.mdlp.boxes.get(sscc)
        if box is None:
            return
        for code in list(box.boxes):
            if recursive:
                self.dissolve(code, recursive=True)
        parent = box.parent
        self.detach(("sscc", sscc))
        for code in list(box.sgtins):
            self.mdlp.packs[code].sscc = None
            if parent:
                self.attach(("sgtin", code), parent)
        for code in list(box.boxes):
            if code in self.mdlp.boxes:
                self.mdlp.boxes[code].parent = None
                if parent:
                    self.attach(("sscc", code), parent)
        del self.mdlp.boxes[sscc]


def _name(kind: str, code: str) -> str:
    return f"Код маркировки {code}" if kind == "sgtin" else f"Транспортная упаковка {code}"


# --- the documents ---------------------------------------------------------------------------------

UNION = ("order_details/union/sgtin", "order_details/union/sscc_detail/sscc")
PLAIN = ("order_details/sgtin", "order_details/sscc")


def _move_order(c: _Context) -> Plan:  # 415: shipped, in transit to the receiver until its 701
    receiver = _text(c.op, "receiver_id")
    plan = Plan(atomic=True)
    if receiver == c.subject:
        plan.document_errors.append((ERRORS["same_place"], "Отправитель и получатель совпадают", None))
    for obj in c.objects(*UNION):
        plan.checked.append((obj, c.check(obj, c.subject, loose=False), c.set(obj, state="in_transit",
                                                                               receiver=receiver)))
    return plan


def _receive_order(c: _Context) -> Plan:  # 416: reverse acceptance, the receiver owns them at once
    shipper = _text(c.op, "shipper_id")
    plan = Plan(atomic=True)
    if shipper == c.subject:
        plan.document_errors.append((ERRORS["same_place"], "Отправитель и получатель совпадают", None))
    for obj in c.objects(*UNION):
        plan.checked.append((obj, c.check(obj, shipper, loose=False), c.set(obj, owner=c.subject)))
    return plan


def _accept(c: _Context) -> Plan:  # 701: the receiver confirms a 415 shipped to it
    counterparty = _text(c.op, "counterparty_id")
    plan = Plan(atomic=False)
    for obj in c.objects(*PLAIN):
        error = c.check(obj, counterparty, states=("in_transit",))
        misdirected = error is None and any(pack.receiver != c.subject for pack in c.packs(obj))
        if misdirected or (error is not None and error[0] in (ERRORS["not_owner"], ERRORS["wrong_state"])):
            text = f"{_name(*obj)} не отгружен(а) в адрес {c.subject} отправителем {counterparty}"
            error = ERRORS["not_shipped"], text, obj[1]
        plan.checked.append((obj, error, c.set(obj, owner=c.subject, state=IN_CIRCULATION, receiver=None)))
    return plan


def _refusal_receiver(c: _Context) -> Plan:  # 252: the receiver refuses a 415 shipped to it
    shipper = _text(c.op, "shipper_id")
    plan = Plan(atomic=False)
    for obj in c.objects(*PLAIN):
        error = c.check(obj, shipper, states=("in_transit",))
        misdirected = error is None and any(pack.receiver != c.subject for pack in c.packs(obj))
        if misdirected or (error is not None and error[0] in (ERRORS["not_owner"], ERRORS["wrong_state"])):
            text = f"{_name(*obj)} не отгружен(а) в адрес {c.subject} отправителем {shipper}"
            error = ERRORS["not_shipped"], text, obj[1]
        # back with the shipper: its owner never changed while in transit
        plan.checked.append((obj, error, c.set(obj, state=IN_CIRCULATION, receiver=None)))
    return plan


def _move_place(c: _Context) -> Plan:  # 431: to another place of the same organization
    receiver = _text(c.op, "receiver_id")
    plan = Plan(atomic=True)
    if receiver == c.subject:
        plan.document_errors.append((ERRORS["same_place"], "Место отправления и место назначения совпадают", None))
    for obj in c.objects(*PLAIN):
        plan.checked.append((obj, c.check(obj, c.subject, loose=False), c.set(obj, owner=receiver)))
    return plan


def _out_of_circulation(state: str, *paths: str):
    def planner(c: _Context) -> Plan:
        plan = Plan(atomic=False)
        partial = {(e.tag, (e.text or "").strip()) for e in c.op.xpath("order_details/union[sold_part]/sgtin")}
        for obj in c.objects(*paths):
            if obj in partial:  # a part of the pack sold: it stays in circulation
                action = c.set(obj)
            else:
                action = _withdraw(c, obj, state)
            plan.checked.append((obj, c.check(obj, c.subject), action))
        return plan

    return planner


def _withdraw(c: _Context, obj: tuple[str, str], state: str) -> Callable[[], None]:
    change = c.set(obj, state=state)

    def apply() -> None:
        change()
        if obj[0] == "sscc":
            c.dissolve(obj[1], recursive=True)
        c.detach(obj)

    return apply


def _unit_pack(c: _Context) -> Plan:  # 911: a new box of loose packs (or boxes)
    sscc = _text(c.op, "sscc")
    plan = Plan(atomic=True)
    if sscc in c.mdlp.boxes:
        plan.document_errors.append((ERRORS["sscc_exists"], f"Транспортная упаковка {sscc} уже зарегистрирована",
                                     sscc))

    def before() -> None:
        from .store import Box

        c.mdlp.boxes[sscc] = Box(sscc=sscc, owner=c.subject)

    plan.before = before
    for obj in c.objects("content/sgtin", "content/sscc"):
        plan.checked.append((obj, c.check(obj, c.subject, loose=False), lambda obj=obj: c.attach(obj, sscc)))
    return plan


def _unit_unpack(c: _Context) -> Plan:  # 912
    recursive = _text(c.op, "is_recursive").lower() in ("true", "1")
    plan = Plan(atomic=True)
    for obj in c.objects("sscc"):
        plan.checked.append((obj, c.check(obj, c.subject, states=("in_circulation", "in_transit")),
                             lambda code=obj[1]: c.dissolve(code, recursive=recursive)))
    return plan


def _unit_extract(c: _Context) -> Plan:  # 913
    plan = Plan(atomic=False)
    for obj in c.objects("content/sgtin", "content/sscc"):
        error = c.check(obj, c.subject)
        if error is None:
            kind, code = obj
            parent = c.mdlp.packs[code].sscc if kind == "sgtin" else c.mdlp.boxes[code].parent
            if parent is None:
                error = (ERRORS["not_in_box"], f"{_name(kind, code)} не вложен(а) в транспортную упаковку", code)
        plan.checked.append((obj, error, lambda obj=obj: c.detach(obj)))
    return plan


def _unit_append(c: _Context) -> Plan:  # 914
    sscc = _text(c.op, "sscc")
    plan = Plan(atomic=True)
    box_error = c.check(("sscc", sscc), c.subject)
    if box_error:
        plan.document_errors.append(box_error)
    for obj in c.objects("content/sgtin", "content/sscc"):
        error = c.check(obj, c.subject, loose=False)
        if error is None and obj == ("sscc", sscc):
            error = (ERRORS["in_box"], "Упаковку нельзя вложить саму в себя", sscc)
        plan.checked.append((obj, error, lambda obj=obj: c.attach(obj, sscc)))
    return plan


PLANNERS = {
    415: _move_order,
    416: _receive_order,
    431: _move_place,
    521: _out_of_circulation("dispensed", "order_details/union/sgtin"),
    531: _out_of_circulation("dispensed", "order_details/union/sgtin"),
    541: _out_of_circulation("destroyed", "order_details/detail/sgtin", "order_details/detail/sscc"),
    542: _out_of_circulation("destroyed", *PLAIN),
    552: _out_of_circulation("withdrawn", *PLAIN),
    701: _accept,
    252: _refusal_receiver,
    911: _unit_pack,
    912: _unit_unpack,
    913: _unit_extract,
    914: _unit_append,
}


def _query(mdlp: Mdlp, document: Document, op) -> Outcome:
    """210: the answer is a 211 `kiz_info` given as the document's ticket."""
    sgtin, down, up = _text(op, "sgtin"), _text(op, "sscc_down"), _text(op, "sscc_up")
    code = sgtin or down or up
    if sgtin and sgtin in mdlp.packs:
        pack = mdlp.packs[sgtin]
        return Outcome("Accepted", xmldocs.kiz_info(sgtin={
            "sgtin": sgtin, "status": pack.state, "sscc": pack.sscc, "series_number": pack.series_number,
            "expiration_date": pack.expiration_date}))
    if down and down in mdlp.boxes:
        tree = []
        for box in mdlp.boxes_in(down):
            for item in box.sgtins:
                pack = mdlp.packs[item]
                tree.append({"sscc": box.sscc, "sgtin": item, "status": pack.state,
                             "series_number": pack.series_number, "expiration_date": pack.expiration_date,
                             "parent_sscc": box.parent})
        return Outcome("Accepted", xmldocs.kiz_info(sscc_tree=tree, sscc=down))
    if up and up in mdlp.boxes:
        chain, box = [], mdlp.boxes[up]
        while box.parent and box.parent in mdlp.boxes:
            box = mdlp.boxes[box.parent]
            chain.insert(0, box.sscc)
        return Outcome("Accepted", xmldocs.kiz_info(sscc=up, up=chain))
    errors = [(ERRORS["not_found"], f"Код {code} не найден в реестре МДЛП", code or None)]
    return Outcome("Rejected", xmldocs.result(document_id=document.document_id, doc_type=210, outcome="Rejected",
                                              errors=errors))
