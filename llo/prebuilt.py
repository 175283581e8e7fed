"""Statements written once for hot paths, read back into model instances, and kept prepared.

On the busiest requests (issuing a prescription, a desk scan, a token check) compiling the ORM's
queryset took longer than PostgreSQL took to run it. A hot read is then one SQL string built once
from the models' own columns, and its rows become instances through `Model.from_db` — the same
objects the ORM would have made, without its compiler.

Then PostgreSQL's own planning cost as much as running them: Django binds parameters on the client,
so every statement arrives as new text. `cursor()` binds them on the server instead, and psycopg
prepares a statement once the connection has run it once (`DATABASE_PREPARE_THRESHOLD`; it keeps
the last 100); from then on PostgreSQL skips parsing and, once its generic plan is no worse, planning.
Django's own cursors bind on the client and never prepare.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass

import pghistory
import pghistory.config
import psycopg
from django.db import connection, models
from django.db.backends.postgresql.base import CursorDebugWrapper, ServerBindingCursor
from django.db.backends.utils import CursorWrapper
from pghistory.runtime import _inject_history_context


@dataclass(frozen=True)
class Part:
    model: type[models.Model]
    alias: str


@dataclass(frozen=True)
class Layout:
    parts: tuple[Part, ...]

    @property
    def columns(self) -> str:
        """Every concrete column of every part, qualified by its alias, for the SELECT list."""
        return ", ".join(f"{p.alias}.{f.column}" for p in self.parts for f in p.model._meta.concrete_fields)

    @property
    def width(self) -> int:
        return sum(len(p.model._meta.concrete_fields) for p in self.parts)

    def instances(self, row) -> list[models.Model | None]:
        """The parts of one row as instances; a part whose primary key is NULL (an outer join that
        found nothing) is None."""
        found, start = [], 0
        for part in self.parts:
            fields = part.model._meta.concrete_fields
            values = row[start:start + len(fields)]
            if values[0] is not None and _converted(part.model):
                values = [f.from_db_value(v, None, connection) if hasattr(f, "from_db_value") else v
                          for f, v in zip(fields, values)]
            found.append(None if values[0] is None else
                         part.model.from_db(connection.alias, [f.attname for f in fields], values))
            start += len(fields)
        return found


@functools.cache
def _converted(model: type[models.Model]) -> bool:
    """Whether a field of `model` converts what the database gives (a JSONField: text to Python)."""
    return any(hasattr(f, "from_db_value") for f in model._meta.concrete_fields)


def layout(*parts: tuple[type[models.Model], str]) -> Layout:
    return Layout(tuple(Part(model, alias) for model, alias in parts))


def fetch(sql: str, params, shape: Layout) -> list[list[models.Model | None]]:
    """Run `sql` (which selects `shape.columns` first, then anything extra) and return, per row,
    the instances followed by the extra values."""
    with cursor() as c:
        c.execute(sql, params)
        rows = c.fetchall()
    return [shape.instances(row) + list(row[shape.width:]) for row in rows]


# pghistory prepends its context to every write (`SELECT set_config(…); UPDATE …`): one string of
# two commands, which cannot be prepared. Here the context goes as a statement of its own, prepared
# too, in the same round trip (psycopg's pipeline). Same settings, so the triggers see the same.
_SET_CONTEXT = ("SELECT set_config('pghistory.context_id', %s, true), "
                "set_config('pghistory.context_metadata', %s, true)")


def _context_alongside(execute, sql, params, many, context):
    if sql.lstrip()[:6].lower() == "select":  # reads change no tracked rows (pghistory skips them too)
        return execute(sql, params, many, context)
    with pghistory.context() as current:  # the request's or task's context, already entered
        values = [str(current.id), json.dumps(current.metadata, cls=pghistory.config.json_encoder())]
    raw = context["cursor"].cursor.connection
    with context["connection"].wrap_database_errors, raw.pipeline():
        psycopg.Cursor(raw).execute(_SET_CONTEXT, values, prepare=True)
        return execute(sql, params, many, context)


class _ContextAlongside:
    def _execute_with_wrappers(self, sql, params, many, executor):
        context = {"connection": self.db, "cursor": self}
        for wrapper in reversed(self.db.execute_wrappers):
            wrapper = _context_alongside if wrapper is _inject_history_context else wrapper
            executor = functools.partial(wrapper, executor)
        return executor(sql, params, many, context)


class _Cursor(_ContextAlongside, CursorWrapper):
    pass


class _LoggedCursor(_ContextAlongside, CursorDebugWrapper):
    """When Django logs queries (tests, DEBUG): the statement with its parameters filled in, as for Django's
    own cursors (which it reads back from the client-side binding this cursor does not do)."""

    def execute(self, sql, params=None):
        try:
            shown = self.db.ops.compose_sql(sql, params)
        except (psycopg.Error, TypeError, ValueError):  # a parameter it cannot show: the statement as written
            shown = sql
        with self.debug_sql(shown, params):
            return CursorWrapper.execute(self, sql, params)


def cursor() -> CursorWrapper:
    """A Django cursor (query log and execute wrappers as usual) that binds parameters on the server
    and keeps its statements prepared on the connection. Parameters then keep their Python types: cast
    where PostgreSQL cannot infer one (`%s::date[]`), and no `%s` for names or lists of SQL."""
    connection.ensure_connection()
    connection.validate_thread_sharing()
    with connection.wrap_database_errors:
        raw = ServerBindingCursor(connection.connection)
    return (_LoggedCursor if connection.queries_logged else _Cursor)(raw, connection)
