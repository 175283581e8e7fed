"""Writers of the register under real concurrency on PostgreSQL: threads, each with its own
connection, released together by a barrier (or, where the order matters, one holding its
transaction open until the other is seen waiting on its lock).

Pinned here: a request is decided once however many admins click; a right is given once; a
duplicate is merged into one survivor only; a right is never added to a record merged meanwhile;
an import run is started once, and two imports applied at once both load, one after the other.
"""

from __future__ import annotations

import threading
import time
from datetime import date

import pytest
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from llo.errors import ConflictError
from llo.models import BenefitCategory, Program, Role
from registry.models import (
    BenefitRight, ImportSource, ImportStatus, InclusionRequest, Person, RegisterEntry, SfrImport,
)
from registry.services import (
    inclusion_request_approve, inclusion_request_reject, inclusion_request_submit, persons_merge, register_include,
    right_add,
)
from registry.sfr_services import sfr_import_apply, sfr_import_start
from registry.synthetic import Region
from tests.concurrency import at_once
from tests.llo import factories as f
from tests.registry.factories import person

pytestmark = pytest.mark.django_db(transaction=True)


# --- helpers --------------------------------------------------------------------------------------

def in_thread(call, results: dict, key: str) -> threading.Thread:
    def run():
        try:
            results[key] = call()
        except Exception as exc:  # noqa: BLE001
            results[key] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def wait_until_someone_waits_for_a_lock(timeout: float = 10) -> None:
    """Until another session of this database is blocked on a lock (the ordering is then certain)."""
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                           "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()")
            if cursor.fetchone()[0]:
                return
            time.sleep(0.02)
    raise AssertionError("nobody waits for the lock")


def of_kind(results: list, kind: type) -> list:
    return [r for r in results if isinstance(r, kind)]


@pytest.fixture
def programs(reference):
    return {p.code: p for p in Program.objects.all()}


def category(code: str) -> BenefitCategory:
    return BenefitCategory.objects.get(federal_code=code)


@pytest.fixture
def second_admin(ministry):
    return f.user(Role.MINISTRY_ADMIN, ministry)


def submit_for_a_new_patient(user, programs, *, snils="112-233-445 95", code="701"):
    return inclusion_request_submit(
        user=user, snils=snils, last_name="Новикова", first_name="Алиса", birth_date=date(2024, 5, 1), sex="F",
        program=programs["REG-CAT"], category=category(code), document_name="Свидетельство о рождении",
        valid_from=date(2026, 11, 1))


def approve(user, request_id: int):
    return lambda: inclusion_request_approve(user=user, request=InclusionRequest.objects.get(pk=request_id))


# --- inclusion requests ---------------------------------------------------------------------------

def test_two_admins_approving_one_request_at_once_approve_it_once(programs, mo, ministry_admin, second_admin):
    """One approval, one ConflictError `request.already_decided`; one person, one register entry,
    one right — not two of each."""
    request = submit_for_a_new_patient(f.user(Role.MO_DRUG_OFFICER, mo), programs)
    results = at_once(approve(ministry_admin, request.pk), approve(second_admin, request.pk))
    approved, refused = of_kind(results, InclusionRequest), of_kind(results, ConflictError)
    assert len(approved) == 1 and len(refused) == 1, results
    assert refused[0].code == "request.already_decided"
    request.refresh_from_db()
    assert request.status == "approved" and request.decided_by == approved[0].decided_by
    assert Person.objects.filter(snils="11223344595").count() == 1
    assert RegisterEntry.objects.filter(register="regional").count() == 1
    assert list(BenefitRight.objects.values_list("pk", flat=True)) == [request.right_id]


def test_an_approval_and_a_rejection_at_once_decide_once(programs, mo, ministry_admin, second_admin):
    """Whichever comes first decides; the other gets ConflictError and leaves no trace."""
    request = submit_for_a_new_patient(f.user(Role.MO_DRUG_OFFICER, mo), programs)
    results = at_once(approve(ministry_admin, request.pk),
                      lambda: inclusion_request_reject(user=second_admin, reason="Нет документа",
                                                       request=InclusionRequest.objects.get(pk=request.pk)))
    assert len(of_kind(results, InclusionRequest)) == 1 and len(of_kind(results, ConflictError)) == 1, results
    assert of_kind(results, ConflictError)[0].code == "request.already_decided"
    request.refresh_from_db()
    rights = BenefitRight.objects.count()
    assert (request.status, rights, Person.objects.count()) in (("approved", 1, 1), ("rejected", 0, 0))


