"""Client of the Social Fund's FrlChangesService (SOAP 1.1, zeep): the newest version of the
region's federal register and the changes since a version, page by page.

Failures: timeouts, refused or broken connections, HTTP 5xx and soap:Server faults are retried
with exponential backoff, then raise `SfrError(retryable=True)`; a soap:Client fault (the
service refuses the request) raises `SfrError(retryable=False)` with the service's text; an
answer that is not well-formed XML, carries a DTD or entities, or does not match the WSDL raises
`SfrFormatError`. Answers hold personal data: no answer body reaches a message or a log line
(zeep's transport log included). See docs/sfr.md.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

import requests
import zeep
from zeep import exceptions as zeep_errors
from zeep.transports import Transport

from .dbf import PERSON_FIELDS, RIGHT_FIELDS
from .errors import SfrError, SfrFormatError

__all__ = ["ChangesPage", "SfrClient", "SfrError", "SfrFormatError"]

logger = logging.getLogger(__name__)

MAX_PAGE_SIZE = 5000
BENEFIT_FIELDS = RIGHT_FIELDS[1:]  # the person's SS is copied into each benefit
ACTIONS = frozenset({"upsert", "exclude"})
RETRY_STATUSES = frozenset({408, 429})
SETTINGS = zeep.Settings(strict=True, xml_huge_tree=False, forbid_dtd=True, forbid_entities=True,
                         forbid_external=True)
HOSTILE = (zeep_errors.DTDForbidden, zeep_errors.EntitiesForbidden, zeep_errors.ExternalReferenceForbidden)


class _HideBodies(logging.Filter):
    """zeep logs whole messages at DEBUG; the answers hold names and SNILS. Keep the first line."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args and isinstance(record.args[-1], (str, bytes)):
            head = str(record.msg).split("\n", 1)[0]
            if head != record.msg:
                record.msg, record.args = head + " [тело сообщения скрыто]", record.args[:-1]
        return True


logging.getLogger("zeep.transports").addFilter(_HideBodies())


class _Transport(Transport):
    """Loads the configured WSDL and nothing else: zeep's forbid_external stops http(s) imports
    in a WSDL, not file: ones, and this service's WSDL is self-contained."""

    def __init__(self, wsdl_url: str, **kwargs):
        super().__init__(**kwargs)
        self._allowed = {wsdl_url}
        if "://" not in wsdl_url:
            self._allowed.add(os.path.abspath(wsdl_url))

    def load(self, url):
        if url not in self._allowed:
            raise zeep_errors.ExternalReferenceForbidden(url)
        return super().load(url)


@dataclass(frozen=True)
class ChangesPage:
    version: int  # the version the page set brings the register to
    # (action, C_REGO-shaped dict incl. SS, [C_REGL-shaped dicts each incl. SS]); action: upsert | exclude
    persons: list[tuple[str, dict[str, str], list[dict[str, str]]]]


