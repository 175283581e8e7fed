"""Posting to the stock ledger: movement rows and balances, in the caller's transaction.

Every change of stock goes through `post()`: it sums the movements per balance key, locks the
balances it lowers in one statement (in key order, so that two posters never wait on each other in
a circle), refuses to take more than there is, then lowers and upserts the balances and writes one
ledger row per key in one more statement. A caller that already holds the locks of the balances it
lowers (the dispensing, `pharmacy.checks.lock_balances`) hands them over as `locked=` and saves the
locking statement. `CHECK (quantity >= 0)` on the balance stays the backstop.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from django.db import connection, transaction

from llo import prebuilt
from llo.errors import ConflictError

from .models import StockBalance


@dataclass(frozen=True)
class StockKey:
    place_id: int
    address_id: int | None
    package_id: int
    series: str
    funding_source: str
    contract_id: int | None


@dataclass(frozen=True)
class Move:
    key: StockKey
    expiry: date
    quantity: int


class InsufficientStock(ConflictError):
    code = "stock.insufficient"


_KEYS = """unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::text[], %s::text[], %s::bigint[])
    AS k(place_id, address_id, package_id, series, funding_source, contract_id)"""
# the balances to lower, locked in one statement in key order (rows are locked as the sort emits them)
_LOCK = f"""
    SELECT b.id, b.place_id, b.address_id, b.package_id, b.series, b.funding_source, b.contract_id, b.quantity
    FROM {_KEYS} JOIN warehouse_stockbalance b
      ON b.place_id = k.place_id AND b.address_id IS NOT DISTINCT FROM k.address_id AND b.package_id = k.package_id
     AND b.series = k.series AND b.funding_source = k.funding_source AND b.contract_id IS NOT DISTINCT FROM k.contract_id
    ORDER BY b.place_id, coalesce(b.address_id, 0), b.package_id, b.series, b.funding_source, coalesce(b.contract_id, 0)
    FOR UPDATE OF b
"""
# lower, raise (upsert) and write the ledger rows in one statement; a CHECK is tested on the row an
# INSERT proposes, before ON CONFLICT: only raised balances upsert
_WRITE = """
    WITH lowered AS (
        UPDATE warehouse_stockbalance b SET quantity = b.quantity + d.delta, updated_at = now()
        FROM unnest(%(lower_ids)s::bigint[], %(lower_deltas)s::integer[]) AS d(id, delta) WHERE b.id = d.id
        RETURNING b.id
    ), raised AS (
        INSERT INTO warehouse_stockbalance (place_id, address_id, package_id, series, expiry, funding_source,
                                            contract_id, quantity, updated_at)
        SELECT *, now() FROM unnest(%(r_place)s::bigint[], %(r_address)s::bigint[], %(r_package)s::bigint[],
                                    %(r_series)s::text[], %(r_expiry)s::date[], %(r_funding)s::text[],
                                    %(r_contract)s::bigint[], %(r_quantity)s::integer[])
        ON CONFLICT ON CONSTRAINT balance_key
        DO UPDATE SET quantity = warehouse_stockbalance.quantity + EXCLUDED.quantity, updated_at = now()
        RETURNING id
    )
    INSERT INTO warehouse_stockmovement (place_id, address_id, package_id, series, expiry, funding_source, contract_id,
                                         quantity, reason, document_id, reference, user_id, created_at)
    SELECT m.*, %(reason)s, %(document)s, %(reference)s, %(user)s, now()
    FROM unnest(%(m_place)s::bigint[], %(m_address)s::bigint[], %(m_package)s::bigint[], %(m_series)s::text[],
                %(m_expiry)s::date[], %(m_funding)s::text[], %(m_contract)s::bigint[], %(m_quantity)s::integer[]) AS m
