"""Past prescriptions for benchmarks: set-based, in past years' series (this year's numbering never
meets them), referencing real persons, doctors and list drugs; a second run appends."""

import io

import pytest
from django.core.management import call_command
from django.db.models import Count

from llo.demo import DEMO_SEEDERS, seed_demo
from prescriptions.models import Prescription
from prescriptions.seeding import seed_prescription_history

pytestmark = pytest.mark.django_db(transaction=True)  # the first load drops and rebuilds constraints: real commits


@pytest.fixture
def region(settings, tmp_path):
    settings.VAR_DIR, settings.LLO_ALLOW_DEMO = tmp_path, True
    seeders = dict(DEMO_SEEDERS)
    DEMO_SEEDERS.pop("registry"), DEMO_SEEDERS.pop("prescriptions")
    try:
        seed_demo()
    finally:
        DEMO_SEEDERS.update(seeders)


def test_seed_region_adds_past_prescriptions(region, tmp_path, today):
    call_command("seed_region", beneficiaries=300, prescriptions=900, out=tmp_path, stdout=io.StringIO())
    assert Prescription.objects.count() == 900
    assert not Prescription.objects.filter(issued_on__year__gte=today.year).exists()
    assert not Prescription.objects.values("series", "number").annotate(n=Count("id")).filter(n__gt=1).exists()
    assert set(Prescription.objects.values_list("status", flat=True)) == {"dispensed", "expired", "cancelled"}
    assert Prescription.objects.filter(person__merged_into__isnull=True).count() == 900
    assert seed_prescription_history(100) == 100
    assert Prescription.objects.count() == 1000
