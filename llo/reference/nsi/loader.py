"""Apply one version of an NSI dictionary: parse and check every record, COPY them into a
staging table, then merge set-based. Runs inside the caller's transaction: on any error
nothing of the version is kept and the previous version stays in force.

Audit: the history of every written record is written set-based (`llo.bulk_audit`): the
per-row triggers would cost more than the rest of an import of 200,000 records.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.db import connection

from llo.bulk_audit import history_in_bulk, noting
from llo.errors import ValidationFailed
from llo.models.dated import FAR_PAST, SYNC_LOCK

from .dictionaries import Check, Dictionary, Merge, Sql

MAX_REPORTED_ERRORS = 50
PROGRESS_EVERY = 5000


class LoadFailed(ValidationFailed):
    """The version breaks the dictionary's rules; `details["errors"]` lists record, field and message."""

    code = "nsi.invalid_version"


@dataclass
class LoadResult:
    rows: int = 0
    tables: dict[str, dict[str, int]] = field(default_factory=dict)
    main_table: str = ""

    def count(self, table: str, what: str, n: int) -> None:
        counts = self.tables.setdefault(table, {"added": 0, "changed": 0, "retired": 0})
        counts[what] += n

    @property
    def main(self) -> dict[str, int]:
        return self.tables.get(self.main_table, {"added": 0, "changed": 0, "retired": 0})


def _error(row: int | None, column: str | None, message: str) -> dict:
    return {"row": row, "field": column, "message": message}


def _fail(spec: Dictionary, errors: list[dict], total: int | None = None) -> LoadFailed:
    first = errors[0]
    where = ", ".join(p for p in (
        f"запись {first['row']}" if first["row"] else "",
        f"поле {first['field']}" if first["field"] else "",
    ) if p)
    more = (total or len(errors)) - 1
    text = f"Справочник «{spec.name}» ({spec.oid}): {where + ': ' if where else ''}{first['message']}"
    if more > 0:
        text += f" (и ещё ошибок: {more})"
    text += ". Загруженная ранее версия остаётся в силе."
    return LoadFailed(text, details={"dictionary": spec.oid, "errors": errors, "error_count": total or len(errors)})


def check_header(spec: Dictionary, header: Sequence[str]) -> list[int]:
    """Positions of the spec's columns in the file; every column of the spec must be there."""
    names = [h.strip().upper() for h in header]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise _fail(spec, [_error(None, duplicated[0], "поле повторяется в заголовке")])
    missing = [c.name for c in spec.columns if c.name not in names]
    if missing:
        raise _fail(spec, [_error(None, name, "поля нет в данных версии (изменилась структура справочника?)")
                           for name in missing])
    return [names.index(c.name) for c in spec.columns]


class _Errors:
    """The first errors in full, and how many there were: a file bad in every record must not
    fill memory with 200,000 messages."""

    def __init__(self) -> None:
        self.first: list[dict] = []
        self.total = 0

    def append(self, error: dict) -> None:
        self.total += 1
        if len(self.first) < MAX_REPORTED_ERRORS:
            self.first.append(error)

    def __bool__(self) -> bool:
        return self.total > 0


def _parse_rows(spec: Dictionary, positions: list[int], width: int, rows: Iterable[Sequence[str]], errors: _Errors,
                counter: list[int], on_progress: Callable[[int], None] | None):
    """Yield typed tuples (row_no, values...) for the COPY; record errors instead of raising so
    that one run reports many of them."""
    columns = spec.columns
    begin = next((i for i, c in enumerate(columns) if c.stage == "date_begin"), None)
    end = next((i for i, c in enumerate(columns) if c.stage == "date_end"), None)
    for row_no, raw in enumerate(rows, start=1):
        counter[0] = row_no
        if on_progress and row_no % PROGRESS_EVERY == 0:
            on_progress(row_no)
        if len(raw) != width:
            errors.append(_error(row_no, None, f"ожидалось полей: {width}, получено: {len(raw)}"))
            continue
        values = []
        ok = True
        for column, position in zip(columns, positions):
            text = raw[position]
            if text is None or not text.strip():
                if column.required:
                    errors.append(_error(row_no, column.name, "обязательное поле не заполнено"))
                    ok = False
                values.append(column.empty)
                continue
            if column.max_length and len(text) > column.max_length:
                errors.append(_error(row_no, column.name, f"длиннее {column.max_length} символов"))
                ok = False
                values.append(None)
                continue
            try:
                values.append(column.parse(text))
            except ValueError as exc:
                errors.append(_error(row_no, column.name, str(exc)))
                ok = False
                values.append(None)
        if ok and begin is not None and end is not None and values[begin] and values[end] and values[end] < values[begin]:
            errors.append(_error(row_no, "DATE_END", "дата окончания раньше даты начала"))
            ok = False
        if ok and not errors:
            yield (row_no, *values)


def _create_stage(cursor, spec: Dictionary) -> None:
    columns = ", ".join(f"{c.stage} {c.sql_type}" for c in spec.columns)
    extra = "".join(f", {c}" for c in spec.extra_stage_columns)
    cursor.execute("DROP TABLE IF EXISTS nsi_stage")
    cursor.execute(f"CREATE TEMP TABLE nsi_stage (row_no integer NOT NULL, {columns}{extra}) ON COMMIT DROP")


