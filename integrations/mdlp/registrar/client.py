"""Client of a withdrawal registrar's local REST API (регистратор выбытия, РВ КМ).

A dispensing point that has a registrar reports a dispensing by prescription to ФГИС МДЛП through the
device instead of sending a 521 document itself: the device checks the codes, signs and sends the
withdrawal on its own account.

    client = RegistrarClient.for_url("https://user:password@10.0.0.5:8443/")
    rv_id = client.register_by_prescription(sgtins, prescription_date=day, series="02-25", number="000123",
                                            request_id=outbox_key)      # the same rv_id for the same key
    state = client.request(rv_id)   # RegistrarRequest(status="ready", finished=True, codes_errors=(…))

The API as the devices expose it (ЦРПТ's «API РВ КМ», appendix A of the registrar's technical
specification, 2019; field names as sent and read by public integrations of real devices — the full text
of the specification could not be read, see docs/mdlp-registrar.md):

* HTTPS with JSON, HTTP Basic authorization (the credentials go in the URL's userinfo here); the same API
  over the network or through the USB driver's local web server.
* `POST /v1/requests` `{rvRequestId, request: {type: "registerMarksByRequisites", documentOut: {type, code,
  codeName, date, series, number}, marks: {"1": {mark, soldPart?}, …}}}` → 201; a repeated rvRequestId →
  409. `rvRequestId` is a UUID chosen by the client (we derive it from the outbox key with uuid5);
  `documentOut.type` 1 is a prescription (code 3108805, «Рецепт по форме 148-1/у-04(л)»; 0 is a
  requisition-invoice, 0504204); `date` ISO 8601 in UTC (`…Z`); `mark` the code's GS1 string in base64.
* `GET /v1/requests/{rvRequestId}` → `{results: {status, result: {mdlpRequestId, marks: {…}}, error:
  {code, description}}}`; status `wait`, `inProgress`, `ready`, `error`. Per code: `onlineCheckStatus`
  (0 passed, 1 not made, 2 failed), `onlineCheckError` (1 not in MDLP, 2 format, 3 crypto check, 4 status
  does not allow it), `deviceError` (1–8), `flcError` (1–6; 6 a wrong pack part), `localCheckStatus`,
  `state`.
* Not confirmed, chosen here: the 201 body (read if JSON, else empty is fine); how per-code results are
  keyed (we accept an `sgtin`, the SGTIN inside `mark`, or an SGTIN key); `soldPart` written `n/m` as in
  MDLP's `sold_part`; a bare SGTIN's GS1 string (`01…21…`) when the full code with its crypto tail is not
  given; the error body of 4xx answers (read leniently).

Failures: timeouts, refused or broken connections, HTTP 5xx/408/429 are retried with exponential backoff,
then raise `RegistrarUnavailable` (`registrar.unavailable`); other 4xx `RegistrarRejected`
(`registrar.rejected`; 404 on a status read `registrar.not_found`); an answer that is not JSON, of the
wrong shape or types, larger than 1 MiB, or with an unknown status `RegistrarAnswerInvalid`
(`registrar.answer_invalid`, `details["reason"]`); our own wrong input `RegistrarInvalidInput`
(`registrar.invalid_input`) before any call.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from datetime import date
from typing import Self
from urllib.parse import unquote, urlsplit, urlunsplit

import requests

from integrations.mdlp.documents.outgoing import SgtinPart

from .errors import (
    RegistrarError,
    RegistrarInvalidInput,
    RegistrarNotFound,
    RegistrarRejected,
    RegistrarUnavailable,
)
from .protocol import (
    RegistrarMark,
    RegistrarRequest,
    check_request_id,
    invalid,
    parse_request,
    request_body,
    rv_request_id,
)

logger = logging.getLogger(__name__)

MAX_ANSWER_BYTES = 2**20
RETRY_STATUSES = frozenset({408, 429})


class RegistrarClient:
    """One registrar. `base_url` is the device's root (`https://[user:password@]host:port/`); `timeout`
    bounds each HTTP call as a whole (s); `retries` more attempts after the first, `backoff` × 2ⁿ s apart
    (at most 10 s); `verify` as in requests (a CA bundle path for the device's own certificate)."""

    backoff_cap = 10.0
    max_answer_bytes = MAX_ANSWER_BYTES

    def __init__(self, base_url: str, *, timeout: float = 10.0, retries: int = 2, backoff: float = 0.5,
                 verify: bool | str = True, session: requests.Session | None = None,
                 sleep: Callable[[float], None] = time.sleep):
        parts = urlsplit(base_url) if isinstance(base_url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            raise RegistrarInvalidInput("Адрес регистратора выбытия должен быть http(s)://хост:порт/",
                                        details={"field": "url"})
        netloc = parts.netloc.rpartition("@")[2]
        self.base_url = urlunsplit((parts.scheme, netloc, parts.path.rstrip("/") + "/", "", ""))
        self._auth = (unquote(parts.username), unquote(parts.password or "")) if parts.username else None
        self.timeout, self.retries, self.backoff, self.verify = timeout, retries, backoff, verify
        self._own_session = session is None
        self._session = session or requests.Session()
        self._sleep = sleep

    @classmethod
    def for_url(cls, url: str, **options) -> RegistrarClient:
        """A client of the registrar at `url` with MDLP_REGISTRAR_TIMEOUT and MDLP_REGISTRAR_RETRIES."""
        from django.conf import settings

        options.setdefault("timeout", settings.MDLP_REGISTRAR_TIMEOUT)
        options.setdefault("retries", settings.MDLP_REGISTRAR_RETRIES)
        return cls(url, **options)

    def __repr__(self) -> str:
        return f"RegistrarClient({self.base_url!r})"  # never the credentials

    def close(self) -> None:
        if self._own_session:
            self._session.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- the API ---------------------------------------------------------------------------------

    def register_by_prescription(self, sgtins: Sequence[str | SgtinPart | RegistrarMark], *,
                                 prescription_date: date, series: str | None, number: str,
                                 request_id: str) -> str:
        """Queue the withdrawal of `sgtins` dispensed by the prescription (date, series, number). The
        same `request_id` (our outbox key) always gives the same registrar request id, and the device
        keeps one request for it. Returns that id (a UUID) for `request()`."""
        rv_id = rv_request_id(request_id)
        body = request_body(sgtins, prescription_date=prescription_date, series=series, number=number, rv_id=rv_id)
        what = f"задание {rv_id}"
        status, data = self._call("POST", "v1/requests", body, what)
        if status == 409:
            logger.info("Registrar %s: request %s already queued", self.base_url, rv_id)
            return rv_id
        if data is not None and "rvRequestId" in data and data["rvRequestId"] != rv_id:
            raise invalid(what, "shape", "в ответе чужой rvRequestId")
        return rv_id

    def request(self, registrar_request_id: str) -> RegistrarRequest:
        """The request's status and, once it is ready, the result per code."""
        rv_id = check_request_id(registrar_request_id)
        what = f"статус задания {rv_id}"
        _, data = self._call("GET", f"v1/requests/{rv_id}", None, what)
        if data is None:
            raise invalid(what, "shape", "пустой ответ")
        return parse_request(data, rv_id, what)

    # --- HTTP ------------------------------------------------------------------------------------

    def _call(self, method: str, path: str, payload: dict | None, what: str) -> tuple[int, dict | None]:
        """One call with retries: (HTTP status, the JSON object or None for an empty body). 409 of a POST
        is returned (already queued); other 4xx raise."""
        attempt = 0
        while True:
            reason = problem = None
            try:
                status, body = self._exchange(method, self.base_url + path, payload, what)
            except _Timeout:
                reason, problem = "timeout", f"нет ответа за {self.timeout:g} с"
            except requests.RequestException as exc:
                reason, problem = "connection", "соединение не установлено или разорвано"
                logger.debug("Registrar %s: %s: %s", self.base_url, what, type(exc).__name__)
            else:
                if 200 <= status < 300 or (status == 409 and method == "POST"):
                    return status, _json(body, what)
                if 400 <= status < 500 and status not in RETRY_STATUSES:
                    raise self._refusal(status, body, what, method)
                if status < 400:
                    raise invalid(what, "status", f"неожиданный ответ HTTP {status}")
                reason, problem = "http", f"HTTP {status}{_suffix(body)}"
            attempt += 1
            if attempt > self.retries:
                raise RegistrarUnavailable(
                    f"Регистратор выбытия {self.base_url} недоступен: {problem} ({what}); запрос будет повторён",
                    details={"reason": reason, "problem": problem, "attempts": attempt})
            delay = min(self.backoff * 2 ** (attempt - 1), self.backoff_cap)
            logger.warning("Registrar %s: %s: %s; retry %d of %d in %.2f s", self.base_url, what, problem, attempt,
                           self.retries, delay)
            self._sleep(delay)

    def _exchange(self, method: str, url: str, payload: dict | None, what: str) -> tuple[int, bytes]:
        started = time.monotonic()
        try:
            with self._session.request(method, url, json=payload, auth=self._auth, timeout=self.timeout,
                                       verify=self.verify, stream=True, allow_redirects=False,
                                       headers={"Accept": "application/json"}) as response:
                length = response.headers.get("Content-Length", "")
                if length.isdigit() and int(length) > self.max_answer_bytes:
                    raise invalid(what, "too_large", f"ответ больше {self.max_answer_bytes} байт")
                body = bytearray()
                for chunk in response.iter_content(64 * 1024):
                    body += chunk
                    if len(body) > self.max_answer_bytes:
                        raise invalid(what, "too_large", f"ответ больше {self.max_answer_bytes} байт")
                    if time.monotonic() - started > self.timeout:  # a device dripping bytes
                        raise _Timeout
                return response.status_code, bytes(body)
        except requests.Timeout:
            raise _Timeout from None

    def _refusal(self, status: int, body: bytes, what: str, method: str) -> RegistrarError:
        error_code, description = _error_of(body)
        details = {"status": status, "error_code": error_code, "error_description": description}
        text = f": {description}" if description else ""
        if status == 404 and method == "GET":
            return RegistrarNotFound(f"Регистратор выбытия не знает такого задания ({what}){text}", details=details)
        if status in (401, 403):
            return RegistrarRejected(f"Регистратор выбытия отказал в доступе ({what}){text}. Проверьте имя и "
                                     "пароль в адресе регистратора", details=details)
        return RegistrarRejected(f"Регистратор выбытия отклонил запрос ({what}): HTTP {status}{text}",
                                 details=details)


class _Timeout(Exception):
    pass


def _json(body: bytes, what: str) -> dict | None:
    if not body.strip():
        return None
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise invalid(what, "not_json", "ответ не в формате JSON") from None
    if not isinstance(data, dict):
        raise invalid(what, "shape", "ответ не объект JSON")
    return data


def _error_of(body: bytes) -> tuple[str | None, str | None]:
    """The device's error code and description from an error answer (`{code, description}`, or inside
    `error`, or `message`), shortened; nothing when unreadable."""
    try:
        data = json.loads(body[:64 * 1024])
    except (ValueError, RecursionError):
        return None, None
    if isinstance(data, dict) and isinstance(data.get("error"), dict):
        data = data["error"]
    if not isinstance(data, dict):
        return None, None
    code, text = data.get("code"), data.get("description", data.get("message"))
    return (str(code)[:60] if code is not None else None, str(text)[:500] if text is not None else None)


def _suffix(body: bytes) -> str:
    _, text = _error_of(body)
    return f" ({text[:200]})" if text else ""
