"""Audit history for set-based bulk writes (NSI versions, Social Fund registers).

The per-row history triggers (django-pghistory) cost more than the rest of a bulk load of
hundreds of thousands of rows: each call runs PL/pgSQL with its own subtransaction. Inside
`history_in_bulk(cursor, tables)` they are switched off for this transaction only; every
statement wrapped by `noting()` notes the ids it writes, and on leaving the block one
INSERT … SELECT per table writes the history rows the triggers would have written, under the
audit context active at the time (so `source`, user and task are recorded as usual). On an error
the transaction rolls back and nothing of it stays, the switch included.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import contextmanager

import pgtrigger
from django.apps import apps

TOUCHED = "bulk_touched"


def _models_by_table() -> dict:
    return {model._meta.db_table: model for model in apps.get_models() if hasattr(model, "pgh_event_models")}


def _history_trigger_ids(tables: Iterable[str]) -> str:
    """Postgres ids of the per-row history triggers of `tables`, as pgtrigger's ignore list."""
    by_table = _models_by_table()
    wanted = {(by_table[t], name) for t in tables for name in ("insert_insert", "update_update")}
    ids = sorted(trigger.get_pgid(model) for model, trigger in pgtrigger.registered() if (model, trigger.name) in wanted)
    return "{" + ",".join(ids) + "}"


def noting(statement: str, table: str, label: str) -> str:
    """`statement` (an INSERT or UPDATE of `table`) with the ids it writes noted for the history;
    its row count stays the number of rows written."""
    column = "t.id" if statement.lstrip().upper().startswith("UPDATE") else "id"
    return (f"WITH written AS ({statement} RETURNING {column}) "
            f"INSERT INTO {TOUCHED} (tbl, id, label) SELECT '{table}', id, '{label}' FROM written")


@contextmanager
def history_in_bulk(cursor, tables: Iterable[str]):
    tables = sorted(set(tables))
    cursor.execute(f"DROP TABLE IF EXISTS {TOUCHED}")
    cursor.execute(f"CREATE TEMP TABLE {TOUCHED} (tbl text, id bigint, label text) ON COMMIT DROP")
    # pgtrigger's own ignore() injects a positional parameter into every statement, which named
    # parameters cannot mix with; its setting is set directly instead (for this transaction).
    cursor.execute("SELECT set_config('pgtrigger.ignore', %s, true)", [_history_trigger_ids(tables)])
    yield
    cursor.execute("SELECT set_config('pgtrigger.ignore', '{}', true)")
    _write_history(cursor, tables)


def _write_history(cursor, tables: list[str]) -> None:
    cursor.execute("SELECT _pgh_attach_context()")
    context_id = cursor.fetchone()[0]
    by_table = _models_by_table()
    for table in tables:
        event = by_table[table].pgh_event_models["insert"]
        columns = [f.column for f in event._meta.concrete_fields if not f.name.startswith("pgh_")]
        cursor.execute(
            f"INSERT INTO {event._meta.db_table} (pgh_created_at, pgh_label, pgh_obj_id, pgh_context_id, "
            f"{', '.join(columns)}) SELECT now(), n.label, t.id, %s, {', '.join('t.' + c for c in columns)} "
            f"FROM {table} t JOIN (SELECT DISTINCT ON (id) id, label FROM {TOUCHED} WHERE tbl = %s "
            f"ORDER BY id, label) n ON n.id = t.id",
            [context_id, table],
        )