def test_two_requests_for_the_same_new_patient_approved_at_once_make_one_person(
        programs, mo, other_mo, ministry_admin, second_admin):
    """Two MOs ask for the same patient, not yet in the register, under different categories.
    Approved at once: one wins, the other gets ConflictError `person.snils_taken` and changes
    nothing; approved again, it joins the person the first one created."""
    first = submit_for_a_new_patient(f.user(Role.MO_DRUG_OFFICER, mo), programs, code="701")
    second = submit_for_a_new_patient(f.user(Role.MO_DRUG_OFFICER, other_mo), programs, code="702")
    results = at_once(approve(ministry_admin, first.pk), approve(second_admin, second.pk))
    approved, refused = of_kind(results, InclusionRequest), of_kind(results, ConflictError)
    assert len(approved) == 1 and len(refused) == 1, results
    assert refused[0].code == "person.snils_taken"
    assert Person.objects.filter(snils="11223344595").count() == 1 and BenefitRight.objects.count() == 1

    waiting = InclusionRequest.objects.get(status="submitted")
    again = inclusion_request_approve(user=ministry_admin, request=waiting)
    patient = Person.objects.get(snils="11223344595")
    assert again.status == "approved" and again.person == patient
    assert sorted(patient.rights.values_list("category__federal_code", flat=True)) == ["701", "702"]


def test_two_requests_for_one_known_patient_approved_at_once_include_them_once(
        programs, mo, other_mo, ministry_admin, second_admin):
    """Two MOs ask for the same registered patient under different categories, from the same day:
    both approvals go through, with one open entry in the regional register and both rights."""
    patient = person()
    requests = [inclusion_request_submit(user=f.user(Role.MO_DRUG_OFFICER, org), person=patient,
                                         program=programs["REG-CAT"], category=category(code),
                                         document_name="Удостоверение", valid_from=date(2026, 11, 1))
                for org, code in ((mo, "701"), (other_mo, "702"))]
    results = at_once(approve(ministry_admin, requests[0].pk), approve(second_admin, requests[1].pk))
    assert len(of_kind(results, InclusionRequest)) == 2, results
    assert RegisterEntry.objects.filter(person=patient, register="regional", excluded_on=None).count() == 1
    assert sorted(patient.rights.values_list("category__federal_code", flat=True)) == ["701", "702"]


# --- rights ---------------------------------------------------------------------------------------

def test_the_same_right_added_four_times_at_once_is_added_once(programs, ministry_admin, second_admin):
    """One right, and ConflictError `right.duplicate` for every other click."""
    p = person()

    def add(user):
        return lambda: right_add(user=user, person=Person.objects.get(pk=p.pk), program=programs["ONLP"],
                                 category=category("081"), valid_from=date(2026, 1, 1), document_name="Справка МСЭ")

    results = at_once(add(ministry_admin), add(second_admin), add(ministry_admin), add(second_admin))
    added, refused = of_kind(results, BenefitRight), of_kind(results, ConflictError)
    assert len(added) == 1 and len(refused) == 3, results
    assert {e.code for e in refused} == {"right.duplicate"}
    assert list(BenefitRight.objects.filter(person=p).values_list("pk", flat=True)) == [added[0].pk]


def test_a_right_added_to_a_record_merged_meanwhile_is_refused_not_lost(programs, ministry_admin, second_admin):
    """An admin adds a right from a page loaded before another admin merged the record away. The
    merge commits while the addition waits for the person's lock: the addition must see the merge
    (ConflictError `person.merged`) instead of hanging a right on the merged record, where no
    search, card or prescription would find it."""
    survivor = person(last_name="Сидорова")
    duplicate = person(snils=None, last_name="Сидорова")
    loaded_before = Person.objects.get(pk=duplicate.pk)
    merged, release, results = threading.Event(), threading.Event(), {}

    def merge():
        with transaction.atomic():
            persons_merge(user=ministry_admin, survivor=survivor, duplicate=duplicate)
            merged.set()
            release.wait(10)  # the merge holds its locks until the addition waits for them

    def add():
        merged.wait(10)
        return right_add(user=second_admin, person=loaded_before, program=programs["ONLP"], category=category("081"),
                         valid_from=date(2026, 1, 1), document_name="Справка МСЭ")

    threads = [in_thread(merge, results, "merge"), in_thread(add, results, "add")]
    merged.wait(10)
    wait_until_someone_waits_for_a_lock()
    release.set()
    for thread in threads:
        thread.join(30)
    assert isinstance(results["add"], ConflictError) and results["add"].code == "person.merged", results
    assert not BenefitRight.objects.filter(person=duplicate).exists()


