"""Client of the MDLP REST API (ФГИС МДЛП, api/v1): authorization by a signed code, sending documents,
their status and receipt (ticket), incoming and outgoing document lists, and the registry of codes.

    client = MdlpClient.from_settings()
    document_id = client.send(xml, request_id=key)       # request_id: the idempotency key
    status = client.document(document_id)                 # DocumentStatus(doc_status=…)
    receipt = client.ticket(document_id)                  # the 200 `result` XML (bytes), checked safe

Authorization: `POST auth` {client_id, client_secret, user_id, auth_type: SIGNED_CODE} → {code};
the code signed by the organization's `Signer` (detached CMS, base64) → `POST token` {code, signature}
→ {token, life_time (minutes)}; every call then carries `Authorization: token <token>`. The token is
renewed shortly before it expires and once on a 401.

Failures: timeouts, broken connections, HTTP 5xx and 429 are retried with exponential backoff, then raise
`MdlpUnavailable` (retryable); HTTP 4xx raise `MdlpRejected` (404: `MdlpNotFound`; refused credentials or
signature: `MdlpAuthFailed`); an answer that is not JSON, has the wrong shape, is too large, names an
unknown status, or a file that is not safe XML raises `MdlpAnswerInvalid` and changes nothing. Every call
first takes a slot of the shared `IntervalLimiter` (ratelimit.py). Tokens, the client secret, codes and
signatures never reach a message or a log line. See docs/mdlp.md, «Client and emulator».
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Self
from urllib.parse import quote, urljoin, urlsplit

import requests

from . import xsd
from .errors import (
    MdlpAnswerInvalid,
    MdlpAuthFailed,
    MdlpError,
    MdlpNotConfigured,
    MdlpNotFound,
    MdlpRejected,
    MdlpUnavailable,
)
from .ratelimit import LIST, READ, SEND, IntervalLimiter
from .signer import Signer

__all__ = [
    "Credentials", "DocumentInfo", "DocumentStatus", "DocumentsPage", "MdlpClient", "SgtinInfo",
    "SsccHierarchy", "SsccNode", "TokenStore",
]

logger = logging.getLogger(__name__)

STATUSES = frozenset({
    "UPLOADING_DOCUMENT", "PROCESSING_DOCUMENT", "CORE_PROCESSING_DOCUMENT", "CORE_PROCESSED_DOCUMENT",
    "PROCESSED_DOCUMENT", "FAILED", "FAILED_RESULT_READY",
})
RESULT_READY = frozenset({"PROCESSED_DOCUMENT", "FAILED_RESULT_READY"})
FINAL = RESULT_READY | {"FAILED"}
RETRY_STATUSES = frozenset({408, 429})
MAX_LIST_COUNT = 500  # documents or codes per list call
MAX_TREE_DEPTH = 32
MAX_TREE_NODES = 200_000
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:\-]{0,199}")
_TOKEN = re.compile(r"[A-Za-z0-9._~+/=\-]{1,1024}")
_SGTIN = re.compile(r"\d{14}[A-Za-z0-9]{13}")
_SSCC = re.compile(r"\d{18}")
_PLACE = re.compile(r"\d{14}")


@dataclass(frozen=True)
class Credentials:
    client_id: str
    client_secret: str = field(repr=False)
    user_id: str  # the SHA-1 thumbprint of the signer's certificate (auth_type SIGNED_CODE)


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


class TokenStore:
    """Tokens by (base URL, client_id, user_id), shared by the clients that are given the same store
    (`from_settings` uses one per process), so that each call does not authorize anew."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._tokens: dict[tuple[str, str, str], tuple[str, float, float]] = {}

    def get(self, key) -> tuple[str, float, float] | None:
        return self._tokens.get(key)

    def put(self, key, token: str, expires_at: float, renew_at: float) -> None:
        self._tokens[key] = (token, expires_at, renew_at)

    def drop(self, key, token: str | None = None) -> None:
        current = self._tokens.get(key)
        if current is not None and (token is None or current[0] == token):
            del self._tokens[key]


