"""The MIS vendors' API: issue with an Idempotency-Key, the 422 shape of a failed check, who may
read and write what, filters, cancel, print, and the fixed number of queries of an issue."""

from datetime import date, timedelta

import pytest

from llo.models import Role
from prescriptions.models import Prescription, Status
from registry.models import PersonLookup
from registry.snils import format_snils
from tests.llo import factories as f
from tests.registry.factories import person
from warehouse import ledger
from warehouse.ledger import Move, StockKey

pytestmark = pytest.mark.django_db

URL = "/api/v1/prescriptions/"


def auth(key):
    return {"HTTP_AUTHORIZATION": f"Token {key}"}


@pytest.fixture
def body(patient, drug, doctor):
    return {"beneficiary_snils": format_snils(patient.snils), "program": "ONLP", "drug": drug.pk, "quantity": 2,
            "dosage": drug.dosage or "1 таб.", "signa": "По 1 таблетке 2 раза в день", "icd10": "I10",
            "doctor": doctor.pk}


def post(client, key, data, **headers):
    return client.post(URL, data, content_type="application/json", **auth(key), **headers)


def test_a_mis_issues_a_prescription(client, mis, body, mo):
    _user, key = mis
    response = post(client, key, body)
    assert response.status_code == 201, response.json()
    data = response.json()
    rx = Prescription.objects.get(pk=data["id"])
    assert (data["series"], data["number"], data["status"]) == (rx.series, rx.number, "issued")
    assert data["number"].startswith(mo.code + "2")  # print method 2: written in a MIS
    assert data["issued_on"] == date.today().isoformat()
    assert data["expires_on"] == (date.today() + timedelta(days=29)).isoformat()
    assert data["barcode"] == f"RX-{rx.series}-{rx.number}"
    assert data["category_code"] == "010" and data["funding_source"] == "1"


def test_the_same_idempotency_key_returns_the_same_prescription(client, mis, body):
    _user, key = mis
    first = post(client, key, body, HTTP_IDEMPOTENCY_KEY="order-42")
    again = post(client, key, body, HTTP_IDEMPOTENCY_KEY="order-42")
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json() == again.json()
    assert Prescription.objects.count() == 1
    other = post(client, key, {**body, "quantity": 3}, HTTP_IDEMPOTENCY_KEY="order-42")
    assert (other.status_code, other.json()["code"]) == (422, "idempotency.key_reused")
    assert post(client, key, body, HTTP_IDEMPOTENCY_KEY="order-43").status_code == 201
    assert Prescription.objects.count() == 2


def test_a_failed_check_answers_422_with_code_message_details(client, mis, body):
    _user, key = mis
    response = post(client, key, {**body, "validity_days": 90})
    assert response.status_code == 422
    data = response.json()
    assert data["code"] == "prescription.validity_not_allowed"
    assert "30" in data["message"] and data["details"]["allowed"] == [30]
    assert not Prescription.objects.exists()


@pytest.mark.parametrize("change, code", [
    ({"beneficiary_snils": "123-456-789 00"}, "beneficiary.invalid_snils"),
    ({"beneficiary_snils": "112-233-445 95"}, "beneficiary.not_found"),
    ({"program": "NOPE"}, "program.not_found"),
    ({"drug": 999999}, "drug.not_found"),
    ({"icd10": "Z99.999"}, "diagnosis.not_found"),
    ({"doctor": None}, "doctor.required"),
    ({"package": 999999, "vk_protocol": "1"}, "package.not_found"),
    ({"reserve_at": 999999, "reserve_days": 2}, "reservation.place_not_found"),
])
def test_unresolvable_identifiers_are_refused_by_field(client, mis, body, change, code):
    _user, key = mis
    data = {k: v for k, v in {**body, **change}.items() if v is not None}
    response = post(client, key, data)
    assert (response.status_code, response.json()["code"]) == (422, code), response.json()
    assert not Prescription.objects.exists()


@pytest.mark.parametrize("data", [
    {}, {"quantity": "two"}, {"quantity": -1}, "not json", {"drug": None, "package": None},
    {"reserve_at": 1},  # without reserve_days
])
def test_malformed_bodies_are_refused(client, mis, body, data):
    _user, key = mis
    payload = data if isinstance(data, str) else {**body, **data} if data else {}
    if isinstance(data, dict) and data.get("drug", 0) is None:
        payload = {k: v for k, v in body.items() if k != "drug"}
    response = client.post(URL, payload, content_type="application/json", **auth(key))
    assert response.status_code in (400, 422)  # 400: not JSON at all
    assert {"code", "message", "details"} <= set(response.json())
    assert not Prescription.objects.exists()


def test_a_mis_cannot_write_for_another_mos_doctor(client, mis, body, other_mo):
    _user, key = mis
    stranger = f.doctor(other_mo)
    response = post(client, key, {**body, "doctor": stranger.pk})
    assert (response.status_code, response.json()["code"]) == (422, "doctor.not_found")
    assert not Prescription.objects.exists()


def test_a_doctor_writes_only_in_their_own_name(client, body, doctor, doctor_user, mo):
    colleague_doctor = f.doctor(mo)
    client.force_login(doctor_user)
    response = client.post(URL, {**body, "doctor": colleague_doctor.pk}, content_type="application/json")
    assert (response.status_code, response.json()["code"]) == (422, "doctor.not_self")
    response = client.post(URL, {k: v for k, v in body.items() if k != "doctor"}, content_type="application/json")
    assert response.status_code == 201
    assert Prescription.objects.get().doctor == doctor


