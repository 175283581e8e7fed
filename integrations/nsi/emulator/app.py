"""The WSGI application: the portal's REST API and bulk files, and the emulator's control API."""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import struct
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from http import HTTPStatus
from pathlib import Path
from urllib.parse import parse_qs

from integrations.emulator_controls import control_api

from .controls import Controls
from .store import Portal, PortalError, Release

logger = logging.getLogger("integrations.nsi.emulator")

MAX_PAGE_SIZE = 500
DEFAULT_PAGE_SIZE = 200
MAX_PAGE = 10_000_000
MAX_CONTROL_BODY = 256 * 1024 * 1024
CHUNK = 64 * 1024
BULK_PATH = re.compile(r"^/api/dataFiles/(?P<name>[^/]+)_csv\.zip$")


@dataclass
class Response:
    status: int
    body: Iterable[bytes]
    headers: list[tuple[str, str]]


def json_response(status: int, data) -> Response:
    body = json.dumps(data, ensure_ascii=False).encode()
    return Response(status, [body], [("Content-Type", "application/json; charset=utf-8"),
                                     ("Content-Length", str(len(body)))])


def portal_error(status: int, text: str) -> Response:
    return json_response(status, {"result": "ERROR", "resultCode": status, "resultText": text})


def _ok(**data) -> dict:
    return {"result": "OK", "resultCode": 0, "resultText": None, **data}


def _fmt(day: date) -> str:
    return day.strftime("%d.%m.%Y")


