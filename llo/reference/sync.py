"""Publication of reference data to participants: plain lists (search, date, program) and
incremental sync (`changed_since`), both answered with an ETag.

Every reference row carries `sync_version`, taken from one sequence by a trigger on each insert
and real change (and on the children whose published form includes a changed parent). Writers
of reference data take turns (an advisory lock in the same trigger), so versions become visible
in the order they were handed out. A participant asks `changed_since=<the last version it
saw>` and receives every row changed after it — retired rows too, with their `valid_to` — in
version order, a page at a time. Rows are never deleted, so this rebuilds an exact copy.

The ETag of a response is the newest committed version of the published table plus the
normalized request; an unchanged table answers `If-None-Match` with 304 without running the list.
"""

from __future__ import annotations

import hashlib
from datetime import date

from django.db import connection
from django.utils import timezone
from rest_framework import serializers
from rest_framework.response import Response

DEFAULT_SYNC_LIMIT = 1000
MAX_SYNC_LIMIT = 5000


def table_version(table: str) -> int:
    """The newest committed version of a published table (an index-only scan)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT coalesce(max(sync_version), 0) FROM {table}")
        return cursor.fetchone()[0]


def etag_for(request, version: int, extra: str = "") -> str:
    params = "&".join(f"{k}={v}" for k, v in sorted(request.query_params.items()))
    digest = hashlib.sha1(f"{request.path}?{params}|{extra}".encode()).hexdigest()[:16]
    return f'W/"{version}-{digest}"'


def not_modified(request, etag: str) -> bool:
    offered = request.headers.get("If-None-Match", "")
    return etag in {tag.strip() for tag in offered.split(",")} or offered.strip() == "*"


def with_etag(response: Response, etag: str, version: int) -> Response:
    response["ETag"] = etag
    response["X-Catalogue-Version"] = str(version)
    response["Cache-Control"] = "private, no-cache"  # may be stored, must be revalidated
    return response


def parse_since(raw: str | None) -> int | None:
    if raw is None or raw == "":
        return None
    if not raw.isdigit() or len(raw) > 18:
        raise serializers.ValidationError({"changed_since": ["Ожидается номер версии: целое число ≥ 0"]})
    return int(raw)


def parse_limit(raw: str | None) -> int:
    if raw in (None, ""):
        return DEFAULT_SYNC_LIMIT
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_SYNC_LIMIT:
        raise serializers.ValidationError({"limit": [f"Ожидается число от 1 до {MAX_SYNC_LIMIT}"]})
    return int(raw)


def parse_date(raw: str | None) -> date:
    """`date=YYYY-MM-DD`; today when absent."""
    if raw in (None, ""):
        return timezone.localdate()
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise serializers.ValidationError({"date": ["Ожидается дата ГГГГ-ММ-ДД"]}) from None


def sync_page(queryset, *, since: int, limit: int) -> tuple[list, bool]:
    """Rows changed after `since`, oldest change first; whether more follow."""
    rows = list(queryset.filter(sync_version__gt=since).order_by("sync_version")[: limit + 1])
    return rows[:limit], len(rows) > limit


def sync_response(rows: list, *, more: bool, since: int, version: int, serializer_class) -> dict:
    return {
        "version": version,
        "changed_since": since,
        "next_since": rows[-1].sync_version if rows else since,
        "has_more": more,
        "results": serializer_class(rows, many=True).data,
    }