class SfrClient:
    def __init__(self, wsdl_url: str, *, region: str, timeout: float = 60.0, retries: int = 3,
                 backoff: float = 0.5, page_size: int = 1000):
        if not wsdl_url:
            raise SfrError("Адрес сервиса СФР не настроен (SFR_WSDL_URL)", retryable=False)
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise SfrError(f"Размер страницы изменений СФР (SFR_PAGE_SIZE) должен быть от 1 до {MAX_PAGE_SIZE}, "
                           f"указано {page_size}", retryable=False)
        self.wsdl_url = wsdl_url
        self.region = region
        self.timeout = timeout
        self.retries = max(retries, 0)
        self.backoff = backoff
        self.page_size = page_size
        self._session = requests.Session()
        self._session.headers["User-Agent"] = "llo-sfr-client/1"
        self._transport = _Transport(wsdl_url, session=self._session, timeout=timeout, operation_timeout=timeout)
        self._service = None

    @classmethod
    def from_settings(cls) -> SfrClient:
        from django.conf import settings

        return cls(getattr(settings, "SFR_WSDL_URL", ""), region=getattr(settings, "SFR_REGION", "99"),
                   timeout=getattr(settings, "SFR_TIMEOUT", 60.0), retries=getattr(settings, "SFR_RETRIES", 3),
                   page_size=getattr(settings, "SFR_PAGE_SIZE", 1000))

    def __repr__(self) -> str:
        return f"SfrClient({self.wsdl_url!r}, region={self.region!r})"

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> SfrClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- operations ---------------------------------------------------------------------

    def current_version(self) -> tuple[int, date]:
        what = f"текущая версия регистра по региону {self.region}"
        answer = self._call("GetCurrentVersion", what, regionCode=self.region)
        version, day = getattr(answer, "version", None), getattr(answer, "date", None)
        if not isinstance(version, int) or version < 0 or not isinstance(day, date):
            raise SfrFormatError(f"Сервис СФР ответил непонятно на запрос «{what}»: нет номера версии или даты")
        return version, day

    def changes(self, since: int) -> Iterator[ChangesPage]:
        """The pages of changes after version `since` (0: everything). Follows nextPageToken to the
        last page. A failure on any page raises: the caller starts again from `since`."""
        token: str | None = None
        seen: set[str] = set()
        version: int | None = None
        page = 0
        while True:
            page += 1
            what = f"изменения регистра после версии {since}, страница {page}"
            answer = self._call("GetChanges", what, regionCode=self.region, sinceVersion=since, pageToken=token,
                                pageSize=self.page_size)
            result = _page(answer, what)
            if version is not None and result.version != version:
                raise SfrFormatError(f"Сервис СФР сменил версию посреди выдачи изменений ({version} → "
                                     f"{result.version}, {what}): загрузите изменения заново")
            version = result.version
            yield result
            token = getattr(answer, "nextPageToken", None)
            if not token:
                return
            if token in seen:
                raise SfrFormatError(f"Сервис СФР зациклил выдачу изменений (повторный nextPageToken, {what})")
            seen.add(token)

    # --- SOAP ---------------------------------------------------------------------------

    def _proxy(self):
        if self._service is None:
            self._service = zeep.Client(self.wsdl_url, transport=self._transport, settings=SETTINGS).service
        return self._service

    def _call(self, operation: str, what: str, **params):
        """Call with retries: the WSDL is loaded on the first call, within the same retries."""
        problem = ""
        for attempt in range(self.retries + 1):
            if attempt:
                delay = self.backoff * 2 ** (attempt - 1)
                logger.warning("SFR service: %s: %s; retry %d of %d in %.1f s",
                               what, problem, attempt, self.retries, delay)
                time.sleep(delay)
            try:
                return getattr(self._proxy(), operation)(**params)
            except (requests.RequestException, zeep_errors.Error, ValueError) as exc:
                # a fault met before the WSDL is in hand is the WSDL's
                subject = what if self._service is not None else f"{what}: описание сервиса (WSDL)"
                problem = self._transient(exc, subject)
        raise SfrError(f"Сервис СФР недоступен: {problem} ({what}); загрузка будет повторена", retryable=True)

    def _transient(self, exc: Exception, subject: str) -> str:
        """What went wrong, when trying again may help; otherwise raises the error to report."""
        if isinstance(exc, requests.Timeout):
            return f"нет ответа за {self.timeout:g} с"
        if isinstance(exc, (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
                            requests.exceptions.InvalidSchema)):
            raise SfrError(f"Неверный адрес сервиса СФР (SFR_WSDL_URL): {self.wsdl_url}", retryable=False) from None
        if isinstance(exc, requests.HTTPError):  # loading the WSDL
            status = exc.response.status_code if exc.response is not None else 0
            if status >= 500 or status in RETRY_STATUSES:
                return f"HTTP {status} при загрузке WSDL"
            raise SfrError(f"Описание сервиса СФР (WSDL) не получено: HTTP {status}; проверьте адрес "
                           f"SFR_WSDL_URL ({self.wsdl_url})", retryable=False) from None
        if isinstance(exc, requests.RequestException):
            return "соединение не установлено или разорвано"
        if isinstance(exc, zeep_errors.Fault):
            text = _fault_text(exc)
            if _server_side(exc):
                return f"ошибка на стороне сервиса: {text}"
            raise SfrError(f"Сервис СФР отклонил запрос «{subject}»: {text}", retryable=False) from None
        if isinstance(exc, zeep_errors.TransportError):
            status = exc.status_code or 0
            if status >= 500 or status in RETRY_STATUSES:
                return f"HTTP {status}"
            if not 200 <= status < 300:
                raise SfrError(f"Сервис СФР ответил HTTP {status} на запрос «{subject}»: проверьте адрес "
                               f"SFR_WSDL_URL ({self.wsdl_url})", retryable=False) from None
            if _declares_entities(exc.content):  # libxml2 refused an entity bomb itself
                raise SfrFormatError(_hostile(subject)) from None
            raise SfrFormatError(f"Ответ сервиса СФР на запрос «{subject}» — не XML или XML оборван: "
                                 "ответ отклонён, загрузка прервана") from None
        if isinstance(exc, HOSTILE):
            raise SfrFormatError(_hostile(subject)) from None
        # XMLSyntaxError, XMLParseError, ValidationError, WsdlSyntaxError, LookupError, a bad value…
        raise SfrFormatError(f"Ответ сервиса СФР на запрос «{subject}» не соответствует описанию сервиса "
                             f"(WSDL): {_reason(exc)}") from None


