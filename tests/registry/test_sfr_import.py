"""Loading the Social Fund register: a snapshot, a re-run that changes nothing, the next snapshot
with its changes, a delta, and every kind of bad record rejected with its reason."""

import copy
from datetime import date

import pytest
from pghistory.models import Events

from llo.errors import ValidationFailed
from llo.models import Program
from registry import selectors
from registry.models import BenefitRight, ImportSource, NsuRefusal, Person, RegisterEntry, SfrImport, SfrReject
from registry.services import right_add
from registry.sfr_services import sfr_import_apply
from registry.synthetic import Region

pytestmark = pytest.mark.django_db
FILE_DATE = date(2026, 11, 1)
TODAY = date(2026, 11, 23)


def snapshot(n: int = 60, start: int = 0):
    region = Region(seed=3, today=TODAY)
    persons, rights = [], []
    for person, benefits in region.federal_register(n, start):
        persons.append(person)
        rights.extend(benefits)
    return persons, rights


def numbered(records):
    return list(enumerate(records, start=1))


def load(sfr_run, persons, rights, *, full=True, file_date=FILE_DATE):
    run = sfr_run(ImportSource.DBF if full else ImportSource.SOAP)
    return sfr_import_apply(run=run, persons=numbered(persons), rights=numbered(rights), full=full,
                            file_date=file_date)


def test_a_snapshot_loads_persons_register_entries_choices_and_rights(reference, sfr_run):
    persons, rights = snapshot()
    run = load(sfr_run, persons, rights)
    assert (run.status, run.persons_read, run.rights_read, run.rejected) == ("succeeded", 60, len(rights), 0)
    assert (run.persons_added, run.persons_changed, run.rights_added, run.rights_changed, run.rights_closed) == (
        60, 0, len(rights), 0, 0)
    assert RegisterEntry.objects.filter(register="federal", excluded_on=None).count() == 60
    refused = sum(1 for p in persons if p["U_TYPE"] == "2")
    assert NsuRefusal.objects.filter(year=2026, refused=True).count() == refused
    first = Person.objects.get(snils=persons[0]["SS"].replace("-", "").replace(" ", ""))
    assert (first.last_name, first.birth_date.strftime("%Y%m%d")) == (persons[0]["FAM"], persons[0]["DR"])
    assert first.search_name == f"{persons[0]['FAM']} {persons[0]['IM']} {persons[0]['OT']}".lower()
    right = BenefitRight.objects.filter(person=first).order_by("-valid_from").first()
    assert right.program.code == "ONLP" and right.source == "sfr" and right.external_key.startswith(first.snils)


_SCHEMA = """
    SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint
    WHERE conrelid = ANY(%(tables)s::regclass[])
    UNION ALL SELECT indrelid::regclass::text, indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index
    WHERE indrelid = ANY(%(tables)s::regclass[]) ORDER BY 1, 2, 3
"""


def _schema():
    from django.db import connection

    from registry.sfr_import import TABLES

    with connection.cursor() as cursor:
        cursor.execute(_SCHEMA, {"tables": list(TABLES)})
        return cursor.fetchall()


def test_the_first_load_rebuilds_checks_and_indexes_exactly_and_they_hold(reference, sfr_run):
    """The first load drops the register's keys and indexes and makes them again: the same set, working."""
    before = _schema()
    assert any("UNIQUE" in definition for *_, definition in before)
    persons, rights = snapshot(30)
    run = load(sfr_run, persons, rights)
    assert _schema() == before
    # every row of the first load has its history row, under the import's audit context
    for model, count in ((Person, 30), (BenefitRight, len(rights)), (RegisterEntry, 30)):
        events = model.pgh_event_models["insert"].objects.filter(pgh_label="insert")
        assert events.count() == count == model.objects.count()
        assert set(events.values_list("pgh_context__metadata__run", flat=True)) == {run.pk}
    from django.db import IntegrityError, transaction

    right = BenefitRight.objects.first()
    with pytest.raises(IntegrityError), transaction.atomic():
        BenefitRight.objects.create(person=right.person, program=right.program, category=right.category,
                                    valid_from=right.valid_from, source="sfr", external_key=right.external_key)


def test_the_same_file_again_changes_nothing(reference, sfr_run):
    persons, rights = snapshot()
    load(sfr_run, persons, rights)
    events = Events.objects.count()
    again = load(sfr_run, persons, rights)
    assert (again.persons_added, again.persons_changed, again.rights_added, again.rights_changed,
            again.rights_closed, again.rejected) == (0, 0, 0, 0, 0, 0)
    assert Events.objects.count() == events


def test_the_next_snapshot_brings_changes_closures_and_newcomers(reference, sfr_run):
    persons, rights = snapshot()
    load(sfr_run, persons, rights)
    changed_persons, changed_rights = copy.deepcopy(persons), copy.deepcopy(rights)
    changed_persons[0]["FAM"] = "Переименованная"
    gone_index = next(i for i, p in enumerate(persons) if i and any(
        r["SS"] == p["SS"] and r["DATE_EL"] == "9999/99/99" for r in rights))
    gone = changed_persons.pop(gone_index)
    open_right = next(r for r in changed_rights if r["DATE_EL"] == "9999/99/99" and r["SS"] != gone["SS"])
    open_right["DATE_EL"] = "2026/10/15"
    changed_rights = [r for r in changed_rights if r["SS"] != gone["SS"]]
    newcomers, their_rights = snapshot(2, start=100)
    run = load(sfr_run, changed_persons + newcomers, changed_rights + their_rights, file_date=date(2026, 11, 20))
    gone_rights = [r for r in rights if r["SS"] == gone["SS"] and r["DATE_EL"] == "9999/99/99"]
    assert (run.persons_added, run.persons_changed) == (2, 1)
    assert run.rights_changed == 1 and run.rights_added == len(their_rights)
    assert run.rights_closed == len(gone_rights)
    gone_person = Person.objects.get(last_name=gone["FAM"], first_name=gone["IM"], birth_date__year=int(gone["DR"][:4]))
    assert RegisterEntry.objects.get(person=gone_person, register="federal").excluded_on == date(2026, 11, 19)
    assert not selectors.rights_on(gone_person, date(2026, 11, 20))
    assert selectors.rights_on(gone_person, date(2026, 11, 19))  # history kept


