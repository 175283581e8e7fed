"""The journal of deferred service (a row for each change, in its transaction), the patient's repeat
visit (service and API), and the closing of deferrals whose prescription left deferred service:
hidden from the lists at once, closed by the periodic task with the reason; the validity of a
prescription on deferred service extended for the time of the service."""

from datetime import timedelta

import pytest
from django.utils import timezone

from llo.errors import ApplicationError
from llo.models import Role
from pharmacy import tasks
from pharmacy.deferrals import (
    deferral_served,
    deferral_visit,
    deferrals_close_stale,
    deferrals_mark_overdue,
    deferrals_serve_arrivals,
    notifications_send,
    prescription_defer,
)
from pharmacy.dispensing import dispensation_create, scan_check
from pharmacy.models import Deferral, DeferralEvent, DeferralStatus
from pharmacy.models import DeferralEventKind as E
from pharmacy.selectors import deferrals_due
from prescriptions import services
from prescriptions.models import Prescription, Status
from prescriptions.tasks import prescriptions_expire
from tests.llo import factories as f
from tests.pharmacy import factories as pf
from tests.warehouse.factories import datamatrix
from warehouse.models import StockBalance, StockReservation

pytestmark = pytest.mark.django_db


def kinds(deferral) -> list[str]:
    return list(DeferralEvent.objects.filter(deferral=deferral).order_by("at", "pk").values_list("kind", flat=True))


def visits_url(deferral) -> str:
    return f"/api/v1/deferrals/{deferral.pk}/visits/"


def sms_sender(notification):
    pass


def expire_on_paper(rx, today):
    """The prescription's last day was yesterday (the hourly task has not seen it yet)."""
    Prescription.objects.filter(pk=rx.pk).update(issued_on=today - timedelta(days=30),
                                                 expires_on=today - timedelta(days=1))
    rx.refresh_from_db()


def test_each_change_writes_its_journal_row(settings, issued, point, pharmacist, package):
    settings.PHARMACY_NOTIFICATION_CHANNEL = "sms"
    settings.PHARMACY_NOTIFICATION_SENDERS = {"sms": f"{__name__}.sms_sender"}
    deferral = prescription_defer(user=pharmacist, prescription=issued, place=point, purchase=True)
    registered = DeferralEvent.objects.get(deferral=deferral)
    assert (registered.kind, registered.by_id) == (E.REGISTERED, pharmacist.pk)
    assert f"{deferral.deadline:%d.%m.%Y}" in registered.text and "закупка" in registered.text

    sgtins = pf.stock(point, package, 2)
    assert deferrals_serve_arrivals(place_id=point.pk, package_ids=[package.pk]) == 1
    assert notifications_send() == 1
    assert notifications_send() == 0  # sent once, journaled once
    rx = Prescription.objects.select_related("doctor").get(pk=issued.pk)
    dispensation_create(user=pharmacist, prescription=rx, place=point, codes=[datamatrix(s) for s in sgtins])

    assert kinds(deferral) == [E.REGISTERED, E.RESERVED, E.NOTIFIED, E.SERVED]
    reserved, notified, served = DeferralEvent.objects.filter(deferral=deferral).order_by("at", "pk")[1:]
    assert "бронь" in reserved.text and reserved.by_id is None
    assert notified.text.startswith("SMS: ") and issued.number in notified.text
    assert served.text == "отпущен"
    deferral.refresh_from_db()
    assert deferral.status == DeferralStatus.SERVED


def test_served_is_one_statement_and_takes_the_user(issued, point, pharmacist, django_assert_num_queries):
    deferral = prescription_defer(user=pharmacist, prescription=issued, place=point)
    with django_assert_num_queries(1):
        assert deferral_served(prescription=issued, user=pharmacist) == 1
    event = DeferralEvent.objects.get(deferral=deferral, kind=E.SERVED)
    assert event.by_id == pharmacist.pk
    with django_assert_num_queries(1):
        assert deferral_served(prescription=issued) == 0  # nothing active: nothing written
    assert DeferralEvent.objects.filter(kind=E.SERVED).count() == 1


def test_overdue_is_set_based_with_a_row_each(issue, point, pharmacist, django_assert_num_queries):
    deferrals = [prescription_defer(user=pharmacist, prescription=issue(), place=point) for _ in range(3)]
    day = max(d.deadline for d in deferrals) + timedelta(days=1)
    with django_assert_num_queries(1):
        assert deferrals_mark_overdue(today=day) == 3
    assert DeferralEvent.objects.filter(kind=E.OVERDUE).count() == 3
    event = DeferralEvent.objects.filter(kind=E.OVERDUE, deferral=deferrals[0]).get()
    assert event.by_id is None and f"{deferrals[0].deadline:%d.%m.%Y}" in event.text
    assert deferrals_mark_overdue(today=day) == 0
    assert DeferralEvent.objects.filter(kind=E.OVERDUE).count() == 3