def test_two_inclusions_into_one_register_at_once_include_once(ministry_admin, second_admin):
    """A person is in a register once at a time: two admins including them at once (with different
    dates) give one open entry and ConflictError `register.already_included`."""
    p = person()

    def include(user, day):
        return lambda: register_include(user=user, person=Person.objects.get(pk=p.pk), register="regional",
                                        included_on=day, basis="Решение комиссии")

    results = at_once(include(ministry_admin, date(2026, 11, 1)), include(second_admin, date(2026, 11, 2)))
    assert len(of_kind(results, RegisterEntry)) == 1 and len(of_kind(results, ConflictError)) == 1, results
    assert of_kind(results, ConflictError)[0].code == "register.already_included"
    assert RegisterEntry.objects.filter(person=p, register="regional", excluded_on=None).count() == 1


# --- duplicates -----------------------------------------------------------------------------------

def test_one_duplicate_merged_into_two_survivors_at_once_goes_to_one(programs, ministry_admin, second_admin):
    """One merge wins, the other gets ConflictError `merge.already_merged`; the duplicate's right
    is on the winner only."""
    first, second = person(last_name="Сидорова"), person(last_name="Сидорова")
    duplicate = person(snils=None, last_name="Сидорова")
    right = right_add(user=ministry_admin, person=duplicate, program=programs["REG-50"], category=category("703"),
                      valid_from=date(2026, 1, 1))

    def merge(user, survivor):
        return lambda: persons_merge(user=user, survivor=survivor, duplicate=Person.objects.get(pk=duplicate.pk))

    results = at_once(merge(ministry_admin, first), merge(second_admin, second))
    won, refused = of_kind(results, Person), of_kind(results, ConflictError)
    assert len(won) == 1 and len(refused) == 1, results
    assert refused[0].code == "merge.already_merged"
    duplicate.refresh_from_db()
    right.refresh_from_db()
    assert duplicate.merged_into_id == right.person_id == won[0].pk
    loser = second if won[0].pk == first.pk else first
    assert not loser.rights.exists() and Person.objects.get(pk=loser.pk).merged_into_id is None


def test_two_records_merged_into_each_other_at_once_make_no_cycle(ministry_admin, second_admin):
    """A into B and B into A at once: no deadlock, one merge, and never both pointing at each other."""
    a, b = person(snils=None, last_name="Петрова"), person(snils=None, last_name="Петрова")
    results = at_once(lambda: persons_merge(user=ministry_admin, survivor=a, duplicate=b),
                      lambda: persons_merge(user=second_admin, survivor=b, duplicate=a))
    assert len(of_kind(results, Person)) == 1 and len(of_kind(results, ConflictError)) == 1, results
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.merged_into_id, b.merged_into_id) in ((None, a.pk), (b.pk, None))


# --- Social Fund imports --------------------------------------------------------------------------

def test_a_run_started_by_two_workers_at_once_is_started_once(reference):
    """The outbox delivers at least once: several workers may get the same run. One starts it."""
    run = SfrImport.objects.create(source=ImportSource.DBF)
    results = at_once(*[lambda: sfr_import_start(run=SfrImport.objects.get(pk=run.pk))] * 4)
    assert sorted(results) == [False, False, False, True]
    run.refresh_from_db()
    assert run.status == ImportStatus.RUNNING and run.started_at is not None


def test_one_run_of_each_kind_at_most_and_both_may_start_at_once(reference):
    """What the service allows: a second active run of a kind is refused by the database; a file
    import and a sync are two kinds, so both start (their loads then take turns, below)."""
    dbf = SfrImport.objects.create(source=ImportSource.DBF)
    soap = SfrImport.objects.create(source=ImportSource.SOAP)
    with pytest.raises(IntegrityError), transaction.atomic():
        SfrImport.objects.create(source=ImportSource.DBF)
    results = at_once(lambda: sfr_import_start(run=SfrImport.objects.get(pk=dbf.pk)),
                      lambda: sfr_import_start(run=SfrImport.objects.get(pk=soap.pk)))
    assert results == [True, True]
    assert set(SfrImport.objects.values_list("status", flat=True)) == {ImportStatus.RUNNING}