def _set(column: str, expression: str, merge: Merge) -> str:
    if column in merge.curated:
        return f"CASE WHEN '{column}' = ANY(t.curated_fields) THEN t.{column} ELSE {expression} END"
    return expression


def _merge(cursor, merge: Merge, params: dict, result: LoadResult) -> None:
    scope_where = "".join(f" AND t.{col} = {value}" for col, value in merge.scope.items())
    new_values = [_set(col, expr, merge) for col, expr in merge.attrs.items()]
    valid_from = "COALESCE(s.date_begin, t.valid_from)"
    update = (
        f"UPDATE {merge.table} t SET "
        + ", ".join(f"{col} = {value}" for col, value in zip(merge.attrs, new_values))
        + f", valid_from = {valid_from}, valid_to = s.date_end "
        f"FROM nsi_stage s WHERE t.nsi_code = {merge.key}{scope_where} AND "
        f"({', '.join(f't.{c}' for c in merge.attrs)}, t.valid_from, t.valid_to) IS DISTINCT FROM "
        f"({', '.join(new_values)}, {valid_from}, s.date_end)"
    )
    cursor.execute(noting(update, merge.table, "update"), params)
    result.count(merge.table, "changed", cursor.rowcount)

    fixed = {**merge.scope, **merge.insert_defaults}
    insert_columns = ["nsi_code", *fixed, *merge.attrs, "valid_from", "valid_to", "sync_version"]
    insert_values = [
        merge.key, *fixed.values(), *merge.attrs.values(),
        "LEAST(COALESCE(s.date_begin, %(publish)s), COALESCE(s.date_end, %(publish)s))", "s.date_end", "0",
    ]
    cursor.execute(noting(
        f"INSERT INTO {merge.table} ({', '.join(insert_columns)}) SELECT {', '.join(insert_values)} "
        f"FROM nsi_stage s WHERE NOT EXISTS (SELECT 1 FROM {merge.table} t WHERE t.nsi_code = {merge.key}{scope_where})",
        merge.table, "insert"), params)
    result.count(merge.table, "added", cursor.rowcount)
    if merge.refresh:  # references to records inserted just now; not counted again
        cursor.execute(noting(update, merge.table, "update"), params)

    cursor.execute(noting(
        f"UPDATE {merge.table} t SET valid_to = GREATEST(t.valid_from, %(retire_on)s) "
        f"WHERE (t.valid_to IS NULL OR t.valid_to > %(retire_on)s){scope_where} "
        f"AND NOT EXISTS (SELECT 1 FROM nsi_stage s WHERE {merge.key} = t.nsi_code)",
        merge.table, "update"), params)
    result.count(merge.table, "retired", cursor.rowcount)


def load_version(
    spec: Dictionary,
    *,
    header: Sequence[str],
    rows: Iterable[Sequence[str]],
    publish_date: date,
    on_progress: Callable[[int], None] | None = None,
) -> LoadResult:
    """Load one complete version of `spec`. Must run inside a transaction (atomic) of the caller."""
    if not connection.in_atomic_block:
        raise RuntimeError("load_version must run inside transaction.atomic()")
    params = {
        "oid": spec.oid, "publish": publish_date, "retire_on": publish_date - timedelta(days=1), "far_past": FAR_PAST,
    }
    positions = check_header(spec, header)
    result = LoadResult(main_table=spec.main_table)
    errors = _Errors()
    counter = [0]
    with connection.cursor() as cursor:
        # Writers of reference data take turns (see dated.SYNC_LOCK); take the turn before the
        # long COPY rather than halfway through the merge.
        cursor.execute(f"SELECT {SYNC_LOCK}")
        _create_stage(cursor, spec)
        stage_columns = ", ".join(["row_no", *(c.stage for c in spec.columns)])
        with cursor.copy(f"COPY nsi_stage ({stage_columns}) FROM STDIN") as copy:
            for record in _parse_rows(spec, positions, len(header), rows, errors, counter, on_progress):
                copy.write_row(record)
        result.rows = counter[0]
        if errors:
            raise _fail(spec, errors.first, total=errors.total)
        if result.rows == 0:
            raise _fail(spec, [_error(None, None, "версия не содержит ни одной записи")])
        if on_progress:
            on_progress(result.rows)

        cursor.execute(f"CREATE INDEX ON nsi_stage ({spec.key})")
        cursor.execute("ANALYZE nsi_stage")
        cursor.execute(
            f"SELECT min(row_no), {spec.key} FROM nsi_stage GROUP BY {spec.key} HAVING count(*) > 1 "
            f"ORDER BY 1 LIMIT {MAX_REPORTED_ERRORS}"
        )
        duplicates = cursor.fetchall()
        if duplicates:
            raise _fail(spec, [_error(row, "ID", f"идентификатор {key} повторяется в версии") for row, key in duplicates])

        with history_in_bulk(cursor):
            for step in spec.steps:
                if isinstance(step, Sql):
                    cursor.execute(noting(step.sql, step.label, "insert") if step.label else step.sql, params)
                    if step.label:
                        result.count(step.label, "added", cursor.rowcount)
                elif isinstance(step, Check):
                    cursor.execute(step.sql + f" ORDER BY row_no LIMIT {MAX_REPORTED_ERRORS}", params)
                    found = cursor.fetchall()
                    if found:
                        raise _fail(spec, [_error(row, step.field, step.message.format(value=value))
                                           for row, value in found])
                else:
                    _merge(cursor, step, params, result)
    return result
