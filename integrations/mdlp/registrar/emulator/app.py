"""The WSGI application: the registrar's REST API (`POST /v1/requests`, `GET /v1/requests/{id}`) and the
emulator's control API (`/_emulator/…`). It reads requests with its own checks (not the client's code)."""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
import re
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from http import HTTPStatus

from integrations.emulator_controls import control_api
from llo.barcodes import is_valid_gtin

from .controls import Controls
from .store import REFUSAL_CODES, Mark, Registrar

logger = logging.getLogger("integrations.mdlp.registrar.emulator")

MAX_BODY = 16 * 2**20
MAX_MARKS = 25_000
UNKNOWN_STATUS = "lostInSpace"
_REQUEST = re.compile(r"^/v1/requests/(?P<id>[^/]+)/?$")
_SGTIN = re.compile(r"01(?P<gtin>[0-9]{14})21(?P<serial>[a-zA-Z0-9]{13})(\x1d.*)?", re.DOTALL)
_PART = re.compile(r"([1-9][0-9]*)/([1-9][0-9]*)")


class BadRequest(ValueError):
    pass


def json_response(status: int, data) -> tuple[int, list[bytes], list[tuple[str, str]]]:
    body = json.dumps(data, ensure_ascii=False).encode()
    return status, [body], [("Content-Type", "application/json; charset=utf-8"), ("Content-Length", str(len(body)))]


def error(status: int, code: str, description: str):
    return json_response(status, {"error": {"code": code, "description": description}})