def test_other_roles_may_not_issue(client, body, mo):
    officer = f.user(Role.MO_DRUG_OFFICER, mo)
    client.force_login(officer)
    assert client.post(URL, body, content_type="application/json").status_code == 403


def test_reading_is_scoped_to_the_mo(client, issued, mo, other_mo, outsider, colleague, ministry_admin,
                                     pharmacist):
    detail = f"{URL}{issued.pk}/"
    client.force_login(colleague)  # same MO, another role: reads
    assert client.get(detail).status_code == 200
    assert client.get(URL).json()["results"][0]["id"] == issued.pk
    client.force_login(outsider)  # same role, another MO: sees nothing
    assert client.get(detail).status_code == 404
    assert client.get(URL).json()["results"] == []
    assert client.post(f"{detail}cancel/", {"reason": "x"}, content_type="application/json").status_code == 404
    assert client.get(f"{detail}print/").status_code == 404
    client.force_login(ministry_admin)
    assert client.get(detail).status_code == 200
    client.force_login(pharmacist)  # pharmacies open a prescription at the desk, never browse
    assert client.get(URL).status_code == 403


def test_filters(client, issue, doctor_user, patient, mo, drug):
    first, second = issue(), issue(quantity=3)
    other_person = person(attached_mo=mo)
    client.force_login(doctor_user)
    ids = lambda **q: [r["id"] for r in client.get(URL, q).json()["results"]]
    assert ids() == [second.pk, first.pk]
    assert ids(series=first.series, number=first.number) == [first.pk]
    assert ids(snils=format_snils(patient.snils)) == [second.pk, first.pk]
    assert ids(person=other_person.pk) == []
    assert ids(status="issued", program="ONLP", drug=drug.pk) == [second.pk, first.pk]
    assert ids(status="cancelled") == []
    assert ids(issued_from=(date.today() + timedelta(days=1)).isoformat()) == []
    assert ids(page_size=1) == [second.pk]
    page = client.get(URL, {"page_size": 1}).json()
    assert "page=2" in page["next"]
    assert client.get(URL, {"status": "bogus"}).status_code == 422
    assert client.get(URL, {"snils": "1"}).status_code == 422


def test_cancel_needs_a_reason_and_happens_once(client, issued, doctor_user):
    client.force_login(doctor_user)
    url = f"{URL}{issued.pk}/cancel/"
    assert client.post(url, {"reason": ""}, content_type="application/json").status_code == 422
    response = client.post(url, {"reason": "ошибка в дозировке"}, content_type="application/json")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    again = client.post(url, {"reason": "ещё раз"}, content_type="application/json")
    assert (again.status_code, again.json()["code"]) == (409, "prescription.status_conflict")
    issued.refresh_from_db()
    assert (issued.status, issued.cancel_reason) == (Status.CANCELLED, "ошибка в дозировке")
    assert [c.to_status for c in issued.status_changes.all()] == ["issued", "cancelled"]


def test_print_returns_a_pdf(client, issued, doctor_user):
    client.force_login(doctor_user)
    response = client.get(f"{URL}{issued.pk}/print/")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")


def test_reserve_at_an_attached_point(client, mis, body, attached_point, package, point):
    _user, key = mis
    with __import__("django").db.transaction.atomic():
        ledger.post([Move(StockKey(attached_point.pk, None, package.pk, "A1", "1", None),
                          date.today() + timedelta(days=300), 5)], reason="receipt")
    response = post(client, key, {**body, "reserve_at": attached_point.pk, "reserve_days": 3})
    assert response.status_code == 201, response.json()
    assert response.json()["status"] == "reserved"
    assert response.json()["reservation"]["place"] == attached_point.pk
    too_much = post(client, key, {**body, "quantity": 4, "reserve_at": attached_point.pk, "reserve_days": 3})
    assert (too_much.status_code, too_much.json()["code"]) == (409, "stock.not_enough")
    assert too_much.json()["details"]["available"] == 3


def test_reserve_only_at_an_attached_point(client, mis, body, point):
    _user, key = mis
    response = post(client, key, {**body, "reserve_at": point.pk, "reserve_days": 3})
    assert (response.status_code, response.json()["code"]) == (422, "reservation.place_not_attached")


def test_a_patient_not_attached_to_the_mo_is_a_logged_look_up(client, mis, body, other_mo, patient):
    _user, key = mis
    patient.attached_mo = other_mo
    patient.save()
    assert post(client, key, body).status_code == 201
    assert PersonLookup.objects.filter(person=patient, method="snils").count() == 1


def test_staff_lists_the_mos_doctors(client, mis, doctor, other_mo):
    f.doctor(other_mo)
    _user, key = mis
    rows = client.get("/api/v1/staff/", {"role": "doctor"}, **auth(key)).json()["results"]
    assert [(r["id"], r["code"]) for r in rows] == [(doctor.pk, doctor.code)]
    assert client.get("/api/v1/staff/", {"role": "nurse"}, **auth(key)).status_code == 422


def test_an_issue_costs_a_fixed_number_of_queries(client, mis, body, issue, django_assert_num_queries):
    _user, key = mis
    post(client, key, body)  # warm: the year's numerator exists, the doctor's certificate too
    with django_assert_num_queries(QUERIES_PER_ISSUE):
        assert post(client, key, body, HTTP_IDEMPOTENCY_KEY="k-1").status_code == 201


QUERIES_PER_ISSUE = 10
