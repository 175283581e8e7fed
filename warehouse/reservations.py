"""Reservations: packs set aside at a dispensing point for one prescription until a deadline.

A reservation does not move stock: the balance stays where it is and what others may take is the
balance minus the active reservations (`free_stock`). A reservation is made under locks on the
place's balances of the packages concerned, taken in the ledger's key order, so it can never race
a dispensing or shipment into promising the same packs twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from django.db import connection
from django.utils import timezone

from llo.errors import ConflictError

from .models import ReservationState, StockReservation

_LOCK = """
    SELECT id FROM warehouse_stockbalance WHERE place_id = %s AND package_id = ANY(%s)
    ORDER BY place_id, coalesce(address_id, 0), package_id, series, funding_source, coalesce(contract_id, 0)
    FOR UPDATE
"""
_FREE = """
    WITH stock AS (
        SELECT b.place_id, b.package_id, b.series, min(b.expiry) AS expiry, sum(b.quantity) AS quantity
        FROM warehouse_stockbalance b
        WHERE b.place_id = ANY(%(places)s) AND b.package_id = ANY(%(packages)s) AND b.quantity > 0
          AND b.expiry >= %(today)s
          AND NOT EXISTS (SELECT 1 FROM warehouse_recalledseries s
                          WHERE s.package_id = b.package_id AND s.series = b.series AND s.is_active)
        GROUP BY b.place_id, b.package_id, b.series
    ), held AS (
        SELECT r.place_id, r.package_id, r.series, sum(r.quantity) AS quantity
        FROM warehouse_stockreservation r
        WHERE r.state = 'active' AND r.place_id = ANY(%(places)s) AND r.package_id = ANY(%(packages)s)
        GROUP BY r.place_id, r.package_id, r.series
    )
    SELECT s.place_id, s.package_id, s.series, s.expiry, s.quantity - coalesce(h.quantity, 0)
    FROM stock s LEFT JOIN held h USING (place_id, package_id, series)
    WHERE s.quantity - coalesce(h.quantity, 0) > 0
    ORDER BY s.place_id, s.expiry, s.series, s.package_id
"""


@dataclass(frozen=True)
class FreeLot:
    place_id: int
    package_id: int
    series: str
    expiry: date
    quantity: int


class NotEnoughStock(ConflictError):
    code = "stock.not_enough"


def free_stock(*, place_ids: list[int], package_ids: list[int], today: date) -> list[FreeLot]:
    """What may still be reserved or dispensed: in date, not recalled, not held for someone else;
    earliest expiry first (FEFO)."""
    if not place_ids or not package_ids:
        return []
    with connection.cursor() as cursor:
        cursor.execute(_FREE, {"places": place_ids, "packages": package_ids, "today": today})
        return [FreeLot(*row) for row in cursor.fetchall()]


def reservation_make(*, place_id: int, package_ids: list[int], quantity: int, reference: str, until: datetime,
                     user_id: int | None) -> list[StockReservation]:
    """Hold `quantity` packs of any of `package_ids` at the place, earliest expiry first; one row per
    series used. Raises `NotEnoughStock` (nothing held) when the place has fewer free packs."""
    if not connection.in_atomic_block:
        raise RuntimeError("reservation_make must run inside transaction.atomic()")
    with connection.cursor() as cursor:
        cursor.execute(_LOCK, [place_id, package_ids])
    lots = free_stock(place_ids=[place_id], package_ids=package_ids, today=timezone.localdate())
    available = sum(lot.quantity for lot in lots)
    if available < quantity:
        raise NotEnoughStock(
            f"В выбранной аптеке свободно {available} упак., нужно {quantity}: выберите другую аптеку "
            "или выпишите рецепт без брони",
            details={"place_id": place_id, "available": available, "needed": quantity})
    rows, left = [], quantity
    for lot in lots:
        take = min(left, lot.quantity)
        rows.append(StockReservation(place_id=place_id, package_id=lot.package_id, series=lot.series,
                                     expiry=lot.expiry, quantity=take, reference=reference, until=until,
                                     created_by_id=user_id))
        left -= take
        if not left:
            break
    return StockReservation.objects.bulk_create(rows)


def reservation_close(*, reference: str, state: str) -> int:
    """End the active reservations of a prescription: consumed (dispensed), released or expired."""
    if state == ReservationState.ACTIVE:
        raise ValueError("closing means leaving the active state")
    return StockReservation.objects.filter(reference=reference, state=ReservationState.ACTIVE).update(
        state=state, closed_at=timezone.now())


def reservations_due(*, now: datetime) -> list[str]:
    """References whose reservations ran out by `now` (for the expiry task)."""
    return list(StockReservation.objects.filter(state=ReservationState.ACTIVE, until__lte=now)
                .values_list("reference", flat=True).distinct())
