"""The WSGI application: the service (`GET /FrlChangesService?wsdl`, `POST /FrlChangesService`)
and the emulator's control API (`/_emulator/…`)."""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from http import HTTPStatus

from integrations.emulator_controls import control_api

from ..dbf import PERSON_FIELDS
from . import soap
from .controls import Controls
from .soap import SoapFault
from .store import ACTIONS, BENEFIT_FIELDS, Entry, Register, person_entry

logger = logging.getLogger("integrations.sfr.emulator")

SERVICE_PATH = "/FrlChangesService"
DEFAULT_PAGE_SIZE = 1000
MAX_PAGE_SIZE = 5000
MAX_REQUEST_BODY = 1024 * 1024
MAX_CONTROL_BODY = 64 * 1024 * 1024
# characters XML 1.0 cannot carry
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


@dataclass
class Response:
    status: int
    body: Iterable[bytes]
    headers: list[tuple[str, str]]


def _response(status: int, body: bytes, content_type: str, *, length: int | None = None) -> Response:
    return Response(status, [body], [("Content-Type", content_type),
                                     ("Content-Length", str(len(body) if length is None else length))])


def json_response(status: int, data) -> Response:
    return _response(status, json.dumps(data, ensure_ascii=False).encode(), "application/json; charset=utf-8")


def soap_fault(fault: SoapFault) -> Response:
    return _response(500, soap.fault_answer(fault), soap.CONTENT_TYPE)


