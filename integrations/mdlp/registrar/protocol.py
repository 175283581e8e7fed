"""What goes to a withdrawal registrar and what comes back: the request body of `POST /v1/requests`, the
answer of `GET /v1/requests/{rvRequestId}` read into `RegistrarRequest`, and the checks of our input.

The facts (field names, status values, the per-code result fields and their codes) are listed in the
docstring of `client.py` and in docs/mdlp-registrar.md, with what is not confirmed.
"""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import NamedTuple

from integrations.mdlp.documents.outgoing import SgtinPart
from llo.barcodes import GS, GS1_CHARS, is_valid_gtin

from .errors import RegistrarAnswerInvalid, RegistrarInvalidInput

REQUEST_TYPE = "registerMarksByRequisites"
# documentOut of a dispensing by prescription: type 1 (0 is a requisition-invoice, code 0504204)
PRESCRIPTION = {"type": 1, "code": "3108805", "codeName": "Рецепт по форме 148-1/у-04(л)"}
IN_PROGRESS = frozenset({"wait", "inProgress"})
READY, ERROR = "ready", "error"
STATUSES = IN_PROGRESS | {READY, ERROR}
# rvRequestId is a UUID: our outbox key (any string) becomes a name-based UUID, the same one every time
NAMESPACE = uuid.UUID("6f1c7a52-3f0e-5d43-9a57-2d1b8e0c4a61")
MAX_TEXT = 200
MAX_MARKS = 25_000  # an MDLP document's limit; the device documents none we know of

