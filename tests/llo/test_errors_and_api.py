import pytest
import yaml

from llo import outbox
from llo.api_errors import exception_handler
from llo.errors import ConflictError, ValidationFailed

pytestmark = pytest.mark.django_db


def test_application_errors_map_to_409_and_422():
    conflict = exception_handler(ConflictError("Уже отпущен", code="prescription.already_dispensed"), {})
    assert conflict.status_code == 409
    assert conflict.data == {"code": "prescription.already_dispensed", "message": "Уже отпущен", "details": {}}
    invalid = exception_handler(ValidationFailed("Нет поля", code="x.missing", details={"field": "a"}), {})
    assert invalid.status_code == 422 and invalid.data["details"] == {"field": "a"}


def test_domain_error_on_a_page_is_a_readable_russian_page(client, ministry_admin):
    message = outbox.publish("errors.test", {}, key="err-page")
    client.force_login(ministry_admin)
    response = client.post(f"/outbox/{message.pk}/resend/")
    assert response.status_code == 409
    page = response.content.decode()
    assert "Действие не выполнено" in page and "повторная отправка не нужна" in page
    assert "outbox.not_resendable" in page
    partial = client.post(f"/outbox/{message.pk}/resend/", HTTP_HX_REQUEST="true")
    assert partial.status_code == 409 and "<html" not in partial.content.decode()


def test_unknown_page_is_a_russian_404(client, doctor_user):
    client.force_login(doctor_user)
    response = client.get("/no-such-page/")
    assert response.status_code == 404 and "не найдены" in response.content.decode()


def test_api_404_and_405_have_the_error_shape(client, doctor_user):
    client.force_login(doctor_user)
    body = client.get("/api/v1/organizations/987654/").json()
    assert set(body) == {"code", "message", "details"}
    response = client.delete("/api/v1/me/")
    assert response.status_code == 405 and response.json()["code"] == "method_not_allowed"


def test_openapi_schema_and_docs(client, doctor_user):
    client.force_login(doctor_user)
    schema = yaml.safe_load(client.get("/api/schema/").content)
    assert schema["openapi"].startswith("3.")
    assert {"/api/v1/me/", "/api/v1/organizations/", "/api/v1/outbox/messages/{id}/resend/"} <= set(schema["paths"])
    assert "ApiToken" in schema["components"]["securitySchemes"]
    docs = client.get("/api/docs/")
    assert docs.status_code == 200 and b"swagger" in docs.content.lower()


def test_pagination_shape(client, analyst):
    client.force_login(analyst)
    body = client.get("/api/v1/organizations/?page_size=1").json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert len(body["results"]) == 1


def test_outbox_api_rejects_unknown_status(client, ministry_admin):
    client.force_login(ministry_admin)
    response = client.get("/api/v1/outbox/messages/?status=lost")
    assert response.status_code == 422
    assert "status" in response.json()["details"]
