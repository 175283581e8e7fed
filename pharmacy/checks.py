"""The checks of a dispensing, each with its own stable code (docs/pharmacy.md).

Every check reads, none writes: `dispensing.dispensation_create` runs them before and inside its
transaction, `dispensing.scan_check` for one scan at the desk.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from llo import prebuilt
from llo.barcodes import BarcodeError, Kind, parse_scan
from llo.errors import ConflictError, ValidationFailed
from llo.models import Package
from prescriptions import signing
from prescriptions.models import OPEN_STATUSES, Prescription, Status
from warehouse.models import MarkedPack, PackState
from warehouse.packs import PackNotAvailable
from warehouse.reservations import NotEnoughStock

from .models import Deferral, DeferralStatus


class AlreadyDispensed(ConflictError):
    code = "prescription.already_dispensed"


class PrescriptionCancelled(ValidationFailed):
    code = "prescription.cancelled"


class PrescriptionExpired(ValidationFailed):
    code = "prescription.expired"


class PrescriptionNotInForce(ValidationFailed):
    code = "prescription.not_in_force"


class PrescriptionIncomplete(ValidationFailed):
    code = "prescription.incomplete"


class PackMismatch(ValidationFailed):
    code = "pack.mismatch"


class PackExpired(ValidationFailed):
    code = "pack.expired"


class PackRecalled(ValidationFailed):
    code = "pack.recalled"


class PackDuplicate(ValidationFailed):
    code = "pack.duplicate"


class PackNeedsScan(ValidationFailed):
    code = "pack.needs_scan"


class NotAPack(ValidationFailed):
    code = "scan.not_a_pack"


class QuantityMismatch(ValidationFailed):
    code = "quantity.mismatch"


# --- the prescription ----------------------------------------------------------------------------

REQUIRED = {"series": "серия", "number": "номер", "issued_on": "дата выписки", "person_id": "пациент",
            "doctor_id": "врач", "drug_id": "препарат", "dosage": "дозировка", "quantity": "количество",
            "signa": "способ применения"}


def check_prescription(rx: Prescription, *, today: date) -> None:
    """Open, in force today and complete. No query, but past `expires_on` (a rare case): the validity
    of a prescription on deferred service is extended for the time of the service — a deferred one
    is dispensable, a reserved one when it has an active deferral (the drug arrived for it)."""
    where = f"Рецепт {rx.series} № {rx.number}"
    if rx.status == Status.DISPENSED:
        raise AlreadyDispensed(f"{where} уже отпущен: повторный отпуск невозможен",
                               details={"prescription": rx.pk})
    if rx.status == Status.CANCELLED:
        raise PrescriptionCancelled(f"{where} аннулирован ({rx.cancel_reason}): отпуск невозможен, пациенту нужно "
                                    "обратиться к врачу", details={"prescription": rx.pk})
    if rx.status == Status.EXPIRED or (rx.expires_on < today and not _extended_by_deferral(rx)):
        raise PrescriptionExpired(f"{where}: срок действия истёк {rx.expires_on:%d.%m.%Y}. Отпуск невозможен, "
                                  "пациенту нужно обратиться к врачу за новым рецептом",
                                  details={"prescription": rx.pk, "expires_on": rx.expires_on.isoformat()})
    if rx.issued_on > today:
        raise PrescriptionNotInForce(f"{where} выписан на {rx.issued_on:%d.%m.%Y}: до этой даты он не действует",
                                     details={"prescription": rx.pk})
    if rx.status not in OPEN_STATUSES:  # a status added later and not yet known here
        raise ConflictError(f"{where} в статусе «{rx.get_status_display()}»: отпуск невозможен",
                            code="prescription.status_conflict", details={"status": rx.status})
    missing = [name for name in REQUIRED if not getattr(rx, name)]
    if missing:
        raise PrescriptionIncomplete(f"{where} заполнен не полностью (нет: {', '.join(REQUIRED[m] for m in missing)})"
                                     ": отпуск невозможен", details={"fields": missing})


def _extended_by_deferral(rx: Prescription) -> bool:
    """Still on deferred service, so still valid past `expires_on` (docs/pharmacy.md «Deferred service»)."""
    if rx.status == Status.DEFERRED:
        return True
    return rx.status == Status.RESERVED and Deferral.objects.filter(
        prescription_id=rx.pk, status__in=[DeferralStatus.OPEN, DeferralStatus.OVERDUE]).exists()


def check_signature(rx: Prescription) -> None:
    """The doctor's signature over the stored СЭМД; hand-written prescriptions have none."""
    if not rx.is_handwritten:
        signing.verify_prescription(rx)