_SGTIN = re.compile(r"[0-9]{14}[a-zA-Z0-9]{13}")
_PART = re.compile(r"([1-9][0-9]{0,5})/([1-9][0-9]{0,5})")
_KEY = re.compile(r"[A-Za-z0-9._:\-]{1,200}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

# per-code result fields: the one that says "done" and the ones whose non-zero value is a refusal
ONLINE_STATUS = "onlineCheckStatus"  # 0 passed, 1 not made, 2 failed
REFUSALS = {
    "deviceError": {1: "устройство недоступно", 2: "устройство не функционирует", 3: "нет модуля безопасности РВ",
                    4: "истёк срок модуля безопасности РВ", 5: "модуль безопасности РВ заблокирован",
                    6: "модуль безопасности РВ не работает", 7: "РВ не зарегистрирован",
                    8: "нет связи с сервером эмитента"},
    "flcError": {1: "недопустимый идентификатор применения в коде", 2: "недопустимые символы в коде",
                 3: "недопустимая длина элемента кода", 4: "код ТН ВЭД не относится к лекарствам",
                 5: "недопустимый порядок элементов кода", 6: "недопустимая доля упаковки"},
    "onlineCheckError": {1: "кода нет в ИС МДЛП", 2: "неверный формат кода", 3: "код не прошёл криптопроверку",
                         4: "статус кода не допускает выбытия (уже выбыл, не принадлежит аптеке …)"},
}


@dataclass(frozen=True)
class RegistrarMark:
    """A pack to report: its SGTIN, the part sold (`"n/m"`) when it is sold partially, and the full code
    as scanned (GS1 element string with the 91/92 crypto tail) when it is kept."""

    sgtin: str
    sold_part: str | None = None
    code: str | None = None


class CodeError(NamedTuple):
    sgtin: str
    code: str  # "<field>:<value>", e.g. "onlineCheckError:4"
    description: str


@dataclass(frozen=True)
class RegistrarRequest:
    """A registrar's request as last seen. `status` is the device's own value (wait, inProgress, ready,
    error); `finished` once it is ready or error. A ready request lists the refused codes in
    `codes_errors` and the reported ones in `registered`; an error request has `error_code`/`_description`."""

    request_id: str
    status: str
    finished: bool
    codes_errors: tuple[CodeError, ...] = ()
    registered: tuple[str, ...] = ()
    mdlp_request_id: str | None = None
    error_code: str | None = None
    error_description: str | None = None

    @property
    def succeeded(self) -> bool:
        """Every code reported: ready and nothing refused."""
        return self.status == READY and not self.codes_errors


# --- our input -------------------------------------------------------------------------------------

def rv_request_id(request_id) -> str:
    """The device's rvRequestId for our idempotency key: the key itself when it is a UUID, otherwise the
    UUID named by it (uuid5), so a resend of one outbox message always carries the same rvRequestId."""
    if not isinstance(request_id, str) or not _KEY.fullmatch(request_id):
        raise _bad("request_id", "ключ запроса: 1–200 латинских букв, цифр, «.», «_», «:», «-»", request_id)
    return _uuid(request_id) or str(uuid.uuid5(NAMESPACE, request_id))


def check_request_id(value) -> str:
    """A registrar's request id as returned by `register_by_prescription` (a UUID)."""
    checked = _uuid(value)
    if checked is None:
        raise _bad("registrar_request_id", "идентификатор задания РВ — UUID", value)
    return checked


def _uuid(value) -> str | None:
    if isinstance(value, str) and len(value) == 36:
        try:
            return str(uuid.UUID(value))
        except ValueError:
            pass
    return None


def request_body(marks: Sequence[RegistrarMark | SgtinPart | str], *, prescription_date: date, series: str,
                 number: str, rv_id: str) -> dict:
    """The JSON of `POST /v1/requests`, or RegistrarInvalidInput naming the first wrong field."""
    if not isinstance(prescription_date, date) or isinstance(prescription_date, datetime):
        raise _bad("prescription_date", "дата рецепта — дата (datetime.date)", prescription_date)
    number = _text(number, "number", required=True)
    series = _text(series, "series", required=False)
    if isinstance(marks, str) or not isinstance(marks, Sequence) or not marks:
        raise _bad("sgtins", "нужен хотя бы один код маркировки", None)
    if len(marks) > MAX_MARKS:
        raise _bad("sgtins", f"не больше {MAX_MARKS} кодов в одном задании", len(marks))
    items, seen = {}, set()
    for index, item in enumerate(marks):
        mark = _mark(item, f"sgtins[{index}]")
        if mark.sgtin in seen:
            raise _bad(f"sgtins[{index}]", f"код {mark.sgtin} указан дважды", mark.sgtin)
        seen.add(mark.sgtin)
        entry = {"mark": base64.b64encode((mark.code or f"01{mark.sgtin[:14]}21{mark.sgtin[14:]}").encode()).decode()}
        if mark.sold_part:
            entry["soldPart"] = mark.sold_part
        items[str(index + 1)] = entry
    # the date of a prescription at 00:00 UTC: the same calendar day whether the device keeps UTC or
    # converts to any Russian time zone (all east of UTC)
    document = {**PRESCRIPTION, "date": f"{prescription_date.isoformat()}T00:00:00Z", "series": series,
                "number": number}
    return {"rvRequestId": rv_id, "request": {"type": REQUEST_TYPE, "documentOut": document, "marks": items}}


def _mark(item, field: str) -> RegistrarMark:
    if isinstance(item, str):
        item = RegistrarMark(item)
    elif isinstance(item, SgtinPart):
        item = RegistrarMark(item.sgtin, item.part)
    elif not isinstance(item, RegistrarMark):
        raise _bad(field, "ожидается SGTIN (строка), SgtinPart или RegistrarMark", type(item).__name__)
    sgtin = item.sgtin
    if not isinstance(sgtin, str) or not _SGTIN.fullmatch(sgtin) or not is_valid_gtin(sgtin[:14]):
        raise _bad(field, "SGTIN — 27 символов: GTIN из 14 цифр с верной контрольной цифрой и серийный номер "
                          "из 13 латинских букв и цифр", sgtin)
    if item.sold_part is not None:
        found = _PART.fullmatch(item.sold_part) if isinstance(item.sold_part, str) else None
        if found is None or int(found[1]) > int(found[2]):
            raise _bad(f"{field}.sold_part", "доля упаковки записывается как «n/m» (0 < n ≤ m)", item.sold_part)
    if item.code is not None:
        code = item.code
        if (not isinstance(code, str) or len(code) > MAX_TEXT or not code.startswith(f"01{sgtin[:14]}21{sgtin[14:]}")
                or not set(code) <= GS1_CHARS | {GS} or (len(code) > 31 and code[31] != GS)):
            raise _bad(f"{field}.code", "полный код — строка GS1 этого SGTIN (01…21…<GS>91…<GS>92…)", None)
    return item


def _text(value, field: str, *, required: bool) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or len(value.strip()) > MAX_TEXT or _CONTROL.search(value):
        raise _bad(field, f"строка до {MAX_TEXT} символов без управляющих символов", value)
    if required and not value.strip():
        raise _bad(field, "номер рецепта не может быть пустым", value)
    return value.strip()


def _bad(field: str, text: str, value) -> RegistrarInvalidInput:
    shown = value if isinstance(value, (int, type(None))) else str(value)[:60]
    return RegistrarInvalidInput(f"Задание для регистратора выбытия не составлено: {field}: {text}",
                                 details={"field": field, "value": shown})


# --- the device's answers --------------------------------------------------------------------------

def parse_request(data, rv_id: str, what: str) -> RegistrarRequest:
    """`GET /v1/requests/{id}`'s JSON: `{results: {status, result: {mdlpRequestId, marks}, error}}`."""
    results = data.get("results") if isinstance(data, dict) else None
    if not isinstance(results, dict):
        raise invalid(what, "shape", "нет объекта results")
    status = results.get("status")
    if not isinstance(status, str):
        raise invalid(what, "shape", "нет статуса results.status")
    if status not in STATUSES:
        raise invalid(what, "unknown_status", f"неизвестный статус задания {status[:60]!r}")
    if status in IN_PROGRESS:
        return RegistrarRequest(request_id=rv_id, status=status, finished=False)
    if status == ERROR:
        error = results.get("error")
        if not isinstance(error, dict) or not _scalar(error.get("code")) or not isinstance(
                error.get("description", ""), str):
            raise invalid(what, "shape", "у задания с ошибкой нет error.code/error.description")
        return RegistrarRequest(request_id=rv_id, status=status, finished=True, error_code=str(error["code"])[:60],
                                error_description=(error.get("description") or "")[:500])
    result = results.get("result")
    marks = result.get("marks", {}) if isinstance(result, dict) else None
    mdlp_id = result.get("mdlpRequestId") if isinstance(result, dict) else None
    if not isinstance(marks, dict) or (mdlp_id is not None and not isinstance(mdlp_id, str)):
        raise invalid(what, "shape", "у выполненного задания нет result.marks")
    errors, registered = [], []
    for key, entry in marks.items():
        sgtin = _sgtin_of(key, entry, what)
        refused = _refusal(sgtin, entry, what)
        (errors if refused else registered).append(refused or sgtin)
    return RegistrarRequest(request_id=rv_id, status=status, finished=True, codes_errors=tuple(errors),
                            registered=tuple(registered), mdlp_request_id=mdlp_id[:200] if mdlp_id else None)


def _sgtin_of(key: str, entry, what: str) -> str:
    """The SGTIN a per-code result is about: its `sgtin`, the SGTIN inside its base64 `mark`, or its key."""
    if not isinstance(entry, dict):
        raise invalid(what, "shape", "результат по коду не объект")
    if isinstance(entry.get("sgtin"), str) and _SGTIN.fullmatch(entry["sgtin"]):
        return entry["sgtin"]
    if isinstance(entry.get("mark"), str) and len(entry["mark"]) <= 4 * MAX_TEXT:
        try:
            code = base64.b64decode(entry["mark"], validate=True).decode("ascii")
        except (binascii.Error, ValueError):
            raise invalid(what, "shape", "поле mark не base64 кода маркировки") from None
        sgtin = code[2:16] + code[18:31]
        if code.startswith("01") and code[16:18] == "21" and _SGTIN.fullmatch(sgtin):
            return sgtin
    if _SGTIN.fullmatch(key):
        return key
    raise invalid(what, "shape", "в результате по коду не найден SGTIN")


def _refusal(sgtin: str, entry: dict, what: str) -> CodeError | None:
    values = {}
    if ONLINE_STATUS not in entry:
        raise invalid(what, "shape", f"в результате по коду {sgtin} нет {ONLINE_STATUS}")
    for name in (ONLINE_STATUS, *REFUSALS):
        value = entry.get(name, 0)
        if not isinstance(value, int) or isinstance(value, bool) or not -1 <= value < 1000:
            raise invalid(what, "shape", f"поле {name} не число")
        values[name] = value
    for name, texts in REFUSALS.items():
        if values[name] > 0:
            return CodeError(sgtin, f"{name}:{values[name]}", texts.get(values[name], "код ошибки устройства"))
    if values[ONLINE_STATUS] != 0:
        return CodeError(sgtin, f"{ONLINE_STATUS}:{values[ONLINE_STATUS]}",
                         "выбытие не зарегистрировано: проверка в ИС МДЛП не проведена или не пройдена")
    return None


def _scalar(value) -> bool:
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def invalid(what: str, reason: str, text: str) -> RegistrarAnswerInvalid:
    return RegistrarAnswerInvalid(f"Регистратор выбытия ответил непонятно ({what}): {text}. Ничего не изменено; "
                                  "запрос можно повторить", details={"reason": reason})
