"""Status moves: compare-and-swap with history, expiry and reservations running out on time,
hand-written prescriptions in their own register, numbering settings."""

from datetime import date, timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from llo.errors import ConflictError, ValidationFailed
from prescriptions import numbering, services
from prescriptions.models import Numerator, Prescription, PrintMethod, Status
from prescriptions.tasks import prescriptions_expire, reservations_expire
from warehouse import ledger
from warehouse.ledger import Move, StockKey
from warehouse.models import StockReservation
from warehouse.reservations import free_stock

pytestmark = pytest.mark.django_db


def stock(point, package, quantity=5, series="L1"):
    with transaction.atomic():
        ledger.post([Move(StockKey(point.pk, None, package.pk, series, "1", None), date.today() + timedelta(days=365),
                          quantity)], reason="receipt")


def test_transition_table_is_enforced(issued, doctor_user):
    services.prescription_transition(prescription=issued, to=Status.DISPENSED, user=doctor_user)
    with pytest.raises(ConflictError) as caught:
        services.prescription_transition(prescription=issued, to=Status.CANCELLED, user=doctor_user)
    assert caught.value.code == "prescription.status_conflict"


def test_a_stale_copy_loses_the_compare_and_swap(issued, doctor_user):
    stale = Prescription.objects.get(pk=issued.pk)
    services.prescription_cancel(prescription=issued, user=doctor_user, reason="дубль")
    with pytest.raises(ConflictError) as caught:
        services.prescription_transition(prescription=stale, to=Status.DISPENSED)
    assert caught.value.details["status"] == Status.CANCELLED
    assert Prescription.objects.get(pk=issued.pk).status == Status.CANCELLED


def test_expiry_task_expires_open_prescriptions_past_their_last_day(issue, today):
    old, fresh = issue(), issue()
    Prescription.objects.filter(pk=old.pk).update(issued_on=today - timedelta(days=40),
                                                  expires_on=today - timedelta(days=11))
    assert prescriptions_expire.apply().get() == 1
    assert Prescription.objects.get(pk=old.pk).status == Status.EXPIRED
    assert Prescription.objects.get(pk=fresh.pk).status == Status.ISSUED
    assert prescriptions_expire.apply().get() == 0  # idempotent


def test_on_deferred_service_a_prescription_keeps_its_validity(issue, today, draft, attached_point, package,
                                                                doctor_user):
    """Deferred, or reserved when the drug arrived for it (deferred → reserved), it is not expired: its
    validity is extended for the time of the deferred service; a plain reservation expires."""
    stock(attached_point, package, quantity=5)
    deferred, arrived, issued = issue(), issue(), issue()
    reserved, _ = services.prescription_issue(user=doctor_user, draft=draft(),
                                              reserve=services.Reservation(place=attached_point, days=2))
    for rx in (deferred, arrived):
        services.prescription_transition(prescription=rx, to=Status.DEFERRED, user=doctor_user)
    services.prescription_transition(prescription=arrived, to=Status.RESERVED, reserved_at=attached_point)
    for rx in (deferred, arrived, issued, reserved):
        Prescription.objects.filter(pk=rx.pk).update(issued_on=today - timedelta(days=40),
                                                      expires_on=today - timedelta(days=11))
    assert prescriptions_expire.apply().get() == 2
    statuses = dict(Prescription.objects.values_list("pk", "status"))
    assert [statuses[rx.pk] for rx in (deferred, arrived, issued, reserved)] == [
        Status.DEFERRED, Status.RESERVED, Status.EXPIRED, Status.EXPIRED]

    # the hold from the arrival runs out: issued again, it expires like any other
    services.prescription_transition(prescription=arrived, to=Status.ISSUED, reserved_at=None)
    assert prescriptions_expire.apply().get() == 1
    assert Prescription.objects.get(pk=arrived.pk).status == Status.EXPIRED