class FrlApp:
    def __init__(self, register: Register, controls: Controls):
        self.register = register
        self.controls = controls

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "") or "/"
        method = environ.get("REQUEST_METHOD", "GET")
        try:
            if path.startswith("/_emulator/"):
                response = self._control(method, path, environ)
            elif path == SERVICE_PATH:
                response = self._service(method, environ)
            else:
                response = _response(404, "Ресурс не найден".encode(), "text/plain; charset=utf-8")
        except Exception:
            logger.exception("SFR emulator: %s %s failed", method, path)
            response = soap_fault(SoapFault("Server", "Внутренняя ошибка сервера", "INTERNAL"))
        status = HTTPStatus(response.status)
        start_response(f"{status.value} {status.phrase}", response.headers)
        return response.body

    # --- the service ----------------------------------------------------------------------

    def _service(self, method: str, environ) -> Response:
        behaviour = self.controls.behaviour
        if behaviour.latency_ms:
            time.sleep(behaviour.latency_ms / 1000)
        if self.controls.fails_now(behaviour.fail_rate):
            return soap_fault(SoapFault("Server", "Сервис временно недоступен, повторите запрос позже", "UNAVAILABLE"))
        if method == "GET" and environ.get("QUERY_STRING", "").lower() == "wsdl":
            host = environ.get("HTTP_HOST") or f"{environ.get('SERVER_NAME')}:{environ.get('SERVER_PORT')}"
            return _response(200, soap.wsdl(f"http://{host}{SERVICE_PATH}"), soap.CONTENT_TYPE)
        if method != "POST":
            return _response(405, "Ожидается POST (SOAP) или GET ?wsdl".encode(), "text/plain; charset=utf-8")
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_REQUEST_BODY:
            return soap_fault(SoapFault("Client", "Запрос слишком велик или без Content-Length", "BAD_REQUEST"))
        try:
            request = soap.parse_request(environ["wsgi.input"].read(length))
            if behaviour.hostile:
                return _response(200, soap.hostile_answer(behaviour.hostile, request.operation), soap.CONTENT_TYPE)
            self._check_region(request.values["regionCode"])
            if request.operation == "GetCurrentVersion":
                current = self.register.current()
                body = soap.current_version_answer(current.number, current.day, extra=behaviour.corrupt == "schema")
                page = 1
            else:
                body, page = self._changes(request.values, extra=behaviour.corrupt == "schema")
        except SoapFault as fault:
            return soap_fault(fault)
        if behaviour.corrupt == "xml":
            return _response(200, body[: len(body) // 2], soap.CONTENT_TYPE)
        if request.operation == "GetChanges" and behaviour.fail_on_page == page:
            # the whole length is announced, half the body sent, then the connection closes
            return _response(200, body[: len(body) // 2], soap.CONTENT_TYPE, length=len(body))
        return _response(200, body, soap.CONTENT_TYPE)

    def _check_region(self, region: str) -> None:
        if region != self.register.region:
            raise SoapFault("Client", f"Сведения по региону «{region}» этим сервисом не предоставляются: "
                                      "проверьте код региона (SFR_REGION)", "REGION_UNKNOWN")

    def _changes(self, values: dict[str, str], *, extra: bool) -> tuple[bytes, int]:
        since = int(values["sinceVersion"])
        size = int(values.get("pageSize") or DEFAULT_PAGE_SIZE)
        if not 1 <= size <= MAX_PAGE_SIZE:
            raise SoapFault("Client", f"pageSize должен быть от 1 до {MAX_PAGE_SIZE}, получено {size}", "BAD_PAGE_SIZE")
        current = self.register.current()
        if not 0 <= since <= current.number:
            raise SoapFault("Client", f"sinceVersion должен быть от 0 (всё) до текущей версии {current.number}, "
                                      f"получено {since}", "BAD_VERSION")
        token = values.get("pageToken")
        if token:
            target, offset, page = self._read_token(token, since)
        else:
            target, offset, page = current.number, 0, 1
        entries = self.register.changes(since, target)
        chosen: list[Entry] = entries[offset: offset + size]
        following = offset + size
        next_token = self._token(since, target, following, page + 1) if following < len(entries) else None
        return soap.changes_answer(target, next_token, chosen, extra=extra), page

    def _token(self, since: int, target: int, offset: int, page: int) -> str:
        raw = f"{self.register.generation}:{since}:{target}:{offset}:{page}"
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    def _read_token(self, token: str, since: int) -> tuple[int, int, int]:
        stale = SoapFault("Client", "pageToken не выдавался сервисом или устарел: запросите изменения заново, "
                                    "с первой страницы (без pageToken)", "BAD_PAGE_TOKEN")
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
            generation, token_since, target, offset, page = (int(part) for part in raw.split(":"))
        except (ValueError, binascii.Error, UnicodeDecodeError):
            raise stale from None
        if (generation, token_since) != (self.register.generation, since) or self.register.version(target) is None:
            raise stale
        if offset <= 0 or page < 2 or offset >= len(self.register.changes(since, target)):
            raise stale
        return target, offset, page

    # --- the control API ------------------------------------------------------------------

    def _control(self, method: str, path: str, environ) -> Response:
        status, body = control_api(self.controls, method, path, lambda: _read_json(environ),
                                   reset=self.register.reset, publish=self._published)
        return json_response(status, body)

    def _published(self, payload: dict) -> dict:
        version = self._publish(payload)
        return {"version": version.number, "date": version.day.isoformat(), "persons": len(version.entries)}

    def _publish(self, payload: dict):
        number = payload.get("version")
        if number is not None and (not isinstance(number, int) or isinstance(number, bool) or number < 1):
            raise ValueError("version: ожидается целое число больше 0 (или не указывать: следующий номер)")
        persons = payload.get("persons")
        if not isinstance(persons, list):
            raise ValueError("persons: ожидается список")
        entries = []
        for n, item in enumerate(persons, start=1):
            where = f"persons[{n}]"
            if not isinstance(item, dict):
                raise ValueError(f"{where}: ожидается объект {{person, benefits, action}}")
            action = item.get("action", "upsert")
            if action not in ACTIONS:
                raise ValueError(f"{where}.action: ожидается upsert или exclude")
            person = _strings(item.get("person"), PERSON_FIELDS, f"{where}.person")
            if "SS" not in person:
                raise ValueError(f"{where}.person: нужно поле SS (по нему сервис различает граждан)")
            benefits = item.get("benefits") or []
            if not isinstance(benefits, list):
                raise ValueError(f"{where}.benefits: ожидается список")
            entries.append(person_entry(action, person, [
                _strings(b, ("SS", *BENEFIT_FIELDS), f"{where}.benefits[{k}]") for k, b in enumerate(benefits, start=1)
            ]))
        return self.register.publish(number, _day(payload.get("date")), entries)


def _strings(value, allowed: Iterable[str], where: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise ValueError(f"{where}: ожидается объект с полями")
    allowed = set(allowed)
    result = {}
    for name, item in value.items():
        if name not in allowed:
            raise ValueError(f"{where}: неизвестное поле {name}")
        if item is None:
            item = ""
        elif isinstance(item, (int, float)) and not isinstance(item, bool):
            item = str(item)
        elif not isinstance(item, str):
            raise ValueError(f"{where}.{name}: ожидается строка, число или null")
        if _NOT_XML.search(item):
            raise ValueError(f"{where}.{name}: символы, недопустимые в XML")
        result[name] = item
    return result


def _read_json(environ) -> dict:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise ValueError("неверный Content-Length") from None
    if length > MAX_CONTROL_BODY:
        raise ValueError("слишком большой запрос")
    body = environ["wsgi.input"].read(length) if length else b""
    if not body.strip():
        return {}
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"тело запроса не JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise ValueError("ожидается объект JSON")
    return payload


def _day(value) -> date | None:
    if value in (None, ""):
        return None
    for pattern in ("%Y-%m-%d", "%d.%m.%Y"):
        try:
            return datetime.strptime(str(value), pattern).date()
        except ValueError:
            continue
    raise ValueError("date: ожидается дата ГГГГ-ММ-ДД")