def test_bad_records_are_rejected_with_their_reason_and_the_rest_loads(reference, sfr_run):
    persons, rights = snapshot(10)
    bad = copy.deepcopy(persons[:7])
    bad[0]["SS"] = bad[0]["SS"][:-1] + str((int(bad[0]["SS"][-1]) + 1) % 10)  # checksum
    bad[1]["DR"] = "20260231"
    bad[2]["DR"] = "20991231"
    bad[3]["W"] = "X"
    bad[4]["FAM"] = ""
    bad[5]["DATE_RSE"] = "2000/01/01"
    bad[6]["FAM"] = "Я" * 101
    rights_bad = [dict(rights[0], C_KATL="999"), dict(rights[0], DATE_EL="1999/01/01"),
                  dict(rights[0], SS="123-456"), dict(rights[0], SS="112-233-445 95")]
    run = load(sfr_run, persons[7:] + bad + [persons[8]], rights + rights_bad)
    reasons = {(r.kind, r.row_no): r.reason for r in SfrReject.objects.filter(sfr_import=run)}
    assert "контрольная сумма" in reasons[("person", 4)]
    assert "такой даты нет" in reasons[("person", 5)]
    assert "в будущем" in reasons[("person", 6)]
    assert "пол" in reasons[("person", 7)]
    assert "фамилия" in reasons[("person", 8)]
    assert "исключения из регистра раньше" in reasons[("person", 9)]
    assert "длиннее 100" in reasons[("person", 10)]
    assert "повторяется в файле" in reasons[("person", 11)]  # persons[8] twice
    n = len(rights)
    assert "категории с кодом 999 нет" in reasons[("right", n + 1)]
    assert "окончания льготы раньше" in reasons[("right", n + 2)]
    assert "11 цифр" in reasons[("right", n + 3)]
    assert "нет ни в файле граждан, ни в регистре" in reasons[("right", n + 4)]
    assert run.persons_added == 3 and run.rejected == len(reasons)
    # rights of persons whose person record was rejected are not loaded, nothing else is lost
    assert Person.objects.count() == 3


def test_rights_of_persons_with_a_rejected_record_are_not_closed(reference, sfr_run):
    persons, rights = snapshot(10)
    load(sfr_run, persons, rights)
    broken = copy.deepcopy(persons)
    broken[2]["DR"] = "19001332"
    person = Person.objects.get(snils=broken[2]["SS"].replace("-", "").replace(" ", ""))
    before = list(BenefitRight.objects.filter(person=person, valid_to=None).values_list("pk", flat=True))
    run = load(sfr_run, broken, [r for r in rights if r["SS"] != broken[2]["SS"]])
    assert run.rejected == 1 and run.rights_closed == 0
    assert list(BenefitRight.objects.filter(person=person, valid_to=None).values_list("pk", flat=True)) == before


def test_a_delta_touches_only_the_persons_it_names_and_excludes_some(reference, sfr_run):
    persons, rights = snapshot(10)
    load(sfr_run, persons, rights)
    named = copy.deepcopy(persons[0])
    excluded = dict(copy.deepcopy(persons[1]), _action="exclude", DATE_RSE="2026/11/10")
    run = load(sfr_run, [named, excluded], [r for r in rights if r["SS"] == named["SS"]], full=False,
               file_date=date(2026, 11, 21))
    assert (run.persons_changed, run.rights_closed) == (0, sum(
        1 for r in rights if r["SS"] == excluded["SS"] and r["DATE_EL"] == "9999/99/99"))
    person = Person.objects.get(snils=excluded["SS"].replace("-", "").replace(" ", ""))
    assert RegisterEntry.objects.get(person=person, register="federal").excluded_on == date(2026, 11, 10)
    assert RegisterEntry.objects.filter(register="federal", excluded_on=None).count() == 9  # others untouched


def test_conflicts_between_programs_are_counted(reference, sfr_run, ministry_admin):
    persons, rights = snapshot(5)
    load(sfr_run, persons, rights)
    right = BenefitRight.objects.filter(valid_to=None, source="sfr").order_by("pk").first()  # an open federal right
    person = right.person
    regional = Program.objects.get(code="REG-50")
    from llo.models import BenefitCategory

    right_add(user=ministry_admin, person=person, program=regional,
              category=BenefitCategory.objects.get(federal_code="703"), valid_from=date(2026, 1, 1))
    run = load(sfr_run, persons, rights)
    assert run.conflicts == 1 and right.program.code == "ONLP"
    listed = selectors.conflicts(on=TODAY)
    assert [p.pk for p, _ in listed] == [person.pk]


def test_a_missing_program_stops_the_import_before_anything_changes(reference, sfr_run, settings):
    settings.SFR_PROGRAM = "NOPE"
    persons, rights = snapshot(3)
    with pytest.raises(ValidationFailed) as caught:
        load(sfr_run, persons, rights)
    assert caught.value.code == "sfr.program_missing" and not Person.objects.exists()
    assert SfrImport.objects.get().status == "running"  # the task records the failure
