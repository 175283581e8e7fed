"""The WSGI application: MDLP's REST API under /api/v1/, file links under /files/, and the emulator's
control API (`/_emulator/…`)."""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
import math
import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from http import HTTPStatus

from integrations.emulator_controls import control_api
from integrations.mdlp import xsd

from .controls import Controls
from .store import FILTERS, STATES, Mdlp, StoreError
from .xmldocs import xml_bomb

logger = logging.getLogger("integrations.mdlp.emulator")

API = "/api/v1/"
MAX_API_BODY = 48 * 2**20  # a 32 MB document in base64 with its signature
MAX_CONTROL_BODY = 16 * 2**20
MAX_COUNT = 500
UNEXPECTED_STATUS = "DOCUMENT_LOST_IN_SPACE"
_SGTIN = re.compile(r"\d{14}[A-Za-z0-9]{13}")
_SSCC = re.compile(r"\d{18}")
_PLACE = re.compile(r"\d{14}")
_THUMBPRINT = re.compile(r"[0-9a-fA-F]{40}")
_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:\-]{0,199}")
_DOC_ROUTE = re.compile(r"^documents/(?P<id>[^/]+)(?P<ticket>/ticket)?$")


@dataclass
class Response:
    status: int
    body: Iterable[bytes]
    headers: list[tuple[str, str]]
    data: dict | None = None  # the JSON before encoding (hostile answers are made from it)


def json_response(status: int, data) -> Response:
    body = json.dumps(data, ensure_ascii=False).encode()
    return Response(status, [body], [("Content-Type", "application/json; charset=utf-8"),
                                     ("Content-Length", str(len(body)))], data)


def error(status: int, description: str, error_code: str | None = None) -> Response:
    return json_response(status, {"error_code": error_code or str(status), "error_description": description})


def file_response(content: bytes) -> Response:
    return Response(200, [content], [("Content-Type", "application/xml"), ("Content-Length", str(len(content)))])


class _BadRequest(ValueError):
    pass


