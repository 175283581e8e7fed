"""Marked packs: creation on receipt and every change of state or place, in bulk, by
compare-and-swap — a pack moves only from the state and place the caller expects, or the whole
operation fails and names the packs that were not there. Each move writes its history row."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from django.db import connection

from llo import prebuilt
from llo.errors import ConflictError

from .models import PACK_TRANSITIONS, MarkedPack, PackState


class PackNotAvailable(ConflictError):
    code = "pack.not_available"


@dataclass(frozen=True)
class NewPack:
    sgtin: str
    package_id: int
    series: str
    expiry: date
    funding_source: str
    contract_id: int | None
    transport_pack_id: int | None = None


_CREATE = """
    WITH created AS (
        INSERT INTO warehouse_markedpack (sgtin, package_id, series, expiry, funding_source, contract_id, state,
                                          place_id, address_id, transport_pack_id, document_id, updated_at)
        SELECT sgtin, package_id, series, expiry, funding_source, contract_id, %(state)s, %(place)s, %(address)s,
               transport_pack_id, %(document)s, now()
        FROM unnest(%(sgtin)s::text[], %(package)s::bigint[], %(series)s::text[], %(expiry)s::date[],
                    %(funding)s::text[], %(contract)s::bigint[], %(transport)s::bigint[])
             AS n(sgtin, package_id, series, expiry, funding_source, contract_id, transport_pack_id)
        ON CONFLICT (sgtin) DO NOTHING
        RETURNING id
    )
    INSERT INTO warehouse_packevent (pack_id, from_state, to_state, place_id, document_id, reference, user_id,
                                     created_at)
    SELECT id, 'expected', %(state)s, %(place)s, %(document)s, '', %(user)s, now() FROM created
"""


def packs_create(packs: list[NewPack], *, place_id: int, address_id: int | None, document_id: int | None,
                 user_id: int | None, state: str = PackState.IN_STOCK) -> None:
    """Put received packs into stock. A pack the system already knows fails the whole call."""
    if not packs:
        return
    with connection.cursor() as cursor:
        cursor.execute(_CREATE, {
            "state": state, "place": place_id, "address": address_id, "document": document_id, "user": user_id,
            "sgtin": [p.sgtin for p in packs], "package": [p.package_id for p in packs],
            "series": [p.series for p in packs], "expiry": [p.expiry for p in packs],
            "funding": [p.funding_source for p in packs], "contract": [p.contract_id for p in packs],
            "transport": [p.transport_pack_id for p in packs],
        })
        if cursor.rowcount != len(packs):
            known = list(MarkedPack.objects.filter(sgtin__in=[p.sgtin for p in packs]).values_list("sgtin", "state")
                         [:20])
            raise PackNotAvailable(
                f"Упаковки уже есть в системе ({len(packs) - cursor.rowcount}), например {known[0][0]}: "
                "повторная приёмка невозможна", details={"known": [s for s, _ in known]})


_MOVE = """
    WITH moved AS (
        UPDATE warehouse_markedpack t
        SET state = %(to_state)s, place_id = coalesce(%(to_place)s, t.place_id), address_id = %(address)s,
            document_id = coalesce(%(document)s, t.document_id), updated_at = now(),
            transport_pack_id = CASE WHEN %(unpack)s THEN NULL ELSE t.transport_pack_id END
        FROM warehouse_markedpack o
        WHERE o.id = t.id AND t.sgtin = ANY(%(sgtins)s) AND t.state = ANY(%(from_states)s)
          AND t.place_id = %(at_place)s
        RETURNING t.id, o.state AS from_state, t.place_id
    )
    INSERT INTO warehouse_packevent (pack_id, from_state, to_state, place_id, document_id, reference, user_id,
                                     created_at)
    SELECT id, from_state, %(to_state)s, place_id, %(document)s, %(reference)s, %(user)s, now() FROM moved
"""


def packs_move(sgtins: Iterable[str], *, from_states: Iterable[str], to_state: str, at_place_id: int,
               to_place_id: int | None = None, address_id: int | None = None, document_id: int | None = None,
               user_id: int | None = None, reference: str = "", unpack: bool = False) -> int:
    """Move packs that are at `at_place_id` in one of `from_states` to `to_state` (and `to_place_id`)."""
    sgtins = sorted(set(sgtins))
    from_states = sorted(set(from_states))
    for state in from_states:
        if to_state not in PACK_TRANSITIONS[state]:
            raise ValueError(f"pack transition {state} -> {to_state} is not allowed")
    if not sgtins:
        return 0
    with prebuilt.cursor() as cursor:
        cursor.execute(_MOVE, {
            "sgtins": sgtins, "from_states": from_states, "to_state": to_state, "at_place": at_place_id,
            "to_place": to_place_id, "address": address_id, "document": document_id, "user": user_id,
            "reference": reference, "unpack": unpack,
        })
        moved = cursor.rowcount
    if moved != len(sgtins):
        raise _not_available(sgtins, from_states, at_place_id)
    return moved


def _not_available(sgtins: list[str], from_states: list[str], place_id: int) -> PackNotAvailable:
    found = {s: (state, place) for s, state, place in
             MarkedPack.objects.filter(sgtin__in=sgtins).values_list("sgtin", "state", "place_id")}
    problems = []
    for sgtin in sgtins:
        state, place = found.get(sgtin, (None, None))
        if state is None:
            problems.append((sgtin, "упаковки нет в системе"))
        elif place != place_id:
            problems.append((sgtin, "упаковка числится в другом месте"))
        elif state not in from_states:
            problems.append((sgtin, f"упаковка в состоянии «{PackState(state).label}»"))
    first = problems[0] if problems else (sgtins[0], "состояние изменилось")
    return PackNotAvailable(f"Упаковка {first[0]}: {first[1]}. Операция не выполнена, ничего не изменено",
                            details={"packs": [{"sgtin": s, "reason": r} for s, r in problems[:50]],
                                     "count": len(problems)})