def test_a_visit_is_recorded_by_the_point_only_while_active(client, issued, point, other_point, foreign_point,
                                                             pharmacist, chain_pharmacist, doctor_user,
                                                             ministry_admin):
    deferral = prescription_defer(user=pharmacist, prescription=issued, place=point)
    client.force_login(pharmacist)
    response = client.post(visits_url(deferral), {"text": "  сообщили ожидаемую дату  "},
                           content_type="application/json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["deferral"], body["kind"], body["kind_label"], body["text"]) == (
        deferral.pk, "visit", "Повторное обращение", "сообщили ожидаемую дату")
    assert body["by"] == pharmacist.full_name
    assert client.post(visits_url(deferral), {}, content_type="application/json").status_code == 201

    client.force_login(chain_pharmacist)  # the pharmacy organization's account acts for its points
    assert client.post(visits_url(deferral), {}, content_type="application/json").status_code == 201
    for outsider in (f.user(Role.PHARMACIST, other_point), f.user(Role.PHARMACIST, foreign_point)):
        client.force_login(outsider)
        assert client.post(visits_url(deferral), {}, content_type="application/json").status_code == 404
    for other_role in (doctor_user, ministry_admin):
        client.force_login(other_role)
        assert client.post(visits_url(deferral), {}, content_type="application/json").status_code == 403
    client.force_login(pharmacist)
    assert client.post("/api/v1/deferrals/999999/visits/", {}, content_type="application/json").status_code == 404
    too_long = client.post(visits_url(deferral), {"text": "я" * 301}, content_type="application/json")
    assert (too_long.status_code, too_long.json()["code"]) == (422, "validation_failed")
    assert DeferralEvent.objects.filter(kind=E.VISIT).count() == 3

    deferral_served(prescription=issued)
    closed = client.post(visits_url(deferral), {}, content_type="application/json")
    assert (closed.status_code, closed.json()["code"]) == (422, "deferral.closed")
    assert DeferralEvent.objects.filter(kind=E.VISIT).count() == 3


def test_visit_service_codes(issued, point, other_point, pharmacist, doctor_user):
    deferral = prescription_defer(user=pharmacist, prescription=issued, place=point)
    with pytest.raises(ApplicationError) as caught:
        deferral_visit(user=f.user(Role.PHARMACIST, other_point), deferral=deferral)
    assert caught.value.code == "deferral.not_your_place"
    with pytest.raises(ApplicationError) as caught:
        deferral_visit(user=pharmacist, deferral=deferral, text="x" * 301)
    assert caught.value.code == "deferral.text_too_long"
    services.prescription_cancel(prescription=issued, user=doctor_user, reason="ошибка в дозировке")
    with pytest.raises(ApplicationError) as caught:  # cancelled: the deferral is closing, whatever its row says
        deferral_visit(user=pharmacist, deferral=deferral)
    assert caught.value.code == "deferral.prescription_closed"
    assert not DeferralEvent.objects.filter(kind=E.VISIT).exists()


def test_a_cancelled_prescription_leaves_the_lists_at_once_and_the_task_closes_it(client, issue, point, pharmacist,
                                                                                   doctor_user, ministry_admin):
    kept, cancelled = issue(), issue()
    kept_deferral = prescription_defer(user=pharmacist, prescription=kept, place=point)
    deferral = prescription_defer(user=pharmacist, prescription=cancelled, place=point)
    services.prescription_cancel(prescription=cancelled, user=doctor_user, reason="Ошибка в дозировке")

    assert list(deferrals_due(pharmacist)) == [kept_deferral]
    for user in (pharmacist, ministry_admin):
        client.force_login(user)
        assert [r["id"] for r in client.get("/api/v1/deferrals/").json()["results"]] == [kept_deferral.pk]
    assert Deferral.objects.get(pk=deferral.pk).status == DeferralStatus.OPEN  # until the task runs

    assert tasks.deferrals_close_stale.apply().get() == 1
    deferral.refresh_from_db()
    assert (deferral.status, deferral.outcome) == (DeferralStatus.CANCELLED, "рецепт аннулирован: Ошибка в дозировке")
    event = DeferralEvent.objects.get(deferral=deferral, kind=E.CLOSED)
    assert (event.text, event.by_id) == ("рецепт аннулирован: Ошибка в дозировке", None)
    assert tasks.deferrals_close_stale.apply().get() == 0  # idempotent
    assert DeferralEvent.objects.filter(kind=E.CLOSED).count() == 1
    assert Deferral.objects.get(pk=kept_deferral.pk).status == DeferralStatus.OPEN
    assert kinds(kept_deferral) == [E.REGISTERED]