def test_a_reservation_holds_packs_then_runs_out_and_returns_them(draft, attached_point, package, doctor_user):
    stock(attached_point, package, quantity=5)
    rx, _ = services.prescription_issue(user=doctor_user, draft=draft(),
                                        reserve=services.Reservation(place=attached_point, days=2))
    assert rx.status == Status.RESERVED
    free = lambda: sum(lot.quantity for lot in free_stock(place_ids=[attached_point.pk],
                                                         package_ids=[package.pk], today=date.today()))
    assert free() == 3
    StockReservation.objects.update(until=timezone.now() - timedelta(minutes=1))
    assert reservations_expire.apply().get() == 1
    rx.refresh_from_db()
    assert (rx.status, rx.reserved_at_id) == (Status.ISSUED, None)
    assert free() == 5
    assert StockReservation.objects.get().state == "expired"


def test_cancelling_a_reserved_prescription_releases_the_packs(attached_point, package, doctor_user, draft):
    stock(attached_point, package, quantity=2)
    rx, _ = services.prescription_issue(user=doctor_user, draft=draft(),
                                        reserve=services.Reservation(place=attached_point, days=2))
    services.prescription_cancel(prescription=rx, user=doctor_user, reason="пациент отказался")
    assert StockReservation.objects.get().state == "released"


def test_reservation_days_are_bounded(draft, doctor_user, attached_point):
    with pytest.raises(ValidationFailed) as caught:
        services.prescription_issue(user=doctor_user, draft=draft(),
                                    reserve=services.Reservation(place=attached_point, days=60))
    assert caught.value.code == "reservation.days_invalid"
    assert not Prescription.objects.exists()


def test_a_hand_written_prescription_goes_to_its_own_register(draft, doctor_user, issued):
    rx = services.prescription_register_handwritten(user=doctor_user, draft=draft(), series="9826",
                                                    number="000777")
    assert (rx.is_handwritten, rx.print_method, rx.document) == (True, PrintMethod.HANDWRITTEN, None)
    with pytest.raises(ConflictError):
        services.prescription_register_handwritten(user=doctor_user, draft=draft(), series="9826", number="000777")
    with pytest.raises(ValidationFailed):
        services.prescription_register_handwritten(user=doctor_user, draft=draft(), series="98-26", number="x")
    with pytest.raises(ConflictError):  # a number the system already gave
        services.prescription_register_handwritten(user=doctor_user, draft=draft(), series=issued.series,
                                                   number=issued.number)


def test_a_new_year_starts_from_one_with_last_years_patterns(mo, onlp, issued):
    numbering.numerator_configure(organization=mo, program=None, year=issued.issued_on.year,
                                  series_pattern="{region}{yy}", number_pattern="{mo}{method}{seq:07d}")
    next_year = issued.issued_on.year + 1
    with transaction.atomic():
        series, number = numbering.take_number(organization=mo, program=onlp, year=next_year, method="1")
    assert series.endswith(f"{next_year % 100:02d}")
    assert number == f"{mo.code}10000001"
    assert Numerator.objects.filter(organization=mo, year=next_year).count() == 1


def test_a_program_numerator_takes_precedence(mo, onlp, draft, doctor_user, today):
    numbering.numerator_configure(organization=mo, program=onlp, year=today.year,
                                  series_pattern="{region}{yy}P", number_pattern="{mo}{method}{seq:06d}")
    rx, _ = services.prescription_issue(user=doctor_user, draft=draft())
    assert rx.series.endswith("P") and rx.number.endswith("000001")


@pytest.mark.parametrize("series, number", [("{nope}", "{seq}"), ("{region}-{yy}", "{seq}"), ("{region}", "{mo}x")])
def test_a_broken_pattern_is_refused_when_configured(mo, today, series, number):
    with pytest.raises(numbering.NumberingError):
        numbering.numerator_configure(organization=mo, program=None, year=today.year, series_pattern=series,
                                      number_pattern=number)