def raise_for_status(rx: Prescription, status: str, *, today: date) -> None:
    """After a lost compare-and-swap: the error the prescription's new status calls for."""
    rx.status = status
    check_prescription(rx, today=today)


# --- packs ---------------------------------------------------------------------------------------

def parse_pack(raw: str) -> str:
    """The SGTIN of one scan, or the scanner's error as `scan.<code>`."""
    try:
        scanned = parse_scan(raw)
    except BarcodeError as exc:
        raise ValidationFailed(exc.message, code=f"scan.{exc.code}", details=exc.details) from None
    if scanned.kind != Kind.SGTIN:
        what = {Kind.PRESCRIPTION: "штрихкод рецепта", Kind.PATIENT: "QR-код пациента",
                Kind.SSCC: "код транспортной упаковки (SSCC)", Kind.GTIN: "штрихкод без серийного номера"}
        raise NotAPack(f"Это {what.get(scanned.kind, 'не код упаковки')}: отсканируйте DataMatrix на упаковке",
                       details={"kind": str(scanned.kind)})
    return scanned.sgtin


def parse_packs(codes: list[str]) -> list[str]:
    """SGTINs of the scans, in order; the same pack twice is `pack.duplicate`."""
    sgtins: list[str] = []
    for raw in codes:
        sgtin = parse_pack(raw)
        if sgtin in sgtins:
            raise PackDuplicate(f"Упаковка {sgtin} отсканирована дважды: каждую упаковку сканируйте один раз",
                                details={"sgtin": sgtin})
        sgtins.append(sgtin)
    return sgtins


def check_pack(pack: MarkedPack | None, sgtin: str, *, rx: Prescription, place_id: int, today: date) -> None:
    """In this place's stock, what was prescribed, in date, not recalled (no query)."""
    reason = None
    if pack is None:
        reason = "упаковки нет в системе: она не поступала"
    elif pack.place_id != place_id:
        reason = "упаковка числится в другом месте"
    elif pack.state != PackState.IN_STOCK:
        reason = f"упаковка в состоянии «{PackState(pack.state).label}»"
    if reason:
        raise PackNotAvailable(f"Упаковка {sgtin}: {reason}. Отпустить её здесь нельзя",
                               details={"sgtin": sgtin, "reason": reason})
    check_package(pack.package, rx=rx, sgtin=sgtin)
    if pack.expiry < today:
        raise PackExpired(f"Упаковка {sgtin}: срок годности истёк {pack.expiry:%d.%m.%Y}. Отложите её для списания",
                          details={"sgtin": sgtin, "expiry": pack.expiry.isoformat()})
    if pack.recalled:
        raise PackRecalled(f"Серия {pack.series} забракована: упаковку {sgtin} отпускать нельзя, отложите её",
                           details={"sgtin": sgtin, "series": pack.series})


def check_package(package: Package, *, rx: Prescription, sgtin: str = "") -> None:
    """The same standardized drug (INN, form, dosage); with a trade-name prescription (ВК protocol)
    the same pack."""
    if package.trade_name.drug_id != rx.drug_id or (rx.package_id and package.pk != rx.package_id):
        prescribed = "торговое наименование по протоколу ВК" if rx.package_id else "МНН, форма и дозировка"
        raise PackMismatch(f"{package} — не то, что выписано в рецепте ({prescribed} не совпадают)",
                           details={"sgtin": sgtin, "package_id": package.pk, "drug_id": rx.drug_id,
                                    "prescribed_package_id": rx.package_id})


