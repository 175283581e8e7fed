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
first takes a slot of the shared `IntervalLimiter` (ratelimit.py); answers are checked in answers.py.
Tokens, the client secret, codes and signatures never reach a message or a log line. See docs/mdlp.md, «Client and emulator».
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

from . import answers, xsd
from .answers import DocumentInfo, DocumentsPage, DocumentStatus, SgtinInfo, SsccHierarchy, SsccNode
from .errors import (
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

RETRY_STATUSES = frozenset({408, 429})
MAX_LIST_COUNT = 500  # documents or codes per list call
_TOKEN = re.compile(r"[A-Za-z0-9._~+/=\-]{1,1024}")


@dataclass(frozen=True)
class Credentials:
    client_id: str
    client_secret: str = field(repr=False)
    user_id: str  # the SHA-1 thumbprint of the signer's certificate (auth_type SIGNED_CODE)


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
        answers.check_id(request_id, "request_id")
        signature = self._sign(document, "документа")
        data = self._call("POST", "documents/send", kind=SEND, what=f"отправка документа {request_id}", payload={
            "document": base64.b64encode(document).decode("ascii"),
            "sign": base64.b64encode(signature).decode("ascii"),
            "request_id": request_id,
        })
        document_id = answers.answer_id(data.get("document_id"), "document_id", "отправка документа")
        logger.info("MDLP: document sent, request_id=%s, document_id=%s", request_id, document_id)
        return document_id

    def document(self, document_id: str) -> DocumentStatus:
        """The document's metadata and processing status."""
        answers.check_id(document_id, "document_id")
        data = self._call("GET", f"documents/{quote(document_id, safe='')}", kind=READ,
                          what=f"статус документа {document_id}")
        status = answers.status_of(data, "статус документа")
        answered = data.get("document_id")
        if answered is not None and answered != document_id:
            raise answers.invalid("статус документа", "wrong_document",
                                  f"прислан статус другого документа ({answered!r})")
        return DocumentStatus(
            document_id=document_id, doc_status=status, request_id=answers.opt_str(data.get("request_id")),
            doc_type=answers.opt_int(data.get("doc_type"), "doc_type", "статус документа"),
            date=answers.opt_str(data.get("date")), processed_date=answers.opt_str(data.get("processed_date")))

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
        answers.check_id(document_id, "document_id")
        what = f"квитанция по документу {document_id}"
        data = self._call("GET", f"documents/{quote(document_id, safe='')}/ticket", kind=READ, what=what)
        return self._file(data, what)

    def download(self, document_id: str) -> bytes:
        """An incoming or sent document's XML (e.g. a 601 from the income list), checked to be safe XML."""
        answers.check_id(document_id, "document_id")
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
        if not isinstance(items, list) or not answers.is_int(total) or total < 0 or len(items) > count:
            raise answers.invalid(what, "shape", "нет списка documents и числа total")
        documents = []
        for item in items:
            if not isinstance(item, dict):
                raise answers.invalid(what, "shape", "элемент списка не объект")
            documents.append(answers.document_info(item, what))
        return DocumentsPage(documents, total)

    # --- the registry ---------------------------------------------------------------------------

    def sgtin(self, sgtin: str) -> SgtinInfo:
        """Where a pack is and in which state (`GET reestr/sgtin/{sgtin}`); MdlpNotFound when unknown."""
        if not isinstance(sgtin, str) or not answers.SGTIN.fullmatch(sgtin):
            raise ValueError("SGTIN: 14 digits of GTIN and 13 characters of the serial number")
        what = f"сведения о коде {sgtin}"
        data = self._call("GET", f"reestr/sgtin/{sgtin}", kind=LIST, what=what)
        info = data.get("sgtin_info")
        if not isinstance(info, dict):
            raise answers.invalid(what, "shape", "нет объекта sgtin_info")
        return answers.sgtin_info(info, what)

    def sgtins(self, sgtins: Iterable[str]) -> list[SgtinInfo]:
        """Several packs at once (`POST reestr/sgtin/filter`, up to 500 a call); unknown codes are absent."""
        codes = list(dict.fromkeys(sgtins))
        for code in codes:
            if not isinstance(code, str) or not answers.SGTIN.fullmatch(code):
                raise ValueError(f"SGTIN {code!r}: 14 digits of GTIN and 13 characters of the serial number")
        found = []
        for start in range(0, len(codes), MAX_LIST_COUNT):
            chunk = codes[start:start + MAX_LIST_COUNT]
            what = f"сведения о кодах ({len(chunk)})"
            data = self._call("POST", "reestr/sgtin/filter", kind=LIST, what=what,
                              payload={"filter": {"sgtins": chunk}, "start_from": 0, "count": len(chunk)})
            entries = data.get("entries")
            if not isinstance(entries, list) or len(entries) > len(chunk):
                raise answers.invalid(what, "shape", "нет списка entries или он длиннее запроса")
            asked = set(chunk)
            for entry in entries:
                if not isinstance(entry, dict):
                    raise answers.invalid(what, "shape", "элемент списка не объект")
                info = answers.sgtin_info(entry, what)
                if info.sgtin not in asked:
                    raise answers.invalid(what, "shape", f"в ответе код, который не запрашивался ({info.sgtin})")
                found.append(info)
        return found

    def sscc_hierarchy(self, sscc: str) -> SsccHierarchy:
        """The boxes around a transport pack and everything inside it."""
        if not isinstance(sscc, str) or not answers.SSCC.fullmatch(sscc):
            raise ValueError("SSCC: 18 digits")
        what = f"иерархия упаковки {sscc}"
        data = self._call("GET", f"reestr/sscc/{sscc}/hierarchy", kind=LIST, what=what)
        up, down = data.get("up"), data.get("down")
        if not isinstance(up, dict) or not isinstance(down, dict):
            raise answers.invalid(what, "shape", "нет объектов up и down")
        path, node, depth = [], up, 0
        while True:
            code = node.get("sscc")
            if not isinstance(code, str) or not answers.SSCC.fullmatch(code) or depth > answers.MAX_TREE_DEPTH:
                raise answers.invalid(what, "shape", "неверная цепочка вложенности (up)")
            path.append(code)
            children = [c for c in node.get("childs") or [] if isinstance(c, dict) and "sscc" in c]
            if code == sscc or not children:
                break
            node, depth = children[0], depth + 1
        if path[-1] != sscc:
            raise answers.invalid(what, "shape", "цепочка вложенности не доходит до запрошенной упаковки")
        tree = answers.sscc_tree(down, what, [0])
        if tree.sscc != sscc:
            raise answers.invalid(what, "shape", "прислано содержимое другой упаковки")
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
            raise answers.invalid("авторизация в МДЛП", "shape", "нет кода авторизации (code)")
        signature = self._sign(code.encode("utf-8"), "кода авторизации")
        data = self._call("POST", "token", kind=READ, what="получение токена МДЛП", authorized=False, payload={
            "code": code, "signature": base64.b64encode(signature).decode("ascii")})
        token, life_time = data.get("token"), data.get("life_time")
        if not isinstance(token, str) or not _TOKEN.fullmatch(token):
            raise answers.invalid("получение токена МДЛП", "shape", "нет токена (token)")
        if not answers.is_int(life_time) or not 1 <= life_time <= 24 * 60:
            raise answers.invalid("получение токена МДЛП", "shape",
                                  "срок действия токена (life_time, минуты) не число от 1 до 1440")
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
            raise answers.invalid(what, "not_json", "ответ не в формате JSON") from None
        if not isinstance(data, dict):
            raise answers.invalid(what, "shape", "ответ не объект JSON")
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
                problem = f"HTTP {answer.status}{answers.error_suffix(answer.body)}"
            attempt += 1
            if attempt > retries:
                raise MdlpUnavailable(f"МДЛП недоступна: {problem} ({what}); вызов будет повторён",
                                      details={"reason": problem, "attempts": attempt})
            delay = min(self.backoff * 2 ** (attempt - 1), self.backoff_cap)
            if answer is not None and answer.status == 429:
                delay = max(delay, min(answers.retry_after(answer.headers), self.backoff_cap))
            logger.warning("MDLP: %s: %s; retry %d of %d in %.2f s", what, problem, attempt, retries, delay)
            self._sleep(delay)

    def _exchange(self, method: str, url: str, headers: dict, payload: dict | None, limit: int,
                  what: str) -> _Answer:
        with self._session.request(method, url, json=payload, headers=headers, timeout=self.timeout,
                                   stream=True, allow_redirects=False) as response:
            length = response.headers.get("Content-Length", "")
            if length.isdigit() and int(length) > limit:
                raise answers.invalid(what, "too_large", f"ответ больше {limit} байт")
            body = bytearray()
            for chunk in response.iter_content(64 * 1024):
                body += chunk
                if len(body) > limit:
                    raise answers.invalid(what, "too_large", f"ответ больше {limit} байт")
            return _Answer(response.status_code, bytes(body), response.headers)

    def _refusal(self, answer: _Answer, what: str, auth_call: bool) -> MdlpRejected:
        error_code, description = answers.error_of(answer.body)
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
            raise answers.invalid(what, "shape", "нет ссылки на файл (link)")
        url = urljoin(self.base_url, link)
        if urlsplit(url).scheme not in ("http", "https"):
            raise answers.invalid(what, "link", "ссылка на файл не http(s)")
        answer = self._request("GET", url, kind=READ, what=what, payload=None,
                               authorized=_origin(url) == self._origin, limit=self.max_file_bytes)
        try:
            xsd.parse_safely(answer.body, max_bytes=self.max_file_bytes)
        except xsd.DocumentMalformed as exc:
            raise answers.invalid(what, exc.details.get("reason", "xml_malformed"), exc.message) from None
        return answer.body


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc.lower()
