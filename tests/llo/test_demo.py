import json

import pytest
from django.core.management import call_command

from llo.models import ApiToken, Doctor, Organization, PharmacyAttachment, Role, User
from llo.models.organizations import OrganizationKind as K

pytestmark = pytest.mark.django_db


def _counts():
    return {
        "orgs": Organization.objects.count(), "users": User.objects.count(), "doctors": Doctor.objects.count(),
        "attachments": PharmacyAttachment.objects.count(), "tokens": ApiToken.objects.count(),
    }


def test_seed_demo_creates_the_region_once_and_writes_credentials(settings, tmp_path, client):
    settings.VAR_DIR = tmp_path
    call_command("seed_demo")
    first = _counts()
    call_command("seed_demo")
    assert _counts() == first

    by_kind = {k: Organization.objects.filter(kind=k).count() for k in K.values}
    assert by_kind[K.MINISTRY] == 1 and by_kind[K.MUNICIPAL_AUTHORITY] == 2
    assert by_kind[K.MEDICAL_ORG] == 5 and by_kind[K.MO_SUBDIVISION] >= 5
    assert by_kind[K.PHARMACY_ORG] == 2 and by_kind[K.DISPENSING_POINT] == 6
    assert by_kind[K.REGIONAL_WAREHOUSE] == 1 and by_kind[K.SUPPLIER] == 2
    assert set(User.objects.values_list("role", flat=True)) == set(Role.values)
    assert Doctor.objects.filter(user__username="doctor").exists()

    data = json.loads((tmp_path / "demo-credentials.json").read_text())
    assert {u["role"] for u in data["users"]} == set(Role.values)
    for entry in data["users"]:
        assert set(entry) == {"username", "password", "role", "organization"}
        response = client.post("/login/", {"username": entry["username"], "password": entry["password"]})
        assert response.status_code == 302, entry["username"]
        client.post("/logout/")
    token = data["api_tokens"][0]
    assert set(token) == {"username", "token", "organization"}
    me = client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {token['token']}").json()
    assert me["organization"]["short_name"] == token["organization"]


def test_seed_demo_refused_where_demo_is_not_allowed(settings):
    from django.core.management.base import CommandError

    settings.LLO_ALLOW_DEMO = False
    with pytest.raises(CommandError):
        call_command("seed_demo")
    assert Organization.objects.count() == 0
