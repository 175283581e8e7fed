"""Rights, choices, inclusion requests, merging duplicates, conflicts and name search — with the
people of the same MO, another MO and another role."""

from datetime import date, timedelta

import pytest
from django.utils import timezone
from pghistory.models import Events

from llo.errors import ConflictError, ValidationFailed
from llo.models import BenefitCategory, Diagnosis, Program, Role
from registry import selectors
from registry.models import BenefitRight, InclusionRequest, NsuRefusal, Person, RegisterEntry
from registry.services import (
    inclusion_request_approve, inclusion_request_reject, inclusion_request_submit, person_save, persons_merge,
    refusal_set, right_add, right_close,
)
from tests.llo import factories as f
from tests.registry.factories import person

pytestmark = pytest.mark.django_db
TODAY = date(2026, 11, 23)


@pytest.fixture
def programs(reference):
    return {p.code: p for p in Program.objects.all()}


def category(code):
    return BenefitCategory.objects.get(federal_code=code)


def test_rights_on_a_date_in_one_query(programs, ministry_admin, django_assert_num_queries):
    p = person()
    right_add(user=ministry_admin, person=p, program=programs["ONLP"], category=category("081"),
              valid_from=date(2020, 1, 1), document_name="Справка МСЭ")
    right_add(user=ministry_admin, person=p, program=programs["REG-DIS"], category=category("704"),
              valid_from=date(2026, 2, 1), diagnosis=Diagnosis.objects.get(code="E11.9"), document_name="Решение")
    with django_assert_num_queries(1):
        rights = selectors.rights_on(p, TODAY)
        assert [(r.program.code, r.category.federal_code, r.diagnosis and r.diagnosis.code, r.in_force)
                for r in rights] == [("ONLP", "081", None, True), ("REG-DIS", "704", "E11.9", True)]
        assert rights[0].program.funding_source == programs["ONLP"].funding_source and rights[0].person_id == p.pk
    refusal_set(user=ministry_admin, person=p, year=2026, refused=True)
    rights = selectors.rights_on(p, TODAY)
    assert [(r.program.code, r.in_force) for r in rights] == [("ONLP", False), ("REG-DIS", True)]
    assert [r.program.code for r in selectors.rights_on(p, date(2026, 1, 15))] == ["ONLP"]


def test_rights_follow_the_programs_rules(programs, ministry_admin):
    p = person()
    with pytest.raises(ValidationFailed) as caught:
        right_add(user=ministry_admin, person=p, program=programs["ONLP"], category=category("701"),
                  valid_from=date(2026, 1, 1))
    assert caught.value.code == "right.category_not_in_program"
    with pytest.raises(ValidationFailed) as caught:
        right_add(user=ministry_admin, person=p, program=programs["REG-DIS"], category=category("704"),
                  valid_from=date(2026, 1, 1))
    assert caught.value.code == "right.diagnosis_required"
    with pytest.raises(ValidationFailed) as caught:
        right_add(user=ministry_admin, person=p, program=programs["REG-DIS"], category=category("704"),
                  valid_from=date(2026, 1, 1), diagnosis=Diagnosis.objects.get(code="I10"))
    assert caught.value.code == "right.diagnosis_not_in_program"
    with pytest.raises(ValidationFailed):
        right_add(user=ministry_admin, person=p, program=programs["ONLP"], category=category("081"),
                  valid_from=date(2026, 5, 1), valid_to=date(2026, 4, 1))
    right = right_add(user=ministry_admin, person=p, program=programs["ONLP"], category=category("081"),
                      valid_from=date(2026, 1, 1))
    with pytest.raises(ConflictError):
        right_add(user=ministry_admin, person=p, program=programs["ONLP"], category=category("081"),
                  valid_from=date(2026, 6, 1))
    right_close(user=ministry_admin, right=right, last_day=date(2026, 5, 31))
    right_add(user=ministry_admin, person=p, program=programs["ONLP"], category=category("081"),
              valid_from=date(2026, 6, 1))
    assert Events.objects.tracks(right).order_by("pgh_id").last().pgh_context["user"] == ministry_admin.pk