PROCESS_TOKENS = TokenStore()


class _Answer:
    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, body: bytes, headers):
        self.status, self.body, self.headers = status, body, headers


class MdlpClient:
    def __init__(self, base_url: str, credentials: Credentials, *, signer: Signer,
                 limiter: IntervalLimiter | None = None, tokens: TokenStore | None = None,
                 timeout: float = 30.0, retries: int = 3, backoff: float = 1.0, backoff_cap: float = 30.0,
                 renew_before: float = 120.0, max_answer_bytes: int = 8 * 2**20,
                 max_file_bytes: int = 64 * 2**20, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        if not base_url or urlsplit(base_url).scheme not in ("http", "https") or not urlsplit(base_url).netloc:
            raise MdlpNotConfigured(f"Адрес API МДЛП не настроен или неверен (MDLP_BASE_URL): {base_url!r}")
        if not credentials.client_id or not credentials.client_secret or not credentials.user_id:
            raise MdlpNotConfigured("Учётные данные МДЛП не настроены: нужны MDLP_CLIENT_ID, MDLP_CLIENT_SECRET "
                                    "и MDLP_USER_ID (отпечаток сертификата подписи)")
        self.base_url = base_url.rstrip("/") + "/"
        self.credentials = credentials
        self.signer = signer
        self.limiter = limiter
        self.tokens = tokens or TokenStore()
        self.timeout = timeout
        self.retries = max(int(retries), 0)
        self.backoff = backoff
        self.backoff_cap = backoff_cap
        self.renew_before = renew_before
        self.max_answer_bytes = max_answer_bytes
        self.max_file_bytes = max_file_bytes
        self._clock = clock
        self._sleep = sleep
        self._origin = _origin(self.base_url)
        self._token_key = (self.base_url, credentials.client_id, credentials.user_id)
        self._session = requests.Session()
        self._session.headers["User-Agent"] = "llo-mdlp-client/1"

    @classmethod
    def from_settings(cls) -> MdlpClient:
        from django.conf import settings

        from .signer import signer as configured_signer

        signer = configured_signer()
        user_id = settings.MDLP_USER_ID or getattr(signer, "thumbprint", "")
        credentials = Credentials(settings.MDLP_CLIENT_ID, settings.MDLP_CLIENT_SECRET, user_id)
        limiter = IntervalLimiter.from_settings(settings.MDLP_CLIENT_ID or "-") if settings.REDIS_URL else None
        return cls(settings.MDLP_BASE_URL, credentials, signer=signer, limiter=limiter, tokens=PROCESS_TOKENS,
                   timeout=settings.MDLP_TIMEOUT, retries=settings.MDLP_RETRIES, backoff=settings.MDLP_BACKOFF,
                   renew_before=settings.MDLP_TOKEN_RENEW_BEFORE)

    def __repr__(self) -> str:
        return f"MdlpClient({self.base_url!r}, client_id={self.credentials.client_id!r})"

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- documents ------------------------------------------------------------------------------

    def send(self, document: bytes, *, request_id: str) -> str:
        """Send a document (the XML bytes) signed by the organization; its `document_id`. The same
        `request_id` sent again (a retry, a resend) gets the same document_id: MDLP keeps one document."""
        if not isinstance(document, bytes) or not document:
            raise TypeError("send() expects the document as non-empty bytes")
        _check_id(request_id, "request_id")
        signature = self._sign(document, "документа")
        data = self._call("POST", "documents/send", kind=SEND, what=f"отправка документа {request_id}", payload={
            "document": base64.b64encode(document).decode("ascii"),
            "sign": base64.b64encode(signature).decode("ascii"),
            "request_id": request_id,
        })
        document_id = _answer_id(data.get("document_id"), "document_id", "отправка документа")
        logger.info("MDLP: document sent, request_id=%s, document_id=%s", request_id, document_id)
        return document_id

    def document(self, document_id: str) -> DocumentStatus:
        """The document's metadata and processing status."""
        _check_id(document_id, "document_id")
        data = self._call("GET", f"documents/{quote(document_id, safe='')}", kind=READ,
                          what=f"статус документа {document_id}")
        status = _status(data, "статус документа")
        answered = data.get("document_id")
        if answered is not None and answered != document_id:
            raise _invalid("статус документа", "wrong_document", f"прислан статус другого документа ({answered!r})")
        return DocumentStatus(
            document_id=document_id, doc_status=status, request_id=_opt_str(data.get("request_id")),
            doc_type=_opt_int(data.get("doc_type"), "doc_type", "статус документа"),
            date=_opt_str(data.get("date")), processed_date=_opt_str(data.get("processed_date")))

    def wait(self, document_id: str, *, timeout: float = 60.0, interval: float = 1.0) -> DocumentStatus:
        """Poll the status until it is final or `timeout` passes (then the last status seen)."""
        deadline = self._clock() + timeout
        while True:
            status = self.document(document_id)
            if status.finished or self._clock() >= deadline:
                return status
            self._sleep(interval)

    def ticket(self, document_id: str) -> bytes:
        """The processing receipt: the 200 `result` XML (for a 210 query, the 211 answer), read through
        the link MDLP gives, checked to be safe XML (no DTD or entities, size-limited)."""
        _check_id(document_id, "document_id")
        what = f"квитанция по документу {document_id}"
        data = self._call("GET", f"documents/{quote(document_id, safe='')}/ticket", kind=READ, what=what)
        return self._file(data, what)

    def download(self, document_id: str) -> bytes:
        """An incoming or sent document's XML (e.g. a 601 from the income list), checked to be safe XML."""
        _check_id(document_id, "document_id")
        what = f"документ {document_id}"
        data = self._call("GET", f"documents/download/{quote(document_id, safe='')}", kind=READ, what=what)
        return self._file(data, what)

    def income(self, filter: dict | None = None, *, start_from: int = 0, count: int = 100) -> DocumentsPage:
        """Incoming documents (notifications 601, 602, 607 …), filtered, newest first."""
        return self._list("documents/income", filter, start_from, count, "входящие документы")

    def outcome(self, filter: dict | None = None, *, start_from: int = 0, count: int = 100) -> DocumentsPage:
        """Documents sent by this account, filtered, newest first."""
        return self._list("documents/outcome", filter, start_from, count, "исходящие документы")

    def _list(self, path: str, filter: dict | None, start_from: int, count: int, what: str) -> DocumentsPage:
        if filter is not None and not isinstance(filter, dict):
            raise TypeError("filter must be a dict")
        if not (isinstance(start_from, int) and start_from >= 0 and isinstance(count, int)
                and 1 <= count <= MAX_LIST_COUNT):
            raise ValueError(f"start_from >= 0 and 1 <= count <= {MAX_LIST_COUNT}")
        data = self._call("POST", path, kind=LIST, what=what,
                          payload={"filter": filter or {}, "start_from": start_from, "count": count})
        items, total = data.get("documents"), data.get("total")
        if not isinstance(items, list) or not _is_int(total) or total < 0 or len(items) > count:
            raise _invalid(what, "shape", "нет списка documents и числа total")
        documents = []
        for item in items:
            if not isinstance(item, dict):
                raise _invalid(what, "shape", "элемент списка не объект")
            documents.append(DocumentInfo(
                document_id=_answer_id(item.get("document_id"), "document_id", what),
                doc_type=_req_int(item.get("doc_type"), "doc_type", what), doc_status=_status(item, what),
                date=_req_str(item.get("date"), "date", what), request_id=_opt_str(item.get("request_id")),
                sender_id=_opt_place(item.get("sender_id"), what), receiver_id=_opt_place(item.get("receiver_id"), what),
            ))
        return DocumentsPage(documents, total)

    # --- the registry ---------------------------------------------------------------------------

    def sgtin(self, sgtin: str) -> SgtinInfo:
        """Where a pack is and in which state (`GET reestr/sgtin/{sgtin}`); MdlpNotFound when unknown."""
        if not isinstance(sgtin, str) or not _SGTIN.fullmatch(sgtin):
            raise ValueError("SGTIN: 14 digits of GTIN and 13 characters of the serial number")
        what = f"сведения о коде {sgtin}"
        data = self._call("GET", f"reestr/sgtin/{sgtin}", kind=LIST, what=what)
        info = data.get("sgtin_info")
        if not isinstance(info, dict):
            raise _invalid(what, "shape", "нет объекта sgtin_info")
        return _sgtin_info(info, what)

    def sgtins(self, sgtins: Iterable[str]) -> list[SgtinInfo]:
        """Several packs at once (`POST reestr/sgtin/filter`, up to 500 a call); unknown codes are absent."""
        codes = list(dict.fromkeys(sgtins))
        for code in codes:
            if not isinstance(code, str) or not _SGTIN.fullmatch(code):
                raise ValueError(f"SGTIN {code!r}: 14 digits of GTIN and 13 characters of the serial number")
        found = []
        for start in range(0, len(codes), MAX_LIST_COUNT):
            chunk = codes[start:start + MAX_LIST_COUNT]
            what = f"сведения о кодах ({len(chunk)})"
            data = self._call("POST", "reestr/sgtin/filter", kind=LIST, what=what,
                              payload={"filter": {"sgtins": chunk}, "start_from": 0, "count": len(chunk)})
            entries = data.get("entries")
            if not isinstance(entries, list) or len(entries) > len(chunk):
                raise _invalid(what, "shape", "нет списка entries или он длиннее запроса")
            asked = set(chunk)
            for entry in entries:
                if not isinstance(entry, dict):
                    raise _invalid(what, "shape", "элемент списка не объект")
                info = _sgtin_info(entry, what)
                if info.sgtin not in asked:
                    raise _invalid(what, "shape", f"в ответе код, который не запрашивался ({info.sgtin})")
                found.append(info)
        return found

    def sscc_hierarchy(self, sscc: str) -> SsccHierarchy:
        """The boxes around a transport pack and everything inside it."""
        if not isinstance(sscc, str) or not _SSCC.fullmatch(sscc):
            raise ValueError("SSCC: 18 digits")
        what = f"иерархия упаковки {sscc}"
        data = self._call("GET", f"reestr/sscc/{sscc}/hierarchy", kind=LIST, what=what)
        up, down = data.get("up"), data.get("down")
        if not isinstance(up, dict) or not isinstance(down, dict):
            raise _invalid(what, "shape", "нет объектов up и down")
        path, node, depth = [], up, 0
        while True:
            code = node.get("sscc")
            if not isinstance(code, str) or not _SSCC.fullmatch(code) or depth > MAX_TREE_DEPTH:
                raise _invalid(what, "shape", "неверная цепочка вложенности (up)")
            path.append(code)
            children = [c for c in node.get("childs") or [] if isinstance(c, dict) and "sscc" in c]
            if code == sscc or not children:
                break
            node, depth = children[0], depth + 1
        if path[-1] != sscc:
            raise _invalid(what, "shape", "цепочка вложенности не доходит до запрошенной упаковки")
        tree = _tree(down, what, [0])
        if tree.sscc != sscc:
            raise _invalid(what, "shape", "прислано содержимое другой упаковки")
        return SsccHierarchy(sscc=sscc, path=tuple(path), down=tree)

    # --- authorization --------------------------------------------------------------------------

    def _token(self) -> str:
        with self.tokens.lock:
            current = self.tokens.get(self._token_key)
            if current is not None and self._clock() < current[2]:
                return current[0]
            return self._authorize()

    def _authorize(self) -> str:
        """auth → code → signed code → token; stored with its expiry. Called under the store's lock. A code
        serves once, so a failed pair is retried as a whole."""
        attempt = 0
        while True:
            try:
                return self._authorize_once()
            except MdlpUnavailable as exc:
                attempt += 1
                if attempt > self.retries:
                    raise
                delay = min(self.backoff * 2 ** (attempt - 1), self.backoff_cap)
                logger.warning("MDLP: authorization: %s; retry %d of %d in %.2f s", exc.details.get("reason"),
                               attempt, self.retries, delay)
                self._sleep(delay)

    def _authorize_once(self) -> str:
        c = self.credentials
        data = self._call("POST", "auth", kind=READ, what="авторизация в МДЛП", authorized=False, payload={
            "client_id": c.client_id, "client_secret": c.client_secret, "user_id": c.user_id,
            "auth_type": "SIGNED_CODE"})
        code = data.get("code")
        if not isinstance(code, str) or not _TOKEN.fullmatch(code):
            raise _invalid("авторизация в МДЛП", "shape", "нет кода авторизации (code)")
        signature = self._sign(code.encode("utf-8"), "кода авторизации")
        data = self._call("POST", "token", kind=READ, what="получение токена МДЛП", authorized=False, payload={
            "code": code, "signature": base64.b64encode(signature).decode("ascii")})
        token, life_time = data.get("token"), data.get("life_time")
        if not isinstance(token, str) or not _TOKEN.fullmatch(token):
            raise _invalid("получение токена МДЛП", "shape", "нет токена (token)")
        if not _is_int(life_time) or not 1 <= life_time <= 24 * 60:
            raise _invalid("получение токена МДЛП", "shape", "срок действия токена (life_time, минуты) не число от 1 "
                                                              "до 1440")
        now, seconds = self._clock(), life_time * 60
        self.tokens.put(self._token_key, token, now + seconds, now + seconds - min(self.renew_before, seconds / 2))
        logger.info("MDLP: authorized client_id=%s for %d min", c.client_id, life_time)
        return token

    def _sign(self, data: bytes, what: str) -> bytes:
        try:
            signature = self.signer.sign(data)
        except MdlpError:
            raise
        except Exception as exc:  # noqa: BLE001 - a signing provider may fail in any way; the call is retried
            raise MdlpUnavailable(f"Не удалось подписать {what} для МДЛП: средство подписи ответило ошибкой "
                                  f"({type(exc).__name__}); подпись будет повторена",
                                  details={"reason": "signer"}) from None
        if not isinstance(signature, bytes) or not signature:
            raise MdlpNotConfigured(f"Средство подписи (MDLP_SIGNER) не вернуло подпись {what}")
        return signature

    # --- HTTP -----------------------------------------------------------------------------------

    def _call(self, method: str, path: str, *, kind: str, what: str, payload: dict | None = None,
              authorized: bool = True) -> dict:
        """One API call with retries; the answer's JSON object. authorized=False: auth and token themselves."""
        answer = self._request(method, self.base_url + path, kind=kind, what=what, payload=payload,
                               authorized=authorized, auth_call=not authorized, limit=self.max_answer_bytes,
                               retries=0 if not authorized else None)
        try:
            data = json.loads(answer.body)
        except (ValueError, RecursionError):
            raise _invalid(what, "not_json", "ответ не в формате JSON") from None
        if not isinstance(data, dict):
            raise _invalid(what, "shape", "ответ не объект JSON")
        return data

    def _request(self, method: str, url: str, *, kind: str, what: str, payload: dict | None, authorized: bool,
                 limit: int, auth_call: bool = False, retries: int | None = None) -> _Answer:
        retries = self.retries if retries is None else retries
        problem, renewed, attempt = "", False, 0
        while True:
            headers = {"Accept": "application/json"}
            token = None
            if authorized:
                token = self._token()
                headers["Authorization"] = f"token {token}"
            if self.limiter is not None:
                self.limiter.wait(kind)
            try:
                answer = self._exchange(method, url, headers, payload, limit, what)
            except requests.Timeout:
                answer, problem = None, f"нет ответа за {self.timeout:g} с"
            except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
                    requests.exceptions.InvalidSchema):
                raise MdlpNotConfigured(f"Неверный адрес API МДЛП (MDLP_BASE_URL): {self.base_url}") from None
            except requests.RequestException as exc:
                answer, problem = None, "соединение не установлено или разорвано"
                logger.debug("MDLP: %s: %s", what, type(exc).__name__)
            if answer is not None:
                if answer.status == 401 and authorized and not renewed:
                    # the token expired early or was revoked: renew once, then repeat the call
                    renewed = True
                    with self.tokens.lock:
                        self.tokens.drop(self._token_key, token)
                    logger.info("MDLP: %s: token refused (401), renewing", what)
                    continue
                if answer.status < 400:
                    return answer
                if answer.status < 500 and answer.status not in RETRY_STATUSES:
                    raise self._refusal(answer, what, auth_call)
                problem = f"HTTP {answer.status}{_error_suffix(answer.body)}"
            attempt += 1
            if attempt > retries:
                raise MdlpUnavailable(f"МДЛП недоступна: {problem} ({what}); вызов будет повторён",
                                      details={"reason": problem, "attempts": attempt})
            delay = min(self.backoff * 2 ** (attempt - 1), self.backoff_cap)
            if answer is not None and answer.status == 429:
                delay = max(delay, min(_retry_after(answer.headers), self.backoff_cap))
            logger.warning("MDLP: %s: %s; retry %d of %d in %.2f s", what, problem, attempt, retries, delay)
            self._sleep(delay)

    def _exchange(self, method: str, url: str, headers: dict, payload: dict | None, limit: int,
                  what: str) -> _Answer:
        with self._session.request(method, url, json=payload, headers=headers, timeout=self.timeout,
                                   stream=True, allow_redirects=False) as response:
            length = response.headers.get("Content-Length", "")
            if length.isdigit() and int(length) > limit:
                raise _invalid(what, "too_large", f"ответ больше {limit} байт")
            body = bytearray()
            for chunk in response.iter_content(64 * 1024):
                body += chunk
                if len(body) > limit:
                    raise _invalid(what, "too_large", f"ответ больше {limit} байт")
            return _Answer(response.status_code, bytes(body), response.headers)

    def _refusal(self, answer: _Answer, what: str, auth_call: bool) -> MdlpRejected:
        error_code, description = _error_of(answer.body)
        details = {"status": answer.status, "error_code": error_code, "error_description": description}
        text = f": {description}" if description else ""
        if auth_call or answer.status == 401:
            return MdlpAuthFailed(f"МДЛП отказала в авторизации ({what}){text}. Проверьте MDLP_CLIENT_ID, "
                                  "MDLP_CLIENT_SECRET, MDLP_USER_ID и сертификат подписи", details=details)
        if answer.status == 404:
            return MdlpNotFound(f"МДЛП не нашла запрошенное ({what}){text}", details=details)
        return MdlpRejected(f"МДЛП отклонила запрос ({what}): HTTP {answer.status}{text}", details=details)

    def _file(self, data: dict, what: str) -> bytes:
        """Follow the `link` of a ticket or download answer and return the file, checked to be safe XML.
        The token goes only to MDLP's own origin, never to a link elsewhere."""
        link = data.get("link")
        if not isinstance(link, str) or not link or len(link) > 4096:
            raise _invalid(what, "shape", "нет ссылки на файл (link)")
        url = urljoin(self.base_url, link)
        if urlsplit(url).scheme not in ("http", "https"):
            raise _invalid(what, "link", "ссылка на файл не http(s)")
        answer = self._request("GET", url, kind=READ, what=what, payload=None,
                               authorized=_origin(url) == self._origin, limit=self.max_file_bytes)
        try:
            xsd.parse_safely(answer.body, max_bytes=self.max_file_bytes)
        except xsd.DocumentMalformed as exc:
            raise _invalid(what, exc.details.get("reason", "xml_malformed"), exc.message) from None
        return answer.body


