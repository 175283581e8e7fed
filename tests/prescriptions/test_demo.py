"""The demo region's prescriptions: every demo MO has them in every state, made by the services (so
each is numbered, signed and verifiable), and each MO has a MIS key in the credentials file."""

import io
import json

import pytest
from django.core.management import call_command

from llo.demo import seed_demo
from llo.models import Organization, OrganizationKind
from prescriptions.models import Prescription, Status
from prescriptions.signing import verify_prescription
from warehouse.models import StockReservation

pytestmark = pytest.mark.django_db


def test_seed_demo_writes_prescriptions_in_every_state_once(settings, tmp_path):
    settings.VAR_DIR, settings.LLO_ALLOW_DEMO = tmp_path, True
    call_command("seed_demo", stdout=io.StringIO())
    mos = set(Organization.objects.filter(kind=OrganizationKind.MEDICAL_ORG).values_list("pk", flat=True))
    assert set(Prescription.objects.values_list("organization_id", flat=True)) == mos
    assert set(Prescription.objects.values_list("status", flat=True)) == set(Status.values)
    reserved = Prescription.objects.filter(status=Status.RESERVED)
    assert reserved and all(StockReservation.objects.filter(reference=f"RX-{rx.series}-{rx.number}",
                                                            state="active").exists() for rx in reserved)
    verify_prescription(Prescription.objects.select_related("doctor").order_by("pk").first())
    credentials = json.loads((tmp_path / "demo-credentials.json").read_text())
    mis_orgs = {token["organization"] for token in credentials["api_tokens"] if token["username"].startswith("mis_")}
    assert mis_orgs == set(Organization.objects.filter(pk__in=mos).values_list("short_name", flat=True))
    count = Prescription.objects.count()
    seed_demo()
    assert Prescription.objects.count() == count
