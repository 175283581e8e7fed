"""The synthetic region: valid SNILS, a realistic mix, files the importer reads back unchanged."""

from datetime import date

import pytest
from django.core.management import call_command

from integrations.sfr.dbf import PERSON_FIELDS, read_dbf
from llo.demo import seed_demo
from registry.models import BenefitRight, Person, RegisterEntry
from registry.seeding import load_register_files, seed_region
from registry.snils import validate_snils

pytestmark = pytest.mark.django_db


def test_seed_region_makes_persons_rights_and_files(tmp_path):
    seed_demo()
    before = Person.objects.count()
    summary = seed_region(400, directory=tmp_path, region_code="99", seed=7, today=date(2026, 11, 23))
    assert (summary.federal, summary.regional) == (320, 80)
    assert Person.objects.count() - before == 400
    assert all(validate_snils(s) == s for s in Person.objects.exclude(snils=None).values_list("snils", flat=True))
    assert not Person.objects.filter(attached_mo=None).exists()
    programs = set(BenefitRight.objects.values_list("program__code", flat=True))
    assert {"ONLP", "REG-CAT", "REG-50", "REG-DIS"} <= programs
    assert RegisterEntry.objects.filter(register="federal").count() >= 320
    with read_dbf(summary.files[0], required=PERSON_FIELDS) as (_, records):
        assert sum(1 for _ in records) == 320
    again = load_register_files(*summary.files, file_date=date(2026, 11, 23))
    assert (again.persons_added, again.persons_changed, again.rights_added, again.rights_changed,
            again.rights_closed, again.rejected) == (0, 0, 0, 0, 0, 0)


def test_the_command_refuses_nonsense(tmp_path, settings):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("seed_region", beneficiaries=0, out=tmp_path)
    with pytest.raises(CommandError, match="seed_demo"):
        call_command("seed_region", beneficiaries=10, out=tmp_path, region="77")
    settings.LLO_ALLOW_DEMO = False
    with pytest.raises(CommandError, match="production"):
        call_command("seed_region", beneficiaries=10, out=tmp_path)
