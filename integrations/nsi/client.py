"""Client of the federal NSI portal (nsi.rosminzdrav.ru, ФНСИ): dictionary passports and
versions, and a version's records spooled to a local CSV file for the loader.

Failures: timeouts, refused or broken connections and HTTP 5xx/408/429 are retried with
exponential backoff, then raise `NsiError(retryable=True)`; an ERROR answer raises
`NsiError(retryable=False)`; an unreadable answer or file raises `NsiFormatError`. The user key
travels in the query string (the portal's protocol) and is kept out of every message and log
line, urllib3's debug log included. See docs/nsi.md.
"""

from __future__ import annotations

import csv
import logging
import re
import time
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from urllib.parse import quote

import requests
import urllib3

from .errors import NsiError, NsiFormatError
from .spool import read_spool

__all__ = ["NsiClient", "NsiError", "NsiFormatError", "Passport", "PortalVersion", "Spool", "read_spool"]

logger = logging.getLogger(__name__)

PAGE_SIZE = 500  # the portal's maximum
VERSIONS_PAGE_SIZE = 200
CHUNK = 64 * 1024
PROGRESS_BYTES = 1024 * 1024
RETRY_STATUSES = frozenset({408, 429})
KEY_REJECTED = "Портал НСИ отклонил ключ пользователя (NSI_USER_KEY): проверьте настройку"
_KEY_IN_TEXT = re.compile(r"(userKey=)[^&\s'\"]*", re.IGNORECASE)


def scrub(text: str, key: str = "") -> str:
    """`text` without the user key (as a query parameter or anywhere verbatim)."""
    text = _KEY_IN_TEXT.sub(r"\1***", text)
    if key:
        text = text.replace(key, "***").replace(quote(key, safe=""), "***")
    return text


