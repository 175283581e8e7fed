"""The pharmacy systems' API: POST /api/v1/dispensations/ (and …/check/), GET …/{id}/,
GET /api/v1/stock/packs/ — answers, error codes and who may do what."""

from datetime import timedelta

import pytest

from llo import services as llo_services
from llo.errors import ValidationFailed
from llo.models import Package, Role
from prescriptions import services, signing
from prescriptions.models import Prescription, Status
from tests.llo import factories as f
from tests.pharmacy import factories as pf
from tests.pharmacy.conftest import snapshot
from tests.warehouse.factories import datamatrix

pytestmark = pytest.mark.django_db

URL = "/api/v1/dispensations/"


def post(client, body, url=URL, **headers):
    return client.post(url, body, content_type="application/json", **headers)


@pytest.fixture
def desk(client, pharmacist):
    client.force_login(pharmacist)
    return client


def test_dispensing_answers_201_with_the_record(desk, issued, point, package, contract, django_assert_num_queries):
    sgtins = pf.stock(point, package, 2, contract=contract)
    signing.revocations_forget()
    signing.verify_prescription(Prescription.objects.select_related("doctor").get(pk=issued.pk))  # as a desk has it
    # session, user, the prescription with the point (pharmacy.lookups) + the service's 9
    # (tests/pharmacy/test_scan_check.py)
    with django_assert_num_queries(12):
        response = post(desk, {"prescription": issued.pk, "codes": ["]d2" + datamatrix(s) + "\r\n" for s in sgtins]})
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["prescription"] == {"id": issued.pk, "series": issued.series, "number": issued.number,
                                    "issued_on": issued.issued_on.isoformat(), "status": "dispensed"}
    assert body["place"]["id"] == point.pk and body["total"] == "246.90"
    assert sorted(i["sgtin"] for i in body["items"]) == sorted(sgtins)
    assert {(i["price"], i["contract_id"], i["funding_source"]) for i in body["items"]} == {("123.45", contract.pk,
                                                                                             "1")}
    assert desk.get(f"{URL}{body['id']}/").json() == body


def test_by_series_and_number_and_unmarked_items(desk, issue, point, package):
    plain = pf.package_like(package, marked=False)
    pf.stock_unmarked(point, plain, 5, series="U1")
    rx = issue(quantity=2)
    response = post(desk, {"series": rx.series.lower(), "number": rx.number,
                           "items": [{"package": plain.pk, "series": "U1", "quantity": 2}]})
    assert response.status_code == 201, response.json()
    assert [(i["sgtin"], i["quantity"]) for i in response.json()["items"]] == [(None, 2)]


def test_the_codes_the_issue_names(desk, issue, point, other_point, package, drug, doctor_user, today):
    sgtins = pf.stock(point, package, 4)
    rx = issue()
    assert post(desk, {"prescription": rx.pk, "codes": [datamatrix(s) for s in sgtins[:2]]}).status_code == 201

    def refused(status, code, rx, codes):
        before = snapshot()
        response = post(desk, {"prescription": rx.pk, "codes": [datamatrix(s) for s in codes]})
        assert (response.status_code, response.json()["code"]) == (status, code), response.json()
        assert response.json()["message"]
        assert snapshot() == before

    refused(409, "prescription.already_dispensed", rx, sgtins[2:])
    refused(409, "pack.not_available", issue(), [sgtins[2], *pf.stock(other_point, package, 1)])
    other = Package.objects.filter(is_marked=True, gtin__isnull=False).exclude(trade_name__drug=drug).first()
    refused(422, "pack.mismatch", issue(), [sgtins[2], *pf.stock(point, other, 1)])
    expired = issue()
    Prescription.objects.filter(pk=expired.pk).update(issued_on=today - timedelta(days=31),
                                                      expires_on=today - timedelta(days=1))
    refused(422, "prescription.expired", expired, sgtins[2:])
    cancelled = issue()
    services.prescription_cancel(prescription=cancelled, user=doctor_user, reason="дубль")
    refused(422, "prescription.cancelled", cancelled, sgtins[2:])


@pytest.mark.parametrize("body, field", [
    ({"codes": ["x"]}, "prescription"),
    ({"series": "9826", "codes": ["x"]}, "prescription"),
    ({"prescription": 1}, "codes"),
    ({"prescription": 1, "items": [{"package": 999999, "series": "U", "quantity": 1}]}, "items"),
    ({"prescription": 1, "items": [{"package": 1, "series": "U", "quantity": 0}]}, "items"),
])
def test_bad_bodies_name_the_field(desk, body, field):
    response = post(desk, body)
    assert (response.status_code, response.json()["code"]) == (422, "validation_failed")
    assert field in response.json()["details"]


def test_an_unknown_prescription_is_not_found(desk):
    assert post(desk, {"prescription": 999999, "codes": ["x"]}).status_code == 404
    assert post(desk, {"series": "9826", "number": "1", "codes": ["x"]}).status_code == 404