def test_an_mo_asks_and_the_ministry_decides(programs, mo, ministry_admin):
    officer = f.user(Role.MO_DRUG_OFFICER, mo)
    request = inclusion_request_submit(
        user=officer, snils="112-233-445 95", last_name="Новикова", first_name="Алиса", birth_date=date(2024, 5, 1),
        sex="F", program=programs["REG-CAT"], category=category("701"), document_name="Свидетельство о рождении",
        valid_from=date(2026, 11, 1))
    assert request.status == "submitted" and request.organization == mo
    approved = inclusion_request_approve(user=ministry_admin, request=request)
    assert approved.status == "approved" and approved.decided_by == ministry_admin
    created = Person.objects.get(snils="11223344595")
    assert created.attached_mo == mo and approved.person == created
    assert RegisterEntry.objects.filter(person=created, register="regional").exists()
    assert BenefitRight.objects.get(person=created).program.code == "REG-CAT"
    with pytest.raises(ConflictError):
        inclusion_request_reject(user=ministry_admin, request=approved, reason="поздно")

    second = inclusion_request_submit(
        user=officer, person=created, program=programs["REG-CAT"], category=category("702"),
        document_name="Удостоверение многодетной семьи", valid_from=date(2026, 11, 1))
    with pytest.raises(ValidationFailed):
        inclusion_request_reject(user=ministry_admin, request=second, reason="  ")
    rejected = inclusion_request_reject(user=ministry_admin, request=second, reason="Нет удостоверения")
    assert rejected.status == "rejected" and rejected.decision_reason == "Нет удостоверения"
    events = Events.objects.tracks(rejected).order_by("pgh_id")
    assert events.last().pgh_context["user"] == ministry_admin.pk


def test_inclusion_requests_refuse_bad_input(programs, mo, pharmacist):
    officer = f.user(Role.MO_DRUG_OFFICER, mo)
    base = dict(program=programs["REG-CAT"], category=category("701"), document_name="Свидетельство",
                valid_from=date(2026, 11, 1))
    with pytest.raises(ValidationFailed) as caught:
        inclusion_request_submit(user=officer, **base)
    assert caught.value.code == "request.person_missing"
    with pytest.raises(ValidationFailed) as caught:
        inclusion_request_submit(user=officer, snils="123-456-789 00", last_name="А", first_name="Б",
                                 birth_date=date(2024, 1, 1), sex="F", **base)
    assert caught.value.code == "request.invalid_snils"
    with pytest.raises(ValidationFailed) as caught:
        inclusion_request_submit(user=pharmacist, last_name="А", first_name="Б", birth_date=date(2024, 1, 1),
                                 sex="F", **base)
    assert caught.value.code == "request.not_mo"
    assert not InclusionRequest.objects.exists()


def test_duplicates_are_found_and_merged_with_history_kept(programs, ministry_admin, mo):
    with_snils = person(last_name="Сидорова", first_name="Анна", patronymic="Ивановна", birth_date=date(1960, 1, 2))
    without = person(snils=None, last_name="СИДОРОВА", first_name="Анна", patronymic="Ивановна",
                     birth_date=date(1960, 1, 2), attached_mo=mo)
    right_add(user=ministry_admin, person=without, program=programs["REG-50"], category=category("703"),
              valid_from=date(2026, 1, 1))
    NsuRefusal.objects.create(person=without, year=2026, refused=True, source="manual")
    groups = selectors.duplicates()
    assert [{p.pk for p in g} for g in groups] == [{with_snils.pk, without.pk}]
    survivor = persons_merge(user=ministry_admin, survivor=with_snils, duplicate=without)
    without.refresh_from_db()
    assert without.merged_into == survivor and survivor.attached_mo == mo
    assert survivor.rights.get().program.code == "REG-50" and survivor.refusals.get().year == 2026
    assert selectors.duplicates() == []
    assert Events.objects.tracks(without).order_by("pgh_id").last().pgh_context["user"] == ministry_admin.pk
    with pytest.raises(ConflictError):
        persons_merge(user=ministry_admin, survivor=survivor, duplicate=without)
    other = person(last_name="Сидорова", first_name="Анна", patronymic="Ивановна", birth_date=date(1960, 1, 2))
    with pytest.raises(ConflictError) as caught:
        persons_merge(user=ministry_admin, survivor=survivor, duplicate=other)
    assert caught.value.code == "merge.different_snils"


def test_the_same_snils_twice_is_refused_by_the_database(ministry_admin):
    p = person()
    with pytest.raises(ConflictError) as caught:
        person_save(user=ministry_admin, snils=p.snils, last_name="Другая", first_name="Запись",
                    birth_date=date(1970, 1, 1), sex="F")
    assert caught.value.code == "person.snils_taken"
    with pytest.raises(ValidationFailed):
        person_save(user=ministry_admin, last_name="Будущая", first_name="Дата",
                    birth_date=timezone.localdate() + timedelta(days=1), sex="F")


