"""Dispensing at the desk: every check with its own code, then one transaction that moves the
prescription, the packs, the ledger and the reservation, writes the record and queues the MDLP
report (scheme 521 `recipe`) in the outbox — never calling MDLP. See docs/pharmacy.md.

Locks are taken in one order: the prescription (compare-and-swap), the packs (`packs_move`), the
balances (ledger key order), the reservations. Fifty desks dispensing one prescription queue on
its row; the first commits, the others find it dispensed.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from llo import outbox, prebuilt
from llo.audit import audit_context
from llo.errors import ApplicationError, ValidationFailed
from llo.models import Organization, OutboxMessage, Package
from prescriptions.models import Prescription, Status
from prescriptions.services import StatusConflict, label_of, prescription_transition
from procurement.models import ContractItem
from warehouse import ledger
from warehouse.models import PackState, Reason, RecalledSeries, ReservationState
from warehouse.packs import PackNotAvailable, packs_move
from warehouse.reservations import reservation_close

from . import checks, lookups
from .deferrals import deferral_served
from .models import Dispensation, DispensedItem
from .selectors import may_dispense_at

MDLP_TOPIC = "mdlp.recipe"
SGTIN_SHAPE = re.compile(r"^\d{14}.{13}$")


@dataclass(frozen=True)
class UnmarkedItem:
    """Goods without marking, given by series and quantity."""

    package: Package
    series: str
    quantity: int


@dataclass(frozen=True)
class Verdict:
    """The answer to one scan at the desk: green (`ok`) with what the pack is, or red with the code."""

    ok: bool
    code: str
    message: str
    http_status: int = 200
    sgtin: str = ""
    package_id: int | None = None
    package: str = ""
    series: str = ""
    expiry: date | None = None
    scanned: int = 0  # packs accepted so far, this one included when ok
    needed: int = 0


def _check_place(user, place: Organization) -> None:
    if not may_dispense_at(user, place):
        raise ValidationFailed("Отпуск выполняет провизор этого пункта отпуска", code="dispensation.not_your_place",
                               details={"place": place.pk})


def dispensation_create(*, user, prescription: Prescription, place: Organization, codes: Sequence[str] = (),
                        items: Sequence[UnmarkedItem] = ()) -> Dispensation:
    """Dispense `prescription` at `place`: the marked packs by their scans (`codes`, raw as the scanner
    sent them) and unmarked goods by series and quantity. All or nothing."""
    rx, today = prescription, timezone.localdate()
    _check_place(user, place)
    checks.check_prescription(rx, today=today)
    checks.check_signature(rx)
    sgtins = checks.parse_packs(list(codes))
    packs = lookups.packs_by_sgtin(sgtins) if sgtins else {}
    for sgtin in sgtins:
        checks.check_pack(packs.get(sgtin), sgtin, rx=rx, place_id=place.pk, today=today)
    _check_items(items, rx=rx)
    checks.check_quantity(rx, len(sgtins) + sum(item.quantity for item in items))
    marked = [packs[sgtin] for sgtin in sgtins]
    packages = {p.package_id: p.package for p in marked} | {item.package.pk: item.package for item in items}
    prices = _contract_prices(items)
    before = rx.status, rx.status_changed_at
    try:
        with transaction.atomic(), audit_context(user=user, action="dispensation.create"):
            return _dispense(user, rx, place, marked, list(items), packages, prices, today)
    except IntegrityError:
        rx.status, rx.status_changed_at = before
        if Dispensation.objects.filter(prescription_id=rx.pk).exists():  # the UNIQUE backstop
            raise checks.AlreadyDispensed(f"Рецепт {rx.series} № {rx.number} уже отпущен",
                                          details={"prescription": rx.pk}) from None
        raise
    except Exception:
        rx.status, rx.status_changed_at = before  # the transaction rolled back: so does our copy
        raise


def _contract_prices(items: Sequence[UnmarkedItem]) -> dict[tuple[int, int], Decimal]:
    """(contract, package) → price for unmarked goods (a marked pack carries its own, `packs_by_sgtin`)."""
    if not items:
        return {}
    rows = ContractItem.objects.filter(package_id__in=[item.package.pk for item in items])
    return {(contract, package): price for contract, package, price in
            rows.values_list("contract_id", "package_id", "price")}


def _check_items(items: Sequence[UnmarkedItem], *, rx: Prescription) -> None:
    seen = set()
    for item in items:
        lot = (item.package.pk, item.series)
        if item.quantity <= 0:
            raise ValidationFailed("Количество — целое число упаковок больше нуля", code="item.bad_quantity",
                                   details={"package_id": item.package.pk, "series": item.series})
        if item.package.is_marked:
            raise checks.PackNeedsScan(f"{item.package} подлежит маркировке: отсканируйте DataMatrix каждой упаковки",
                                       details={"package_id": item.package.pk})
        if lot in seen:
            raise checks.PackDuplicate(f"{item.package} серии {item.series} указана дважды: укажите её одной строкой",
                                       details={"package_id": item.package.pk, "series": item.series})
        seen.add(lot)
        checks.check_package(item.package, rx=rx)
    if items:
        recalled = RecalledSeries.objects.filter(package_id__in=[p for p, _ in seen], is_active=True)
        for package_id, series in recalled.values_list("package_id", "series"):
            if (package_id, series) in seen:
                raise checks.PackRecalled(f"Серия {series} забракована: отпускать её нельзя",
                                          details={"package_id": package_id, "series": series})


def _dispense(user, rx: Prescription, place: Organization, marked: list, items: list[UnmarkedItem],
              packages: dict[int, Package], prices: dict, today: date) -> Dispensation:
    label, was = label_of(rx), rx.status
    try:
        prescription_transition(prescription=rx, to=Status.DISPENSED, user=user,
                                comment=f"отпущен: {place.short_name}")
    except StatusConflict as exc:  # another desk got there first
        checks.raise_for_status(rx, exc.details["status"], today=today)
        raise
    if marked:
        packs_move([p.sgtin for p in marked], from_states=[PackState.IN_STOCK], to_state=PackState.DISPENSED,
                   at_place_id=place.pk, user_id=user.pk, reference=label)
    locked, usable = _free_stock_locked(place, marked, items, packages, label, today)
    moves, rows = _lines(place, marked, items, usable, prices)
    ledger.post(moves, reason=Reason.DISPENSING, reference=label, user_id=user.pk, locked=locked)
    if was in (Status.DEFERRED, Status.RESERVED):  # a deferral (reserved when its stock arrived) is served
        deferral_served(prescription=rx, user=user)
    if was == Status.RESERVED:  # a hold elsewhere is released, here it is what was given out
        reservation_close(reference=label, state=ReservationState.CONSUMED if rx.reserved_at_id == place.pk
                          else ReservationState.RELEASED)
    return _record(user, rx, place, rows, [p.sgtin for p in marked])


# The record, its items and the MDLP message in one statement. The message is the row `llo.outbox.publish`
# writes (idempotent by key: ON CONFLICT (key) DO NOTHING); its key and payload carry the record's id.
_RECORD = """
    WITH record AS (
        INSERT INTO pharmacy_dispensation (prescription_id, place_id, pharmacist_id, at, total)
        VALUES (%(prescription)s, %(place)s, %(pharmacist)s, %(at)s, %(total)s)
        RETURNING id
    ), items AS (
        INSERT INTO pharmacy_dispenseditem (dispensation_id, package_id, sgtin, series, expiry, quantity, price,
                                            contract_id, funding_source)
        SELECT record.id, i.* FROM record, unnest(%(package)s::bigint[], %(sgtin)s::text[], %(series)s::text[],
                                                 %(expiry)s::date[], %(quantity)s::integer[], %(price)s::numeric[],
                                                 %(contract)s::bigint[], %(funding)s::text[]) AS i
        RETURNING id
    ), message AS ({message}
    )
    SELECT record.id, (SELECT array_agg(id ORDER BY id) FROM items), EXISTS (SELECT FROM message) FROM record
