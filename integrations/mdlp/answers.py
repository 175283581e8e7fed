"""What MDLP answers, as the client returns it, and the checks that turn an answer into it: a value of the
wrong type or shape, an unknown status, a tree too deep raise `MdlpAnswerInvalid` (nothing is changed)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from .errors import MdlpAnswerInvalid

STATUSES = frozenset({
    "UPLOADING_DOCUMENT", "PROCESSING_DOCUMENT", "CORE_PROCESSING_DOCUMENT", "CORE_PROCESSED_DOCUMENT",
    "PROCESSED_DOCUMENT", "FAILED", "FAILED_RESULT_READY",
})
RESULT_READY = frozenset({"PROCESSED_DOCUMENT", "FAILED_RESULT_READY"})
FINAL = RESULT_READY | {"FAILED"}
MAX_TREE_DEPTH = 32
MAX_TREE_NODES = 200_000
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:\-]{0,199}")
SGTIN = re.compile(r"\d{14}[A-Za-z0-9]{13}")
SSCC = re.compile(r"\d{18}")
_PLACE = re.compile(r"\d{14}")


@dataclass(frozen=True)
class DocumentStatus:
    document_id: str
    doc_status: str
    request_id: str | None = None
    doc_type: int | None = None
    date: str | None = None
    processed_date: str | None = None

    @property
    def finished(self) -> bool:
        """No further change: a result (PROCESSED_DOCUMENT / FAILED_RESULT_READY) or FAILED without one."""
        return self.doc_status in FINAL

    @property
    def result_ready(self) -> bool:
        """The ticket (the 200 `result`) can be downloaded."""
        return self.doc_status in RESULT_READY


@dataclass(frozen=True)
class DocumentInfo:
    document_id: str
    doc_type: int
    doc_status: str
    date: str
    request_id: str | None = None
    sender_id: str | None = None
    receiver_id: str | None = None


@dataclass(frozen=True)
class DocumentsPage:
    documents: list[DocumentInfo]
    total: int


@dataclass(frozen=True)
class SgtinInfo:
    sgtin: str
    status: str
    owner_id: str  # the place of activity that holds it (sys_id)
    gtin: str
    sscc: str | None = None
    series_number: str | None = None
    expiration_date: str | None = None
    status_date: str | None = None


@dataclass(frozen=True)
class SsccNode:
    sscc: str
    sgtins: tuple[str, ...]
    boxes: tuple[SsccNode, ...]

    def all_sgtins(self) -> list[str]:
        found, stack = [], [self]
        while stack:
            node = stack.pop()
            found.extend(node.sgtins)
            stack.extend(node.boxes)
        return found


@dataclass(frozen=True)
class SsccHierarchy:
    sscc: str
    path: tuple[str, ...]  # the boxes from the outermost down to this one (this one last)
    down: SsccNode  # this box and everything inside it


def invalid(what: str, reason: str, text: str) -> MdlpAnswerInvalid:
    return MdlpAnswerInvalid(f"МДЛП ответила непонятно ({what}): {text}. Ничего не изменено; запрос можно повторить",
                             details={"reason": reason})


def check_id(value, name: str) -> None:
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise ValueError(f"{name}: 1-200 characters: letters, digits, '.', '_', ':', '-'")


def answer_id(value, name: str, what: str) -> str:
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise invalid(what, "shape", f"нет идентификатора {name}")
    return value


def status_of(data: dict, what: str) -> str:
    status = data.get("doc_status")
    if not isinstance(status, str):
        raise invalid(what, "shape", "нет статуса doc_status")
    if status not in STATUSES:
        raise invalid(what, "unknown_status", f"неизвестный статус документа {status[:60]!r}")
    return status


def is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def opt_int(value, name: str, what: str) -> int | None:
    return None if value is None else req_int(value, name, what)


def req_int(value, name: str, what: str) -> int:
    if is_int(value):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 6:
        return int(value)
    raise invalid(what, "shape", f"поле {name} не число")


def opt_str(value) -> str | None:
    return value[:200] if isinstance(value, str) else None


def req_str(value, name: str, what: str) -> str:
    if not isinstance(value, str) or not value or len(value) > 200:
        raise invalid(what, "shape", f"нет поля {name}")
    return value


def opt_place(value, what: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _PLACE.fullmatch(value):
        raise invalid(what, "shape", "идентификатор места деятельности не из 14 цифр")
    return value


def document_info(item: dict, what: str) -> DocumentInfo:
    """One entry of an income or outcome list."""
    return DocumentInfo(
        document_id=answer_id(item.get("document_id"), "document_id", what),
        doc_type=req_int(item.get("doc_type"), "doc_type", what), doc_status=status_of(item, what),
        date=req_str(item.get("date"), "date", what), request_id=opt_str(item.get("request_id")),
        sender_id=opt_place(item.get("sender_id"), what), receiver_id=opt_place(item.get("receiver_id"), what))


def sgtin_info(info: dict, what: str) -> SgtinInfo:
    sgtin = info.get("sgtin")
    if not isinstance(sgtin, str) or not SGTIN.fullmatch(sgtin):
        raise invalid(what, "shape", "нет кода sgtin")
    sscc = info.get("sscc")
    if sscc is not None and (not isinstance(sscc, str) or not SSCC.fullmatch(sscc)):
        raise invalid(what, "shape", "неверный SSCC")
    owner = info.get("sys_id")
    if not isinstance(owner, str) or not _PLACE.fullmatch(owner):
        raise invalid(what, "shape", "нет места деятельности владельца (sys_id)")
    return SgtinInfo(sgtin=sgtin, status=req_str(info.get("status"), "status", what), owner_id=owner,
                     gtin=sgtin[:14], sscc=sscc, series_number=opt_str(info.get("batch")),
                     expiration_date=opt_str(info.get("expiration_date")),
                     status_date=opt_str(info.get("status_date")))


def sscc_tree(node: dict, what: str, count: list[int], depth: int = 0) -> SsccNode:
    count[0] += 1
    if depth > MAX_TREE_DEPTH or count[0] > MAX_TREE_NODES:
        raise invalid(what, "too_large", "слишком глубокая или большая иерархия")
    sscc, children = node.get("sscc"), node.get("childs") or []
    if not isinstance(sscc, str) or not SSCC.fullmatch(sscc) or not isinstance(children, list):
        raise invalid(what, "shape", "узел иерархии без SSCC или списка childs")
    sgtins, boxes = [], []
    for child in children:
        if isinstance(child, dict) and isinstance(child.get("sgtin"), str) and SGTIN.fullmatch(child["sgtin"]):
            sgtins.append(child["sgtin"])
            count[0] += 1
        elif isinstance(child, dict) and "sscc" in child:
            boxes.append(sscc_tree(child, what, count, depth + 1))
        else:
            raise invalid(what, "shape", "элемент иерархии не SGTIN и не SSCC")
    return SsccNode(sscc=sscc, sgtins=tuple(sgtins), boxes=tuple(boxes))


def error_of(body: bytes) -> tuple[str | None, str | None]:
    """MDLP's error code and description from an error answer, shortened; nothing when unreadable."""
    try:
        data = json.loads(body[:64 * 1024])
    except (ValueError, RecursionError):
        return None, None
    if not isinstance(data, dict):
        return None, None
    code = data.get("error_code", data.get("code"))
    text = data.get("error_description", data.get("message"))
    return (str(code)[:60] if code is not None else None,
            str(text)[:500] if text is not None else None)


def error_suffix(body: bytes) -> str:
    _, text = error_of(body)
    return f" ({text[:200]})" if text else ""


def retry_after(headers) -> float:
    value = (headers or {}).get("Retry-After", "")
    try:
        return max(float(value), 0.0)
    except ValueError:
        return 0.0
