"""Reads of stock: balances by place, series and expiry; what expires soon."""

from __future__ import annotations

from datetime import date, timedelta

from django.db import connection

_STOCK = """
    SELECT b.place_id, o.code, o.short_name, o.kind, b.package_id, p.gtin, t.name, t.drug_id, b.series, b.expiry,
           b.funding_source, sum(b.quantity)::integer
    FROM warehouse_stockbalance b
    JOIN llo_package p ON p.id = b.package_id
    JOIN llo_tradename t ON t.id = p.trade_name_id
    JOIN llo_organization o ON o.id = b.place_id
    WHERE b.quantity > 0 {filters}
    GROUP BY b.place_id, o.code, o.short_name, o.kind, b.package_id, p.gtin, t.name, t.drug_id, b.series, b.expiry,
             b.funding_source
    ORDER BY o.code, t.name, b.expiry, b.series
    LIMIT %(limit)s
"""
STOCK_FIELDS = ("place_id", "place_code", "place_name", "place_kind", "package_id", "gtin", "trade_name", "drug_id",
                "series", "expiry", "funding_source", "quantity")


def stock(*, drug_id: int | None = None, package_id: int | None = None, place_id: int | None = None,
          place_ids: list[int] | None = None, expiring_before: date | None = None, limit: int = 1000) -> list[dict]:
    """Quantities in stock (summed over addresses and contracts) by place, pack, series, expiry and
    funding source, in one statement over the balances (never over the ledger)."""
    filters, params = [], {"limit": limit}
    for column, name, value in (("t.drug_id", "drug", drug_id), ("b.package_id", "package", package_id),
                                ("b.place_id", "place", place_id)):
        if value is not None:
            filters.append(f"AND {column} = %({name})s")
            params[name] = value
    if place_ids is not None:
        filters.append("AND b.place_id = ANY(%(places)s)")
        params["places"] = place_ids
    if expiring_before is not None:
        filters.append("AND b.expiry < %(before)s")
        params["before"] = expiring_before
    with connection.cursor() as cursor:
        cursor.execute(_STOCK.format(filters=" ".join(filters)), params)
        return [dict(zip(STOCK_FIELDS, row)) for row in cursor.fetchall()]


def expiring(*, place_ids: list[int] | None, today: date, days: int) -> list[dict]:
    """What expires within `days` (30 / 60 / 90), where: for the expiry monitor."""
    return stock(place_ids=place_ids, expiring_before=today + timedelta(days=days + 1), limit=5000)


_SLOW = """
    SELECT b.place_id, b.package_id, b.series, b.expiry, sum(b.quantity)::integer
    FROM warehouse_stockbalance b JOIN llo_organization o ON o.id = b.place_id
    WHERE b.quantity > 0 AND o.kind = 'dispensing_point' AND (%(places)s::bigint[] IS NULL OR b.place_id = ANY(%(places)s))
      AND NOT EXISTS (SELECT 1 FROM warehouse_stockmovement m WHERE m.place_id = b.place_id
                      AND m.package_id = b.package_id AND m.quantity < 0 AND m.created_at >= %(since)s)
    GROUP BY 1, 2, 3, 4 ORDER BY 4, 1, 2
    LIMIT 1000
"""
_TAKERS = """
    SELECT m.package_id, m.place_id, -sum(m.quantity)::integer AS taken
    FROM warehouse_stockmovement m JOIN llo_organization o ON o.id = m.place_id
    WHERE m.package_id = ANY(%(packages)s) AND m.quantity < 0 AND m.reason = 'dispensing'
      AND m.created_at >= %(since)s AND o.kind = 'dispensing_point'
    GROUP BY 1, 2 ORDER BY 1, 3 DESC
"""


def slow_moving(*, place_ids: list[int] | None, today: date, days: int = 90) -> list[dict]:
    """Stock at dispensing points that nothing has left for `days` days."""
    since = today - timedelta(days=days)
    with connection.cursor() as cursor:
        cursor.execute(_SLOW, {"places": place_ids, "since": since})
        return [dict(zip(("place_id", "package_id", "series", "expiry", "quantity"), row))
                for row in cursor.fetchall()]


def redistribution(*, today: date, days: int = 90) -> list[dict]:
    """For each slow-moving series, the points that dispensed that pack most in the same period:
    where to move it before it expires."""
    slow = slow_moving(place_ids=None, today=today, days=days)
    if not slow:
        return []
    with connection.cursor() as cursor:
        cursor.execute(_TAKERS, {"packages": sorted({s["package_id"] for s in slow}),
                                 "since": today - timedelta(days=days)})
        takers: dict[int, list[tuple[int, int]]] = {}
        for package_id, place_id, taken in cursor.fetchall():
            takers.setdefault(package_id, []).append((place_id, taken))
    return [{**s, "to_place_id": to_place, "dispensed_there": taken}
            for s in slow for to_place, taken in takers.get(s["package_id"], [])[:1] if to_place != s["place_id"]]
