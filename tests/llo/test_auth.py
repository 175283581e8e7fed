import pytest
from django.test import Client

from llo import services
from llo.models import Role
from tests.llo import factories as f

pytestmark = pytest.mark.django_db

PASSWORD = "Test-pass-2026"


def test_login_page_is_russian(client):
    page = client.get("/login/").content.decode()
    assert "Вход в систему" in page and "Пароль" in page and 'lang="ru"' in page


def test_pages_require_login(client):
    response = client.get("/organizations/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_login_and_logout(client, doctor_user):
    response = client.post("/login/", {"username": doctor_user.username, "password": PASSWORD})
    assert response.status_code == 302
    assert "Врач" in client.get("/").content.decode()
    assert client.post("/logout/").status_code == 302
    assert client.get("/").status_code == 302


def test_wrong_password_message_is_russian(client, doctor_user):
    response = client.post("/login/", {"username": doctor_user.username, "password": "wrong-password-1"})
    assert response.status_code == 200
    assert "Неверное имя пользователя или пароль" in response.content.decode()


def test_lockout_after_repeated_failures(client, doctor_user, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post("/login/", {"username": doctor_user.username, "password": "wrong-password-1"})
    # now even the right password is refused, with a Russian explanation
    response = client.post("/login/", {"username": doctor_user.username, "password": PASSWORD})
    assert response.status_code == 429
    assert "Вход временно заблокирован" in response.content.decode()
    assert "через 30 минут" in response.content.decode()
    assert client.get("/").status_code == 302
    # another user from the same address is not locked out
    other = f.user(Role.DOCTOR, doctor_user.organization)
    assert client.post("/login/", {"username": other.username, "password": PASSWORD}).status_code == 302


def test_csrf_enforced_on_pages_and_session_api(doctor_user, ministry_admin):
    client = Client(enforce_csrf_checks=True)
    client.force_login(ministry_admin)
    assert client.post("/logout/").status_code == 403
    response = client.post("/api/v1/outbox/messages/1/resend/")
    assert response.status_code == 403
    assert response.json()["code"] == "auth.forbidden"


def test_security_headers(client, doctor_user):
    client.force_login(doctor_user)
    response = client.get("/")
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cache-Control"] == "no-store"
    assert len(response["X-Request-ID"]) == 32


def test_request_id_echoed_only_when_well_formed(client):
    assert client.get("/health/live", HTTP_X_REQUEST_ID="mis-42.abc").headers["X-Request-ID"] == "mis-42.abc"
    assert client.get("/health/live", HTTP_X_REQUEST_ID="<script>").headers["X-Request-ID"] != "<script>"


def test_session_cookie_flags(client, doctor_user):
    response = client.post("/login/", {"username": doctor_user.username, "password": PASSWORD})
    cookie = response.cookies["sessionid"]
    assert cookie["httponly"] and cookie["samesite"] == "Lax"


def test_password_policy():
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    for weak in ["short1", "password123", "1234567890123", "onlyletterslong"]:
        with pytest.raises(ValidationError):
            validate_password(weak)
    validate_password("Strong-pass-2026")


class TestApiTokens:
    def test_token_acts_for_its_organization(self, client, mo):
        _, _, key = f.mis_client(mo)
        response = client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {key}")
        assert response.status_code == 200
        assert response.json()["organization"]["id"] == mo.pk
        assert client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Bearer {key}").status_code == 200

    @pytest.mark.parametrize("header", ["Token", "Token a b", "Token not-a-key", "Bearer ", "Token " + "x" * 5000])
    def test_malformed_or_forged_tokens_refused(self, client, mo, header):
        f.mis_client(mo)
        response = client.get("/api/v1/me/", HTTP_AUTHORIZATION=header)
        assert response.status_code == 401
        assert response.json()["code"] in {"auth.failed", "auth.not_authenticated"}

    def test_no_credentials(self, client):
        response = client.get("/api/v1/me/")
        assert response.status_code == 401
        assert response.json()["code"] == "auth.not_authenticated"

    def test_revoked_token_refused(self, client, mo):
        _, token, key = f.mis_client(mo)
        services.api_token_revoke(token=token)
        assert client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 401

    def test_token_stops_when_user_moves_to_another_organization(self, client, mo, other_mo):
        user, _, key = f.mis_client(mo)
        user.organization = other_mo
        user.save()
        assert client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 401

    def test_token_sees_only_its_organization(self, client, mo, other_mo):
        _, _, key = f.mis_client(mo)
        auth = {"HTTP_AUTHORIZATION": f"Token {key}"}
        assert client.get(f"/api/v1/organizations/{mo.pk}/", **auth).status_code == 200
        assert client.get(f"/api/v1/organizations/{other_mo.pk}/", **auth).status_code == 404
        assert client.get("/api/v1/outbox/messages/", **auth).status_code == 403

    def test_only_mis_clients_get_tokens(self, doctor_user):
        from llo.errors import ValidationFailed

        with pytest.raises(ValidationFailed):
            services.api_token_issue(user=doctor_user, name="x")

    def test_mis_client_has_no_web_sections(self, client, mo):
        user, _, _ = f.mis_client(mo)
        client.force_login(user)
        assert client.get("/organizations/").status_code == 403
        home = client.get("/").content.decode()
        assert "Документация API" in home and "Ключи API" in home


def test_issue_api_token_command(mo, doctor_user, client):
    from io import StringIO

    from django.core.management import CommandError, call_command

    user = f.user(Role.MIS_CLIENT, mo)
    out = StringIO()
    call_command("issue_api_token", user.username, name="МИС тест", stdout=out)
    key = out.getvalue().split(": ", 1)[1].split()[0]
    assert client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {key}").json()["username"] == user.username
    with pytest.raises(CommandError):
        call_command("issue_api_token", doctor_user.username, name="x")
    with pytest.raises(CommandError):
        call_command("issue_api_token", "nobody", name="x")