def test_conflicts_list_overlapping_programs(programs, ministry_admin):
    p = person()
    right_add(user=ministry_admin, person=p, program=programs["ONLP"], category=category("081"),
              valid_from=date(2020, 1, 1))
    right_add(user=ministry_admin, person=p, program=programs["REG-50"], category=category("703"),
              valid_from=date(2026, 1, 1), valid_to=date(2026, 12, 31))
    listed = selectors.conflicts(on=TODAY)
    assert [(q.pk, [r.program.code for r in rights]) for q, rights in listed] == [(p.pk, ["ONLP", "REG-50"])]
    assert selectors.conflicts(on=date(2027, 1, 1)) == []


def test_who_sees_whom(mo, other_mo, point, ministry_admin, analyst):
    mine = person(attached_mo=mo)
    theirs = person(attached_mo=other_mo)
    doctor = f.user(Role.DOCTOR, mo)
    assert list(selectors.persons_for(doctor)) == [mine]
    assert selectors.person_for(doctor, theirs.pk) is None  # another MO's patient: not by browsing
    from registry.services import lookup_log

    lookup_log(user=doctor, person=theirs, method="snils")  # found by exact SNILS: may be opened
    assert selectors.person_for(doctor, theirs.pk) == theirs
    assert set(selectors.persons_for(ministry_admin)) == {mine, theirs}
    for outsider in (f.user(Role.PHARMACIST, point), analyst):
        assert not selectors.persons_for(outsider).exists()
    assert selectors.person_for(analyst, mine.pk) is None


def test_name_search_contains_then_similar_within_what_the_user_sees(mo, other_mo):
    ivanova = person(last_name="Иванова", first_name="Мария", patronymic="Петровна", birth_date=date(1950, 3, 8),
                     attached_mo=mo)
    person(last_name="Иванова", first_name="Мария", patronymic="Сергеевна", birth_date=date(1980, 1, 1),
           attached_mo=other_mo)
    person(last_name="Петрова", first_name="Ирина", attached_mo=mo)
    doctor = f.user(Role.DOCTOR, mo)
    found, similar = selectors.search_by_name(selectors.persons_for(doctor), selectors.parse_name_query("иван мар", None))
    assert found == [ivanova] and not similar
    found, similar = selectors.search_by_name(selectors.live_persons(), selectors.parse_name_query(
        "Иванва", date(1950, 3, 8)))
    assert found == [ivanova] and similar
    with pytest.raises(ValidationFailed):
        selectors.parse_name_query("ив", None)
    with pytest.raises(ValidationFailed):
        selectors.parse_name_query("а б в г д", None)


def test_an_exact_look_up_opens_a_person_to_its_user_for_a_day_only(mo, other_mo):
    from registry.models import PersonLookup
    from registry.services import lookup_log

    theirs = person(attached_mo=other_mo)
    doctor, colleague = f.user(Role.DOCTOR, mo), f.user(Role.DOCTOR, mo)
    lookup_log(user=doctor, person=theirs, method="snils")
    assert selectors.person_for(doctor, theirs.pk) == theirs
    assert selectors.person_for(colleague, theirs.pk) is None  # the look-up was the doctor's, not the MO's
    PersonLookup.objects.update(at=timezone.now() - timedelta(days=1, minutes=1))
    assert selectors.person_for(doctor, theirs.pk) is None


def test_a_policy_shared_by_two_persons_is_not_guessed():
    person(oms_policy="7777000011112222")
    assert selectors.find_by_policy("7777 0000 1111 2222").oms_policy == "7777000011112222"
    person(oms_policy="7777000011112222")
    with pytest.raises(ConflictError) as caught:
        selectors.find_by_policy("7777000011112222")
    assert caught.value.code == "person.policy_ambiguous"
    assert selectors.find_by_policy("1234") is None


def test_name_search_takes_e_for_yo_and_words_in_any_order(mo):
    semyonova = person(last_name="Семёнова", first_name="Алёна", patronymic="Петровна", attached_mo=mo)
    persons = selectors.live_persons().filter(attached_mo=mo)
    assert selectors.search_by_name(persons, selectors.parse_name_query("семенова ал", None)) == ([semyonova], False)
    assert selectors.search_by_name(persons, selectors.parse_name_query("Алёна Семёнова", None)) == ([semyonova], False)