class PortalApp:
    def __init__(self, portal: Portal, controls: Controls, user_key: str):
        self.portal = portal
        self.controls = controls
        self.user_key = user_key

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "") or "/"
        method = environ.get("REQUEST_METHOD", "GET")
        try:
            if path.startswith("/_emulator/"):
                response = self._control(method, path, environ)
            else:
                response = self._portal(method, path, environ)
        except PortalError as exc:
            response = portal_error(exc.status, exc.text)
        except Exception:
            logger.exception("NSI emulator: %s %s failed", method, path)
            response = portal_error(500, "Внутренняя ошибка сервера")
        status = HTTPStatus(response.status)
        start_response(f"{status.value} {status.phrase}", response.headers)
        return response.body

    # --- the portal ---------------------------------------------------------------------

    def _portal(self, method: str, path: str, environ) -> Response:
        behaviour = self.controls.behaviour
        if behaviour.latency_ms:
            time.sleep(behaviour.latency_ms / 1000)
        if behaviour.down or self.controls.fails_now(behaviour.fail_rate):
            return portal_error(503, "Сервис временно недоступен, повторите запрос позже")
        if method != "GET":
            return portal_error(405, "Метод не поддерживается")
        bulk = BULK_PATH.match(path)
        if bulk:
            return self._bulk(bulk["name"], behaviour.truncate_bulk_after, behaviour.corrupt == "zip")
        endpoint = {"/port/rest/passport": self._passport, "/port/rest/versions": self._versions,
                    "/port/rest/data": self._data}.get(path)
        if endpoint is None:
            return portal_error(404, "Ресурс не найден")
        params = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True).items()}
        if params.get("userKey") != self.user_key:
            return portal_error(401, "Неверный ключ пользователя")
        oid = params.get("identifier", "").strip()
        if not oid:
            return portal_error(400, "Не указан идентификатор справочника (identifier)")
        response = json_response(200, endpoint(oid, params))
        if behaviour.corrupt == "json":
            body = response.body[0]
            response.body = [body[: len(body) // 2]]
            response.headers[1] = ("Content-Length", str(len(body) // 2))
        return response

    def _passport(self, oid: str, params: dict) -> dict:
        release = self.portal.release(oid, params.get("version") or None)
        info = self.portal.info(oid)
        first = min(r.publish_date for r in self.portal.releases(oid))
        return _ok(
            oid=oid, fullName=info.name, shortName=info.name.split(":")[0].split(" (")[0],
            version=release.version, createDate=_fmt(first), publishDate=_fmt(release.publish_date),
            lastUpdate=_fmt(release.publish_date), rowsCount=self.portal.row_count(release),
            description=f"Федеральный справочник «{info.name}»", releaseNotes=release.release_notes,
            structureNotes=None, archive=False,
            fields=[{"field": name, "dataType": "VARCHAR", "description": info.descriptions.get(name, "")}
                    for name in release.header],
            keys=[{"field": "ID", "type": "PRIMARY"}] if "ID" in release.header else [],
        )

    def _versions(self, oid: str, params: dict) -> dict:
        page, size = _paging(params)
        releases = self.portal.releases(oid)
        chosen = releases[(page - 1) * size: page * size]
        return _ok(total=len(releases), list=[
            {"version": r.version, "createDate": _fmt(r.publish_date), "publishDate": _fmt(r.publish_date),
             "releaseNotes": r.release_notes, "archive": False}
            for r in chosen
        ])

    def _data(self, oid: str, params: dict) -> dict:
        page, size = _paging(params)
        release = self.portal.release(oid, params.get("version") or None)
        rows = self.portal.rows(release)
        header = release.header
        chosen = rows[(page - 1) * size: page * size]
        # the portal sends an empty value as null; a short published row lacks its last columns
        return _ok(total=len(rows), list=[
            [{"column": name, "value": value or None} for name, value in zip(header, row, strict=False)]
            for row in chosen
        ])

    def _bulk(self, name: str, truncate_after: int | None, corrupt: bool) -> Response:
        oid, _, version = name.rpartition("_")
        try:
            release = self.portal.release(oid, version) if oid and version else None
        except PortalError:
            release = None
        if release is None:
            return portal_error(404, f"Файл {name}_csv.zip не найден")
        path = self.portal.bulk_file(release)
        size = path.stat().st_size
        damaged = _data_span(path) if corrupt else None
        return Response(200, _chunks(path, truncate_after, damaged), [
            ("Content-Type", "application/zip"),
            ("Content-Length", str(size)),
            ("Content-Disposition", f'attachment; filename="{name}_csv.zip"'),
        ])

    # --- the control API ----------------------------------------------------------------

    def _control(self, method: str, path: str, environ) -> Response:
        status, body = control_api(self.controls, method, path, lambda: _read_json(environ),
                                   reset=self.portal.reset, publish=self._published)
        return json_response(status, body)

    def _published(self, payload: dict) -> dict:
        release = self._publish(payload)
        return {"oid": release.oid, "version": release.version,
                "rows": len(release.rows) if release.rows is not None else None}

    def _publish(self, payload: dict) -> Release:
        oid, version = payload.get("oid"), payload.get("version")
        if not isinstance(oid, str) or not oid.strip():
            raise ValueError("oid: обязательная строка")
        if not isinstance(version, str):
            raise ValueError("version: обязательная строка")
        raw = _raw_file(payload)
        header = rows = None
        if raw is None:
            header = payload.get("header")
            if not isinstance(header, list) or not header or not all(isinstance(h, str) and h for h in header):
                raise ValueError("header: ожидается непустой список названий полей")
            rows = [_row(n, row) for n, row in enumerate(payload.get("rows") or [], start=1)]
        notes = payload.get("release_notes") or ""
        return self.portal.publish(
            oid=oid.strip(), version=version, publish_date=_day(payload.get("publish_date")),
            header=header, rows=rows, raw_csv=raw, release_notes=str(notes),
        )


def _paging(params: dict) -> tuple[int, int]:
    return (_int(params, "page", 1, 1, MAX_PAGE), _int(params, "size", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE))


def _int(params: dict, name: str, default: int, low: int, high: int) -> int:
    text = params.get(name)
    if text is None or text == "":
        return default
    if not (text.isascii() and text.isdigit()) or not low <= int(text) <= high:
        raise PortalError(400, f"Параметр {name} должен быть целым числом от {low} до {high}")
    return int(text)


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


def _raw_file(payload: dict) -> bytes | None:
    if payload.get("raw_csv") is not None:
        if not isinstance(payload["raw_csv"], str):
            raise ValueError("raw_csv: ожидается строка")
        return payload["raw_csv"].encode("utf-8")
    if payload.get("raw_csv_base64") is not None:
        try:
            return base64.b64decode(payload["raw_csv_base64"], validate=True)
        except (binascii.Error, TypeError, ValueError):
            raise ValueError("raw_csv_base64: ожидается строка base64") from None
    return None


def _row(number: int, row) -> tuple[str, ...]:
    if not isinstance(row, list):
        raise ValueError(f"rows[{number}]: ожидается список значений")
    values = []
    for value in row:
        if value is None:
            values.append("")
        elif isinstance(value, str):
            values.append(value)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            values.append(str(value))
        else:
            raise ValueError(f"rows[{number}]: значения должны быть строками, числами или null")
    return tuple(values)


def _day(value) -> date:
    if value in (None, ""):
        return date.today()
    for pattern in ("%d.%m.%Y", "%Y-%m-%d"):
        try:
            return datetime.strptime(str(value), pattern).date()
        except ValueError:
            continue
    raise ValueError("publish_date: ожидается дата ДД.ММ.ГГГГ")


def _data_span(path: Path) -> tuple[int, int]:
    """Bytes in the middle of the first member's compressed data: flipping them breaks the
    member's CRC while the archive still opens, as a damaged download would."""
    with path.open("rb") as handle:
        header = handle.read(30)
    compressed, name_length, extra_length = struct.unpack("<I4xHH", header[18:30])
    if compressed == 0xFFFFFFFF:  # zip64: the size is in the extra field; the middle of the file will do
        compressed = path.stat().st_size // 2
    start = 30 + name_length + extra_length + compressed // 2
    return start, start + max(1, min(16, compressed // 4))


def _chunks(path: Path, limit: int | None, damaged: tuple[int, int] | None) -> Iterator[bytes]:
    sent = 0
    with path.open("rb") as handle:
        while True:
            chunk = handle.read(CHUNK)
            if not chunk:
                return
            if damaged and sent < damaged[1] and sent + len(chunk) > damaged[0]:
                data = bytearray(chunk)
                for i in range(max(damaged[0] - sent, 0), min(damaged[1] - sent, len(chunk))):
                    data[i] ^= 0xFF
                chunk = bytes(data)
            if limit is not None and sent + len(chunk) >= limit:
                yield chunk[: limit - sent]
                return  # the server closes the connection short of Content-Length
            sent += len(chunk)
            yield chunk
