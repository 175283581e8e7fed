"""The MDLP reconciliation: who sees which documents (same organization, a pharmacy organization's account, another
organization, another role, the ministry), the filters and their 400s, the XML and receipt byte for byte, the
re-send (202 / 409), the page and its detail with hints, and a fixed number of queries for the list and the page.

Documents are made directly through the ORM (an outbox message + MdlpDocument + codes), without the emulator."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from integrations.mdlp import selectors
from integrations.models import (
    ItemStatus,
    MdlpDocument,
    MdlpDocumentItem,
    MdlpStatus,
    OperationKind,
)
from llo import outbox
from llo.models import Role
from llo.models.organizations import OrganizationKind as K
from tests.llo import factories as f

pytestmark = pytest.mark.django_db

GTIN = "04601234567893"  # a valid check digit: the builder checks it
XML_NON_ASCII = ('<?xml version="1.0" encoding="UTF-8"?>\n<documents version="1.38"><recipe action_id="521">'
                 "<subject_id>{place}</subject_id><doc_num>Рец-№ 000123/ё</doc_num><doc_series>99-26</doc_series>"
                 "</recipe></documents>\r\n").encode()
TICKET = ('<?xml version="1.0" encoding="UTF-8"?><documents><result action_id="200"><operation_result>Partial'
          "</operation_result><errors><error_code>3</error_code><error_desc>Упаковка числится за другим местом"
          "</error_desc></errors></result></documents>").encode()


def code(n: int) -> str:
    return f"{GTIN}{uuid.uuid4().hex[:7].upper()}{n:06d}"


def make_doc(place, *, status=MdlpStatus.ACCEPTED, scheme=521, kind=OperationKind.DISPENSATION, operation_id=None,
             xml: bytes | None = b"<documents/>", ticket: bytes | None = None, codes=(), error="", age_hours=0):
    """A document of one outbox message with its codes: codes are (status, error_code, error_text) tuples."""
    n = uuid.uuid4().int % 10**8
    operation_id = operation_id or str(n)
    message = outbox.publish("mdlp.recipe", {
        "dispensation_id": n, "place_mdlp_id": place.mdlp_place_id if place else None,
        "operation_date": timezone.now().isoformat(), "sgtins": [code(i) for i in range(len(codes) or 1)],
        "prescription": {"date": date.today().isoformat(), "series": "99-26", "number": f"{n:06d}"},
    }, key=f"recon-{n}")
    sent = status not in (MdlpStatus.INVALID, MdlpStatus.QUEUED)
    document = MdlpDocument.objects.create(
        message=message, request_id=f"{message.key}.1", scheme=0 if status == MdlpStatus.INVALID else scheme,
        operation_kind=kind, operation_id=operation_id, place=place, status=status,
        xml=None if status == MdlpStatus.INVALID else xml, ticket=ticket, items=len(codes), error=error,
        mdlp_document_id=uuid.uuid4().hex if sent else "", mdlp_status="PROCESSED_DOCUMENT" if sent else "",
        sent_at=timezone.now() if sent else None,
        finished_at=timezone.now() if status not in (MdlpStatus.INVALID, *selectors.OPEN_STATUSES) else None)
    sgtins = message.payload["sgtins"]
    MdlpDocumentItem.objects.bulk_create([
        MdlpDocumentItem(document=document, code=sgtins[i], status=s, error_code=ec, error_text=et)
        for i, (s, ec, et) in enumerate(codes)])
    if age_hours:
        MdlpDocument.objects.filter(pk=document.pk).update(created_at=timezone.now() - timedelta(hours=age_hours))
    return document


@pytest.fixture
def chain(region):
    return f.organization(K.PHARMACY_ORG, region=region)


@pytest.fixture
def point(chain):
    return f.organization(K.DISPENSING_POINT, parent=chain, mdlp_place_id="00000992000001")


@pytest.fixture
def point2(chain):
    return f.organization(K.DISPENSING_POINT, parent=chain, mdlp_place_id="00000992000002")


@pytest.fixture
def other_point(region):
    other_chain = f.organization(K.PHARMACY_ORG, region=region)
    return f.organization(K.DISPENSING_POINT, parent=other_chain, mdlp_place_id="00000992100001")


@pytest.fixture
def warehouse(region):
    return f.organization(K.REGIONAL_WAREHOUSE, region=region, mdlp_place_id="00000993000001")


@pytest.fixture
def docs(point, point2, other_point, warehouse):
    return {
        "accepted": make_doc(point, codes=[(ItemStatus.ACCEPTED, "", "")] * 2),
        "partial": make_doc(point, status=MdlpStatus.PARTIAL, xml=XML_NON_ASCII, ticket=TICKET, error="Отклонено "
                            "кодов: 2", codes=[(ItemStatus.ACCEPTED, "", ""),
                                               (ItemStatus.REJECTED, "3", "3: Упаковка числится за другим местом"),
                                               (ItemStatus.REJECTED, "77", "77: Неведомая ошибка")]),
        "queued_old": make_doc(point2, status=MdlpStatus.QUEUED, age_hours=30),
        "sent_new": make_doc(point2, status=MdlpStatus.SENT, age_hours=1),
        "other": make_doc(other_point, status=MdlpStatus.REJECTED, codes=[(ItemStatus.REJECTED, "2", "2: нет кода")]),
        "warehouse": make_doc(warehouse, scheme=415, kind=OperationKind.SHIPMENT, operation_id="S-9"),
        "invalid": make_doc(None, status=MdlpStatus.INVALID, error="Пункт отпуска (не указан): не указан ID места"),
    }


@pytest.fixture
def as_user(client):
    def login(role, org):
        user = f.user(role, org)
        client.force_login(user)
        return user
    return login


def ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


URL = "/api/v1/mdlp/documents/"


# --- access --------------------------------------------------------------------------------------

def test_a_pharmacist_sees_only_their_points_documents(client, as_user, docs, point):
    as_user(Role.PHARMACIST, point)
    assert ids(client.get(URL)) == {docs["accepted"].pk, docs["partial"].pk}
    assert client.get(f"{URL}{docs['other'].pk}/").status_code == 404
    assert client.get(f"{URL}{docs['queued_old'].pk}/").status_code == 404  # a sibling point: not theirs
    assert client.get(f"{URL}{docs['other'].pk}/xml").status_code == 404
    assert client.get(reverse("mdlp_document", args=[docs["other"].pk])).status_code == 404


def test_a_pharmacy_organizations_account_sees_all_its_points(client, as_user, docs, chain):
    as_user(Role.PHARMACIST, chain)
    assert ids(client.get(URL)) == {docs[k].pk for k in ("accepted", "partial", "queued_old", "sent_new")}


def test_another_organization_sees_none_of_ours(client, as_user, docs, other_point):
    as_user(Role.PHARMACIST, other_point)
    assert ids(client.get(URL)) == {docs["other"].pk}
    assert client.get(f"{URL}{docs['partial'].pk}/").json()["code"] == "not_found"


def test_a_warehouse_clerk_sees_the_warehouses_documents(client, as_user, docs, warehouse):
    as_user(Role.WAREHOUSE_CLERK, warehouse)
    assert ids(client.get(URL)) == {docs["warehouse"].pk}


def test_another_role_is_refused(client, as_user, docs, mo):
    as_user(Role.DOCTOR, mo)
    answer = client.get(URL)
    assert answer.status_code == 403 and answer.json()["code"] == "auth.forbidden"
    assert client.get(f"{URL}{docs['partial'].pk}/").status_code == 403
    assert client.get(reverse("mdlp_documents")).status_code == 403
    assert client.post(f"{URL}{docs['partial'].pk}/resend/").status_code == 403
    assert selectors.documents_for(f.user(Role.MO_DRUG_OFFICER, mo)).count() == 0


def test_the_ministry_sees_every_document_including_those_without_a_place(client, as_user, docs, ministry):
    as_user(Role.MINISTRY_ANALYST, ministry)
    assert ids(client.get(URL)) == {d.pk for d in docs.values()}


def test_anonymous_is_asked_to_authenticate(client, docs):
    assert client.get(URL).status_code in (401, 403)
    assert client.get(reverse("mdlp_documents")).status_code == 302


# --- list, filters -------------------------------------------------------------------------------

def test_a_row_has_everything_the_reconciliation_needs(client, as_user, docs, ministry, point):
    as_user(Role.MINISTRY_ADMIN, ministry)
    rows = {r["id"]: r for r in client.get(URL).json()["results"]}
    row = rows[docs["partial"].pk]
    assert row["request_id"] == docs["partial"].request_id and row["scheme"] == 521
    assert (row["status"], row["status_label"], row["channel"]) == ("partial", "принят частично", "mdlp")
    assert row["place"] == {"id": point.pk, "name": point.short_name, "mdlp_place_id": point.mdlp_place_id}
    assert row["operation"]["kind"] == "dispensation" and row["operation"]["id"] == docs["partial"].operation_id
    assert (row["items"], row["rejected"], row["resendable"]) == (3, 2, True)
    assert row["mdlp_document_id"] and row["mdlp_status"] == "PROCESSED_DOCUMENT" and row["error"]
    assert row["created_at"] and row["sent_at"] and row["finished_at"]
    assert rows[docs["invalid"].pk]["place"] is None
    created = [r["created_at"] for r in client.get(URL).json()["results"]]
    assert created == sorted(created, reverse=True)  # newest first


@pytest.mark.parametrize(("query", "expected"), [
    ("scheme=415", {"warehouse"}),
    ("status=partial", {"partial"}),
    ("status=rejected", {"other"}),
    ("operation_kind=shipment&operation_id=S-9", {"warehouse"}),
    ("operation_kind=dispensation&status=queued", {"queued_old"}),
    ("unconfirmed=true", {"queued_old"}),
    ("unconfirmed=false&status=sent", {"sent_new"}),
])
def test_filters(client, as_user, docs, ministry, query, expected):
    as_user(Role.MINISTRY_ANALYST, ministry)
    assert ids(client.get(f"{URL}?{query}")) == {docs[k].pk for k in expected}


def test_the_place_filter_and_the_unconfirmed_setting(client, as_user, docs, ministry, point2, settings):
    as_user(Role.MINISTRY_ANALYST, ministry)
    assert ids(client.get(f"{URL}?place={point2.pk}")) == {docs["queued_old"].pk, docs["sent_new"].pk}
    settings.MDLP_UNCONFIRMED_AFTER_HOURS = 0
    assert ids(client.get(f"{URL}?unconfirmed=true")) == {docs["queued_old"].pk, docs["sent_new"].pk}


@pytest.mark.parametrize(("query", "field", "says"), [
    ("scheme=abc", "scheme", "521"),
    ("status=done", "status", "accepted"),
    ("place=first", "place", "целое число"),
    ("operation_kind=sale", "operation_kind", "dispensation"),
    ("operation_id=" + "9" * 41, "operation_id", "40"),
    ("unconfirmed=maybe", "unconfirmed", "unconfirmed=true"),
])
def test_a_bad_filter_is_a_400_saying_what_to_pass(client, as_user, docs, ministry, query, field, says):
    as_user(Role.MINISTRY_ANALYST, ministry)
    answer = client.get(f"{URL}?{query}")
    assert answer.status_code == 400
    body = answer.json()
    assert body["code"] == "mdlp.bad_filter" and body["details"]["field"] == field and says in body["message"]


def test_the_list_api_costs_a_fixed_number_of_queries(client, as_user, ministry, point, django_assert_num_queries):
    as_user(Role.MINISTRY_ANALYST, ministry)
    for _ in range(3):
        make_doc(point, status=MdlpStatus.PARTIAL, codes=[(ItemStatus.REJECTED, "3", "3: x")] * 2)
    client.get(URL)  # warm the session
    with django_assert_num_queries(4):  # session, user, count, the page (rejected counts in a subquery)
        assert len(client.get(URL).json()["results"]) == 3
    for _ in range(5):
        make_doc(point, codes=[(ItemStatus.ACCEPTED, "", "")])
    with django_assert_num_queries(4):
        assert len(client.get(URL).json()["results"]) == 8


# --- one document, its bytes -------------------------------------------------------------------

def test_the_detail_lists_codes_with_mdlps_error_and_a_hint(client, as_user, docs, point):
    as_user(Role.PHARMACIST, point)
    body = client.get(f"{URL}{docs['partial'].pk}/").json()
    assert body["rejected"] == 2 and body["hint"].startswith("Часть кодов принята")
    codes = body["codes"]
    assert [c["status"] for c in codes] == ["rejected", "rejected", "accepted"]
    known, unknown = codes[0], codes[1]
    assert known["error_code"] == "3" and "другим местом" in known["error"]
    assert known["hint"]["title"] == selectors.ERROR_HINTS["3"].title and "приёмка" in known["hint"]["todo"]
    assert unknown["hint"] == {"title": selectors.GENERIC_HINT.title, "todo": selectors.GENERIC_HINT.todo}
    assert codes[2]["hint"] is None


def test_the_xml_is_the_stored_bytes_exactly(client, as_user, docs, point):
    as_user(Role.PHARMACIST, point)
    document = docs["partial"]
    answer = client.get(f"{URL}{document.pk}/xml")
    assert answer.status_code == 200 and answer["Content-Type"] == "application/xml"
    assert answer["Content-Disposition"] == f'attachment; filename="{document.request_id}.xml"'
    stored = bytes(MdlpDocument.objects.values_list("xml", flat=True).get(pk=document.pk))
    assert answer.content == stored == XML_NON_ASCII and "Рец-№ 000123/ё".encode() in answer.content
    page = client.get(reverse("mdlp_document_xml", args=[document.pk]))  # «Скачать XML» on the page
    assert page.content == stored and page["Content-Type"] == "application/xml"


def test_the_ticket_is_the_stored_receipt(client, as_user, docs, point):
    as_user(Role.PHARMACIST, point)
    answer = client.get(f"{URL}{docs['partial'].pk}/ticket")
    assert answer.status_code == 200 and answer.content == TICKET and answer["Content-Type"] == "application/xml"
    assert docs["partial"].request_id in answer["Content-Disposition"]
    none_yet = client.get(f"{URL}{docs['accepted'].pk}/ticket")
    assert none_yet.status_code == 404 and none_yet.json()["code"] == "mdlp.not_built"


def test_a_document_never_built_has_no_xml_and_says_why(client, as_user, docs, ministry):
    as_user(Role.MINISTRY_ADMIN, ministry)
    answer = client.get(f"{URL}{docs['invalid'].pk}/xml")
    assert answer.status_code == 404
    body = answer.json()
    assert body["code"] == "mdlp.not_built" and "не сформирован" in body["message"]
    assert body["details"]["status"] == "invalid"


# --- re-send -------------------------------------------------------------------------------------

def test_a_rejected_document_is_resent_as_a_new_revision(client, as_user, docs, other_point):
    as_user(Role.PHARMACIST, other_point)
    old = docs["other"]
    answer = client.post(f"{URL}{old.pk}/resend/")
    assert answer.status_code == 202, answer.content
    body = answer.json()
    assert body["revision"] == 2 and body["request_id"] == f"{old.message.key}.1.r2" and body["id"] != old.pk
    again = MdlpDocument.objects.get(pk=body["id"])
    assert (again.status, again.error) == (MdlpStatus.QUEUED, "")  # rebuilt from the operation, queued to send
    assert MdlpDocument.objects.get(pk=old.pk).superseded_at is not None
    assert ids(client.get(URL)) == {body["id"]}  # the superseded version leaves the default list
    assert ids(client.get(f"{URL}?all_revisions=true")) == {body["id"], old.pk}


def test_an_accepted_document_is_not_resent(client, as_user, docs, point):
    as_user(Role.PHARMACIST, point)
    answer = client.post(f"{URL}{docs['accepted'].pk}/resend/")
    assert answer.status_code == 409 and answer.json()["code"] == "mdlp.not_resendable"
    assert client.post(f"{URL}{docs['other'].pk}/resend/").status_code == 404  # not theirs


def test_the_analyst_reads_but_does_not_resend(client, as_user, docs, ministry):
    as_user(Role.MINISTRY_ANALYST, ministry)
    assert client.post(f"{URL}{docs['other'].pk}/resend/").status_code == 403


# --- the page ------------------------------------------------------------------------------------

def test_the_page_shows_counts_filters_and_rows(client, as_user, docs, chain):
    as_user(Role.PHARMACIST, chain)
    page = client.get(reverse("mdlp_documents"))
    html = page.content.decode()
    assert page.status_code == 200 and "Сверка с МДЛП" in html
    assert docs["partial"].request_id in html and docs["other"].request_id not in html
    counts = page.context["tabs"]
    assert {t["status"]: t["n"] for t in counts}["partial"] == 1 and counts[0]["n"] == 4
    assert page.context["unconfirmed_n"] == 1 and "Не подтверждены дольше 24 ч" in html
    only = client.get(reverse("mdlp_documents"), {"unconfirmed": "true"})
    assert [d.pk for d in only.context["page"].object_list] == [docs["queued_old"].pk]
    bad = client.get(reverse("mdlp_documents"), {"status": "done"})
    assert bad.status_code == 200 and "Фильтр «Состояние»" in bad.content.decode()
    assert len(bad.context["page"].object_list) == 4


def test_the_page_costs_a_fixed_number_of_queries(client, as_user, ministry, point, django_assert_num_queries):
    as_user(Role.MINISTRY_ANALYST, ministry)
    for _ in range(3):
        make_doc(point, status=MdlpStatus.REJECTED, codes=[(ItemStatus.REJECTED, "2", "2: x")])
    client.get(reverse("mdlp_documents"))
    # session, user, counts by status, unconfirmed, page count, rows, places, the sidebar/org context
    with django_assert_num_queries(PAGE_QUERIES) as captured:
        client.get(reverse("mdlp_documents"))
    for _ in range(6):
        make_doc(point, codes=[(ItemStatus.ACCEPTED, "", "")])
    with django_assert_num_queries(len(captured.captured_queries)):
        assert len(client.get(reverse("mdlp_documents")).context["page"].object_list) == 9


PAGE_QUERIES = 8


def test_the_detail_page_shows_reasons_hints_and_the_buttons(client, as_user, docs, point):
    as_user(Role.PHARMACIST, point)
    html = client.get(reverse("mdlp_document", args=[docs["partial"].pk])).content.decode()
    assert "Упаковка числится за другим местом" in html and selectors.ERROR_HINTS["3"].todo in html
    assert selectors.GENERIC_HINT.todo in html
    assert "Скачать XML" in html and reverse("mdlp_document_xml", args=[docs["partial"].pk]) in html
    assert "Отправить повторно" in html and "csrfmiddlewaretoken" in html
    accepted = client.get(reverse("mdlp_document", args=[docs["accepted"].pk])).content.decode()
    assert "Отправить повторно" not in accepted


def test_the_resend_button_flashes_and_opens_the_new_revision(client, as_user, docs, point):
    as_user(Role.PHARMACIST, point)
    answer = client.post(reverse("mdlp_document_resend", args=[docs["partial"].pk]), follow=True)
    again = MdlpDocument.objects.get(message=docs["partial"].message, revision=2)
    assert answer.redirect_chain[-1][0] == reverse("mdlp_document", args=[again.pk])
    assert "поставлен в очередь на повторную отправку" in answer.content.decode()
    refused = client.post(reverse("mdlp_document_resend", args=[docs["partial"].pk]), follow=True)
    assert "Повторно отправляется только" in refused.content.decode()


def test_the_sidebar_has_the_section_for_its_roles(client, as_user, docs, warehouse, mo):
    as_user(Role.WAREHOUSE_CLERK, warehouse)
    assert "Сверка с МДЛП" in client.get("/").content.decode()
    as_user(Role.DOCTOR, mo)
    assert "Сверка с МДЛП" not in client.get("/").content.decode()


def test_the_openapi_schema_describes_the_endpoints(client, as_user, ministry):
    as_user(Role.MINISTRY_ADMIN, ministry)
    schema = client.get("/api/schema/", {"format": "json"}).json()
    for path in ("/api/v1/mdlp/documents/", "/api/v1/mdlp/documents/{id}/", "/api/v1/mdlp/documents/{id}/xml",
                 "/api/v1/mdlp/documents/{id}/ticket", "/api/v1/mdlp/documents/{id}/resend/"):
        assert path in schema["paths"], path
    assert "application/xml" in schema["paths"]["/api/v1/mdlp/documents/{id}/xml"]["get"]["responses"]["200"]["content"]