def test_who_may_dispense_and_read(client, issued, point, other_point, foreign_point, pharmacist, chain_pharmacist,
                                   package, doctor_user, ministry_admin, mo):
    sgtins = pf.stock(point, package, 2)
    body = {"prescription": issued.pk, "codes": [datamatrix(s) for s in sgtins]}
    assert post(client, body).status_code in (401, 403)  # anonymous
    client.force_login(doctor_user)
    assert post(client, body).json()["code"] == "auth.forbidden"
    _, _, key = f.mis_client(mo)
    client.logout()
    assert post(client, body, HTTP_AUTHORIZATION=f"Token {key}").status_code == 403

    colleague = f.user(Role.PHARMACIST, other_point)  # same organization, another point
    client.force_login(colleague)
    assert post(client, {**body, "place": point.pk}).status_code == 404
    client.force_login(chain_pharmacist)
    assert post(client, body).json()["code"] == "dispensation.place_required"
    assert post(client, {**body, "place": foreign_point.pk}).status_code == 404
    response = post(client, {**body, "place": point.pk})
    assert response.status_code == 201
    record = f"{URL}{response.json()['id']}/"

    assert client.get(record).status_code == 200  # the organization's account
    client.force_login(pharmacist)
    assert client.get(record).status_code == 200
    client.force_login(colleague)
    assert client.get(record).status_code == 404
    client.force_login(f.user(Role.PHARMACIST, foreign_point))
    assert client.get(record).status_code == 404
    client.force_login(ministry_admin)
    assert client.get(record).status_code == 200
    client.force_login(doctor_user)
    assert client.get(record).status_code == 403


def test_a_pharmacy_organizations_token_names_any_of_its_points(client, issued, other_point, chain_pharmacist,
                                                                package, pharmacy_chain):
    _token, key = llo_services.api_token_issue(user=chain_pharmacist, name="аптечная система")
    body = {"prescription": issued.pk, "place": other_point.pk,
            "codes": [datamatrix(s) for s in pf.stock(other_point, package, 2)]}
    assert post(client, body, HTTP_AUTHORIZATION=f"Token {key}").status_code == 201


def test_only_the_pharmacy_organizations_own_account_gets_a_key(pharmacist):
    with pytest.raises(ValidationFailed) as caught:  # a pharmacist of one dispensing point
        llo_services.api_token_issue(user=pharmacist, name="x")
    assert caught.value.code == "api_token.not_allowed"


def test_scan_check_answers_green_or_red(desk, issued, point, package, django_assert_num_queries):
    sgtins = pf.stock(point, package, 2)
    url = f"{URL}check/"
    with django_assert_num_queries(5):  # session, user, the prescription with the point, packs, free stock
        green = post(desk, {"prescription": issued.pk, "code": datamatrix(sgtins[0])}, url).json()
    assert (green["ok"], green["sgtin"], green["scanned"], green["needed"]) == (True, sgtins[0], 1, 2)
    red = post(desk, {"prescription": issued.pk, "code": datamatrix(sgtins[0]), "already": [sgtins[0]]}, url)
    assert (red.status_code, red.json()["ok"], red.json()["code"]) == (200, False, "pack.duplicate")


def test_stock_packs_of_a_point(client, point, other_point, package, pharmacist, ministry_admin, doctor_user, today):
    late = pf.stock(point, package, 2, series="LATE", expiry=today + timedelta(days=300))
    early = pf.stock(point, package, 1, series="EARLY", expiry=today + timedelta(days=30))
    pf.stock(other_point, package, 1)
    plain = pf.package_like(package)
    pf.stock(point, plain, 1)
    client.force_login(pharmacist)
    body = client.get("/api/v1/stock/packs/", {"package": package.pk}).json()
    assert [r["sgtin"] for r in body["results"]] == early + sorted(late)  # earliest expiry first
    assert body["count"] == 3
    assert client.get("/api/v1/stock/packs/").json()["count"] == 4
    assert client.get("/api/v1/stock/packs/", {"place": other_point.pk}).status_code == 404
    client.force_login(ministry_admin)
    assert client.get("/api/v1/stock/packs/", {"place": other_point.pk}).json()["count"] == 1
    assert client.get("/api/v1/stock/packs/").json()["details"] == {"place": ["Укажите пункт отпуска"]}
    client.force_login(doctor_user)
    assert client.get("/api/v1/stock/packs/", {"place": point.pk}).status_code == 403


def test_a_dispensed_prescription_status_is_visible_in_the_record(desk, issued, point, package):
    sgtins = pf.stock(point, package, 2)
    record = post(desk, {"prescription": issued.pk, "codes": [datamatrix(s) for s in sgtins]}).json()
    assert record["prescription"]["status"] == Status.DISPENSED
