import pytest
from pghistory.models import Events

from llo.audit import audit_context
from llo.models import Organization, Role
from tests.llo import factories as f

pytestmark = pytest.mark.django_db


def _admin_change_form(org: Organization, **changes) -> dict:
    data = {
        "region": org.region_id, "kind": org.kind, "parent": org.parent_id or "", "code": org.code,
        "name": org.name, "short_name": org.short_name, "ogrn": org.ogrn, "inn": org.inn, "kpp": org.kpp,
        "frmo_oid": org.frmo_oid or "", "mdlp_place_id": org.mdlp_place_id or "", "address": org.address,
        "phone": org.phone, "is_active": "on",
    }
    data.update(changes)
    return data


def test_change_through_a_request_records_user_organization_and_request(client, mo, system_admin):
    client.force_login(system_admin)
    response = client.post(
        f"/admin/llo/organization/{mo.pk}/change/",
        _admin_change_form(mo, short_name="Новое имя"),
        HTTP_X_REQUEST_ID="req-audit-1",
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    event = Events.objects.tracks(mo).filter(pgh_label="update").get()
    assert event.pgh_diff["short_name"] == [mo.short_name, "Новое имя"]
    assert event.pgh_context["user"] == system_admin.pk
    assert event.pgh_context["organization"] == system_admin.organization_id
    assert event.pgh_context["role"] == Role.SYSTEM_ADMIN
    assert event.pgh_context["request_id"] == "req-audit-1"


def test_change_through_the_api_with_a_token_records_the_mis_user(client, ministry_admin, mo):
    from llo import outbox

    message = outbox.publish("audit.test", {}, key="audit-api")
    outbox.dispatch()  # no handler: retried, then made dead here
    type(message).objects.filter(pk=message.pk).update(status="dead")
    client.force_login(ministry_admin)
    assert client.post(f"/api/v1/outbox/messages/{message.pk}/resend/").status_code == 200
    event = Events.objects.tracks(message).get(pgh_label="resend")
    assert event.pgh_context["user"] == ministry_admin.pk
    assert event.pgh_context["url"] == f"/api/v1/outbox/messages/{message.pk}/resend/"


def test_changes_outside_requests_carry_explicit_context(mo, ministry_admin):
    with audit_context(user=ministry_admin, source="import"):
        mo.address = "ул. Новая, 1"
        mo.save()
    event = Events.objects.tracks(mo).filter(pgh_label="update").get()
    assert event.pgh_context == {
        "user": ministry_admin.pk, "organization": ministry_admin.organization_id,
        "role": Role.MINISTRY_ADMIN, "source": "import",
    }


def test_raw_sql_is_audited_too(mo):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("UPDATE llo_organization SET address = 'raw' WHERE id = %s", [mo.pk])
    assert Events.objects.tracks(mo).filter(pgh_label="update").get().pgh_diff["address"][1] == "raw"


def test_password_changes_are_not_copied_into_history(doctor_user):
    doctor_user.set_password("Another-pass-2027")
    doctor_user.save()
    assert not Events.objects.tracks(doctor_user).filter(pgh_label="update").exists()


def test_history_page_for_ministry_admin_only(client, mo, ministry_admin, analyst, doctor_user):
    with audit_context(user=ministry_admin):
        mo.short_name = "ГП переименована"
        mo.save()
    url = f"/audit/llo/organization/{mo.pk}/"
    client.force_login(ministry_admin)
    page = client.get(url).content.decode()
    assert "История изменений" in page and "ГП переименована" in page and ministry_admin.full_name in page
    recent = client.get("/audit/?model=llo.Organization").content.decode()
    assert "ГП переименована" in recent and f'href="{url}"' in recent
    assert client.get("/audit/llo/organization/999999/").status_code == 404
    assert client.get("/audit/llo/nosuchmodel/1/").status_code == 404
    for user in (analyst, doctor_user):
        client.force_login(user)
        assert client.get(url).status_code == 403
        assert client.get("/audit/").status_code == 403


def test_history_page_for_a_doctor_record(client, mo, ministry_admin):
    doctor = f.doctor(mo)
    client.force_login(ministry_admin)
    page = client.get(f"/audit/llo/doctor/{doctor.pk}/").content.decode()
    assert "создание" in page