class MdlpApp:
    def __init__(self, mdlp: Mdlp, controls: Controls, *, accounts: dict[str, str], trusted):
        self.mdlp = mdlp
        self.controls = controls
        self.accounts = accounts  # client_id -> client_secret
        self._trusted = trusted  # the CA certificate, or a callable giving it

    @property
    def trusted(self):
        if callable(self._trusted):
            self._trusted = self._trusted()
        return self._trusted

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "") or "/"
        method = environ.get("REQUEST_METHOD", "GET")
        try:
            if path.startswith("/_emulator/"):
                response = self._control(method, path, environ)
            elif path.startswith((API, "/files/")):
                response = self._api(method, path, environ)
            else:
                response = error(404, "Ресурс не найден", "NOT_FOUND")
        except StoreError as exc:
            response = error(exc.status, exc.description, exc.error_code)
        except _BadRequest as exc:
            response = error(400, str(exc), "BAD_REQUEST")
        except Exception:
            logger.exception("MDLP emulator: %s %s failed", method, path)
            response = error(500, "Внутренняя ошибка сервера", "INTERNAL")
        status = HTTPStatus(response.status)
        start_response(f"{status.value} {status.phrase}", response.headers)
        return response.body

    # --- the API ----------------------------------------------------------------------------

    def _api(self, method: str, path: str, environ) -> Response:
        arrived = time.time()
        route = path.removeprefix(API).rstrip("/")
        kind = "file" if path.startswith("/files/") else "auth" if route in ("auth", "token") else _kind(route)
        self.mdlp.log_call(kind=kind, method=method, path=path, at=arrived)
        behaviour = self.controls.behaviour
        if behaviour.latency_ms:
            time.sleep(behaviour.latency_ms / 1000)
        if self.controls.fails_now(behaviour.fail_rate):
            return error(503, "Сервис временно недоступен, повторите запрос позже", "SERVICE_UNAVAILABLE")
        self.mdlp.tick()
        if kind == "file":
            content = self.mdlp.file(path.removeprefix("/files/"))
            return file_response(xml_bomb() if behaviour.hostile == "xml_bomb" else content)
        if kind == "auth":
            if method != "POST":
                return error(405, "Ожидается POST", "METHOD_NOT_ALLOWED")
            return self._auth(environ) if route == "auth" else self._token(environ)
        token = _token_of(environ)
        account, user_id = self.mdlp.account_of(token)
        interval = 0.0
        if behaviour.enforce_intervals:
            interval = {"send": behaviour.send_interval, "list": behaviour.list_interval}.get(kind, 0.0)
        too_close = self.mdlp.too_close(token=token, kind=kind, interval=interval, at=arrived)
        if too_close is not None:
            refusal = error(429, f"Превышена частота запросов: между вызовами не меньше {interval:g} с "
                                 f"(прошло {too_close:.3f} с)", "TOO_MANY_REQUESTS")
            refusal.headers.append(("Retry-After", str(math.ceil(interval - too_close))))
            return refusal
        response = self._route(method, route, environ, account, user_id)
        return _hostile(response, behaviour, route) if response.status == 200 else response

    def _route(self, method: str, route: str, environ, account: str, user_id: str) -> Response:
        post = {"documents/send": self._send, "documents/income": self._listing, "documents/outcome": self._listing,
                "reestr/sgtin/filter": self._sgtin_filter}
        if route in post:
            if method != "POST":
                return error(405, "Ожидается POST", "METHOD_NOT_ALLOWED")
            return post[route](route, _read_json(environ, MAX_API_BODY), account, user_id)
        if method != "GET":
            return error(405, "Ожидается GET", "METHOD_NOT_ALLOWED")
        if route.startswith("documents/download/"):
            document = self.mdlp.document(account, route.removeprefix("documents/download/"))
            return json_response(200, {"link": self._link(environ, document.document_id, "document")})
        found = _DOC_ROUTE.match(route)
        if found:
            document = self.mdlp.document(account, found["id"])
            if not found["ticket"]:
                return json_response(200, document.meta())
            if document.ticket is None:
                return error(404, f"Квитанция по документу {document.document_id} ещё не готова "
                                  f"(статус {document.status})", "TICKET_NOT_READY")
            return json_response(200, {"link": self._link(environ, document.document_id, "ticket")})
        if route.startswith("reestr/sgtin/"):
            code = route.removeprefix("reestr/sgtin/")
            if not _SGTIN.fullmatch(code):
                raise _BadRequest("SGTIN: 14 цифр GTIN и 13 символов серийного номера")
            return json_response(200, {"sgtin_info": self.mdlp.sgtin(code)})
        if route.startswith("reestr/sscc/") and route.endswith("/hierarchy"):
            code = route.removeprefix("reestr/sscc/").removesuffix("/hierarchy")
            if not _SSCC.fullmatch(code):
                raise _BadRequest("SSCC: 18 цифр")
            return json_response(200, self.mdlp.hierarchy(code))
        return error(404, "Метод API не найден", "NOT_FOUND")

    def _link(self, environ, document_id: str, what: str) -> str:
        host = environ.get("HTTP_HOST") or f"{environ['SERVER_NAME']}:{environ['SERVER_PORT']}"
        return f"http://{host}/files/{self.mdlp.file_link(document_id, what)}"

    # --- authorization ----------------------------------------------------------------------

    def _auth(self, environ) -> Response:
        payload = _read_json(environ, MAX_CONTROL_BODY)
        client_id, secret, user_id = (payload.get(name) for name in ("client_id", "client_secret", "user_id"))
        if payload.get("auth_type") != "SIGNED_CODE":
            raise _BadRequest("auth_type: поддерживается только SIGNED_CODE")
        expected = self.accounts.get(client_id) if isinstance(client_id, str) else None
        if expected is None or not isinstance(secret, str) or not hmac.compare_digest(expected, secret):
            return error(401, "Неверный идентификатор клиента (client_id) или секрет (client_secret)",
                         "INVALID_CLIENT")
        if not isinstance(user_id, str) or not _THUMBPRINT.fullmatch(user_id):
            raise _BadRequest("user_id: ожидается отпечаток сертификата (40 шестнадцатеричных цифр)")
        return json_response(200, {"code": self.mdlp.new_code(client_id, user_id.lower())})

    def _token(self, environ) -> Response:
        from integrations.mdlp.signer import verify
        from prescriptions.signing import SignatureInvalid

        payload = _read_json(environ, MAX_CONTROL_BODY)
        code, signature = payload.get("code"), payload.get("signature")
        if not isinstance(code, str) or not isinstance(signature, str):
            raise _BadRequest("Ожидаются поля code и signature")
        client_id, user_id = self.mdlp.take_code(code)
        try:
            thumbprint = verify(data=code.encode(), signature=_b64(signature, "signature"), trusted=self.trusted)
        except SignatureInvalid as exc:
            return error(401, f"Подпись кода авторизации не прошла проверку: {exc.details.get('reason')}",
                         "INVALID_SIGNATURE")
        if thumbprint != user_id:
            return error(401, "Код авторизации подписан не тем сертификатом, отпечаток которого указан в user_id",
                         "INVALID_SIGNATURE")
        life = self.controls.behaviour.token_life_time
        return json_response(200, {"token": self.mdlp.new_token(client_id, user_id, life), "life_time": life})

    # --- documents ----------------------------------------------------------------------------

    def _send(self, route: str, payload: dict, account: str, user_id: str) -> Response:
        from integrations.mdlp.signer import verify
        from prescriptions.signing import SignatureInvalid

        request_id = payload.get("request_id")
        if not isinstance(request_id, str) or not _REQUEST_ID.fullmatch(request_id):
            raise _BadRequest("request_id: от 1 до 200 символов: буквы, цифры, '.', '_', ':', '-'")
        known = self.mdlp.known_request(account, request_id)
        if known is not None:
            return json_response(200, {"document_id": known})
        xml = _b64(payload.get("document"), "document")
        signature = _b64(payload.get("sign"), "sign")
        try:
            thumbprint = verify(data=xml, signature=signature, trusted=self.trusted)
        except SignatureInvalid as exc:
            return error(400, f"Подпись документа не прошла проверку: {exc.details.get('reason')}", "INVALID_SIGNATURE")
        if thumbprint != user_id:
            return error(400, "Документ подписан не тем сертификатом, с которым получен токен", "INVALID_SIGNATURE")
        if not xsd.schema_available():
            return error(500, f"У эмулятора МДЛП нет XSD-схем документов ({xsd.schema_path()}; настройка "
                              "MDLP_SCHEMA_DIR): документы не принимаются, пока схемы не на месте", "SCHEMA_MISSING")
        try:
            root = xsd.parse_safely(xml)
            xsd.validate_tree(root)
        except xsd.DocumentMalformed as exc:
            return error(400, exc.message, "XML_MALFORMED")
        except xsd.DocumentInvalid as exc:
            return error(400, exc.message, "DOCUMENT_INVALID")
        except xsd.SchemaMissing as exc:
            return error(500, exc.message, "SCHEMA_MISSING")
        op = root[0]
        receiver = next((op.findtext(name) for name in ("receiver_id", "shipper_id", "counterparty_id")
                         if op.findtext(name)), None)
        document_id, created = self.mdlp.receive(
            account=account, request_id=request_id, xml=xml, doc_type=int(op.get("action_id")),
            sender_id=(op.findtext("subject_id") or "").strip() or None,
            receiver_id=receiver.strip() if receiver and _PLACE.fullmatch(receiver.strip()) else None,
            processing_s=self.controls.behaviour.processing_ms / 1000)
        logger.info("MDLP emulator: document %s (type %s) %s", document_id, op.get("action_id"),
                    "received" if created else "already known")
        return json_response(200, {"document_id": document_id})

    def _listing(self, route: str, payload: dict, account: str, user_id: str) -> Response:
        start_from, count = _paging(payload)
        filter = payload.get("filter") or {}
        if not isinstance(filter, dict) or set(filter) - FILTERS:
            raise _BadRequest("filter: допустимые поля — " + ", ".join(sorted(FILTERS)))
        if "doc_type" in filter and not str(filter["doc_type"]).isdigit():
            raise _BadRequest("filter.doc_type: ожидается число")
        return json_response(200, self.mdlp.listing(account=account, direction=route.removeprefix("documents/"),
                                                    filter=filter, start_from=start_from, count=count))

    def _sgtin_filter(self, route: str, payload: dict, account: str, user_id: str) -> Response:
        start_from, count = _paging(payload)
        filter = payload.get("filter")
        codes = filter.get("sgtins") if isinstance(filter, dict) else None
        if not isinstance(codes, list) or not all(isinstance(c, str) and _SGTIN.fullmatch(c) for c in codes):
            raise _BadRequest("filter.sgtins: ожидается список SGTIN")
        if len(codes) > MAX_COUNT:
            raise _BadRequest(f"filter.sgtins: не больше {MAX_COUNT} кодов")
        entries = self.mdlp.sgtins(codes)
        return json_response(200, {"entries": entries[start_from:start_from + count], "total": len(entries)})

    # --- the control API ----------------------------------------------------------------------

    def _control(self, method: str, path: str, environ) -> Response:
        action = path.removeprefix("/_emulator/").rstrip("/")
        try:
            if action == "calls" and method == "GET":
                with self.mdlp.lock:
                    return json_response(200, {"calls": list(self.mdlp.calls)})
            if action == "stats" and method == "GET":
                return json_response(200, self.mdlp.stats())
            if action == "sgtins" and method == "POST":
                return json_response(200, {"ok": True, "seeded": self._seed(_read_json(environ, MAX_CONTROL_BODY))})
            if action == "tokens/expire" and method == "POST":
                return json_response(200, {"ok": True, "expired": self.mdlp.expire_tokens()})
        except ValueError as exc:
            return json_response(400, {"ok": False, "error": str(exc)})
        status, body = control_api(self.controls, method, path, lambda: _read_json(environ, MAX_CONTROL_BODY),
                                   reset=self.mdlp.reset, publish=self._publish)
        return json_response(status, body)

    def _seed(self, payload: dict) -> int:
        place, sgtins, sscc = payload.get("place"), payload.get("sgtins"), payload.get("sscc")
        state = payload.get("state", "in_circulation")
        if not isinstance(place, str) or not _PLACE.fullmatch(place):
            raise ValueError("place: ожидается идентификатор места деятельности из 14 цифр")
        _check_sgtins(sgtins)
        if sscc is not None and (not isinstance(sscc, str) or not _SSCC.fullmatch(sscc)):
            raise ValueError("sscc: ожидается 18 цифр")
        if state not in STATES:
            raise ValueError("state: одно из " + ", ".join(STATES))
        receiver = payload.get("receiver")
        if receiver is not None and (not isinstance(receiver, str) or not _PLACE.fullmatch(receiver)):
            raise ValueError("receiver: ожидается идентификатор места деятельности из 14 цифр (для state=in_transit)")
        return self.mdlp.seed(place=place, sgtins=sgtins, sscc=sscc, state=state, receiver=receiver,
                              series_number=_opt_text(payload, "series_number"),
                              expiration_date=_opt_text(payload, "expiration_date"))

    def _publish(self, payload: dict) -> dict:
        """An incoming shipment (601) from a counterparty: {sender, receiver, sgtins, boxes?: {sscc: [sgtin]},
        doc_num?, source?, contract_type?, contract_num?, cost?, vat_value?, series_number?, expiration_date?}."""
        sender, receiver = payload.get("sender"), payload.get("receiver")
        for name, value in (("sender", sender), ("receiver", receiver)):
            if not isinstance(value, str) or not _PLACE.fullmatch(value):
                raise ValueError(f"{name}: ожидается идентификатор места деятельности из 14 цифр")
        sgtins = payload.get("sgtins") or []
        _check_sgtins(sgtins)
        boxes = payload.get("boxes") or {}
        if not isinstance(boxes, dict) or not all(_SSCC.fullmatch(str(k)) for k in boxes):
            raise ValueError("boxes: ожидается объект {SSCC: [SGTIN, …]}")
        for content in boxes.values():
            _check_sgtins(content)
        if not sgtins and not boxes:
            raise ValueError("sgtins/boxes: отгрузка без упаковок")
        options = {name: payload[name] for name in ("doc_num", "contract_num", "cost", "vat_value", "series_number",
                                                     "expiration_date") if isinstance(payload.get(name), str)}
        for name in ("source", "contract_type"):
            if name in payload:
                if not isinstance(payload[name], int):
                    raise ValueError(f"{name}: ожидается число")
                options[name] = payload[name]
        document_id = self.mdlp.incoming_move_order(sender=sender, receiver=receiver, sgtins=sgtins, boxes=boxes,
                                                    **options)
        return {"document_id": document_id}