""".replace("{message}", outbox.insert_select_sql(
    source="record", key_sql="'dispensation-' || record.id", where="%(publish)s",
    payload_sql="jsonb_set(%(payload)s::jsonb, '{dispensation_id}', to_jsonb(record.id))"))


def _record(user, rx: Prescription, place: Organization, rows: list[DispensedItem], sgtins: list[str]) -> Dispensation:
    """Write the record with its items and, when marked packs were given, queue the MDLP report (one
    statement); the record as `selectors.dispensation_for` gives it, without reading it back."""
    total = sum((row.price * row.quantity for row in rows if row.price is not None), Decimal("0.00"))
    dispensation = Dispensation(prescription=rx, place=place, pharmacist=user, at=rx.status_changed_at, total=total)
    payload = _recipe(dispensation, rx, place, sgtins)  # dispensation_id: set by the statement
    params = {"prescription": rx.pk, "place": place.pk, "pharmacist": user.pk, "at": dispensation.at, "total": total,
              "package": [r.package_id for r in rows], "sgtin": [r.sgtin for r in rows],
              "series": [r.series for r in rows], "expiry": [r.expiry for r in rows],
              "quantity": [r.quantity for r in rows], "price": [r.price for r in rows],
              "contract": [r.contract_id for r in rows], "funding": [r.funding_source for r in rows],
              "topic": MDLP_TOPIC, "publish": bool(sgtins),
              "payload": OutboxMessage._meta.get_field("payload").get_db_prep_value(payload, connection)}
    with prebuilt.cursor() as cursor:
        cursor.execute(_RECORD, params)
        dispensation.pk, item_ids, published = cursor.fetchone()
    _as_saved(dispensation)
    for row, pk in zip(rows, item_ids or [], strict=True):
        row.pk, row.dispensation = pk, dispensation
        _as_saved(row)
    dispensation.item_rows = rows  # as `selectors.dispensation_for` gives them: shown without reading back
    if sgtins:
        payload["dispensation_id"] = dispensation.pk
        if published:
            outbox.wake_after_commit()  # as `publish` does for a message it wrote
        else:  # the key was taken: what `publish` answers then (the message, or `outbox.key_reused`)
            outbox.publish(MDLP_TOPIC, payload, key=f"dispensation-{dispensation.pk}")
    return dispensation


def _as_saved(instance) -> None:
    instance._state.adding, instance._state.db = False, connection.alias


def _free_stock_locked(place: Organization, marked: list, items: list[UnmarkedItem], packages: dict[int, Package],
                       label: str, today: date) -> tuple[dict[ledger.StockKey, ledger.Locked], list[checks.Balance]]:
    """Lock the balances to be lowered and check that what is taken is free (others' holds respected);
    the locked ones by ledger key (for `ledger.post`, which then does not lock them again) and the usable
    ones (in date, not empty) in lock order."""
    needed = Counter((p.package_id, p.series) for p in marked)
    needed.update({(item.package.pk, item.series): item.quantity for item in items})
    balances, held = checks.lock_balances(place_id=place.pk, lots=needed, reference=label)
    locked = {ledger.StockKey(place.pk, b.address_id, b.package_id, b.series, b.funding_source, b.contract_id):
              ledger.Locked(b.id, b.quantity) for b in balances}
    usable = [b for b in balances if b.quantity > 0 and b.expiry >= today]
    for item in items:
        lot = (item.package.pk, item.series)
        if not any((b.package_id, b.series) == lot for b in usable):
            expired = any((b.package_id, b.series) == lot and b.quantity > 0 for b in balances)
            error = checks.PackExpired if expired else PackNotAvailable
            raise error(f"{item.package} серии {item.series}: " + ("срок годности истёк" if expired else
                        "нет в наличии в этом пункте отпуска"), details={"package_id": lot[0], "series": lot[1]})
    free = Counter()
    for b in usable:
        free[(b.package_id, b.series)] += b.quantity
    checks.check_free(needed, {lot: free[lot] - held.get(lot, 0) for lot in needed}, packages)
    return locked, usable


def _lines(place: Organization, marked: list, items: list[UnmarkedItem], usable: list[checks.Balance],
           prices: dict) -> tuple[list[ledger.Move], list[DispensedItem]]:
    """The ledger moves and the record's rows: one per pack; unmarked goods taken from the balances of
    their series in lock order."""
    moves, rows = [], []
    for pack in marked:  # a point's packs have no storage address (shipment_receive puts them "at the place")
        key = ledger.StockKey(place.pk, pack.address_id, pack.package_id, pack.series, pack.funding_source,
                              pack.contract_id)
        moves.append(ledger.Move(key, pack.expiry, -1))
        rows.append(DispensedItem(package=pack.package, sgtin=pack.sgtin, series=pack.series, expiry=pack.expiry,
                                  quantity=1, price=pack.price, contract_id=pack.contract_id,
                                  funding_source=pack.funding_source))
    for item in items:
        left = item.quantity
        for b in (b for b in usable if (b.package_id, b.series) == (item.package.pk, item.series)):
            take = min(left, b.quantity)
            if take:
                key = ledger.StockKey(place.pk, b.address_id, b.package_id, b.series, b.funding_source, b.contract_id)
                moves.append(ledger.Move(key, b.expiry, -take))
                rows.append(DispensedItem(package=item.package, series=b.series, expiry=b.expiry, quantity=take,
                                          price=prices.get((b.contract_id, b.package_id)), contract_id=b.contract_id,
                                          funding_source=b.funding_source))
                left -= take
    return moves, rows


def _recipe(dispensation: Dispensation, rx: Prescription, place: Organization, sgtins: list[str]) -> dict:
    """What the MDLP issue needs for scheme 521 `recipe`: subject, operation date, the prescription's
    date, series and number, the SGTINs."""
    return {"dispensation_id": dispensation.pk, "place_mdlp_id": place.mdlp_place_id,
            "operation_date": dispensation.at.isoformat(), "sgtins": sgtins,
            "prescription": {"date": rx.issued_on.isoformat(), "series": rx.series, "number": rx.number}}


def _sgtins_of(already: Sequence[str]) -> list[str]:
    """The packs accepted so far: SGTINs as earlier verdicts gave them, or the raw scans."""
    sgtins = []
    for value in already:
        if SGTIN_SHAPE.match(value or ""):
            sgtins.append(value)
        else:
            try:
                sgtins.append(checks.parse_pack(value))
            except ApplicationError:
                continue  # it was answered red then and is not on the desk's list
    return sgtins


def scan_check(*, user, prescription: Prescription, place: Organization, raw: str,
               already: Sequence[str] = ()) -> Verdict:
    """Answer one scan at once (read-only): green with what the pack is, or red with the code and
    message of the check it fails. `already`: the packs the desk accepted before this one."""
    rx, accepted = prescription, _sgtins_of(already)
    try:
        today = timezone.localdate()
        _check_place(user, place)
        checks.check_prescription(rx, today=today)
        sgtin = checks.parse_pack(raw)
        if sgtin in accepted:
            raise checks.PackDuplicate(f"Упаковка {sgtin} уже отсканирована", details={"sgtin": sgtin})
        if len(accepted) >= rx.quantity:
            raise checks.QuantityMismatch(f"Уже отсканировано {len(accepted)} упак. — столько, сколько выписано",
                                          details={"prescribed": rx.quantity, "given": len(accepted) + 1})
        packs = lookups.packs_by_sgtin([sgtin, *accepted])
        pack = packs.get(sgtin)
        checks.check_pack(pack, sgtin, rx=rx, place_id=place.pk, today=today)
        lot = (pack.package_id, pack.series)
        count = 1 + sum(1 for s in accepted if s in packs and (packs[s].package_id, packs[s].series) == lot)
        free = checks.free_of(place_id=place.pk, lots=[lot], reference=label_of(rx), today=today)
        checks.check_free({lot: count}, free, {pack.package_id: pack.package})
    except ApplicationError as exc:
        return Verdict(ok=False, code=exc.code, message=exc.message, http_status=exc.http_status,
                       scanned=len(accepted), needed=rx.quantity)
    scanned = len(accepted) + 1
    return Verdict(ok=True, code="", message=f"Принято: {pack.package}, серия {pack.series}, годен до "
                   f"{pack.expiry:%d.%m.%Y} — {scanned} из {rx.quantity}", sgtin=sgtin, package_id=pack.package_id,
                   package=str(pack.package), series=pack.series, expiry=pack.expiry, scanned=scanned,
                   needed=rx.quantity)
