"""The ministry's curation services: programs, dated lists, flags, mapping — each change audited."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from pghistory.models import Events

from llo.errors import ConflictError, ValidationFailed
from llo.models import (
    BenefitCategory, Diagnosis, NsiBenefitCategory, Package, Program, ProgramDrug, StandardizedDrug,
)
from llo.reference import selectors
from llo.reference.services import (
    benefit_category_map, curation_reset, drug_flags_set, package_flags_set, program_row_add, program_row_delete,
    program_row_end, program_save,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def vzn(reference):
    return Program.objects.get(code="VZN")


@pytest.fixture
def metformin(reference):
    return StandardizedDrug.objects.filter(inn__name="Метформин").order_by("pk").first()


def last_event(obj):
    return Events.objects.tracks(obj).order_by("-pgh_created_at", "-pgh_id").first()


def test_include_then_exclude_keeps_the_history_and_answers_by_date(vzn, metformin, ministry_admin):
    row = program_row_add(user=ministry_admin, program=vzn, kind="drug", item=metformin,
                          valid_from=date(2026, 12, 1), basis="Приказ № 15")
    assert last_event(row).pgh_context["user"] == ministry_admin.pk
    assert not selectors.program_covers_drug(vzn, metformin, on=date(2026, 11, 30))
    assert selectors.program_covers_drug(vzn, metformin, on=date(2027, 6, 1))
    program_row_end(user=ministry_admin, row=row, last_day=date(2027, 3, 31))
    assert selectors.program_covers_drug(vzn, metformin, on=date(2027, 3, 31))
    assert not selectors.program_covers_drug(vzn, metformin, on=date(2027, 4, 1))
    assert ProgramDrug.objects.filter(pk=row.pk).exists()  # ended, not deleted
    again = program_row_add(user=ministry_admin, program=vzn, kind="drug", item=metformin,
                            valid_from=date(2027, 6, 1))
    assert again.pk != row.pk


def test_overlapping_periods_are_refused_with_the_existing_period_named(vzn, metformin, ministry_admin):
    program_row_add(user=ministry_admin, program=vzn, kind="drug", item=metformin, valid_from=date(2026, 12, 1),
                    valid_to=date(2027, 1, 31))
    with pytest.raises(ConflictError) as caught:
        program_row_add(user=ministry_admin, program=vzn, kind="drug", item=metformin, valid_from=date(2027, 1, 1))
    assert caught.value.code == "program.row_overlaps" and "с 01.12.2026 по 31.01.2027" in caught.value.message
    program_row_add(user=ministry_admin, program=vzn, kind="drug", item=metformin, valid_from=date(2027, 2, 1))


def test_bad_periods_and_items(vzn, metformin, ministry_admin):
    with pytest.raises(ValidationFailed) as caught:
        program_row_add(user=ministry_admin, program=vzn, kind="drug", item=metformin, valid_from=date(2027, 1, 1),
                        valid_to=date(2026, 1, 1))
    assert caught.value.code == "program.dates_reversed"
    with pytest.raises(ValidationFailed):
        program_row_add(user=ministry_admin, program=vzn, kind="drug", item=Diagnosis.objects.first(),
                        valid_from=date(2027, 1, 1))
    with pytest.raises(ValidationFailed):
        program_row_add(user=ministry_admin, program=vzn, kind="pets", item=metformin, valid_from=date(2027, 1, 1))
    StandardizedDrug.objects.filter(pk=metformin.pk).update(valid_to=date(2026, 6, 30))
    metformin.refresh_from_db()
    with pytest.raises(ValidationFailed) as caught:
        program_row_add(user=ministry_admin, program=vzn, kind="drug", item=metformin, valid_from=date(2026, 7, 1))
    assert caught.value.code == "program.item_retired"


def test_rows_once_in_force_are_ended_not_deleted(vzn, ministry_admin):
    row = vzn.drug_rows.order_by("pk").first()
    with pytest.raises(ConflictError):
        program_row_delete(user=ministry_admin, row=row)
    with pytest.raises(ValidationFailed):
        program_row_end(user=ministry_admin, row=row, last_day=row.valid_from - timedelta(days=1))
    program_row_end(user=ministry_admin, row=row, last_day=timezone.localdate())
    with pytest.raises(ConflictError):
        program_row_end(user=ministry_admin, row=row, last_day=timezone.localdate() + timedelta(days=5))
    future = program_row_add(user=ministry_admin, program=vzn, kind="category",
                             item=BenefitCategory.objects.get(federal_code="084"),
                             valid_from=timezone.localdate() + timedelta(days=10))
    program_row_delete(user=ministry_admin, row=future)
    assert not vzn.category_rows.filter(pk=future.pk).exists()


def test_programs_are_created_with_consistent_payment(ministry_admin, reference):
    program = program_save(user=ministry_admin, code="reg-ptb", name="Региональная программа ПТБ", kind="other",
                           funding_source="2", payment_share="3", payment_percent=Decimal("30"),
                           requires_diagnosis=True, valid_from=date(2027, 1, 1))
    assert (program.code, program.payment_percent) == ("REG-PTB", Decimal("30"))
    free = program_save(user=ministry_admin, code="FREE-1", name="Бесплатно", kind="other", funding_source="3",
                        payment_share="1", payment_percent=Decimal("42"), valid_from=date(2027, 1, 1))
    assert free.payment_percent == Decimal("100")  # the share decides
    for bad in [dict(payment_share="3", payment_percent=None), dict(payment_share="3", payment_percent=Decimal(100)),
                dict(kind="secret"), dict(funding_source="9"), dict(code="bad code!")]:
        args = dict(user=ministry_admin, code="X-1", name="X", kind="other", funding_source="2", payment_share="1",
                    valid_from=date(2027, 1, 1)) | bad
        with pytest.raises(ValidationFailed):
            program_save(**args)
    with pytest.raises(ValidationFailed):  # the code is unique
        program_save(user=ministry_admin, code="ONLP", name="Дубль", kind="onlp", funding_source="1",
                     payment_share="1", valid_from=date(2027, 1, 1))


def test_flags_are_validated_marked_curated_and_handed_back(reference, ministry_admin):
    package = Package.objects.filter(is_jnvlp=True).order_by("pk").first()
    with pytest.raises(ValidationFailed) as caught:
        package_flags_set(user=ministry_admin, package=package, is_jnvlp=False, price_cap=Decimal("10"), is_marked=True)
    assert caught.value.code == "package.price_cap_not_jnvlp"
    with pytest.raises(ValidationFailed):
        package_flags_set(user=ministry_admin, package=package, is_jnvlp=True, price_cap=Decimal("-1"), is_marked=True)
    package_flags_set(user=ministry_admin, package=package, is_jnvlp=True, price_cap=package.price_cap, is_marked=False)
    assert package.curated_fields == ["is_marked"]
    package_flags_set(user=ministry_admin, package=package, is_jnvlp=True, price_cap=Decimal("12.34"), is_marked=False)
    assert package.curated_fields == ["is_jnvlp", "is_marked", "price_cap"]
    event = last_event(package)
    assert event.pgh_context["user"] == ministry_admin.pk and "price_cap" in event.pgh_diff
    curation_reset(user=ministry_admin, obj=package)
    assert package.curated_fields == []

    drug = StandardizedDrug.objects.filter(inn__name="Трамадол").first()
    drug_flags_set(user=ministry_admin, drug=drug, control_list="psychotropic_iii", atc_code="n02ax02")
    assert (drug.control_list, drug.atc_code, drug.curated_fields) == ("psychotropic_iii", "N02AX02",
                                                                       ["control_list"])  # the ATC was already so
    with pytest.raises(ValidationFailed):
        drug_flags_set(user=ministry_admin, drug=drug, control_list="list_x", atc_code="")
    with pytest.raises(ValidationFailed):
        drug_flags_set(user=ministry_admin, drug=drug, control_list="", atc_code="12345")


def test_benefit_category_mapping(reference, ministry_admin):
    category = BenefitCategory.objects.get(federal_code="081")
    other = NsiBenefitCategory.objects.get(nsi_code="1.00000.0082")
    benefit_category_map(user=ministry_admin, category=category, nsi_category=other)
    category.refresh_from_db()
    assert category.nsi_category == other
    assert last_event(category).pgh_context["user"] == ministry_admin.pk
