"""The demo region's beneficiaries cover every program and show the register's special cases."""

import pytest
from django.utils import timezone

from llo.demo import seed_demo
from llo.models import Program
from registry import selectors
from registry.models import BenefitRight, InclusionRequest, Person

pytestmark = pytest.mark.django_db


def test_seed_demo_adds_beneficiaries_covering_every_program_once():
    seed_demo()
    persons = Person.objects.count()
    assert 300 <= persons <= 320
    today = timezone.localdate()
    in_force = BenefitRight.objects.filter(valid_from__lte=today).exclude(valid_to__lt=today)
    covered = set(in_force.values_list("program__code", flat=True))
    assert covered == set(Program.objects.values_list("code", flat=True))
    assert selectors.conflicts(on=today), "a person with rights under two programs"
    assert any(len(group) == 2 for group in selectors.duplicates()), "the same person entered twice"
    assert InclusionRequest.objects.filter(status="submitted").count() == 1
    assert Person.objects.filter(attached_mo__isnull=True).count() == 0

    seed_demo()
    assert Person.objects.count() == persons