def check_quantity(rx: Prescription, count: int) -> None:
    if count != rx.quantity:
        raise QuantityMismatch(f"Выписано {rx.quantity} упак., к отпуску {count}: отпускается ровно выписанное "
                               "количество", details={"prescribed": rx.quantity, "given": count})


# --- free stock ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Balance:
    id: int
    address_id: int | None
    package_id: int
    series: str
    expiry: date
    funding_source: str
    contract_id: int | None
    quantity: int


_LOTS = "(package_id, series) IN (SELECT * FROM unnest(%(packages)s::bigint[], %(series)s::text[]))"
# the ledger's lock order (warehouse.ledger._lock_order): rows are locked as the sort emits them
_LOCK = f"""
    SELECT id, address_id, package_id, series, expiry, funding_source, contract_id, quantity
    FROM warehouse_stockbalance WHERE place_id = %(place)s AND {_LOTS} AND quantity > 0
    ORDER BY coalesce(address_id, 0), package_id, series, funding_source, coalesce(contract_id, 0)
    FOR UPDATE
"""
# a statement of its own after the lock: under READ COMMITTED it sees holds committed while we waited
_HELD = f"""
    SELECT package_id, series, sum(quantity)::integer FROM warehouse_stockreservation
    WHERE state = 'active' AND place_id = %(place)s AND reference <> %(reference)s AND {_LOTS}
    GROUP BY 1, 2
"""
_FREE = f"""
    SELECT b.package_id, b.series, b.quantity - coalesce(h.quantity, 0)
    FROM (SELECT package_id, series, sum(quantity)::integer AS quantity FROM warehouse_stockbalance
          WHERE place_id = %(place)s AND {_LOTS} AND quantity > 0 AND expiry >= %(today)s GROUP BY 1, 2) b
    LEFT JOIN ({_HELD}) h (package_id, series, quantity) USING (package_id, series)
"""


def _params(place_id: int, lots, reference: str, today: date | None = None) -> dict:
    lots = sorted(lots)
    return {"place": place_id, "packages": [p for p, _ in lots], "series": [s for _, s in lots],
            "reference": reference, "today": today}


def lock_balances(*, place_id: int, lots, reference: str) -> tuple[list[Balance], dict[tuple[int, str], int]]:
    """Lock the place's non-empty balances of these (package, series) in the ledger's order; returns
    them and what others' active reservations hold of each (the prescription's own, `reference`,
    excluded)."""
    params = _params(place_id, lots, reference)
    with prebuilt.cursor() as cursor:
        cursor.execute(_LOCK, params)
        balances = [Balance(*row) for row in cursor.fetchall()]
        cursor.execute(_HELD, params)
        held = {(package, series): quantity for package, series, quantity in cursor.fetchall()}
    return balances, held


def free_of(*, place_id: int, lots, reference: str, today: date) -> dict[tuple[int, str], int]:
    """What may be dispensed of each (package, series) for this prescription, without locking: the
    balances in date minus what others' active reservations hold."""
    with prebuilt.cursor() as cursor:
        cursor.execute(_FREE, _params(place_id, lots, reference, today))
        return {(package, series): free for package, series, free in cursor.fetchall()}


def check_free(needed: dict[tuple[int, str], int], free: dict[tuple[int, str], int],
               packages: dict[int, Package]) -> None:
    for (package_id, series), count in sorted(needed.items()):
        available = max(free.get((package_id, series), 0), 0)
        if available < count:
            raise NotEnoughStock(
                f"{packages[package_id]} серии {series}: свободно {available} упак., нужно {count} — остальное "
                "забронировано для других рецептов или уже выдано",
                details={"package_id": package_id, "series": series, "available": available, "needed": count})
