"""Catalogue search a doctor can type into, and the date/program/diagnosis selectors."""

from datetime import date

import pytest

from llo.errors import ValidationFailed
from llo.models import Diagnosis, Package, Program, StandardizedDrug
from llo.reference import selectors
from llo.reference.search import parse_query

pytestmark = pytest.mark.django_db


def names(page) -> list[str]:
    return [p.trade_name.name for p in page.items]


def inns(page) -> set[str]:
    return {d.inn.name for d in page.items}


@pytest.mark.parametrize("typed", ["метф", "МЕТФОРМИН", "метфармин", "мтформин", "vtnajhvby", "метформ "])
def test_prefix_typos_case_and_keyboard_layout_all_find_metformin(reference, today, typed):
    page = selectors.catalogue_drugs(q=typed, on=today)
    assert "Метформин" in inns(page), typed
    packages = selectors.catalogue_packages(q=typed, on=today, limit=100)
    assert {"Сиофор", "Глюкофаж", "Метформин"} <= set(names(packages))


def test_contained_text_is_not_fuzzy_and_a_typo_says_the_names_are_similar(reference, today):
    exact = selectors.catalogue_packages(q="сиофор", on=today)
    assert exact.count == 6 and not exact.similar
    page = selectors.catalogue_packages(q="сиафор", on=today)
    assert page.count == 6 and set(names(page)) == {"Сиофор"} and page.similar
    drugs = selectors.catalogue_drugs(q="сиафор", on=today)
    assert inns(drugs) == {"Метформин"}


def test_names_starting_with_the_text_come_first(reference, today):
    page = selectors.catalogue_drugs(q="инсулин", on=today)
    assert [d.inn.name for d in page.items][:3] == ["Инсулин аспарт", "Инсулин гларгин", "Инсулин деглудек"]
    later = selectors.catalogue_packages(q="фарм", on=today, limit=100)  # inside names only
    assert "Гларгин-Герофарм" in names(later)


def test_words_in_any_order_and_two_letters_mean_the_start_of_a_name(reference, today):
    assert names(selectors.catalogue_packages(q="глар инсулин", on=today)) == names(
        selectors.catalogue_packages(q="инсулин глар", on=today))
    two = selectors.catalogue_packages(q="ло", on=today, limit=100)
    assert two.count and all(n.lower().startswith("ло") or p.trade_name.drug.inn.name.lower().startswith("ло")
                             for n, p in zip(names(two), two.items))


def test_short_text_is_never_fuzzy_matched(reference, today):
    assert selectors.catalogue_packages(q="мтф", on=today).count == 0


def test_gtin_is_exact_and_its_check_digit_is_verified(reference, today):
    package = Package.objects.filter(trade_name__name="Сиофор").order_by("pk").first()
    page = selectors.catalogue_packages(q=package.gtin, on=today)
    assert [p.pk for p in page.items] == [package.pk]
    short = package.gtin.lstrip("0")  # the EAN-13 a scanner prints
    assert selectors.catalogue_packages(q=short, on=today).items == [package]
    bad = package.gtin[:-1] + str((int(package.gtin[-1]) + 1) % 10)
    with pytest.raises(ValidationFailed) as caught:
        selectors.catalogue_packages(q=bad, on=today)
    assert caught.value.code == "catalogue.bad_gtin" and "контрольная цифра" in caught.value.message


@pytest.mark.parametrize("raw, code", [("м", "catalogue.query_too_short"), ("а" * 101, "catalogue.query_too_long")])
def test_unusable_queries_say_what_to_type(raw, code):
    with pytest.raises(ValidationFailed) as caught:
        parse_query(raw)
    assert caught.value.code == code


def test_hostile_text_is_just_text(reference, today):
    for q in ["%", "_%_", "'; DROP TABLE llo_package; --", "\\", "<script>"]:
        assert selectors.catalogue_packages(q=q * 2, on=today).count == 0
    assert Package.objects.exists()


def test_nothing_similar_finds_nothing(reference, today):
    assert selectors.catalogue_packages(q="абракадабра", on=today).count == 0


def test_filters_by_kind_program_and_date(reference, today):
    devices = selectors.catalogue_packages(kind="device", on=today, limit=500)
    assert devices.count == 10 and all(p.trade_name.drug.kind == "device" for p in devices.items)
    vzn = Program.objects.get(code="VZN")
    on_vzn = selectors.catalogue_drugs(program=vzn, on=today, limit=500)
    assert on_vzn.count == 12 and "Дорназа альфа" in inns(on_vzn) and "Метформин" not in inns(on_vzn)
    assert selectors.catalogue_drugs(q="метформин", program=vzn, on=today).count == 0
    assert selectors.catalogue_drugs(program=vzn, on=date(2025, 12, 31)).count == 0  # the lists start in 2026
    before_catalogue = date(2025, 11, 30)
    assert selectors.catalogue_packages(q="сиофор", on=before_catalogue).count == 0
    assert selectors.catalogue_packages(q="сиофор", on=None).count == 6  # all dates


def test_search_takes_a_fixed_number_of_queries(reference, today, django_assert_num_queries):
    with django_assert_num_queries(2):  # ranked ids with the total, then the rows by id
        wide = selectors.catalogue_packages(q="ин", on=today, limit=5)
    assert wide.count > 5 and len(wide.items) == 5
    with django_assert_num_queries(2):
        selectors.catalogue_drugs(q="тест", on=today)
    with django_assert_num_queries(3):  # nothing contains a typo: the similar-names statement follows
        assert selectors.catalogue_packages(q="метфармин", on=today).similar


def test_program_covers_a_diagnosis_and_its_subtree(reference, today):
    regional = Program.objects.get(code="REG-DIS")
    e11_9 = Diagnosis.objects.get(code="E11.9")
    assert selectors.program_covers_diagnosis(regional, e11_9, on=today)
    assert not selectors.program_covers_diagnosis(regional, Diagnosis.objects.get(code="I10"), on=today)
    assert not selectors.program_covers_diagnosis(regional, e11_9, on=date(2025, 12, 31))
    hiv = Program.objects.get(code="HIV-TB")
    assert selectors.program_covers_diagnosis(hiv, Diagnosis.objects.get(code="B24"), on=today)  # a block covers it


def test_program_covers_drug_and_category(reference, today):
    onlp = Program.objects.get(code="ONLP")
    metformin = StandardizedDrug.objects.filter(inn__name="Метформин").first()
    dornase = StandardizedDrug.objects.filter(inn__name="Дорназа альфа").first()
    assert selectors.program_covers_drug(onlp, metformin, on=today)
    assert not selectors.program_covers_drug(onlp, dornase, on=today)
    from llo.models import BenefitCategory

    assert selectors.program_covers_category(onlp, BenefitCategory.objects.get(federal_code="081"), on=today)
    assert not selectors.program_covers_category(onlp, BenefitCategory.objects.get(federal_code="701"), on=today)
