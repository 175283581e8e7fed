"""Demo prescriptions: every demo MO's prescribing doctors write for their attached patients —
issued, reserved at an attached pharmacy (from the demo stock), cancelled and expired ones, and those
the pharmacy's demo seeder (`pharmacy/demo.py`, run after this one) then dispenses at the desk or puts
on deferred service — all through the services, so they pass every check.

This app does not know the pharmacy: the prescriptions meant to be dispensed or deferred are left
issued here and carry it in their idempotency key (`TO_DISPENSE`, `TO_DEFER`). One to dispense gets a
drug with free stock at an attached pharmacy; one to defer a drug that none of them has (preferably
one the regional warehouse has, so that a shipment can serve it). `demo_prescription` writes one more
for the pharmacy's desk try-out set. Idempotent: nothing is added once any prescription exists.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from llo.audit import audit_context
from llo.errors import ApplicationError
from llo.models import (
    Diagnosis,
    Doctor,
    Organization,
    OrganizationKind,
    Package,
    ProgramDrug,
    StandardizedDrug,
    User,
)
from registry.models import Person
from registry.selectors import rights_on
from warehouse.reservations import free_stock

from . import selectors, services
from .models import Prescription, Status

logger = logging.getLogger(__name__)
PER_DOCTOR = 8
SIGNAS = ["По 1 таблетке 1 раз в день утром", "По 1 таблетке 2 раза в день после еды",
          "По 1 капсуле 3 раза в день", "По 2 ингаляции 2 раза в день", "По назначению врача, курс 30 дней"]
DEFAULT_ICD = "I10"
# the n-th prescription of an MO ends up in this state (dispensed and deferred: by the pharmacy seeder)
FATES = [Status.ISSUED, Status.RESERVED, Status.DISPENSED, Status.ISSUED, Status.DEFERRED, Status.EXPIRED,
         Status.CANCELLED, Status.ISSUED]
# idempotency-key prefixes of the issued prescriptions the pharmacy seeder dispenses / defers
TO_DISPENSE = "demo:dispense:"
TO_DEFER = "demo:defer:"
KEYS = {Status.DISPENSED: TO_DISPENSE, Status.DEFERRED: TO_DEFER}


def seed_prescriptions() -> None:
    if Prescription.objects.exists():
        return
    stores = list(Organization.objects.filter(kind=OrganizationKind.REGIONAL_WAREHOUSE).values_list("pk", flat=True))
    with transaction.atomic():
        for mo in Organization.objects.filter(kind=OrganizationKind.MEDICAL_ORG).order_by("code"):
            _seed_mo(mo, stores)


def _writer(mo: Organization) -> User | None:
    return User.objects.filter(organization=mo, role="mis_client").order_by("pk").first()


def _doctors(mo: Organization) -> list[Doctor]:
    return list(Doctor.objects.filter(organization=mo, may_prescribe_subsidized=True).select_related("user")
                .order_by("pk"))


def _patients(mo: Organization):
    return Person.objects.filter(attached_mo=mo, merged_into__isnull=True, death_date__isnull=True).order_by("-snils")


def _seed_mo(mo: Organization, stores: list[int]) -> None:
    """Each doctor writes PER_DOCTOR prescriptions; the fate moves on only when one is written, so
    every MO gets every state as long as it has patients to write for."""
    writer, doctors = _writer(mo), _doctors(mo)
    patients = list(_patients(mo)[:len(doctors) * PER_DOCTOR * 3])
    today = timezone.localdate()
    points = [p.pk for p in selectors.attached_points(mo, on=today)]
    fates, picks, written_in_mo = itertools.cycle(FATES), itertools.count(), 0
    fate = next(fates)
    for doctor in doctors:
        user = doctor.user or writer
        written = tried = 0
        with audit_context(user=user, source="seed_demo"):
            for person in patients:
                if written == PER_DOCTOR:
                    break
                tried += 1
                key = f"{KEYS[fate]}{mo.code}:{written_in_mo}" if fate in KEYS else None
                drug = _drug_for(person, points, stores, today, fate=fate, pick=next(picks))
                if drug and _write(user, mo, doctor, person, drug, fate, points, today, key=key):
                    written += 1
                    written_in_mo += 1
                    fate = next(fates)
        patients = patients[tried:]


def _write(user, mo, doctor, person, drug: StandardizedDrug, fate: str, points: list[int], today, *,
           key: str | None, quantity: int = 1) -> Prescription | None:
    day = today - timedelta(days=45) if fate == Status.EXPIRED else today
    right = _right(person, day)
    diagnosis = right and (right.diagnosis or Diagnosis.objects.valid_on(day).filter(code=DEFAULT_ICD).first())
    if not diagnosis:
        return None
    draft = services.draft_for(organization=mo, doctor=doctor, person=person, program=right.program, drug=drug,
                               diagnosis=diagnosis, day=day, dosage=drug.dosage or "1 доза", quantity=quantity,
                               signa=SIGNAS[person.pk % len(SIGNAS)])
    place = _place_with(drug, points, day) if fate == Status.RESERVED else None
    if fate == Status.RESERVED and place is None:
        return None
    reserve = services.Reservation(place=place, days=5) if place else None
    try:
        with transaction.atomic():
            rx, _ = services.prescription_issue(user=user, draft=draft, reserve=reserve, idempotency_key=key)
            _move(rx, fate, user)
    except ApplicationError as exc:  # a demo patient this rule refuses: try the next one
        logger.debug("demo prescription skipped: %s", exc.message)
        return None
    return rx


def _move(rx: Prescription, fate: str, user) -> None:
    if fate == Status.CANCELLED:
        services.prescription_cancel(prescription=rx, user=user, reason="Ошибка в дозировке, выписан новый рецепт")
    elif fate == Status.EXPIRED:
        services.prescriptions_expire(today=timezone.localdate())


def _right(person: Person, day):
    rights = [r for r in rights_on(person, day) if r.in_force]
    return rights[0] if rights else None


def _drug_for(person: Person, points: list[int], stores: list[int], today, *, fate: str,
              pick: int) -> StandardizedDrug | None:
    """A drug of the list of the person's program. Reserved and to be dispensed: one with free stock at
    the MO's pharmacies. To be deferred: one none of them has — one the warehouse has, if any. Others:
    preferably one in stock."""
    day = today - timedelta(days=45) if fate == Status.EXPIRED else today
    right = _right(person, day)
    if right is None:
        return None
    listed = ProgramDrug.objects.valid_on(day).filter(program_id=right.program_id, drug__control_list="")
    drug_ids = sorted(listed.values_list("drug_id", flat=True))
    in_stock = _stocked(drug_ids, points, day)
    if fate == Status.DEFERRED:
        lacking = [d for d in drug_ids if d not in in_stock]
        choices = _stocked(lacking, stores, day) or lacking
    elif fate in (Status.RESERVED, Status.DISPENSED):
        choices = in_stock
    else:
        choices = in_stock or drug_ids
    chosen = choices[pick % len(choices)] if choices else None
    return StandardizedDrug.objects.select_related("inn").filter(pk=chosen).first()


def _stocked(drug_ids: Sequence[int], place_ids: list[int], day) -> list[int]:
    """The drugs of `drug_ids` with free stock at any of the places."""
    packages = dict(Package.objects.valid_on(day).filter(trade_name__drug_id__in=drug_ids)
                    .values_list("pk", "trade_name__drug_id"))
    lots = free_stock(place_ids=place_ids, package_ids=list(packages), today=day)
    return sorted({packages[lot.package_id] for lot in lots})


def _place_with(drug: StandardizedDrug, points: list[int], day) -> Organization | None:
    packages = list(Package.objects.valid_on(day).filter(trade_name__drug=drug).values_list("pk", flat=True))
    lots = free_stock(place_ids=points, package_ids=packages, today=day)
    return Organization.objects.get(pk=lots[0].place_id) if lots else None


def demo_prescription(*, mo: Organization, drug_ids: Sequence[int], quantity: int, key: str,
                      skip_persons: Sequence[int] = ()) -> Prescription | None:
    """One more issued demo prescription at `mo` (for the pharmacy's desk try-out set): the first of
    `drug_ids` that some attached patient's program lists, `quantity` packs, idempotency key `key`.
    None when no patient of the MO may have any of them."""
    today, writer = timezone.localdate(), _writer(mo)
    wanted = list(drug_ids)
    for doctor in _doctors(mo):
        user = doctor.user or writer
        with audit_context(user=user, source="seed_demo"):
            for person in _patients(mo).exclude(pk__in=list(skip_persons))[:60]:
                right = _right(person, today)
                if right is None:
                    continue
                listed = set(ProgramDrug.objects.valid_on(today).filter(
                    program_id=right.program_id, drug_id__in=wanted, drug__control_list="")
                    .values_list("drug_id", flat=True))
                for drug_id in (d for d in wanted if d in listed):
                    drug = StandardizedDrug.objects.select_related("inn").get(pk=drug_id)
                    rx = _write(user, mo, doctor, person, drug, Status.ISSUED, [], today, key=key,
                                quantity=quantity)
                    if rx is not None:
                        return rx
    return None
