"""Statements written once for hot paths, read back into model instances.

On the busiest requests (issuing a prescription, a desk scan, a token check) compiling the ORM's
queryset took longer than PostgreSQL took to run it. A hot read is then one SQL string built once
from the models' own columns, and its rows become instances through `Model.from_db` — the same
objects the ORM would have made, without its compiler.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection, models


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
            found.append(None if values[0] is None else
                         part.model.from_db(connection.alias, [f.attname for f in fields], values))
            start += len(fields)
        return found


def layout(*parts: tuple[type[models.Model], str]) -> Layout:
    return Layout(tuple(Part(model, alias) for model, alias in parts))


def fetch(sql: str, params, shape: Layout) -> list[list[models.Model | None]]:
    """Run `sql` (which selects `shape.columns` first, then anything extra) and return, per row,
    the instances followed by the extra values."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return [shape.instances(row) + list(row[shape.width:]) for row in rows]