def _hostile(what: str) -> str:
    return (f"Ответ сервиса СФР на запрос «{what}» содержит DTD, сущности XML или ссылки на внешние ресурсы "
            "(возможна атака на разбор XML): ответ отклонён без разбора. Сообщите администратору сервиса СФР")


def _declares_entities(content) -> bool:
    """A DTD can only stand before the root element, so the head of the answer tells."""
    head = content[:65536] if isinstance(content, bytes) else b""
    return b"<!DOCTYPE" in head or b"<!ENTITY" in head


def _server_side(fault: zeep_errors.Fault) -> bool:
    """soap:Server: the service's own trouble, worth retrying; anything else is about the request."""
    return str(fault.code or "").rpartition(":")[2] == "Server"


def _fault_text(fault: zeep_errors.Fault) -> str:
    text = " ".join(str(fault.message or "").split())
    return text[:500] or "без пояснения"


def _reason(exc: Exception) -> str:
    """A short, content-free reason: the class of the problem, never the answer's text."""
    return {
        "XMLSyntaxError": "XML повреждён",
        "XMLParseError": "неожиданный элемент или значение",
        "UnexpectedElementError": "неожиданный элемент",
        "ValidationError": "значение не соответствует схеме",
        "WsdlSyntaxError": "WSDL не читается",
        "LookupError": "в WSDL нет нужной операции или типа",
        "NamespaceError": "неизвестное пространство имён",
    }.get(type(exc).__name__, "ответ не разбирается")


def _text(value) -> str:
    return "" if value is None else value.strip() if isinstance(value, str) else str(value)


def _page(answer, what: str) -> ChangesPage:
    version = getattr(answer, "version", None)
    if not isinstance(version, int) or version < 0:
        raise SfrFormatError(f"Сервис СФР ответил непонятно на запрос «{what}»: нет номера версии")
    persons = []
    for item in getattr(answer, "person", None) or []:
        action = getattr(item, "action", None)
        if action not in ACTIONS:
            raise SfrFormatError(f"Сервис СФР прислал запись с неизвестным действием «{str(action)[:20]}» ({what}): "
                                 "ожидается upsert или exclude")
        person = {name: _text(getattr(item, name, None)) for name in PERSON_FIELDS}
        benefits = [{"SS": person["SS"], **{name: _text(getattr(b, name, None)) for name in BENEFIT_FIELDS}}
                    for b in getattr(item, "benefit", None) or []]
        persons.append((action, person, benefits))
    return ChangesPage(version, persons)
