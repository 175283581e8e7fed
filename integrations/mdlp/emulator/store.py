"""What the emulated MDLP knows, in memory: packs (SGTIN) and transport boxes (SSCC) with the place that
holds them and their state, documents received and sent out, and authorization codes and tokens. Every
method takes the one lock: the HTTP server serves each request from its own thread."""

from __future__ import annotations

import os
import pickle
import secrets
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from . import xmldocs
from .operations import apply_document
from .xmldocs import stamp

IN_CIRCULATION = "in_circulation"
STATES = (IN_CIRCULATION, "in_transit", "dispensed", "withdrawn", "destroyed")
CODE_LIFETIME = 60.0  # s an authorization code stays valid
MAX_CALLS = 2000  # arrival records kept for /_emulator/calls


class StoreError(Exception):
    """An API error: HTTP `status`, MDLP-like `error_code` and a Russian description."""

    def __init__(self, status: int, description: str, error_code: str | None = None):
        super().__init__(description)
        self.status = status
        self.description = description
        self.error_code = error_code or str(status)


@dataclass
class Pack:
    sgtin: str
    owner: str
    state: str = IN_CIRCULATION
    sscc: str | None = None  # the box it lies in
    receiver: str | None = None  # in_transit: the place it was shipped to
    series_number: str = "DEMO0001"
    expiration_date: str = "31.12.2030"
    status_date: str = ""

    def info(self) -> dict:
        return {"sgtin": self.sgtin, "status": self.state, "sys_id": self.owner, "sscc": self.sscc,
                "gtin": self.sgtin[:14], "batch": self.series_number, "expiration_date": self.expiration_date,
                "status_date": self.status_date, **({"receiver_id": self.receiver} if self.receiver else {})}


@dataclass
class Box:
    sscc: str
    owner: str
    parent: str | None = None
    sgtins: list[str] = field(default_factory=list)
    boxes: list[str] = field(default_factory=list)


@dataclass
class Document:
    document_id: str
    doc_type: int | None
    xml: bytes
    received_at: float
    due_at: float
    date: str
    account: str | None = None  # the client_id that sent it; None for notifications MDLP wrote
    request_id: str | None = None
    sender_id: str | None = None
    receiver_id: str | None = None
    status: str = "UPLOADING_DOCUMENT"
    processed_date: str | None = None
    ticket: bytes | None = None

    def meta(self) -> dict:
        data = {"document_id": self.document_id, "request_id": self.request_id, "doc_type": self.doc_type,
                "doc_status": self.status, "date": self.date, "processed_date": self.processed_date,
                "sender_id": self.sender_id, "receiver_id": self.receiver_id, "version": "1.38",
                "file_uploadtype": 1}
        return {key: value for key, value in data.items() if value is not None}


