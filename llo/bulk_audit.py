"""Audit history and checks for set-based bulk writes (NSI versions, Social Fund registers).

The per-row history triggers (django-pghistory) cost more than the rest of a bulk load of
hundreds of thousands of rows: each fires, queues an event and runs PL/pgSQL with its own
subtransaction. Inside `history_in_bulk(cursor)` the setting `llo.bulk_load` is on for this
transaction and the triggers' WHEN clause (llo.audit) skips them; every statement wrapped by
`noting()` writes, in the same statement, the history rows the triggers would have written — from
its RETURNING rows, under the audit context active at the time (so `source`, user and task are
recorded as usual). On an error the transaction rolls back and nothing of it stays, the setting
included.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import contextmanager
from functools import lru_cache

from django.apps import apps

from .audit import BULK_SETTING

CONTEXT_SETTING = "llo.bulk_context"


@lru_cache(maxsize=None)
def _event_table(table: str) -> tuple[str, tuple[str, ...]]:
    """The history table of `table` and the columns it copies."""
    model = next(m for m in apps.get_models() if m._meta.db_table == table and hasattr(m, "pgh_event_models"))
    event = model.pgh_event_models["insert"]
    columns = tuple(f.column for f in event._meta.concrete_fields
                    if not f.name.startswith("pgh_") and not getattr(f, "generated", False))
    return event._meta.db_table, columns


def noting(statement: str, table: str, label: str) -> str:
    """`statement` (an INSERT into `table`, or an UPDATE of it aliased `t`) writing the history of
    every row it writes; its row count stays the number of rows written."""
    event_table, columns = _event_table(table)
    returned = "t.*" if statement.lstrip().upper().startswith("UPDATE") else "*"
    listed = ", ".join(columns)
    return (f"WITH written AS ({statement} RETURNING {returned}) "
            f"INSERT INTO {event_table} (pgh_created_at, pgh_label, pgh_obj_id, pgh_context_id, {listed}) "
            f"SELECT now(), '{label}', id, NULLIF(current_setting('{CONTEXT_SETTING}', true), '')::uuid, {listed} "
            f"FROM written")


def history_of_rows_after(table: str, label: str) -> str:
    """The history rows of every row of `table` with an id above %(after_id)s — for a table that
    took a bulk INSERT under an exclusive lock, cheaper than `noting()`: the RETURNING rows of a
    million-row INSERT are kept in a tuplestore that spills to disk before they are copied."""
    event_table, columns = _event_table(table)
    listed = ", ".join(columns)
    return (f"INSERT INTO {event_table} (pgh_created_at, pgh_label, pgh_obj_id, pgh_context_id, {listed}) "
            f"SELECT now(), '{label}', id, NULLIF(current_setting('{CONTEXT_SETTING}', true), '')::uuid, {listed} "
            f"FROM {table} WHERE id > %(after_id)s")


@contextmanager
def history_in_bulk(cursor):
    # Not a SELECT: pghistory attaches its context to this statement, so the context row exists and
    # its id can be kept for the statements that follow.
    cursor.execute(f"SET LOCAL {BULK_SETTING} = 'on'")
    cursor.execute("SELECT _pgh_attach_context()")
    context_id = cursor.fetchone()[0]
    cursor.execute(f"SELECT set_config('{CONTEXT_SETTING}', %s, true)", [str(context_id) if context_id else ""])
    yield
    cursor.execute(f"SELECT set_config('{BULK_SETTING}', 'off', true), set_config('{CONTEXT_SETTING}', '', true)")


@contextmanager
def checks_and_indexes_rebuilt(cursor, tables: Iterable[str]):
    """For the first load of empty tables: their foreign keys, unique constraints and secondary
    indexes are dropped and made again once the rows are in — one set-based validation and one
    sorted build each, instead of a check and a random index insertion per row. The definitions are
    read from the catalog, so they come back exactly as they were; a duplicate the load let in fails
    the rebuild and so the whole load. Dropping them locks the tables until the commit."""
    tables = list(tables)
    cursor.execute(
        "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE contype IN ('f', 'u') AND conrelid = ANY(%s::regclass[]) ORDER BY contype, 1, 2", [tables])
    constraints = cursor.fetchall()  # foreign keys first: dropped first, made last
    cursor.execute(
        "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index i "
        "WHERE indrelid = ANY(%s::regclass[]) AND NOT indisprimary "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid) ORDER BY 1", [tables])
    indexes = cursor.fetchall()
    for table, name, _ in constraints:
        cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    for name, _ in indexes:
        cursor.execute(f"DROP INDEX {name}")
    yield
    for _, definition in indexes:
        cursor.execute(definition)
    for table, name, definition in reversed(constraints):
        cursor.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
