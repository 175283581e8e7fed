"""GET /api/v1/beneficiaries/: the person and the rights in force today, for MIS, doctors and
pharmacists; everyone's look-up logged; bad identifiers refused with the field named."""

from datetime import date

import pytest

from llo.models import BenefitCategory, Program, Role
from registry.models import NsuRefusal, PersonLookup
from registry.patient_token import patient_token_issue
from registry.services import right_add
from tests.llo import factories as f
from tests.registry.factories import person

pytestmark = pytest.mark.django_db


@pytest.fixture
def beneficiary(reference, ministry_admin, mo):
    p = person(attached_mo=mo)
    onlp = Program.objects.get(code="ONLP")
    right_add(user=ministry_admin, person=p, program=onlp, category=BenefitCategory.objects.get(federal_code="082"),
              valid_from=date(2026, 1, 1), document_name="Справка МСЭ")
    right_add(user=ministry_admin, person=p, program=onlp, category=BenefitCategory.objects.get(federal_code="083"),
              valid_from=date(2026, 1, 1), valid_to=date(2026, 6, 30), document_name="Справка МСЭ")
    return p


def get(client, key, **params):
    return client.get("/api/v1/beneficiaries/", params, HTTP_AUTHORIZATION=f"Token {key}")


def test_a_mis_finds_a_person_with_todays_rights_and_the_look_up_is_logged(client, beneficiary, mo):
    user, _token, key = f.mis_client(mo)
    formatted = f"{beneficiary.snils[:3]}-{beneficiary.snils[3:6]}-{beneficiary.snils[6:9]} {beneficiary.snils[9:]}"
    body = get(client, key, snils=formatted).json()
    assert body["snils"] == formatted and body["last_name"] == "Иванова"
    assert [(r["program"], r["category_code"], r["funding_source"], r["in_force"]) for r in body["rights"]] == [
        ("ONLP", "082", "1", True)]
    assert body["nsu_refused_this_year"] is False
    assert PersonLookup.objects.filter(person=beneficiary, user=user, method="snils").count() == 1
    assert get(client, key, policy=beneficiary.oms_policy).json()["id"] == beneficiary.pk


def test_a_refusal_this_year_takes_the_onlp_right_out_of_force(client, beneficiary, mo):
    from django.utils import timezone

    NsuRefusal.objects.create(person=beneficiary, year=timezone.localdate().year, refused=True, source="sfr")
    _user, _token, key = f.mis_client(mo)
    body = get(client, key, snils=beneficiary.snils).json()
    assert body["nsu_refused_this_year"] is True and body["rights"][0]["in_force"] is False


def test_a_pharmacy_finds_the_patient_by_the_qr_code(client, beneficiary, point):
    client.force_login(f.user(Role.PHARMACIST, point))
    token = patient_token_issue(person=beneficiary)
    response = client.get("/api/v1/beneficiaries/", {"qr": f"]Q3{token}\r\n"})
    assert response.status_code == 200 and response.json()["id"] == beneficiary.pk
    forged = token[:-1] + str((int(token[-1]) + 1) % 10)
    assert client.get("/api/v1/beneficiaries/", {"qr": forged}).json()["code"] == "patient_token.forged"


def test_at_most_one_identifier(client, beneficiary, mo):
    _user, _token, key = f.mis_client(mo)
    response = get(client, key, snils="1", policy="2")
    assert response.status_code == 422 and "snils" in response.json()["details"]


def test_a_bad_snils_is_refused_and_an_unknown_one_is_404(client, beneficiary, mo):
    _user, _token, key = f.mis_client(mo)
    wrong = beneficiary.snils[:-1] + str((int(beneficiary.snils[-1]) + 1) % 10)
    assert get(client, key, snils=wrong).json()["code"] == "person.invalid_snils"
    assert get(client, key, snils="<script>").json()["code"] == "person.invalid_snils"
    assert get(client, key, snils="112-233-445 95").status_code == 404
    assert not PersonLookup.objects.exists()


def test_who_may_look_people_up(client, beneficiary, ministry, mo, other_mo, point, region):
    warehouse = f.organization("regional_warehouse", region=region)
    for role, org, allowed in [(Role.DOCTOR, mo, True), (Role.DOCTOR, other_mo, True), (Role.PHARMACIST, point, True),
                               (Role.MINISTRY_ADMIN, ministry, True), (Role.MINISTRY_ANALYST, ministry, False),
                               (Role.SYSTEM_ADMIN, ministry, False), (Role.WAREHOUSE_CLERK, warehouse, False)]:
        client.force_login(f.user(role, org))
        status = client.get("/api/v1/beneficiaries/", {"snils": beneficiary.snils}).status_code
        assert status == (200 if allowed else 403), role
    client.logout()
    assert client.get("/api/v1/beneficiaries/", {"snils": beneficiary.snils}).status_code == 401
    # the ministry's own look-ups are not logged; an MO's are
    assert PersonLookup.objects.filter(user__role=Role.MINISTRY_ADMIN).count() == 0
    assert PersonLookup.objects.filter(user__role=Role.DOCTOR).count() == 2


def test_the_look_up_takes_a_fixed_number_of_queries(client, beneficiary, mo, django_assert_max_num_queries):
    _user, _token, key = f.mis_client(mo)
    with django_assert_max_num_queries(7):  # token (+ its last use), person, rights, refusal, log
        assert get(client, key, snils=beneficiary.snils).status_code == 200


def test_without_an_identifier_the_list_is_what_the_caller_may_browse(client, beneficiary, mo, other_mo, pharmacist):
    elsewhere = person(attached_mo=other_mo)
    _user, _token, key = f.mis_client(mo)
    body = client.get("/api/v1/beneficiaries/", HTTP_AUTHORIZATION=f"Token {key}").json()
    assert [row["id"] for row in body["results"]] == [beneficiary.pk]
    assert body["count"] == 1 and "rights" not in body["results"][0]
    _user, _token, other_key = f.mis_client(other_mo)
    body = client.get("/api/v1/beneficiaries/", {"page_size": 1}, HTTP_AUTHORIZATION=f"Token {other_key}").json()
    assert [row["id"] for row in body["results"]] == [elsewhere.pk]
    client.force_login(pharmacist)  # a pharmacy finds people by exact identifiers only
    assert client.get("/api/v1/beneficiaries/").json()["results"] == []
    assert not PersonLookup.objects.exists()  # browsing one's own patients is not a look-up