class Mdlp:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.reset()

    def reset(self) -> None:
        with getattr(self, "lock", threading.RLock()):
            self.packs: dict[str, Pack] = {}
            self.boxes: dict[str, Box] = {}
            self.outcome: dict[str, Document] = {}  # sent to MDLP, in arrival order
            self.pending: list[Document] = []  # sent and not processed yet, in arrival order
            self.income: dict[str, Document] = {}  # written by MDLP for a receiving place
            self.requests: dict[tuple[str, str], str] = {}  # (client_id, request_id) -> document_id
            self.codes: dict[str, tuple[str, str, float]] = {}  # code -> client_id, user_id, expiry
            self.tokens: dict[str, tuple[str, str, float]] = {}  # token -> client_id, user_id, expiry
            self.files: dict[str, tuple[str, str]] = {}  # file key -> (document_id, "ticket" | "document")
            self.last_call: dict[tuple[str, str], float] = {}  # (token, kind) -> arrival
            self.calls: deque[dict] = deque(maxlen=MAX_CALLS)

    # --- keeping the registry across restarts (make run) ---------------------------------------

    PERSISTED = ("packs", "boxes", "outcome", "pending", "income", "requests", "files")

    def save(self, path: Path) -> None:
        """Write what MDLP knows (packs, boxes, documents) to `path` — the emulator's own file in var/."""
        with self.lock:
            blob = pickle.dumps({name: getattr(self, name) for name in self.PERSISTED})
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f".{path.name}.{os.getpid()}")
        draft.write_bytes(blob)
        draft.replace(path)

    def load(self, path: Path) -> bool:
        if not path.exists():
            return False
        state = pickle.loads(path.read_bytes())  # noqa: S301 — our own file, written by save()
        with self.lock:
            for name in self.PERSISTED:
                setattr(self, name, state[name])
        return True

    def stats(self) -> dict:
        with self.lock:
            return {"packs": len(self.packs), "boxes": len(self.boxes), "documents": len(self.outcome),
                    "income": len(self.income)}

    # --- authorization ----------------------------------------------------------------------

    def new_code(self, client_id: str, user_id: str) -> str:
        code = str(uuid.uuid4())
        with self.lock:
            now = time.monotonic()
            self.codes = {k: v for k, v in self.codes.items() if v[2] > now}
            self.codes[code] = (client_id, user_id, now + CODE_LIFETIME)
        return code

    def take_code(self, code: str) -> tuple[str, str]:
        with self.lock:
            found = self.codes.pop(code, None)
        if found is None or found[2] < time.monotonic():
            raise StoreError(400, "Код авторизации не найден, уже использован или истёк: запросите новый (auth)",
                             "INVALID_CODE")
        return found[0], found[1]

    def new_token(self, client_id: str, user_id: str, life_minutes: int) -> str:
        token = str(uuid.uuid4())
        with self.lock:
            self.tokens[token] = (client_id, user_id, time.monotonic() + life_minutes * 60)
        return token

    def account_of(self, token: str) -> tuple[str, str]:
        with self.lock:
            found = self.tokens.get(token)
            if found is not None and found[2] < time.monotonic():
                del self.tokens[token]
                found = None
        if found is None:
            raise StoreError(401, "Токен доступа отсутствует, недействителен или истёк: получите новый", "UNAUTHORIZED")
        return found[0], found[1]

    def expire_tokens(self) -> int:
        with self.lock:
            count = len(self.tokens)
            self.tokens.clear()
        return count

    def log_call(self, *, kind: str, method: str, path: str, at: float) -> None:
        """Record an arrival (for tests and /_emulator/calls)."""
        with self.lock:
            self.calls.append({"at": at, "method": method, "path": path, "kind": kind})

    def too_close(self, *, token: str, kind: str, interval: float, at: float) -> float | None:
        """The seconds since the token's previous accepted call of `kind` when that is closer than
        `interval` (the caller then answers 429; a refused call does not move the window)."""
        if interval <= 0:
            return None
        with self.lock:
            previous = self.last_call.get((token, kind))
            if previous is not None and at - previous < interval:
                return at - previous
            self.last_call[(token, kind)] = at
        return None

    # --- documents ----------------------------------------------------------------------------

    def receive(self, *, account: str, request_id: str, xml: bytes, doc_type: int, sender_id: str | None,
                receiver_id: str | None, processing_s: float) -> tuple[str, bool]:
        """Keep a sent document; (document_id, created). The same request_id of the same account gets the
        document kept the first time."""
        with self.lock:
            known = self.requests.get((account, request_id))
            if known is not None:
                return known, False
            now = time.time()
            document = Document(
                document_id=str(uuid.uuid4()), doc_type=doc_type, xml=xml, received_at=now,
                due_at=now + processing_s, date=stamp(now), account=account, request_id=request_id,
                sender_id=sender_id, receiver_id=receiver_id)
            self.outcome[document.document_id] = document
            self.pending.append(document)
            self.requests[(account, request_id)] = document.document_id
            return document.document_id, True

    def known_request(self, account: str, request_id: str) -> str | None:
        with self.lock:
            return self.requests.get((account, request_id))

    def tick(self) -> None:
        """Move documents along: UPLOADING → PROCESSING halfway to their due time, processed (applied to
        the registry, in arrival order) once due."""
        now = time.time()
        with self.lock:
            for document in self.pending:
                if document.status == "UPLOADING_DOCUMENT" and now >= (document.received_at + document.due_at) / 2:
                    document.status = "PROCESSING_DOCUMENT"
                if document.status == "PROCESSING_DOCUMENT" and now >= document.due_at:
                    self._process(document)
            self.pending = [document for document in self.pending if document.ticket is None]

    def _process(self, document: Document) -> None:
        outcome = apply_document(self, document)
        document.ticket = outcome.ticket
        document.status = "FAILED_RESULT_READY" if outcome.result == "Rejected" else "PROCESSED_DOCUMENT"
        document.processed_date = stamp(time.time())
        for doc_type, xml, sender, receiver in outcome.notifications:
            self.add_income(doc_type=doc_type, xml=xml, sender_id=sender, receiver_id=receiver)

    def add_income(self, *, doc_type: int, xml: bytes, sender_id: str, receiver_id: str) -> str:
        now = time.time()
        with self.lock:
            document = Document(document_id=str(uuid.uuid4()), doc_type=doc_type, xml=xml, received_at=now,
                                due_at=now, date=stamp(now), sender_id=sender_id, receiver_id=receiver_id,
                                status="PROCESSED_DOCUMENT", processed_date=stamp(now))
            self.income[document.document_id] = document
        return document.document_id

    def document(self, account: str, document_id: str) -> Document:
        with self.lock:
            document = self.outcome.get(document_id)
            if document is not None and document.account == account:
                return document
            document = self.income.get(document_id)
        if document is None:
            raise StoreError(404, f"Документ {document_id} не найден", "DOCUMENT_NOT_FOUND")
        return document

    def file_link(self, document_id: str, what: str) -> str:
        key = secrets.token_urlsafe(24)
        with self.lock:
            self.files[key] = (document_id, what)
        return key

    def file(self, key: str) -> bytes:
        with self.lock:
            found = self.files.get(key)
            if found is None:
                raise StoreError(404, "Файл не найден или ссылка устарела", "FILE_NOT_FOUND")
            document = self.outcome.get(found[0]) or self.income.get(found[0])
        if document is None:
            raise StoreError(404, "Файл не найден или ссылка устарела", "FILE_NOT_FOUND")
        content = document.ticket if found[1] == "ticket" else document.xml
        return content or b""

    def listing(self, *, account: str, direction: str, filter: dict, start_from: int, count: int) -> dict:
        with self.lock:
            if direction == "income":
                documents = list(self.income.values())
            else:
                documents = [d for d in self.outcome.values() if d.account == account]
            chosen = [d for d in documents if _matches(d, filter)]
            chosen.sort(key=lambda d: d.received_at, reverse=True)
            return {"documents": [d.meta() for d in chosen[start_from:start_from + count]], "total": len(chosen)}

    # --- the registry ---------------------------------------------------------------------------

    def seed(self, *, place: str, sgtins: list[str], state: str = IN_CIRCULATION, sscc: str | None = None,
             series_number: str | None = None, expiration_date: str | None = None,
             receiver: str | None = None) -> int:
        """Put packs at `place` (replacing what was known of them), optionally in a new box `sscc`."""
        with self.lock:
            now = stamp(time.time())
            if sscc is not None:
                self.boxes.setdefault(sscc, Box(sscc=sscc, owner=place)).owner = place
            for code in sgtins:
                old = self.packs.get(code)
                if old is not None and old.sscc and old.sscc in self.boxes and old.sscc != sscc:
                    self.boxes[old.sscc].sgtins.remove(code)
                self.packs[code] = Pack(sgtin=code, owner=place, state=state, sscc=sscc, receiver=receiver,
                                        series_number=series_number or "DEMO0001",
                                        expiration_date=expiration_date or "31.12.2030", status_date=now)
                if sscc is not None and code not in self.boxes[sscc].sgtins:
                    self.boxes[sscc].sgtins.append(code)
        return len(sgtins)

    def incoming_move_order(self, *, sender: str, receiver: str, sgtins: list[str],
                            boxes: dict[str, list[str]] | None = None, doc_num: str | None = None,
                            source: int = 2, contract_type: int = 6, contract_num: str | None = None,
                            cost: str = "100.00", vat_value: str = "9.09", series_number: str | None = None,
                            expiration_date: str | None = None) -> str:
        """A counterparty (a demo supplier) ships packs to `receiver`: they are registered at `sender` in
        transit to `receiver`, and a 601 lands in the receiver's income list, ready for its 701."""
        boxes = boxes or {}
        with self.lock:
            common = {"place": sender, "state": "in_transit", "receiver": receiver,
                      "series_number": series_number, "expiration_date": expiration_date}
            self.seed(sgtins=sgtins, **common)
            for sscc, content in boxes.items():
                self.seed(sgtins=content, sscc=sscc, **common)
            xml = xmldocs.move_order_601(
                sender=sender, receiver=receiver, sgtins=sgtins, boxes=boxes,
                doc_num=doc_num or f"ОТГ-{len(self.income) + 1:06d}", doc_date=today_text(), source=source,
                contract_type=contract_type, contract_num=contract_num, cost=cost, vat_value=vat_value)
            return self.add_income(doc_type=601, xml=xml, sender_id=sender, receiver_id=receiver)

    def sgtin(self, code: str) -> dict:
        with self.lock:
            pack = self.packs.get(code)
            if pack is None:
                raise StoreError(404, f"Код маркировки {code} не найден в реестре", "SGTIN_NOT_FOUND")
            return pack.info()

    def sgtins(self, codes: list[str]) -> list[dict]:
        with self.lock:
            return [self.packs[code].info() for code in codes if code in self.packs]

    def hierarchy(self, sscc: str) -> dict:
        with self.lock:
            box = self.boxes.get(sscc)
            if box is None:
                raise StoreError(404, f"Транспортная упаковка {sscc} не найдена в реестре", "SSCC_NOT_FOUND")
            chain = [box]
            while chain[0].parent is not None and chain[0].parent in self.boxes:
                chain.insert(0, self.boxes[chain[0].parent])
            up: dict | None = None
            for node in reversed(chain):
                up = {"sscc": node.sscc, "owner_id": node.owner, "childs": [up] if up else []}
            return {"up": up, "down": self._tree(box)}

    def _tree(self, box: Box) -> dict:
        childs = [{"sgtin": code, "status": self.packs[code].state} for code in box.sgtins if code in self.packs]
        childs += [self._tree(self.boxes[code]) for code in box.boxes if code in self.boxes]
        return {"sscc": box.sscc, "owner_id": box.owner, "childs": childs}

    def packs_in(self, sscc: str) -> list[Pack]:
        """Every pack inside a box, nested boxes included."""
        found, stack = [], [sscc]
        while stack:
            box = self.boxes.get(stack.pop())
            if box is None:
                continue
            found += [self.packs[code] for code in box.sgtins if code in self.packs]
            stack += box.boxes
        return found

    def boxes_in(self, sscc: str) -> list[Box]:
        found, stack = [], [sscc]
        while stack:
            box = self.boxes.get(stack.pop())
            if box is not None:
                found.append(box)
                stack += box.boxes
        return found


FILTERS = {"doc_type", "doc_status", "sender_id", "receiver_id", "document_id", "request_id", "start_date",
           "end_date"}


def _matches(document: Document, filter: dict) -> bool:
    for name, value in filter.items():
        if name == "start_date":
            if document.date < str(value):
                return False
        elif name == "end_date":
            if document.date > str(value):
                return False
        elif name == "doc_type":
            if document.doc_type != int(value):
                return False
        elif getattr(document, name) != value:
            return False
    return True


def today_text() -> str:
    return date.today().strftime("%d.%m.%Y")