"""


def _columns(rows: list[tuple[StockKey, date, int]]) -> list[list]:
    """(key, expiry, quantity) rows as the eight arrays the statements unnest."""
    fields = [(k.place_id, k.address_id, k.package_id, k.series, expiry, k.funding_source, k.contract_id, quantity)
              for k, expiry, quantity in rows]
    return [list(column) for column in zip(*fields)] if fields else [[] for _ in range(8)]


def _sum(moves: list[Move]) -> dict[StockKey, tuple[date, int]]:
    totals: dict[StockKey, list] = defaultdict(lambda: [None, 0])
    for move in moves:
        entry = totals[move.key]
        entry[0] = entry[0] or move.expiry
        entry[1] += move.quantity
    ordered = sorted(totals.items(), key=lambda item: _lock_order(item[0]))
    return {key: (expiry, quantity) for key, (expiry, quantity) in ordered if quantity}


def _lock_order(key: StockKey) -> tuple:
    """Every poster locks balances in this order, so two of them never wait on each other in a circle."""
    return (key.place_id, key.address_id or 0, key.package_id, key.series, key.funding_source, key.contract_id or 0)


@dataclass(frozen=True)
class Locked:
    """A balance the caller locked (`SELECT … FOR UPDATE`) in this transaction: its id and its quantity
    as read under that lock."""

    balance_id: int
    quantity: int


def post(moves: list[Move], *, reason: str, document_id: int | None = None, user_id: int | None = None,
         reference: str = "", locked: Mapping[StockKey, Locked] | None = None) -> int:
    """Apply `moves`; returns the number of ledger rows written. Must run inside a transaction.

    `locked`: balances the caller already holds locked in this transaction, in the ledger's lock order
    (`_lock_order`), by key — the ledger then neither locks nor reads them again, and still refuses to
    take more than their quantity; a lowered key not among them is locked here as usual."""
    if not connection.in_atomic_block:
        raise RuntimeError("ledger.post must run inside transaction.atomic()")
    totals = _sum(moves)
    if not totals:
        return 0
    lowered = _lock_lowered({key: quantity for key, (_, quantity) in totals.items() if quantity < 0}, locked or {})
    raised = [(k, expiry, quantity) for k, (expiry, quantity) in totals.items() if quantity > 0]
    params = {"lower_ids": list(lowered), "lower_deltas": list(lowered.values()), "reason": reason,
              "document": document_id, "reference": reference, "user": user_id}
    params.update(zip(("r_place", "r_address", "r_package", "r_series", "r_expiry", "r_funding", "r_contract",
                       "r_quantity"), _columns(raised)))
    params.update(zip(("m_place", "m_address", "m_package", "m_series", "m_expiry", "m_funding", "m_contract",
                       "m_quantity"), _columns([(k, expiry, quantity) for k, (expiry, quantity) in totals.items()])))
    with prebuilt.cursor() as cursor:
        cursor.execute(_WRITE, params)
    return len(totals)


def _lock_lowered(wanted: dict[StockKey, int], locked: Mapping[StockKey, Locked]) -> dict[int, int]:
    """Lock the balances to be lowered that the caller has not locked (one statement, key order) and
    refuse to take more than there is; returns balance id -> delta."""
    if not wanted:
        return {}
    keys = list(wanted)
    found = {key: (locked[key].balance_id, locked[key].quantity) for key in keys if key in locked}
    to_lock = [key for key in keys if key not in found]
    if to_lock:
        columns = [list(c) for c in zip(*((k.place_id, k.address_id, k.package_id, k.series, k.funding_source,
                                            k.contract_id) for k in to_lock))]
        with prebuilt.cursor() as cursor:
            cursor.execute(_LOCK, columns)
            found.update({StockKey(*row[1:7]): (row[0], row[7]) for row in cursor.fetchall()})
    lowered = {}
    for key in keys:  # already in lock order (_sum)
        balance_id, available = found.get(key, (None, 0))
        if available + wanted[key] < 0:
            raise InsufficientStock(
                f"Недостаточно остатка серии {key.series}: есть {available} упак., нужно {-wanted[key]}",
                details={"package_id": key.package_id, "series": key.series, "available": available,
                         "needed": -wanted[key], "place_id": key.place_id})
        lowered[balance_id] = wanted[key]
    return lowered


_DRIFT = """
    WITH ledger AS (
        SELECT place_id, address_id, package_id, series, funding_source, contract_id, sum(quantity) AS quantity
        FROM warehouse_stockmovement GROUP BY 1, 2, 3, 4, 5, 6
    )
    SELECT coalesce(l.place_id, b.place_id), coalesce(l.package_id, b.package_id), coalesce(l.series, b.series),
           coalesce(l.quantity, 0), coalesce(b.quantity, 0)
    FROM ledger l FULL JOIN warehouse_stockbalance b
      ON b.place_id = l.place_id AND b.address_id IS NOT DISTINCT FROM l.address_id AND b.package_id = l.package_id
     AND b.series = l.series AND b.funding_source = l.funding_source AND b.contract_id IS NOT DISTINCT FROM l.contract_id
    WHERE coalesce(l.quantity, 0) <> coalesce(b.quantity, 0)
    ORDER BY 1, 2, 3
"""


@dataclass(frozen=True)
class Drift:
    place_id: int
    package_id: int
    series: str
    ledger: int
    balance: int


def drift() -> list[Drift]:
    """Balances that differ from the sum of the ledger (there should be none)."""
    outer = connection.in_atomic_block
    with transaction.atomic(), connection.cursor() as cursor:
        if not outer:  # one snapshot of both tables while postings go on
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        cursor.execute(_DRIFT)
        return [Drift(*row) for row in cursor.fetchall()]


def balance_of(key: StockKey) -> int:
    row = StockBalance.objects.filter(
        place_id=key.place_id, address_id=key.address_id, package_id=key.package_id, series=key.series,
        funding_source=key.funding_source, contract_id=key.contract_id).values_list("quantity", flat=True).first()
    return row or 0
