"""Deferred service: deadlines by the dated rules, registration only without free stock, one active
deferral, stock arrival (outbox topic) reserving and notifying, served on dispensing, access."""

from datetime import date

import pytest
from django.db import IntegrityError, transaction

from llo import outbox
from llo.models import OutboxMessage, Role
from pharmacy.deferrals import (
    deadline_for,
    deferrals_mark_overdue,
    deferrals_serve_arrivals,
    notifications_send,
    period_for,
    prescription_defer,
)
from pharmacy.models import Deferral, DeferralStatus, Notification
from pharmacy.workdays import add_working_days
from prescriptions.models import Prescription, Status, StatusChange, Urgency
from prescriptions.services import label_of
from tests.llo import factories as f
from tests.pharmacy import factories as pf
from tests.pharmacy.conftest import snapshot
from tests.warehouse.factories import datamatrix
from warehouse.documents import STOCK_ARRIVED_TOPIC as STOCK_ARRIVED
from warehouse.models import MarkedPack, PackState, ReservationState, StockReservation

pytestmark = pytest.mark.django_db

ON = date(2026, 12, 1)  # a Tuesday


def defer_url(rx) -> str:
    return f"/api/v1/prescriptions/{rx.pk}/defer/"


def post(client, url, body=None):
    return client.post(url, body or {}, content_type="application/json")


@pytest.fixture
def desk(client, pharmacist):
    client.force_login(pharmacist)
    return client


@pytest.mark.parametrize("issued_on, urgency, vk, purchase, days, expected", [
    (date(2025, 9, 1), "", "", False, 10, date(2026, 12, 15)),  # 100н: 10 working days
    (date(2026, 11, 20), Urgency.CITO, "", False, 3, date(2026, 12, 4)),  # 100н cito: 3
    (date(2026, 11, 20), "", "", True, 30, None),  # 100н, to be purchased: 30 (over the New Year)
    (date(2026, 11, 20), "", "ВК-12", False, 10, date(2026, 12, 15)),  # 100н has no ВК period
    (date(2025, 8, 31), "", "", False, 10, date(2026, 12, 15)),  # 403н: 10
    (date(2025, 8, 31), "", "ВК-12", False, 15, date(2026, 12, 22)),  # 403н, by the ВК decision: 15
    (date(2025, 8, 31), Urgency.CITO, "", True, 10, date(2026, 12, 15)),  # 403н: neither cito nor purchase
])
def test_deadlines_by_the_rule_of_the_issue_date(issued_on, urgency, vk, purchase, days, expected):
    rx = Prescription(issued_on=issued_on, urgency=urgency, vk_protocol=vk)
    assert period_for(rx, purchase=purchase) == days
    assert deadline_for(rx, on=ON, purchase=purchase) == (expected or add_working_days(ON, days))


def test_deferring_without_stock(desk, issued, point, pharmacist, today):
    response = post(desk, defer_url(issued), {"purchase": True})
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["deadline"] == add_working_days(today, 30).isoformat()
    assert (body["status"], body["purchase"], body["place"]["id"]) == ("open", True, point.pk)
    assert body["prescription"]["status"] == "deferred"
    issued.refresh_from_db()
    assert issued.status == Status.DEFERRED
    change = StatusChange.objects.filter(prescription=issued).latest("pk")
    assert (change.from_status, change.to_status, change.user_id) == (Status.ISSUED, Status.DEFERRED, pharmacist.pk)
    assert "отсроченное обслуживание" in change.comment

    again = post(desk, defer_url(issued))
    assert (again.status_code, again.json()["code"]) == (409, "deferral.already_open")
    assert Deferral.objects.count() == 1


def test_one_active_deferral_is_a_database_rule(issued, point, pharmacist):
    deferral = prescription_defer(user=pharmacist, prescription=issued, place=point)
    with pytest.raises(IntegrityError), transaction.atomic():
        Deferral.objects.create(prescription=issued, place=point, registered_by=pharmacist,
                                deadline=deferral.deadline)


def test_with_free_stock_dispense_instead(desk, issued, point, package):
    pf.stock(point, package, 2)
    before = snapshot()
    response = post(desk, defer_url(issued))
    assert (response.status_code, response.json()["code"]) == (422, "deferral.stock_available")
    assert response.json()["details"] == {"place": point.pk, "free": 2, "needed": 2}
    assert snapshot() == before and not Deferral.objects.exists()


def test_too_little_stock_may_be_deferred(desk, issued, point, package):
    pf.stock(point, package, 1)
    assert post(desk, defer_url(issued)).status_code == 201


def test_arrival_reserves_notifies_and_moves_the_status(desk, issued, point, other_point, package):
    assert post(desk, defer_url(issued)).status_code == 201
    pf.stock(other_point, package, 2)  # elsewhere: nothing for this point
    assert deferrals_serve_arrivals(place_id=point.pk, package_ids=[package.pk]) == 0
    pf.stock(point, package, 2)
    message = outbox.publish(STOCK_ARRIVED, {"place_id": point.pk, "package_ids": [package.pk]}, key="arr-1")
    assert outbox.process(message.pk) == "done"
    assert OutboxMessage.objects.get(pk=message.pk).result == {"reserved": 1}

    issued.refresh_from_db()
    assert (issued.status, issued.reserved_at_id) == (Status.RESERVED, point.pk)
    held = StockReservation.objects.filter(reference=label_of(issued), state=ReservationState.ACTIVE)
    assert sum(r.quantity for r in held) == 2
    deferral = Deferral.objects.get()
    assert deferral.status == DeferralStatus.OPEN and deferral.reserved_at is not None
    notice = Notification.objects.get()
    assert (notice.prescription_id, notice.person_id, notice.sent_at) == (issued.pk, issued.person_id, None)
    assert issued.number in notice.text and "забронирован" in notice.text
    # delivered again (at least once): nothing more happens
    assert deferrals_serve_arrivals(place_id=point.pk, package_ids=[package.pk]) == 0
    assert Notification.objects.count() == 1

    # the patient comes: dispensing serves the deferral
    codes = [datamatrix(r.sgtin) for r in _packs_at(point, package)]
    response = desk.post("/api/v1/dispensations/", {"prescription": issued.pk, "codes": codes},
                         content_type="application/json")
    assert response.status_code == 201, response.json()
    deferral.refresh_from_db()
    assert deferral.status == DeferralStatus.SERVED and deferral.served_at is not None


