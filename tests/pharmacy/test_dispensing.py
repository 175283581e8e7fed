"""Dispensing at the desk: the record, the packs, the ledger, the reservation and the MDLP message in
one transaction; every check refuses its own case with its own code and changes nothing."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction

from llo import outbox
from llo.errors import ApplicationError
from llo.models import OutboxMessage, Package, Role
from pharmacy.dispensing import MDLP_TOPIC, UnmarkedItem, dispensation_create
from pharmacy.models import Dispensation
from prescriptions import services
from prescriptions.models import Prescription, Status
from tests.llo import factories as f
from tests.pharmacy import factories as pf
from tests.pharmacy.conftest import snapshot
from tests.warehouse import factories as wf
from tests.warehouse.factories import datamatrix
from warehouse import ledger
from warehouse.models import MarkedPack, RecalledSeries, StockMovement, StockReservation

pytestmark = pytest.mark.django_db


def dispense(user, rx, place, sgtins=(), items=()):
    return dispensation_create(user=user, prescription=rx, place=place, codes=[datamatrix(s) for s in sgtins],
                               items=list(items))


def refused(code, call, *args, **kwargs):
    """The call fails with `code` and leaves every table as it was."""
    before = snapshot()
    with pytest.raises(ApplicationError) as caught:
        call(*args, **kwargs)
    assert caught.value.code == code, caught.value.as_dict()
    assert snapshot() == before
    return caught.value


def test_dispensing_moves_prescription_packs_ledger_and_queues_the_mdlp_report(issued, point, pharmacist, package,
                                                                               contract):
    point.mdlp_place_id = "00000000012345"
    point.save()
    sgtins = pf.stock(point, package, 3, contract=contract)
    dispensation = dispense(pharmacist, issued, point, sgtins[:2])

    assert Prescription.objects.get(pk=issued.pk).status == Status.DISPENSED
    assert dict(MarkedPack.objects.values_list("sgtin", "state")) == {
        sgtins[0]: "dispensed", sgtins[1]: "dispensed", sgtins[2]: "in_stock"}
    key = ledger.StockKey(point.pk, None, package.pk, "S1", "1", contract.pk)
    assert ledger.balance_of(key) == 1
    movement = StockMovement.objects.get(reason="dispensing")
    label = f"RX-{issued.series}-{issued.number}"
    assert (movement.quantity, movement.reference, movement.user_id) == (-2, label, pharmacist.pk)
    assert ledger.drift() == []

    items = list(dispensation.items.order_by("sgtin"))
    assert [(i.sgtin, i.quantity, i.price, i.contract_id, i.funding_source) for i in items] == [
        (s, 1, Decimal("123.45"), contract.pk, "1") for s in sorted(sgtins[:2])]
    assert dispensation.total == Decimal("246.90")
    assert (dispensation.place, dispensation.pharmacist) == (point, pharmacist)

    message = OutboxMessage.objects.get(topic=MDLP_TOPIC)
    assert message.key == f"dispensation-{dispensation.pk}"
    assert message.payload == {
        "dispensation_id": dispensation.pk, "place_mdlp_id": "00000000012345", "sgtins": sgtins[:2],
        "operation_date": dispensation.at.isoformat(),
        "prescription": {"date": issued.issued_on.isoformat(), "series": issued.series, "number": issued.number}}


def test_the_mdlp_message_keeps_the_outbox_rules(issued, issue, point, pharmacist, package,
                                                django_capture_on_commit_callbacks):
    sgtins = pf.stock(point, package, 4)
    with django_capture_on_commit_callbacks() as callbacks:  # the dispatcher is woken after the commit, once
        dispense(pharmacist, issued, point, sgtins[:2])
    assert callbacks == [outbox._wake_dispatcher]
    assert OutboxMessage.objects.get(topic=MDLP_TOPIC).status == "pending"

    # a key already taken answers as `outbox.publish` does: under another topic the dispensing is refused
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(pg_get_serial_sequence('pharmacy_dispensation', 'id'))")
        next_id = cursor.fetchone()[0] + 1
    outbox.publish("other.topic", {}, key=f"dispensation-{next_id}")
    refused("outbox.key_reused", dispense, pharmacist, issue(), point, sgtins[2:])


def test_a_second_dispensing_is_refused(issued, point, pharmacist, package):
    sgtins = pf.stock(point, package, 4)
    dispense(pharmacist, issued, point, sgtins[:2])
    error = refused("prescription.already_dispensed", dispense, pharmacist, issued, point, sgtins[2:])
    assert error.http_status == 409
    stale = Prescription.objects.get(pk=issued.pk)
    stale.status = Status.ISSUED  # a desk that opened it before the first dispensing
    refused("prescription.already_dispensed", dispense, pharmacist, stale, point, sgtins[2:])
    assert stale.status == Status.ISSUED  # the caller's copy rolls back with the transaction


def test_cancelled_and_expired_prescriptions_are_refused(issue, point, pharmacist, package, doctor_user, today):
    sgtins = pf.stock(point, package, 2)
    cancelled = issue()
    services.prescription_cancel(prescription=cancelled, user=doctor_user, reason="ошибка в дозировке")
    assert refused("prescription.cancelled", dispense, pharmacist, cancelled, point, sgtins).http_status == 422

    expired = issue()
    services.prescription_transition(prescription=expired, to=Status.EXPIRED)
    refused("prescription.expired", dispense, pharmacist, expired, point, sgtins)

    overdue = issue()  # past its last day, the hourly task has not run yet
    Prescription.objects.filter(pk=overdue.pk).update(issued_on=today - timedelta(days=40),
                                                      expires_on=today - timedelta(days=1))
    overdue.refresh_from_db()
    refused("prescription.expired", dispense, pharmacist, overdue, point, sgtins)


def test_a_prescription_missing_a_field_is_refused(issued, point, pharmacist, package):
    sgtins = pf.stock(point, package, 2)
    Prescription.objects.filter(pk=issued.pk).update(signa="")
    issued.refresh_from_db()
    error = refused("prescription.incomplete", dispense, pharmacist, issued, point, sgtins)
    assert error.details["fields"] == ["signa"]


def test_a_tampered_signature_is_refused_and_a_hand_written_prescription_needs_none(
        issued, draft, doctor_user, point, pharmacist, package):
    sgtins = pf.stock(point, package, 4)
    Prescription.objects.filter(pk=issued.pk).update(document=bytes(issued.document).replace(b"<", b" <", 1))
    issued.refresh_from_db()
    refused("prescription.signature_invalid", dispense, pharmacist, issued, point, sgtins[:2])

    handwritten = services.prescription_register_handwritten(user=doctor_user, draft=draft(), series="9826",
                                                              number="000777")
    assert dispense(pharmacist, handwritten, point, sgtins[2:]).items.count() == 2


def test_scans_that_are_not_packs_are_refused(issued, point, pharmacist, package):
    sgtins = pf.stock(point, package, 2)
    refused("scan.not_a_code", dispensation_create, user=pharmacist, prescription=issued, place=point,
            codes=[datamatrix(sgtins[0]), "Привет!"])
    refused("scan.not_a_pack", dispensation_create, user=pharmacist, prescription=issued, place=point,
            codes=[datamatrix(sgtins[0]), f"RX-{issued.series}-{issued.number}"])
    refused("pack.duplicate", dispense, pharmacist, issued, point, [sgtins[0], sgtins[0]])


def test_a_pack_of_another_drug_is_refused(issued, point, pharmacist, drug):
    other = Package.objects.filter(is_marked=True, gtin__isnull=False).exclude(trade_name__drug=drug).first()
    sgtins = pf.stock(point, other, 2)
    error = refused("pack.mismatch", dispense, pharmacist, issued, point, sgtins)
    assert error.http_status == 422


def test_a_trade_name_prescription_takes_only_its_pack(issue, point, pharmacist, package):
    rx = issue(package=package, vk_protocol="ВК-12")
    bigger = pf.package_like(package)
    refused("pack.mismatch", dispense, pharmacist, rx, point, pf.stock(point, bigger, 2))
    assert dispense(pharmacist, rx, point, pf.stock(point, package, 2, series="S2"))


def test_a_standardized_drug_prescription_takes_any_pack_of_the_drug(issued, point, pharmacist, package):
    bigger = pf.package_like(package)
    assert dispense(pharmacist, issued, point, pf.stock(point, package, 1) + pf.stock(point, bigger, 1))


def test_packs_not_in_this_points_stock_are_refused(issued, issue, point, other_point, pharmacist, package):
    elsewhere = pf.stock(other_point, package, 2)
    error = refused("pack.not_available", dispense, pharmacist, issued, point, elsewhere)
    assert error.http_status == 409
    here = pf.stock(point, package, 2)
    unknown = f"{package.gtin}ZZZZZZZZZZZZZ"
    refused("pack.not_available", dispense, pharmacist, issued, point, [here[0], unknown])
    dispense(pharmacist, issue(), point, here)  # given out on another prescription
    refused("pack.not_available", dispense, pharmacist, issued, point, here)


def test_expired_and_recalled_packs_are_refused(issued, point, pharmacist, package, today):
    old = pf.stock(point, package, 2, series="OLD", expiry=today - timedelta(days=1))
    refused("pack.expired", dispense, pharmacist, issued, point, old)
    bad = pf.stock(point, package, 2, series="BAD")
    RecalledSeries.objects.create(package=package, series="BAD", letter="01и-1/26", recalled_on=today)
    refused("pack.recalled", dispense, pharmacist, issued, point, bad)


def test_the_quantity_must_be_what_was_prescribed(issued, point, pharmacist, package):
    sgtins = pf.stock(point, package, 3)
    error = refused("quantity.mismatch", dispense, pharmacist, issued, point, sgtins[:1])
    assert error.details == {"prescribed": 2, "given": 1}
    refused("quantity.mismatch", dispense, pharmacist, issued, point, sgtins)


def test_others_reservations_are_respected_and_its_own_is_consumed(draft, issue, doctor_user, attached_point,
                                                                    pharmacist, package):
    sgtins = pf.stock(attached_point, package, 3)
    reserved, _ = services.prescription_issue(user=doctor_user, draft=draft(quantity=2),
                                              reserve=services.Reservation(place=attached_point, days=3))
    walk_in = issue()
    error = refused("stock.not_enough", dispense, pharmacist, walk_in, attached_point, sgtins[:2])
    assert (error.http_status, error.details["available"]) == (409, 1)

    dispense(pharmacist, reserved, attached_point, sgtins[1:])  # its own hold counts as available to it
    assert StockReservation.objects.get().state == "consumed"
    assert ledger.drift() == []


def test_a_reservation_at_another_point_is_released(draft, doctor_user, attached_point, other_point, package):
    pf.stock(attached_point, package, 2)
    rx, _ = services.prescription_issue(user=doctor_user, draft=draft(quantity=2),
                                        reserve=services.Reservation(place=attached_point, days=3))
    elsewhere = f.user(Role.PHARMACIST, other_point)
    dispense(elsewhere, rx, other_point, pf.stock(other_point, package, 2))
    assert StockReservation.objects.get().state == "released"


def test_unmarked_goods_are_dispensed_by_series_and_quantity(issue, point, pharmacist, package, supplier, ministry):
    plain = pf.package_like(package, marked=False)
    contract = wf.contract(supplier, ministry, [plain])
    pf.stock_unmarked(point, plain, 1, series="U1", contract=contract)
    pf.stock_unmarked(point, plain, 2, series="U1")
    rx = issue(quantity=3)
    dispensation = dispense(pharmacist, rx, point, items=[UnmarkedItem(plain, "U1", 3)])
    rows = sorted((i.sgtin, i.quantity, i.price) for i in dispensation.items.all())
    assert rows == [(None, 1, Decimal("123.45")), (None, 2, None)]  # by balance: under the contract, and without
    assert dispensation.total == Decimal("123.45")
    assert not OutboxMessage.objects.filter(topic=MDLP_TOPIC).exists()  # nothing marked: nothing to report
    assert ledger.drift() == []


def test_unmarked_goods_checks(issue, point, pharmacist, package, today):
    plain = pf.package_like(package, marked=False)
    pf.stock_unmarked(point, plain, 2, series="U1")
    pf.stock_unmarked(point, plain, 2, series="OLD", expiry=today - timedelta(days=3))
    rx = issue(quantity=3)
    refused("stock.not_enough", dispense, pharmacist, rx, point, items=[UnmarkedItem(plain, "U1", 3)])
    refused("pack.not_available", dispense, pharmacist, rx, point, items=[UnmarkedItem(plain, "NONE", 3)])
    refused("pack.expired", dispense, pharmacist, rx, point, items=[UnmarkedItem(plain, "OLD", 3)])
    refused("pack.needs_scan", dispense, pharmacist, rx, point, items=[UnmarkedItem(package, "S1", 3)])
    refused("pack.duplicate", dispense, pharmacist, rx, point,
            items=[UnmarkedItem(plain, "U1", 1), UnmarkedItem(plain, "U1", 2)])
    RecalledSeries.objects.create(package=plain, series="U1", letter="01и-2/26", recalled_on=today)
    refused("pack.recalled", dispense, pharmacist, rx, point, items=[UnmarkedItem(plain, "U1", 3)])


def test_only_a_pharmacist_of_the_point_or_its_organization_dispenses(issue, point, other_point, foreign_point,
                                                                      chain_pharmacist, pharmacist, package,
                                                                      doctor_user):
    rx = issue()
    refused("dispensation.not_your_place", dispense, pharmacist, rx, other_point, pf.stock(other_point, package, 2))
    refused("dispensation.not_your_place", dispense, doctor_user, rx, point, pf.stock(point, package, 2))
    refused("dispensation.not_your_place", dispense, chain_pharmacist, rx, foreign_point,
            pf.stock(foreign_point, package, 2))
    assert dispense(chain_pharmacist, rx, other_point, list(MarkedPack.objects.filter(
        place=other_point).values_list("sgtin", flat=True)))


def test_the_record_is_unique_per_prescription_and_per_pack(issued, point, pharmacist, package):
    dispensation = dispense(pharmacist, issued, point, pf.stock(point, package, 2))
    with pytest.raises(IntegrityError), transaction.atomic():
        Dispensation.objects.create(prescription=issued, place=point, pharmacist=pharmacist, total=0)
    item = dispensation.items.first()
    item.pk = None
    with pytest.raises(IntegrityError), transaction.atomic():
        item.save()


def test_a_deferred_prescription_is_dispensed_and_a_future_one_is_not(issue, point, pharmacist, package, today):
    deferred = issue()
    services.prescription_transition(prescription=deferred, to=Status.DEFERRED)
    assert dispense(pharmacist, deferred, point, pf.stock(point, package, 2)).items.count() == 2
    future = issue()
    Prescription.objects.filter(pk=future.pk).update(issued_on=today + timedelta(days=1),
                                                     expires_on=today + timedelta(days=30))
    future.refresh_from_db()
    refused("prescription.not_in_force", dispense, pharmacist, future, point, pf.stock(point, package, 2))
