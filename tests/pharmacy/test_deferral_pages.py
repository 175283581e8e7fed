"""The deadlines page of deferred service (/pharmacy/deferrals/): who sees which rows, the filters,
the CSV for Excel, the pinned number of queries, the repeat visit button, a deferral's journal, and
bad filter values answered without an error page."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from llo.models import Role
from llo.models.organizations import OrganizationKind as K
from pharmacy.deferrals import (
    deferral_served,
    deferrals_mark_overdue,
    deferrals_serve_arrivals,
    prescription_defer,
)
from pharmacy.models import Deferral, DeferralEvent
from pharmacy.models import DeferralEventKind as E
from pharmacy.workdays import add_working_days
from prescriptions import services
from prescriptions.models import Urgency
from tests.llo import factories as f
from tests.pharmacy import factories as pf

pytestmark = pytest.mark.django_db

URL = "/pharmacy/deferrals/"
CSV = "/pharmacy/deferrals/csv/"


def rows(response) -> list[int]:
    assert response.status_code == 200, response.content[:500]
    return [d.pk for d in response.context["page"].object_list]


@pytest.fixture
def other_pharmacist(other_point):
    return f.user(Role.PHARMACIST, other_point)


@pytest.fixture
def foreign_pharmacist(foreign_point):
    return f.user(Role.PHARMACIST, foreign_point)


@pytest.fixture
def scene(issue, point, other_point, foreign_point, pharmacist, other_pharmacist, foreign_pharmacist, package,
          today):
    """At the point: reserved (the drug arrived), cito, normal, overdue; one at another point of the
    same pharmacy, one at another pharmacy."""
    reserved = prescription_defer(user=pharmacist, prescription=issue(), place=point)
    pf.stock(point, package, 2)
    assert deferrals_serve_arrivals(place_id=point.pk, package_ids=[package.pk]) == 1
    cito = prescription_defer(user=pharmacist, prescription=issue(urgency=Urgency.CITO), place=point)
    normal = prescription_defer(user=pharmacist, prescription=issue(), place=point)
    overdue = prescription_defer(user=pharmacist, prescription=issue(), place=point)
    Deferral.objects.filter(pk=overdue.pk).update(deadline=today - timedelta(days=3))
    deferrals_mark_overdue(today=today)
    sibling = prescription_defer(user=other_pharmacist, prescription=issue(), place=other_point)
    foreign = prescription_defer(user=foreign_pharmacist, prescription=issue(), place=foreign_point)
    return {"reserved": reserved, "cito": cito, "normal": normal, "overdue": overdue, "sibling": sibling,
            "foreign": foreign}


def test_a_pharmacist_sees_the_points_rows_soonest_deadline_first(client, scene, pharmacist, patient):
    client.force_login(pharmacist)
    response = client.get(URL)
    s = scene
    assert rows(response) == [s["overdue"].pk, s["cito"].pk, s["reserved"].pk, s["normal"].pk]
    by_pk = {d.pk: d for d in response.context["page"].object_list}
    assert by_pk[s["overdue"].pk].state == "overdue" and by_pk[s["overdue"].pk].alert == "late"
    assert by_pk[s["overdue"].pk].days_left < 0
    assert by_pk[s["reserved"].pk].state == "reserved" and by_pk[s["reserved"].pk].alert == ""
    assert (by_pk[s["cito"].pk].state, by_pk[s["cito"].pk].days_left) == ("open", 3)
    html = response.content.decode()
    assert patient.full_name in html and "Товар поступил, ожидает гражданина" in html
    assert "deferral-late" in html and "Повторное обращение" in html and "Выгрузить CSV" in html
    assert not response.context["show_place"]  # one point: no point column
    assert s["overdue"].prescription.number in html


def test_two_working_days_or_fewer_are_highlighted(client, scene, pharmacist, today):
    Deferral.objects.filter(pk=scene["cito"].pk).update(deadline=add_working_days(today, 2))
    client.force_login(pharmacist)
    row = next(d for d in client.get(URL).context["page"].object_list if d.pk == scene["cito"].pk)
    assert (row.days_left, row.alert) == (2, "soon")


def test_other_points_and_pharmacies_see_only_their_own(client, scene, other_pharmacist, foreign_pharmacist,
                                                        chain_pharmacist):
    client.force_login(other_pharmacist)
    assert rows(client.get(URL)) == [scene["sibling"].pk]
    assert client.get(f"{URL}{scene['cito'].pk}/").status_code == 404
    assert client.post(f"{URL}{scene['cito'].pk}/visits/").status_code == 404
    client.force_login(foreign_pharmacist)
    assert rows(client.get(URL)) == [scene["foreign"].pk]
    assert client.get(f"{URL}{scene['cito'].pk}/").status_code == 404
    assert client.get(f"{URL}{scene['sibling'].pk}/").status_code == 404
    client.force_login(chain_pharmacist)  # the pharmacy organization's account: all its points
    response = client.get(URL)
    assert set(rows(response)) == {scene[k].pk for k in ("reserved", "cito", "normal", "overdue", "sibling")}
    assert response.context["show_place"] and response.context["place_filter"]
    assert client.get(f"{URL}{scene['sibling'].pk}/").status_code == 200


def test_other_roles_are_refused(client, scene, doctor_user, colleague):
    for user in (doctor_user, colleague):
        client.force_login(user)
        for url in (URL, CSV, f"{URL}{scene['cito'].pk}/"):
            assert client.get(url).status_code == 403
        assert client.post(f"{URL}{scene['cito'].pk}/visits/").status_code == 403
    client.logout()
    assert client.get(URL).status_code == 302  # to the login page


def test_the_ministry_sees_the_region_and_filters_by_point(client, scene, ministry_admin, analyst, other_point,
                                                          patient):
    client.force_login(ministry_admin)
    response = client.get(URL)
    assert set(rows(response)) == {d.pk for d in scene.values()}
    assert response.context["show_place"] and not response.context["can_visit"]
    assert patient.full_name in response.content.decode()
    assert "Повторное обращение" not in response.content.decode()
    assert rows(client.get(URL, {"place": other_point.pk})) == [scene["sibling"].pk]
    assert client.get(f"{URL}{scene['foreign'].pk}/").status_code == 200
    assert client.post(f"{URL}{scene['foreign'].pk}/visits/").status_code == 403

    client.force_login(analyst)  # depersonalized: no patients' names
    response = client.get(URL)
    assert len(rows(response)) == 6 and not response.context["show_person"]
    assert patient.last_name not in response.content.decode()
    assert patient.last_name not in client.get(CSV).content.decode("utf-8-sig")


def test_filters(client, scene, pharmacist):
    client.force_login(pharmacist)
    s = scene
    assert rows(client.get(URL, {"due": "0"})) == [s["overdue"].pk]
    assert rows(client.get(URL, {"due": "5"})) == [s["overdue"].pk, s["cito"].pk]
    assert rows(client.get(URL, {"status": "reserved"})) == [s["reserved"].pk]
    assert rows(client.get(URL, {"status": "overdue"})) == [s["overdue"].pk]
    assert rows(client.get(URL, {"status": "open"})) == [s["cito"].pk, s["normal"].pk]
    assert rows(client.get(URL, {"status": "open", "due": "5"})) == [s["cito"].pk]
    partial = client.get(URL, {"status": "open"}, HTTP_HX_REQUEST="true")  # htmx: the rows only
    assert partial.status_code == 200 and "<h1>" not in partial.content.decode()
    assert "status=open" in partial.content.decode()  # the CSV link follows the filter


def test_a_cancelled_prescription_disappears_at_once(client, scene, pharmacist, doctor_user):
    services.prescription_cancel(prescription=scene["cito"].prescription, user=doctor_user, reason="ошибка")
    client.force_login(pharmacist)
    assert scene["cito"].pk not in rows(client.get(URL))
    detail = client.get(f"{URL}{scene['cito'].pk}/")  # its page still opens, without the visit form
    assert detail.status_code == 200 and not detail.context["can_visit"]
    assert "Снимается с обслуживания" in detail.content.decode()


def test_csv_of_the_current_filter(client, scene, ministry_admin, point, patient):
    client.force_login(ministry_admin)
    response = client.get(CSV, {"place": point.pk, "status": "open"})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response["Content-Disposition"] and ".csv" in response["Content-Disposition"]
    raw = response.content
    assert raw.startswith("\ufeff".encode())
    lines = raw.decode("utf-8-sig").splitlines()
    assert lines[0] == ("Серия;Номер;Пациент;Препарат;Количество, уп.;Пункт отпуска;Поставлен;Срок;"
                        "Осталось рабочих дней;Состояние;Закупка")
    cito, normal = scene["cito"], scene["normal"]
    assert [line.split(";")[1] for line in lines[1:]] == [cito.prescription.number, normal.prescription.number]
    first = lines[1].split(";")
    assert first[2] == patient.full_name and first[5] == point.short_name
    assert first[7] == f"{cito.deadline:%d.%m.%Y}" and first[8] == "3" and first[9] == "На обслуживании"
    everything = client.get(CSV).content.decode("utf-8-sig").splitlines()
    assert len(everything) == 1 + 6


def test_the_number_of_queries_does_not_grow_with_rows(client, scene, pharmacist, issue, point,
                                                       django_assert_max_num_queries):
    client.force_login(pharmacist)
    client.get(URL)  # warm the session

    def count(url) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    before = {url: count(url) for url in (URL, URL + "?due=5&status=open", CSV)}
    for _ in range(6):
        prescription_defer(user=pharmacist, prescription=issue(), place=point)
    after = {url: count(url) for url in before}
    assert after == before
    # session, user, the points of the filter, the overrides of the due window, COUNT, the rows, the
    # calendar's overrides of the rows, the user's organization (the page's header)
    with django_assert_max_num_queries(8):
        client.get(URL + "?due=5")
    with django_assert_max_num_queries(5):
        client.get(CSV)


def test_the_visit_button_records_an_event(client, scene, pharmacist):
    client.force_login(pharmacist)
    deferral = scene["cito"]
    response = client.post(f"{URL}{deferral.pk}/visits/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and "Повторное обращение записано" in response.content.decode()
    event = DeferralEvent.objects.get(deferral=deferral, kind=E.VISIT)
    assert event.by_id == pharmacist.pk

    response = client.post(f"{URL}{deferral.pk}/visits/", {"text": "обещали к пятнице", "next": "https://evil.example/"})
    assert response.status_code == 302 and response["Location"] == f"{URL}{deferral.pk}/"
    page = client.get(response["Location"])
    html = page.content.decode()
    assert "обещали к пятнице" in html and "Поставлен на отсроченное обслуживание" in html
    assert [e.kind for e in page.context["d"].event_rows] == [E.REGISTERED, E.VISIT, E.VISIT]

    deferral_served(prescription=deferral.prescription)
    refused = client.post(f"{URL}{deferral.pk}/visits/", HTTP_HX_REQUEST="true")
    assert refused.status_code == 200 and "уже закрыто" in refused.content.decode()
    back = client.post(f"{URL}{deferral.pk}/visits/", {"next": URL})
    assert back.status_code == 302 and back["Location"] == URL
    assert DeferralEvent.objects.filter(deferral=deferral, kind=E.VISIT).count() == 2


@pytest.mark.parametrize("query, note", [
    ({"due": "x"}, "Фильтр «Срок»"),
    ({"due": "-1"}, "Фильтр «Срок»"),
    ({"place": "abc"}, "Фильтр «Пункт отпуска»"),
    ({"place": "999999"}, "Фильтр «Пункт отпуска»"),
    ({"status": "<script>"}, "Фильтр «Состояние»"),
    ({"page": "abc"}, None),
    ({"page": "99999"}, None),
])
def test_bad_filter_values_are_ignored_with_a_note(client, scene, ministry_admin, query, note):
    client.force_login(ministry_admin)
    response = client.get(URL, query)
    assert len(rows(response)) == 6  # as without the bad value
    html = response.content.decode()
    if note:
        assert note in html and "не применён" in html
    assert "<script>" not in html
    assert client.get(CSV, query).status_code == 200


def test_a_point_of_another_region_is_not_a_choice(client, scene, ministry_admin):
    other_region = f.RegionFactory(code="97", name="Соседняя область")
    elsewhere = f.organization(K.DISPENSING_POINT, parent=f.organization(K.PHARMACY_ORG, region=other_region))
    client.force_login(ministry_admin)
    response = client.get(URL, {"place": elsewhere.pk})
    assert len(rows(response)) == 6 and "Фильтр «Пункт отпуска»" in response.content.decode()
