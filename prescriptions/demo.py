"""Demo prescriptions: every demo MO's prescribing doctors write for their attached patients —
issued, reserved at an attached pharmacy (from the demo stock), dispensed, on deferred service,
cancelled and expired ones — all through the services, so they pass every check.

Dispensed and deferred ones only have their status moved until the pharmacy desk exists (pharmacy
issue): no stock leaves for them. Idempotent: nothing is added once any prescription exists.
"""

from __future__ import annotations

import itertools
import logging
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
# the n-th prescription of a doctor ends up in this state
FATES = [Status.ISSUED, Status.RESERVED, Status.DISPENSED, Status.ISSUED, Status.DEFERRED, Status.EXPIRED,
         Status.CANCELLED, Status.ISSUED]


def seed_prescriptions() -> None:
    if Prescription.objects.exists():
        return
    with transaction.atomic():
        for mo in Organization.objects.filter(kind=OrganizationKind.MEDICAL_ORG).order_by("code"):
            _seed_mo(mo)


def _seed_mo(mo: Organization) -> None:
    writer = User.objects.filter(organization=mo, role="mis_client").order_by("pk").first()
    doctors = list(Doctor.objects.filter(organization=mo, may_prescribe_subsidized=True).select_related("user"))
    patients = list(Person.objects.filter(attached_mo=mo, merged_into__isnull=True, death_date__isnull=True)
                    .order_by("-snils")[:len(doctors) * PER_DOCTOR * 2])
    today = timezone.localdate()
    points = [p.pk for p in selectors.attached_points(mo, on=today)]
    fate = itertools.cycle(FATES)
    for doctor in doctors:
        user = doctor.user or writer
        written = 0
        with audit_context(user=user, source="seed_demo"):
            for person in patients:
                if written == PER_DOCTOR:
                    break
                if _write(user, mo, doctor, person, next(fate), points, today):
                    written += 1
        patients = patients[written:]


def _write(user, mo, doctor, person, fate: str, points: list[int], today) -> bool:
    day = today - timedelta(days=45) if fate == Status.EXPIRED else today
    rights = [r for r in rights_on(person, day) if r.in_force]
    if not rights:
        return False
    right = rights[0]
    drug = _drug_for(right.program_id, points, day, pick=person.pk)
    diagnosis = right.diagnosis or Diagnosis.objects.valid_on(day).filter(code=DEFAULT_ICD).first()
    if drug is None or diagnosis is None:
        return False
    draft = services.draft_for(organization=mo, doctor=doctor, person=person, program=right.program, drug=drug,
                               diagnosis=diagnosis, day=day, dosage=drug.dosage or "1 доза", quantity=1,
                               signa=SIGNAS[person.pk % len(SIGNAS)])
    place = _place_with(drug, points, day) if fate == Status.RESERVED else None
    reserve = services.Reservation(place=place, days=5) if place else None
    try:
        with transaction.atomic():
            rx, _ = services.prescription_issue(user=user, draft=draft, reserve=reserve)
            _move(rx, fate, user)
    except ApplicationError as exc:  # a demo patient this rule refuses: try the next one
        logger.debug("demo prescription skipped: %s", exc.message)
        return False
    return True


def _move(rx: Prescription, fate: str, user) -> None:
    if fate == Status.DISPENSED:
        services.prescription_transition(prescription=rx, to=Status.DISPENSED, user=user,
                                         comment="демо-данные: отпуск без движения остатков")
    elif fate == Status.DEFERRED:
        services.prescription_transition(prescription=rx, to=Status.DEFERRED, user=user,
                                         comment="демо-данные: препарата нет в аптеке")
    elif fate == Status.CANCELLED:
        services.prescription_cancel(prescription=rx, user=user, reason="Ошибка в дозировке, выписан новый рецепт")
    elif fate == Status.EXPIRED:
        services.prescriptions_expire(today=timezone.localdate())


def _drug_for(program_id: int, points: list[int], day, *, pick: int) -> StandardizedDrug | None:
    """A drug of the program's list, preferring one the MO's pharmacies have."""
    listed = ProgramDrug.objects.valid_on(day).filter(program_id=program_id, drug__control_list="")
    drug_ids = list(listed.values_list("drug_id", flat=True))
    packages = dict(Package.objects.valid_on(day).filter(trade_name__drug_id__in=drug_ids)
                    .values_list("pk", "trade_name__drug_id"))
    in_stock = sorted({packages[lot.package_id] for lot in free_stock(place_ids=points, package_ids=list(packages),
                                                                      today=day)})
    choices = in_stock or sorted(drug_ids)
    chosen = choices[pick % len(choices)] if choices else None
    return StandardizedDrug.objects.select_related("inn").filter(pk=chosen).first()


def _place_with(drug: StandardizedDrug, points: list[int], day) -> Organization | None:
    packages = list(Package.objects.valid_on(day).filter(trade_name__drug=drug).values_list("pk", flat=True))
    lots = free_stock(place_ids=points, package_ids=packages, today=day)
    return Organization.objects.get(pk=lots[0].place_id) if lots else None