def _packs_at(point, package):
    return list(MarkedPack.objects.filter(place=point, package=package, state=PackState.IN_STOCK)[:2])


def test_dispensing_a_deferred_prescription_serves_its_deferral(desk, issued, point, package):
    assert post(desk, defer_url(issued)).status_code == 201
    sgtins = pf.stock(point, package, 2)
    response = desk.post("/api/v1/dispensations/", {"prescription": issued.pk,
                                                    "codes": [datamatrix(s) for s in sgtins]},
                         content_type="application/json")
    assert response.status_code == 201, response.json()
    assert Deferral.objects.get().status == DeferralStatus.SERVED


def test_access(client, issued, point, other_point, foreign_point, pharmacist, chain_pharmacist, doctor_user,
                ministry_admin):
    client.force_login(doctor_user)
    assert post(client, defer_url(issued)).status_code == 403
    client.force_login(f.user(Role.PHARMACIST, foreign_point))
    assert post(client, defer_url(issued), {"place": point.pk}).status_code == 404
    client.force_login(f.user(Role.PHARMACIST, other_point))
    assert post(client, defer_url(issued), {"place": point.pk}).status_code == 404
    client.force_login(chain_pharmacist)
    assert post(client, defer_url(issued)).json()["code"] == "dispensation.place_required"
    assert post(client, defer_url(issued), {"place": point.pk}).status_code == 201
    assert not Deferral.objects.exclude(place=point).exists()

    client.force_login(ministry_admin)
    assert post(client, defer_url(issued)).status_code == 403
    assert client.get("/api/v1/deferrals/").json()["count"] == 1
    client.force_login(pharmacist)
    assert client.get("/api/v1/deferrals/").json()["count"] == 1
    client.force_login(f.user(Role.PHARMACIST, foreign_point))
    assert client.get("/api/v1/deferrals/").json()["count"] == 0
    client.force_login(doctor_user)
    assert client.get("/api/v1/deferrals/").status_code == 403


def test_due_within_working_days(desk, issue, point, today):
    cito, normal = issue(urgency=Urgency.CITO), issue()
    assert post(desk, defer_url(cito)).status_code == 201
    assert post(desk, defer_url(normal)).status_code == 201
    rows = desk.get("/api/v1/deferrals/?due_within=3").json()["results"]
    assert [r["prescription"]["id"] for r in rows] == [cito.pk]
    rows = desk.get("/api/v1/deferrals/?due_within=10").json()["results"]
    assert [r["prescription"]["id"] for r in rows] == [cito.pk, normal.pk]
    response = desk.get("/api/v1/deferrals/?due_within=x")
    assert (response.status_code, response.json()["code"]) == (422, "validation_failed")


@pytest.mark.parametrize("body, field", [({"purchase": "maybe"}, "purchase"), ({"place": 0}, "place")])
def test_bad_input_is_refused_and_nothing_changes(desk, issued, body, field):
    before = snapshot()
    response = post(desk, defer_url(issued), body)
    assert (response.status_code, response.json()["code"]) == (422, "validation_failed")
    assert field in response.json()["details"]
    assert snapshot() == before and not Deferral.objects.exists()


def test_closed_and_unknown_prescriptions(desk, issued, pharmacist):
    assert post(desk, "/api/v1/prescriptions/999999/defer/").status_code == 404
    Prescription.objects.filter(pk=issued.pk).update(status=Status.CANCELLED, cancel_reason="ошибка")
    response = post(desk, defer_url(issued))
    assert (response.status_code, response.json()["code"]) == (409, "deferral.prescription_closed")


sent = []


def record_sender(notification):
    sent.append(notification.pk)


def test_notices_go_through_the_configured_sender(settings, issued, point, pharmacist, package):
    settings.PHARMACY_NOTIFICATION_CHANNEL = "sms"
    prescription_defer(user=pharmacist, prescription=issued, place=point)
    pf.stock(point, package, 2)
    assert deferrals_serve_arrivals(place_id=point.pk, package_ids=[package.pk]) == 1
    assert notifications_send() == 0  # no sender for sms: nothing sent, nothing marked
    settings.PHARMACY_NOTIFICATION_SENDERS = {"sms": f"{__name__}.record_sender"}
    assert notifications_send() == 1
    notice = Notification.objects.get()
    assert sent == [notice.pk] and notice.channel == "sms" and notice.sent_at is not None
    assert notifications_send() == 0


def test_overdue_only_when_not_served_from_stock(issued, issue, point, pharmacist):
    deferral = prescription_defer(user=pharmacist, prescription=issued, place=point)
    assert deferrals_mark_overdue(today=deferral.deadline) == 0
    assert deferrals_mark_overdue(today=add_working_days(deferral.deadline, 1)) == 1
    deferral.refresh_from_db()
    assert deferral.status == DeferralStatus.OVERDUE
    with pytest.raises(IntegrityError), transaction.atomic():  # still the active one
        Deferral.objects.create(prescription=issued, place=point, registered_by=pharmacist, deadline=deferral.deadline)