# --- answers -----------------------------------------------------------------------------------

def _invalid(what: str, reason: str, text: str) -> MdlpAnswerInvalid:
    return MdlpAnswerInvalid(f"МДЛП ответила непонятно ({what}): {text}. Ничего не изменено; запрос можно повторить",
                             details={"reason": reason})


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc.lower()


def _check_id(value, name: str) -> None:
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise ValueError(f"{name}: 1-200 characters: letters, digits, '.', '_', ':', '-'")


def _answer_id(value, name: str, what: str) -> str:
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise _invalid(what, "shape", f"нет идентификатора {name}")
    return value


def _status(data: dict, what: str) -> str:
    status = data.get("doc_status")
    if not isinstance(status, str):
        raise _invalid(what, "shape", "нет статуса doc_status")
    if status not in STATUSES:
        raise _invalid(what, "unknown_status", f"неизвестный статус документа {status[:60]!r}")
    return status


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _opt_int(value, name: str, what: str) -> int | None:
    return None if value is None else _req_int(value, name, what)


def _req_int(value, name: str, what: str) -> int:
    if _is_int(value):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 6:
        return int(value)
    raise _invalid(what, "shape", f"поле {name} не число")


def _opt_str(value) -> str | None:
    return value[:200] if isinstance(value, str) else None


