"""Issuing under real concurrency on PostgreSQL: numbers never repeat nor skip, one
Idempotency-Key gives one prescription, the last free packs are reserved once."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from llo.errors import ConflictError
from prescriptions import services
from prescriptions.models import Prescription, Status
from tests.concurrency import at_once
from warehouse import ledger
from warehouse.ledger import Move, StockKey
from warehouse.models import StockReservation

pytestmark = pytest.mark.django_db(transaction=True)


def test_concurrent_issues_take_distinct_consecutive_numbers(draft, doctor_user):
    writers = 12

    def issue():
        rx, _ = services.prescription_issue(user=doctor_user, draft=draft())
        return rx.number

    numbers = at_once(*[issue] * writers)
    assert all(isinstance(n, str) for n in numbers), numbers
    assert len(set(numbers)) == writers
    sequences = sorted(int(n[-6:]) for n in numbers)
    assert sequences == list(range(1, writers + 1))  # no gaps, no repeats
    assert Prescription.objects.values("series", "number").distinct().count() == writers


def test_one_idempotency_key_sent_at_once_gives_one_prescription(draft, doctor_user):
    key = str(uuid.uuid4())

    def issue():
        rx, replayed = services.prescription_issue(user=doctor_user, draft=draft(), idempotency_key=key,
                                                   fingerprint="same")
        return rx.pk, replayed

    outcomes = at_once(*[issue] * 6)
    assert all(isinstance(o, tuple) for o in outcomes), outcomes
    assert len({pk for pk, _ in outcomes}) == 1
    assert sum(1 for _, replayed in outcomes if not replayed) == 1
    assert Prescription.objects.count() == 1


def test_the_last_free_packs_are_reserved_once(draft, doctor_user, attached_point, package):
    with transaction.atomic():
        ledger.post([Move(StockKey(attached_point.pk, None, package.pk, "S1", "1", None),
                          date.today() + timedelta(days=400), 3)], reason="receipt")

    def issue():
        rx, _ = services.prescription_issue(
            user=doctor_user, draft=draft(quantity=2),
            reserve=services.Reservation(place=attached_point, days=3))
        return rx

    outcomes = at_once(*[issue] * 4)
    won = [o for o in outcomes if isinstance(o, Prescription)]
    lost = [o for o in outcomes if isinstance(o, ConflictError)]
    assert len(won) == 1 and len(lost) == 3, outcomes
    assert {e.code for e in lost} == {"stock.not_enough"}
    assert won[0].status == Status.RESERVED
    held = StockReservation.objects.filter(state="active")
    assert sum(r.quantity for r in held) == 2
    assert Prescription.objects.count() == 1  # a refused reservation leaves no prescription behind
    assert timezone.now() < held[0].until