class _ScrubKeys(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "userkey=" in message.lower():
            record.msg, record.args = scrub(message), ()
        return True


# urllib3 logs every request line, query string included, at DEBUG.
logging.getLogger("urllib3.connectionpool").addFilter(_ScrubKeys())


class _BulkUnusable(Exception):
    """The bulk file cannot be had or used; the REST API may still serve the version."""


@dataclass(frozen=True)
class Passport:
    oid: str
    name: str
    version: str
    publish_date: date
    rows_count: int
    fields: list[str]


@dataclass(frozen=True)
class PortalVersion:
    version: str
    publish_date: date


@dataclass(frozen=True)
class Spool:
    path: Path  # plain CSV: UTF-8 (with BOM), ";" delimiter, header line first
    source: str  # "csv_zip" or "rest"
    rows: int


class NsiClient:
    def __init__(self, base_url: str, user_key: str, *, timeout: float = 30.0, retries: int = 3,
                 backoff: float = 0.5):
        if not base_url:
            raise NsiError("Адрес портала НСИ не настроен (NSI_BASE_URL)", retryable=False)
        self.base_url = base_url.rstrip("/") + "/"
        self.timeout = timeout
        self.retries = max(retries, 0)
        self.backoff = backoff
        self._key = user_key
        self._session = requests.Session()
        self._session.headers["User-Agent"] = "llo-nsi-client/1"

    @classmethod
    def from_settings(cls) -> NsiClient:
        from django.conf import settings

        # An empty NSI_USER_KEY is left to the portal: its refusal names the setting to fix.
        return cls(getattr(settings, "NSI_BASE_URL", ""), getattr(settings, "NSI_USER_KEY", ""),
                   timeout=getattr(settings, "NSI_TIMEOUT", 30.0), retries=getattr(settings, "NSI_RETRIES", 3))

    def __repr__(self) -> str:
        return f"NsiClient({self.base_url!r})"

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> NsiClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- passport and versions ----------------------------------------------------------

    def passport(self, oid: str, version: str | None = None) -> Passport:
        what = f"паспорт справочника {oid}" + (f" версии {version}" if version else "")
        params = {"identifier": oid, **({"version": version} if version else {})}
        data = self._get_json("port/rest/passport", params, what)
        try:
            passport = Passport(
                oid=str(data.get("oid") or oid), name=str(data["fullName"] or ""), version=str(data["version"]),
                publish_date=_parse_date(data["publishDate"]), rows_count=int(data["rowsCount"]),
                fields=[str(item["field"]) for item in data["fields"]],
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise NsiFormatError(
                f"Паспорт справочника {oid} с портала НСИ неполон или непонятен: {_reason(exc)}"
            ) from None
        problem = (
            f"в паспорте другой справочник ({passport.oid})" if passport.oid != oid
            else f"в паспорте другая версия ({passport.version})" if version and passport.version != version
            else "в паспорте нет списка полей" if not passport.fields
            else "в паспорте есть поле без названия" if not all(passport.fields)
            else "поля паспорта повторяются" if len(set(passport.fields)) != len(passport.fields)
            else "число записей отрицательно" if passport.rows_count < 0
            else ""
        )
        if problem:
            raise NsiFormatError(f"Паспорт справочника {oid} с портала НСИ неверен: {problem}")
        return passport

    def versions(self, oid: str) -> list[PortalVersion]:
        """Every version on the portal, newest publication first."""
        found: dict[str, PortalVersion] = {}
        page = 1
        while True:
            what = f"версии справочника {oid}, страница {page}"
            params = {"identifier": oid, "page": page, "size": VERSIONS_PAGE_SIZE}
            data = self._get_json("port/rest/versions", params, what)
            try:
                total = int(data["total"])
                items = [PortalVersion(str(item["version"]), _parse_date(item["publishDate"])) for item in data["list"]]
            except (KeyError, TypeError, ValueError) as exc:
                raise NsiFormatError(
                    f"Список версий справочника {oid} с портала НСИ непонятен: {_reason(exc)}"
                ) from None
            for item in items:
                found.setdefault(item.version, item)
            if not items or len(found) >= total or page * VERSIONS_PAGE_SIZE >= total:
                break
            page += 1
        # a stable sort keeps the portal's order among versions published the same day
        return sorted(found.values(), key=lambda v: v.publish_date, reverse=True)

    def latest_version(self, oid: str) -> PortalVersion:
        versions = self.versions(oid)
        if not versions:
            raise NsiError(f"На портале НСИ нет опубликованных версий справочника {oid}", retryable=False)
        return versions[0]

    # --- records ------------------------------------------------------------------------

    def spool(self, oid: str, version: str, directory: Path, *,
              on_progress: Callable[[int, int | None], None] | None = None, prefer_bulk: bool = True) -> Spool:
        """Download `version` of `oid` into `directory` as a plain CSV file.

        The bulk zip is tried first; when it is missing or unusable (HTTP error, broken download,
        damaged archive) the version is paged through the REST API instead. `on_progress(done,
        total)` counts bytes of the zip (total: Content-Length or None) or rows from the REST API
        (total: the passport's rowsCount). A bulk file whose CSV is malformed raises
        NsiFormatError: that is what the portal published, not a transfer fault.
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        target = directory / f"{_safe(oid)}_{_safe(version)}.csv"
        if prefer_bulk:
            try:
                return Spool(target, "csv_zip", self._spool_bulk(oid, version, target, on_progress))
            except _BulkUnusable as exc:
                logger.warning("NSI %s version %s: bulk file unusable (%s); paging through the REST API",
                               oid, version, exc)
        return Spool(target, "rest", self._spool_rest(oid, version, target, on_progress))

    def _spool_bulk(self, oid: str, version: str, target: Path, on_progress) -> int:
        name = f"{quote(oid, safe='.')}_{quote(version, safe='.')}_csv.zip"
        archive = target.with_name(target.name + ".zip.part")
        extracted = target.with_name(target.name + ".part")
        try:
            try:
                response = self._send(f"api/dataFiles/{name}", None, f"файл справочника {oid} версии {version}",
                                      stream=True)
            except NsiError as exc:
                raise _BulkUnusable(exc.message) from None
            with response:
                if response.status_code != 200:
                    raise _BulkUnusable(f"HTTP {response.status_code}")
                self._download(response, archive, on_progress)
            _extract(archive, extracted)
            with read_spool(extracted) as (_header, rows):
                count = sum(1 for _ in rows)
            extracted.replace(target)
            return count
        finally:
            archive.unlink(missing_ok=True)
            extracted.unlink(missing_ok=True)

    def _download(self, response: requests.Response, path: Path, on_progress) -> None:
        length = response.headers.get("Content-Length", "")
        # with a Content-Encoding the length counts encoded bytes, not the ones iter_content yields
        encoded = response.headers.get("Content-Encoding", "identity") != "identity"
        expected = int(length) if length.isdigit() and not encoded else None
        received = reported = 0
        try:
            with path.open("wb") as out:
                for chunk in response.iter_content(CHUNK):
                    out.write(chunk)
                    received += len(chunk)
                    if on_progress and received - reported >= PROGRESS_BYTES:
                        on_progress(received, expected)
                        reported = received
        except (requests.RequestException, urllib3.exceptions.HTTPError):
            raise _BulkUnusable("соединение разорвано во время загрузки") from None
        if expected is not None and received != expected:
            raise _BulkUnusable(f"получено {received} байт из {expected}")
        if on_progress:
            on_progress(received, expected)

    def _spool_rest(self, oid: str, version: str, target: Path, on_progress) -> int:
        passport = self.passport(oid, version)
        fields = passport.fields
        partial = target.with_name(target.name + ".part")
        written = total = 0
        try:
            with partial.open("w", encoding="utf-8-sig", newline="") as out:
                writer = csv.writer(out, delimiter=";")
                writer.writerow(fields)
                page = 1
                while True:
                    items, total = self._data_page(oid, passport.version, page)
                    writer.writerows(_record(item, fields, oid) for item in items)
                    written += len(items)
                    if on_progress:
                        on_progress(written, passport.rows_count)
                    if not items or written >= total or page * PAGE_SIZE >= total:
                        break
                    page += 1
            if written != passport.rows_count:
                raise NsiFormatError(
                    f"Портал НСИ отдал {written} записей справочника {oid} версии {passport.version}, а в паспорте "
                    f"указано {passport.rows_count}: версия отдана не полностью, загрузка прервана"
                )
            partial.replace(target)
            return written
        finally:
            partial.unlink(missing_ok=True)

    def _data_page(self, oid: str, version: str, page: int) -> tuple[list, int]:
        what = f"записи справочника {oid} версии {version}, страница {page}"
        data = self._get_json("port/rest/data", {"identifier": oid, "version": version, "page": page,
                                                 "size": PAGE_SIZE}, what)
        items, total = data.get("list"), data.get("total")
        if not isinstance(items, list) or not str(total).isdigit():
            raise NsiFormatError(f"Портал НСИ ответил непонятно на запрос «{what}»: нет полей list и total")
        return items, int(total)

    # --- HTTP ---------------------------------------------------------------------------

    def _get_json(self, path: str, params: dict, what: str) -> dict:
        with self._send(path, {"userKey": self._key, **params}, what) as response:
            status = response.status_code
            try:
                data = response.json()
            except ValueError:
                data = None
        if status in (401, 403):
            raise NsiError(KEY_REJECTED, retryable=False)
        if status >= 400 or (isinstance(data, dict) and data.get("result") == "ERROR"):
            text = data.get("resultText") if isinstance(data, dict) else None
            hint = "; проверьте OID справочника и номер версии" if status == 404 else ""
            raise NsiError(f"Портал НСИ ответил ошибкой на запрос «{what}»: "
                           f"{scrub(str(text or f'HTTP {status}'), self._key)}{hint}", retryable=False)
        if not isinstance(data, dict):
            raise NsiFormatError(f"Портал НСИ ответил не в формате JSON на запрос «{what}»")
        if data.get("result") != "OK":
            raise NsiFormatError(f"Портал НСИ ответил непонятно на запрос «{what}»: result={data.get('result')!r}")
        return data

    def _send(self, path: str, params: dict | None, what: str, *, stream: bool = False) -> requests.Response:
        """GET with retries. Returns any answer below 500 (except 408/429); raises a retryable
        NsiError when the portal stays unreachable."""
        problem = ""
        for attempt in range(self.retries + 1):
            if attempt:
                delay = self.backoff * 2 ** (attempt - 1)
                logger.warning("NSI portal: %s: %s; retry %d of %d in %.1f s",
                               what, problem, attempt, self.retries, delay)
                time.sleep(delay)
            try:
                response = self._session.get(self.base_url + path, params=params, timeout=self.timeout, stream=stream)
            except requests.Timeout:
                problem = f"нет ответа за {self.timeout:g} с"
                continue
            except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
                    requests.exceptions.InvalidSchema):
                raise NsiError(f"Неверный адрес портала НСИ (NSI_BASE_URL): {self.base_url}", retryable=False) from None
            except requests.RequestException as exc:
                problem = "соединение не установлено или разорвано"
                logger.debug("NSI portal: %s: %s", what, scrub(str(exc), self._key))
                continue
            if response.status_code >= 500 or response.status_code in RETRY_STATUSES:
                problem = f"HTTP {response.status_code}{_error_text(response, self._key)}"
                response.close()
                continue
            return response
        raise NsiError(f"Портал НСИ недоступен: {problem} ({what}); загрузка будет повторена", retryable=True)


# --- helpers ------------------------------------------------------------------------------

# The whole ЕСКЛП is a few hundred megabytes of CSV; anything far larger is not a dictionary.
MAX_EXTRACTED_BYTES = 4 * 2**30


def _extract(archive: Path, target: Path) -> None:
    """The archive's single CSV member to `target`; _BulkUnusable when the archive is damaged."""
    try:
        with zipfile.ZipFile(archive) as zipped:
            members = [m for m in zipped.infolist() if not m.is_dir()]
            if len(members) != 1 or not members[0].filename.lower().endswith(".csv"):
                names = ", ".join(m.filename for m in members) or "пусто"
                raise _BulkUnusable(f"в архиве ожидался один файл .csv, а в нём: {names}")
            if members[0].file_size > MAX_EXTRACTED_BYTES:
                raise _BulkUnusable(f"файл в архиве больше {MAX_EXTRACTED_BYTES // 2**20} МБ")
            with zipped.open(members[0]) as source, target.open("wb") as out:
                copied = 0
                while chunk := source.read(CHUNK):  # the declared size may lie: count what comes out
                    copied += len(chunk)
                    if copied > MAX_EXTRACTED_BYTES:
                        raise _BulkUnusable(f"файл в архиве больше {MAX_EXTRACTED_BYTES // 2**20} МБ")
                    out.write(chunk)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as exc:
        raise _BulkUnusable(f"архив повреждён: {exc}") from None


def _record(item, fields: list[str], oid: str) -> list[str]:
    """A data row ([{column, value}, …]) in the order of `fields`; a missing column or null is ""."""
    if not isinstance(item, list):
        raise NsiFormatError(f"Портал НСИ прислал запись справочника {oid} не списком полей")
    values = {}
    for cell in item:
        if not isinstance(cell, dict) or "column" not in cell:
            raise NsiFormatError(f"Портал НСИ прислал поле записи справочника {oid} без названия (column)")
        values[str(cell["column"])] = _text(cell.get("value"))
    return [values.get(name, "") for name in fields]


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)


def _parse_date(value) -> date:
    """dd.mm.yyyy (the portal's form) or yyyy-mm-dd, with or without a time after it."""
    text = str(value or "").strip()
    day = re.split(r"[ T]", text, maxsplit=1)[0]
    for pattern in ("%d.%m.%Y", "%Y-%m-%d"):
        try:
            return datetime.strptime(day, pattern).date()
        except ValueError:
            continue
    raise ValueError(f"дата «{text}» не в формате ДД.ММ.ГГГГ")


def _reason(exc: Exception) -> str:
    if isinstance(exc, KeyError):
        return f"нет поля {exc.args[0]}"
    if isinstance(exc, TypeError):
        return "значение неожиданного типа"
    text = str(exc)
    return text if text.startswith("дата") else f"неверное значение ({text})"


def _error_text(response: requests.Response, key: str) -> str:
    try:
        text = response.json().get("resultText")
    except (ValueError, AttributeError):
        return ""
    return f" ({scrub(str(text), key)[:200]})" if text else ""


def _safe(text: str) -> str:
    return re.sub(r"[^0-9A-Za-z.\-]", "_", text)