def test_closing_is_one_statement_for_any_number(issue, point, pharmacist, doctor_user, django_assert_num_queries):
    for _ in range(3):
        rx = issue()
        prescription_defer(user=pharmacist, prescription=rx, place=point)
        services.prescription_cancel(prescription=rx, user=doctor_user, reason="дубль")
    with django_assert_num_queries(1):
        assert deferrals_close_stale() == 3
    assert DeferralEvent.objects.filter(kind=E.CLOSED).count() == 3


def test_a_deferred_prescription_keeps_its_validity_and_is_dispensed(issued, point, pharmacist, package, today):
    deferral = prescription_defer(user=pharmacist, prescription=issued, place=point)
    expire_on_paper(issued, today)
    assert prescriptions_expire.apply().get() == 0
    assert Prescription.objects.get(pk=issued.pk).status == Status.DEFERRED
    assert deferrals_close_stale() == 0

    sgtins = pf.stock(point, package, 2)
    rx = Prescription.objects.select_related("doctor").get(pk=issued.pk)
    assert scan_check(user=pharmacist, prescription=rx, place=point, raw=datamatrix(sgtins[0])).ok
    dispensation_create(user=pharmacist, prescription=rx, place=point, codes=[datamatrix(s) for s in sgtins])
    assert Prescription.objects.get(pk=issued.pk).status == Status.DISPENSED
    deferral.refresh_from_db()
    assert deferral.status == DeferralStatus.SERVED


def test_an_issued_prescription_past_its_day_is_still_refused(issued, point, pharmacist, package, today):
    expire_on_paper(issued, today)
    sgtins = pf.stock(point, package, 2)
    with pytest.raises(ApplicationError) as caught:
        dispensation_create(user=pharmacist, prescription=issued, place=point, codes=[datamatrix(s) for s in sgtins])
    assert caught.value.code == "prescription.expired"


def test_reserved_from_an_arrival_keeps_its_validity_until_the_hold_runs_out(issued, issue, point, pharmacist,
                                                                            package, today):
    deferral = prescription_defer(user=pharmacist, prescription=issued, place=point)
    pf.stock(point, package, 2)
    assert deferrals_serve_arrivals(place_id=point.pk, package_ids=[package.pk]) == 1
    expire_on_paper(issued, today)
    assert issued.status == Status.RESERVED
    assert prescriptions_expire.apply().get() == 0  # reserved for the patient from deferred service
    assert [d.pk for d in deferrals_due(pharmacist)] == [deferral.pk]
    rx = Prescription.objects.select_related("doctor").get(pk=issued.pk)
    sgtin = pf.stock(point, package, 1)[0]
    verdict = scan_check(user=pharmacist, prescription=rx, place=point, raw=datamatrix(sgtin))
    assert verdict.code != "prescription.expired"

    # the patient does not come: the hold runs out, the prescription is issued again
    StockReservation.objects.update(until=timezone.now() - timedelta(minutes=1))
    assert services.reservations_expire(now=timezone.now()) == 1
    assert Prescription.objects.get(pk=issued.pk).status == Status.ISSUED
    assert list(deferrals_due(pharmacist)) == []  # gone from the lists at once
    assert tasks.deferrals_close_stale.apply().get() == 1
    deferral.refresh_from_db()
    assert (deferral.status, deferral.outcome) == (DeferralStatus.CANCELLED, "бронь истекла: гражданин не обратился")
    assert kinds(deferral) == [E.REGISTERED, E.RESERVED, E.CLOSED]
    assert tasks.deferrals_close_stale.apply().get() == 0
    assert prescriptions_expire.apply().get() == 1  # and now it expires as any other


def test_an_expired_prescription_closes_its_deferral_with_that_reason(issued, point, pharmacist):
    deferral = prescription_defer(user=pharmacist, prescription=issued, place=point)
    Prescription.objects.filter(pk=issued.pk).update(status=Status.EXPIRED)
    assert deferrals_close_stale() == 1
    deferral.refresh_from_db()
    assert (deferral.status, deferral.outcome) == (DeferralStatus.CANCELLED, "истёк срок действия рецепта")


def test_deferring_again_after_the_hold_ran_out(issued, point, pharmacist, package):
    first = prescription_defer(user=pharmacist, prescription=issued, place=point)
    pf.stock(point, package, 2)
    assert deferrals_serve_arrivals(place_id=point.pk, package_ids=[package.pk]) == 1
    StockReservation.objects.update(until=timezone.now() - timedelta(minutes=1))
    services.reservations_expire(now=timezone.now())
    rx = Prescription.objects.get(pk=issued.pk)
    StockBalance.objects.filter(place=point).update(quantity=0)  # the packs went to others meanwhile
    second = prescription_defer(user=pharmacist, prescription=rx, place=point)
    first.refresh_from_db()
    assert first.status == DeferralStatus.CANCELLED and "бронь истекла" in first.outcome
    assert second.status == DeferralStatus.OPEN and second.pk != first.pk