def test_a_file_import_and_a_service_sync_applied_at_once_both_load_one_after_the_other(reference):
    """Two kinds of import may be active at once (one of each kind). Applied at the same moment
    with overlapping persons — a first load of an empty register, where the load rebuilds keys and
    indexes — both succeed, one after the other: each person once, each right once."""
    region = Region(seed=5, today=timezone.localdate(), okato=settings.LLO_REGION_OKATO)

    def records(start, count):
        persons, rights = [], []
        for p, rs in region.federal_register(count, start):
            persons.append(p)
            rights.extend(rs)
        return list(enumerate(persons, 1)), list(enumerate(rights, 1)), {p["SS"] for p in persons}, len(rights)

    dbf_persons, dbf_rights, dbf_ss, _ = records(0, 40)
    soap_persons, soap_rights, soap_ss, _ = records(20, 40)
    dbf_run = SfrImport.objects.create(source=ImportSource.DBF, status=ImportStatus.RUNNING)
    soap_run = SfrImport.objects.create(source=ImportSource.SOAP, status=ImportStatus.RUNNING)
    results = at_once(
        lambda: sfr_import_apply(run=dbf_run, persons=dbf_persons, rights=dbf_rights, full=True,
                                 file_date=timezone.localdate()),
        lambda: sfr_import_apply(run=soap_run, persons=soap_persons, rights=soap_rights, full=False,
                                 file_date=timezone.localdate(), to_version=2))
    assert all(isinstance(r, SfrImport) for r in results), results
    assert {r.status for r in results} == {ImportStatus.SUCCEEDED}
    assert Person.objects.count() == len(dbf_ss | soap_ss) == 60
    assert sum(r.persons_added for r in results) == 60
    keys = list(BenefitRight.objects.values_list("external_key", flat=True))
    assert len(keys) == len(set(keys)) == sum(r.rights_added for r in results)


def test_an_import_meeting_a_person_added_by_hand_meanwhile_still_loads(reference, ministry_admin):
    """A register is loaded; while the next file is applied, an admin adds by hand (transaction
    still open) a person the file also brings. The import should load and take that person over,
    not fail after all its work."""
    from registry.services import person_save

    region = Region(seed=6, today=timezone.localdate(), okato=settings.LLO_REGION_OKATO)
    listed = list(region.federal_register(11))
    persons = [(n, p) for n, (p, _) in enumerate(listed, 1)]
    rights = list(enumerate((r for _, rs in listed for r in rs), 1))
    first = SfrImport.objects.create(source=ImportSource.DBF, status=ImportStatus.RUNNING)
    sfr_import_apply(run=first, persons=persons[:10], rights=[(n, r) for n, r in rights
                                                             if r["SS"] != listed[10][0]["SS"]],
                     full=True, file_date=timezone.localdate())
    SfrImport.objects.filter(pk=first.pk).update(status=ImportStatus.SUCCEEDED)
    newcomer = listed[10][0]
    added, release, results = threading.Event(), threading.Event(), {}

    def by_hand():
        with transaction.atomic():
            person_save(user=ministry_admin, snils=newcomer["SS"], last_name=newcomer["FAM"],
                        first_name=newcomer["IM"], birth_date=date(1950, 1, 1), sex="F")
            added.set()
            release.wait(10)

    def load():
        added.wait(10)
        run = SfrImport.objects.create(source=ImportSource.DBF, status=ImportStatus.RUNNING)
        return sfr_import_apply(run=run, persons=persons, rights=rights, full=True, file_date=timezone.localdate())

    threads = [in_thread(by_hand, results, "by_hand"), in_thread(load, results, "load")]
    added.wait(10)
    wait_until_someone_waits_for_a_lock()
    release.set()
    for thread in threads:
        thread.join(30)
    assert isinstance(results["load"], SfrImport), results
    assert Person.objects.filter(snils=newcomer["SS"].replace("-", "").replace(" ", "")).count() == 1