def _req_str(value, name: str, what: str) -> str:
    if not isinstance(value, str) or not value or len(value) > 200:
        raise _invalid(what, "shape", f"нет поля {name}")
    return value


def _opt_place(value, what: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _PLACE.fullmatch(value):
        raise _invalid(what, "shape", "идентификатор места деятельности не из 14 цифр")
    return value


def _sgtin_info(info: dict, what: str) -> SgtinInfo:
    sgtin = info.get("sgtin")
    if not isinstance(sgtin, str) or not _SGTIN.fullmatch(sgtin):
        raise _invalid(what, "shape", "нет кода sgtin")
    sscc = info.get("sscc")
    if sscc is not None and (not isinstance(sscc, str) or not _SSCC.fullmatch(sscc)):
        raise _invalid(what, "shape", "неверный SSCC")
    owner = info.get("sys_id")
    if not isinstance(owner, str) or not _PLACE.fullmatch(owner):
        raise _invalid(what, "shape", "нет места деятельности владельца (sys_id)")
    return SgtinInfo(sgtin=sgtin, status=_req_str(info.get("status"), "status", what), owner_id=owner,
                     gtin=sgtin[:14], sscc=sscc, series_number=_opt_str(info.get("batch")),
                     expiration_date=_opt_str(info.get("expiration_date")),
                     status_date=_opt_str(info.get("status_date")))


def _tree(node: dict, what: str, count: list[int], depth: int = 0) -> SsccNode:
    count[0] += 1
    if depth > MAX_TREE_DEPTH or count[0] > MAX_TREE_NODES:
        raise _invalid(what, "too_large", "слишком глубокая или большая иерархия")
    sscc, children = node.get("sscc"), node.get("childs") or []
    if not isinstance(sscc, str) or not _SSCC.fullmatch(sscc) or not isinstance(children, list):
        raise _invalid(what, "shape", "узел иерархии без SSCC или списка childs")
    sgtins, boxes = [], []
    for child in children:
        if isinstance(child, dict) and isinstance(child.get("sgtin"), str) and _SGTIN.fullmatch(child["sgtin"]):
            sgtins.append(child["sgtin"])
            count[0] += 1
        elif isinstance(child, dict) and "sscc" in child:
            boxes.append(_tree(child, what, count, depth + 1))
        else:
            raise _invalid(what, "shape", "элемент иерархии не SGTIN и не SSCC")
    return SsccNode(sscc=sscc, sgtins=tuple(sgtins), boxes=tuple(boxes))


def _error_of(body: bytes) -> tuple[str | None, str | None]:
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


def _error_suffix(body: bytes) -> str:
    _, text = _error_of(body)
    return f" ({text[:200]})" if text else ""


def _retry_after(headers) -> float:
    value = (headers or {}).get("Retry-After", "")
    try:
        return max(float(value), 0.0)
    except ValueError:
        return 0.0