def _kind(route: str) -> str:
    if route == "documents/send":
        return "send"
    if route in ("documents/income", "documents/outcome") or route.startswith("reestr/"):
        return "list"
    return "read"


def _token_of(environ) -> str:
    header = environ.get("HTTP_AUTHORIZATION", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "token" or not value.strip():
        raise StoreError(401, "Нет заголовка Authorization: token <токен>", "UNAUTHORIZED")
    return value.strip()


def _hostile(response: Response, behaviour, route: str) -> Response:
    mode = behaviour.hostile
    if mode is None or response.data is None:
        return response
    if mode == "json":
        body = b"".join(response.body)
        return Response(200, [body[: len(body) // 2]], [("Content-Type", "application/json; charset=utf-8"),
                                                         ("Content-Length", str(len(body) // 2))])
    if mode == "shape":
        return json_response(200, {"result": [response.data]})
    if mode == "huge":
        size = behaviour.huge_bytes
        return Response(200, _padding(size), [("Content-Type", "application/json; charset=utf-8"),
                                              ("Content-Length", str(size))])
    if mode == "status" and _DOC_ROUTE.match(route) and not route.endswith("/ticket"):
        return json_response(200, {**response.data, "doc_status": UNEXPECTED_STATUS})
    return response


def _padding(size: int) -> Iterator[bytes]:
    head, tail = b'{"padding": "', b'"}'
    yield head
    left = size - len(head) - len(tail)
    chunk = b"x" * 65536
    while left > 0:
        yield chunk[:left]
        left -= min(left, len(chunk))
    yield tail


def _paging(payload: dict) -> tuple[int, int]:
    start_from, count = payload.get("start_from", 0), payload.get("count", 100)
    if not isinstance(start_from, int) or isinstance(start_from, bool) or start_from < 0:
        raise _BadRequest("start_from: ожидается неотрицательное целое число")
    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= MAX_COUNT:
        raise _BadRequest(f"count: ожидается целое число от 1 до {MAX_COUNT}")
    return start_from, count


def _b64(value, name: str) -> bytes:
    if not isinstance(value, str) or not value:
        raise _BadRequest(f"{name}: ожидается строка base64")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise _BadRequest(f"{name}: не base64") from None


def _check_sgtins(codes) -> None:
    if not isinstance(codes, list) or not all(isinstance(c, str) and _SGTIN.fullmatch(c) for c in codes):
        raise ValueError("sgtins: ожидается список SGTIN (14 цифр GTIN и 13 символов серийного номера)")


def _opt_text(payload: dict, name: str) -> str | None:
    value = payload.get(name)
    return value if isinstance(value, str) and value else None


def _read_json(environ, limit: int) -> dict:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise _BadRequest("неверный Content-Length") from None
    if length > limit:
        raise _BadRequest(f"запрос больше {limit} байт")
    body = environ["wsgi.input"].read(length) if length else b""
    if not body.strip():
        return {}
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise _BadRequest("тело запроса не JSON") from None
    if not isinstance(payload, dict):
        raise _BadRequest("ожидается объект JSON")
    return payload
