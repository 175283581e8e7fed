"""Posting to the stock ledger: movement rows and balances, in the caller's transaction.

Every change of stock goes through `post()`: it sums the movements per balance key, locks the
balances it lowers (in key order, so that two posters never wait on each other in a circle),
refuses to take more than there is, writes one ledger row per key and upserts the balances in one
statement. `CHECK (quantity >= 0)` on the balance stays the backstop.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date

from django.db import connection, transaction

from llo.errors import ConflictError

from .models import StockBalance, StockMovement


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


_LOCK = """
    SELECT id, quantity FROM warehouse_stockbalance
    WHERE place_id = %s AND address_id IS NOT DISTINCT FROM %s AND package_id = %s AND series = %s
      AND funding_source = %s AND contract_id IS NOT DISTINCT FROM %s
    FOR UPDATE
"""
_LOWER = """
    UPDATE warehouse_stockbalance b SET quantity = b.quantity + d.delta, updated_at = now()
    FROM unnest(%s::bigint[], %s::integer[]) AS d(id, delta) WHERE b.id = d.id
"""
# a CHECK is tested on the row an INSERT proposes, before ON CONFLICT: only raised balances upsert
_RAISE = """
    INSERT INTO warehouse_stockbalance (place_id, address_id, package_id, series, expiry, funding_source, contract_id,
                                        quantity, updated_at)
    SELECT * , now() FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::text[], %s::date[], %s::text[],
                                 %s::bigint[], %s::integer[])
    ON CONFLICT ON CONSTRAINT balance_key
    DO UPDATE SET quantity = warehouse_stockbalance.quantity + EXCLUDED.quantity, updated_at = now()
"""


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


def post(moves: list[Move], *, reason: str, document_id: int | None = None, user_id: int | None = None,
         reference: str = "") -> int:
    """Apply `moves`; returns the number of ledger rows written. Must run inside a transaction."""
    if not connection.in_atomic_block:
        raise RuntimeError("ledger.post must run inside transaction.atomic()")
    totals = _sum(moves)
    if not totals:
        return 0
    lowered: dict[int, int] = {}  # balance id -> delta (< 0)
    with connection.cursor() as cursor:
        for key, (_, quantity) in totals.items():
            if quantity < 0:
                cursor.execute(_LOCK, [key.place_id, key.address_id, key.package_id, key.series,
                                       key.funding_source, key.contract_id])
                row = cursor.fetchone()
                available = row[1] if row else 0
                if available + quantity < 0:
                    raise InsufficientStock(
                        f"Недостаточно остатка серии {key.series}: есть {available} упак., нужно {-quantity}",
                        details={"package_id": key.package_id, "series": key.series, "available": available,
                                 "needed": -quantity, "place_id": key.place_id})
                lowered[row[0]] = quantity
        if lowered:
            cursor.execute(_LOWER, [list(lowered), list(lowered.values())])
        raised = [(k, expiry, quantity) for k, (expiry, quantity) in totals.items() if quantity > 0]
        if raised:
            columns = list(zip(*((k.place_id, k.address_id, k.package_id, k.series, expiry, k.funding_source,
                                  k.contract_id, quantity) for k, expiry, quantity in raised)))
            cursor.execute(_RAISE, [list(c) for c in columns])
    StockMovement.objects.bulk_create(
        StockMovement(place_id=k.place_id, address_id=k.address_id, package_id=k.package_id, series=k.series,
                      expiry=expiry, funding_source=k.funding_source, contract_id=k.contract_id, quantity=quantity,
                      reason=reason, document_id=document_id, reference=reference, user_id=user_id)
        for k, (expiry, quantity) in totals.items())
    return len(totals)


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