class RegistrarApp:
    def __init__(self, registrar: Registrar, controls: Controls, *, credentials: tuple[str, str] | None = None):
        self.registrar = registrar
        self.controls = controls
        self.credentials = credentials  # (user, password) of HTTP Basic, or None: no check

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "") or "/"
        method = environ.get("REQUEST_METHOD", "GET")
        try:
            if path.startswith("/_emulator/"):
                status, body, headers = self._control(method, path, environ)
            else:
                status, body, headers = self._api(method, path, environ)
        except BadRequest as exc:
            status, body, headers = error(400, "BAD_REQUEST", str(exc))
        except Exception:
            logger.exception("Registrar emulator: %s %s failed", method, path)
            status, body, headers = error(500, "INTERNAL", "Внутренняя ошибка регистратора")
        phrase = HTTPStatus(status).phrase
        start_response(f"{status} {phrase}", headers)
        return body

    # --- the API ------------------------------------------------------------------------------

    def _api(self, method: str, path: str, environ):
        self.registrar.log_call(method, path)
        behaviour = self.controls.behaviour
        if behaviour.latency_ms:
            time.sleep(behaviour.latency_ms / 1000)
        if self.controls.take_fail_next() or self.controls.fails_now(behaviour.fail_rate):
            return error(503, "SERVICE_UNAVAILABLE", "Регистратор занят, повторите запрос позже")
        if self.credentials is not None and not self._authorized(environ):
            status, body, headers = error(401, "UNAUTHORIZED", "Неверное имя пользователя или пароль")
            return status, body, [*headers, ("WWW-Authenticate", 'Basic realm="RV"')]
        if path.rstrip("/") == "/v1/requests":
            if method != "POST":
                return error(405, "METHOD_NOT_ALLOWED", "Ожидается POST")
            return self._hostile(*self._queue(_read_json(environ)), kind="post")
        found = _REQUEST.match(path)
        if found:
            if method != "GET":
                return error(405, "METHOD_NOT_ALLOWED", "Ожидается GET")
            request = self.registrar.request(found["id"], behaviour.device_error)
            if request is None:
                return error(404, "NOT_FOUND", f"Задание {found['id'][:60]} не найдено")
            return self._hostile(*json_response(200, request.answer()), kind="get")
        return error(404, "NOT_FOUND", "Метод API не найден")

    def _authorized(self, environ) -> bool:
        scheme, _, value = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
        try:
            given = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, ValueError):
            return False
        expected = "{}:{}".format(*self.credentials)
        return scheme.lower() == "basic" and hmac.compare_digest(given.encode(), expected.encode())

    def _queue(self, payload: dict):
        rv_id = payload.get("rvRequestId")
        if not isinstance(rv_id, str) or not _is_uuid(rv_id):
            raise BadRequest("rvRequestId: ожидается UUID задания")
        request = _object(payload, "request", "request")
        kind = request.get("type")
        if kind != "registerMarksByRequisites":
            raise BadRequest(f"request.type: эмулятор принимает только registerMarksByRequisites, получено {kind!r}")
        document = _document(_object(request, "documentOut", "request.documentOut"))
        marks = _marks(_object(request, "marks", "request.marks"))
        if not self.registrar.queue(rv_id, document, marks, self.controls.behaviour.processing_ms / 1000):
            return error(409, "ALREADY_EXISTS", f"Задание {rv_id} уже есть")
        logger.info("Registrar emulator: request %s queued (%d codes)", rv_id, len(marks))
        return json_response(201, {"rvRequestId": rv_id})

    def _hostile(self, status: int, body: list[bytes], headers, *, kind: str):
        mode = self.controls.behaviour.hostile
        if mode is None or status >= 400:
            return status, body, headers
        data = json.loads(b"".join(body))
        if mode == "json":
            cut = b"".join(body)[: len(b"".join(body)) // 2]
            return status, [cut], [("Content-Type", "application/json"), ("Content-Length", str(len(cut)))]
        if mode == "huge":
            size = self.controls.behaviour.huge_bytes
            return status, _padding(size), [("Content-Type", "application/json"), ("Content-Length", str(size))]
        if mode == "shape":
            return json_response(status, [data] if kind == "post" else {"rvRequestId": data["rvRequestId"]})
        if kind == "get" and mode == "status":
            data["results"]["status"] = UNKNOWN_STATUS
        if kind == "get" and mode == "types":
            data["results"] = {"status": "ready", "result": {"marks": {"1": {"sgtin": 42, "onlineCheckStatus": "0"}}}}
        return json_response(status, data)

    # --- the control API -----------------------------------------------------------------------

    def _control(self, method: str, path: str, environ):
        action = path.removeprefix("/_emulator/").rstrip("/")
        try:
            if action == "calls" and method == "GET":
                with self.registrar.lock:
                    return json_response(200, {"calls": list(self.registrar.calls)})
            if action == "requests" and method == "GET":
                with self.registrar.lock:
                    kept = [{"rvRequestId": r.rv_id, "status": r.status, "documentOut": r.document,
                             "sgtins": [m.sgtin for m in r.marks]} for r in self.registrar.requests.values()]
                return json_response(200, {"requests": kept})
            if action == "refuse" and method == "POST":
                payload = _read_json(environ)
                sgtins, code = payload.get("sgtins"), payload.get("code", 4)
                if not isinstance(sgtins, list) or not all(isinstance(s, str) and _sgtin(f"01{s[:14]}21{s[14:]}")
                                                           for s in sgtins):
                    raise ValueError("sgtins: ожидается список SGTIN (27 символов, верная контрольная цифра GTIN)")
                if code not in REFUSAL_CODES:
                    raise ValueError("code: onlineCheckError, одно из 1, 2, 3, 4")
                return json_response(200, {"ok": True, "refused": self.registrar.refuse(sgtins, code)})
        except (ValueError, BadRequest) as exc:
            return json_response(400, {"ok": False, "error": str(exc)})
        status, body = control_api(self.controls, method, path, lambda: _read_json(environ),
                                   reset=self.registrar.reset, publish=_no_publish)
        return json_response(status, body)


def _no_publish(payload: dict) -> dict:
    raise ValueError("publish: у эмулятора РВ нечего публиковать; коды для отказа — POST /_emulator/refuse")


def _document(document: dict) -> dict:
    if document.get("type") not in (0, 1) or isinstance(document.get("type"), bool):
        raise BadRequest("documentOut.type: 0 (требование-накладная) или 1 (рецепт)")
    for name in ("code", "codeName"):
        if not isinstance(document.get(name), str) or not document[name].strip():
            raise BadRequest(f"documentOut.{name}: ожидается непустая строка")
    when = document.get("date")
    try:
        parsed = datetime.fromisoformat(when) if isinstance(when, str) else None
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise BadRequest("documentOut.date: ожидается дата и время ISO 8601 с часовым поясом (…Z)")
    if not isinstance(document.get("series", ""), str):
        raise BadRequest("documentOut.series: ожидается строка")
    number = document.get("number")
    if isinstance(number, bool) or not isinstance(number, (str, int)) or not str(number).strip():
        raise BadRequest("documentOut.number: ожидается непустой номер документа")
    return document


def _marks(marks: dict) -> tuple[Mark, ...]:
    if not marks or len(marks) > MAX_MARKS:
        raise BadRequest(f"request.marks: от 1 до {MAX_MARKS} кодов")
    kept, seen = [], set()
    for key, entry in marks.items():
        mark = entry.get("mark") if isinstance(entry, dict) else None
        try:
            code = base64.b64decode(mark, validate=True).decode("ascii") if isinstance(mark, str) else None
        except (binascii.Error, ValueError):
            code = None
        sgtin = _sgtin(code) if code else None
        if sgtin is None:
            raise BadRequest(f"request.marks[{key}].mark: ожидается base64 кода маркировки 01<GTIN>21<серийный номер>…")
        part = entry.get("soldPart")
        found = _PART.fullmatch(part) if isinstance(part, str) else None
        if part is not None and (found is None or int(found[1]) > int(found[2])):
            raise BadRequest(f"request.marks[{key}].soldPart: доля упаковки «n/m», 0 < n ≤ m")
        if sgtin in seen:
            raise BadRequest(f"request.marks[{key}]: код {sgtin} в задании дважды")
        seen.add(sgtin)
        kept.append(Mark(key=str(key), mark=mark, sgtin=sgtin, sold_part=part))
    return tuple(kept)


def _sgtin(code: str) -> str | None:
    found = _SGTIN.fullmatch(code)
    if found is None or not is_valid_gtin(found["gtin"]):
        return None
    return found["gtin"] + found["serial"]


def _object(payload: dict, name: str, label: str) -> dict:
    value = payload.get(name)
    if not isinstance(value, dict):
        raise BadRequest(f"{label}: ожидается объект" if name in payload else f"{label}: обязательное поле отсутствует")
    return value


def _is_uuid(value: str) -> bool:
    try:
        return len(value) == 36 and bool(uuid.UUID(value))
    except ValueError:
        return False


def _padding(size: int) -> Iterator[bytes]:
    head, tail = b'{"padding": "', b'"}'
    yield head
    left = size - len(head) - len(tail)
    while left > 0:
        yield b"x" * min(left, 65536)
        left -= 65536
    yield tail


def _read_json(environ) -> dict:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise BadRequest("неверный Content-Length") from None
    if length > MAX_BODY:
        raise BadRequest(f"запрос больше {MAX_BODY} байт")
    body = environ["wsgi.input"].read(length) if length else b""
    try:
        payload = json.loads(body) if body.strip() else {}
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise BadRequest("тело запроса не JSON") from None
    if not isinstance(payload, dict):
        raise BadRequest("ожидается объект JSON")
    return payload
