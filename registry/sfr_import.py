"""Loading the Social Fund register (persons from `C_REGO`, benefits from `C_REGL`, or the same
content from the delta service) into the region's register.

Records are parsed once, in a stream, and written with COPY into two staging tables — rejected
records too, with their reason (`sfr_stage`: the benefits are parsed in a process of their own
while this one stages and merges the persons). Set-based statements then reject what only the whole
file can tell (a SNILS twice, a benefit twice, a benefit without its person) and merge: persons by
SNILS, the federal register entries, the НСУ choice of the year, and rights by their key in the
register (SNILS, category, start) — one join each tells what is new, what changed and what did
not, and only the first two are written. Rights the register no longer lists are closed the day before
the file's date; so are register entries of persons it no longer lists (a full snapshot) or
excludes (a delta). Persons with a rejected record keep their rights: a typo in a file must not
cost anyone their drugs. Everything runs in the caller's transaction; a re-run of the same file
changes nothing.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable
from contextlib import ExitStack, nullcontext
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.conf import settings
from django.db import connection

from llo.bulk_audit import checks_and_indexes_rebuilt, history_in_bulk, history_of_rows_after, noting
from llo.errors import ValidationFailed
from llo.models import BenefitCategory, Program

from . import sfr_records as rec
from . import sfr_stage as stage
from .models import Person

PERSON_DATA = ("last_name", "first_name", "patronymic", "birth_date", "sex", "oms_policy", "document_type",
               "document_number", "address", "region_code", "is_out_of_town")
RIGHT_DATA = ("valid_to", "document_name", "document_number", "disability_group")
TABLES = ("registry_person", "registry_registerentry", "registry_nsurefusal", "registry_benefitright")


@dataclass
class Outcome:
    persons_read: int = 0
    rights_read: int = 0
    counts: dict[str, int] = field(default_factory=dict)


# A SNILS twice, a benefit twice: the first record stands, the later ones are rejected.
_SNILS_TWICE = """
    UPDATE sfr_person_stage s SET reject = 'СНИЛС повторяется в файле (впервые в записи ' || d.first || ')'
    FROM (SELECT snils, min(row_no) AS first FROM sfr_person_stage WHERE reject IS NULL
          GROUP BY snils HAVING count(*) > 1) d
    WHERE s.snils = d.snils AND s.row_no > d.first AND s.reject IS NULL
"""
_BENEFIT_TWICE = """
    UPDATE sfr_right_stage s SET reject = 'льгота повторяется в файле (впервые в записи ' || d.first || ')'
    FROM (SELECT external_key, min(row_no) AS first FROM sfr_right_stage WHERE reject IS NULL
          GROUP BY external_key HAVING count(*) > 1) d
    WHERE s.external_key = d.external_key AND s.row_no > d.first AND s.reject IS NULL
"""


def _listed(alias: str, columns) -> str:
    return ", ".join(f"{alias}.{c}" for c in columns)


# The staged persons (rejected ones too) with the id of their live person, if any, and whether the
# person's row holds the staged values already: one join, and the update compares only the others.
_PERSONS = f"""
    CREATE TEMP TABLE sfr_persons ON COMMIT DROP AS
    SELECT s.*, p.id AS person_id,
           p.id IS NOT NULL AND ({_listed('p', PERSON_DATA)}) IS NOT DISTINCT FROM ({_listed('s', PERSON_DATA)})
           AS unchanged
    FROM sfr_person_stage s LEFT JOIN registry_person p ON p.snils = s.snils AND p.merged_into_id IS NULL
"""
NO_PERSON = "гражданина с этим СНИЛС нет ни в файле граждан, ни в регистре"
# Every staged benefit (rejected ones too) with its person and the register's right of the same key:
# one join tells a new right (no right_id), a changed one and an unchanged one; a benefit whose
# person is unknown is rejected here. For a snapshot the join is full: the register's rights that no
# valid row lists come out too, with no staged row (row_no is NULL) — the ones to close.
_RIGHTS = f"""
    CREATE TEMP TABLE sfr_rights ON COMMIT DROP AS
    SELECT s.*, r.id AS right_id,
           r.id IS NOT NULL AND ({_listed('r', RIGHT_DATA)}) IS NOT DISTINCT FROM ({_listed('s', RIGHT_DATA)})
           AS unchanged
    FROM (SELECT {_listed('s', [c for c in stage.RIGHT_COLUMNS if c != 'reject'])}, p.id AS person_id,
                 coalesce(s.reject, CASE WHEN p.id IS NULL THEN '{NO_PERSON}' END) AS reject
          FROM sfr_right_stage s LEFT JOIN registry_person p ON p.snils = s.snils AND p.merged_into_id IS NULL) s
    {{join}} JOIN (SELECT id, external_key, {', '.join(RIGHT_DATA)} FROM registry_benefitright
                 WHERE external_key IS NOT NULL OR source = 'sfr') r
      ON r.external_key = CASE WHEN s.reject IS NULL THEN s.external_key END
"""
# Persons with a rejected record, of their own or of a benefit: their rights stay open.
_PROTECTED = """
    CREATE TEMP TABLE sfr_protected ON COMMIT DROP AS
    SELECT person_id FROM sfr_persons WHERE reject IS NOT NULL AND person_id IS NOT NULL
    UNION SELECT person_id FROM sfr_rights WHERE reject IS NOT NULL AND person_id IS NOT NULL
"""


def _insert(cursor, statement: str, table: str, params: dict, *, first_load: bool) -> int:
    """An INSERT with its history rows; returns the number of rows inserted. On the first load the
    tables are locked and empty: the history is copied from the table after the INSERT."""
    if not first_load:
        cursor.execute(noting(statement, table, "insert"), params)
        return cursor.rowcount
    cursor.execute(f"SELECT coalesce(max(id), 0) FROM {table}")
    (after_id,) = cursor.fetchone()
    cursor.execute(statement, params)
    inserted = cursor.rowcount
    cursor.execute(history_of_rows_after(table, "insert"), {"after_id": after_id})
    return inserted


def _merge_persons(cursor, params, counts, *, first_load: bool) -> None:
    # New persons first: a person someone adds by hand meanwhile (not yet committed) makes the insert
    # wait and then skip them, and the update that follows takes them over. The first load has the
    # tables to itself (and no unique index to name in ON CONFLICT: it is rebuilt afterwards).
    conflict = "" if first_load else " ON CONFLICT (snils) WHERE merged_into_id IS NULL DO NOTHING"
    counts["persons_added"] = _insert(
        cursor, f"INSERT INTO registry_person (snils, {', '.join(PERSON_DATA)}, created_at, updated_at) "
        f"SELECT s.snils, {', '.join('s.' + c for c in PERSON_DATA)}, now(), now() FROM sfr_person_stage s "
        f"WHERE s.reject IS NULL AND NOT EXISTS (SELECT 1 FROM registry_person p "
        f"WHERE p.snils = s.snils AND p.merged_into_id IS NULL){conflict}",
        "registry_person", params, first_load=first_load)
    cursor.execute(_PERSONS)
    cursor.execute("ANALYZE sfr_persons")  # how few rows differ: the planner hashes them, not the register
    counts["persons_changed"] = 0
    if not first_load:
        data = ", ".join(f"{c} = s.{c}" for c in PERSON_DATA)
        cursor.execute(noting(
            f"UPDATE registry_person t SET {data}, updated_at = now() FROM sfr_persons s "
            f"WHERE s.reject IS NULL AND NOT s.unchanged AND t.id = s.person_id AND t.merged_into_id IS NULL "
            f"AND ({_listed('t', PERSON_DATA)}) IS DISTINCT FROM ({_listed('s', PERSON_DATA)})",
            "registry_person", "update"), params)
        counts["persons_changed"] = cursor.rowcount


def _merge_register(cursor, params, *, full: bool, first_load: bool) -> None:
    cursor.execute(noting(
        "UPDATE registry_registerentry t SET excluded_on = s.excluded_on FROM sfr_persons s "
        "WHERE s.reject IS NULL AND t.person_id = s.person_id AND t.register = 'federal' "
        "AND t.included_on = s.included_on AND t.excluded_on IS DISTINCT FROM s.excluded_on",
        "registry_registerentry", "update"), params)
    _insert(
        cursor, "INSERT INTO registry_registerentry (person_id, register, included_on, excluded_on, source, basis) "
        "SELECT s.person_id, 'federal', s.included_on, s.excluded_on, 'sfr', 'Федеральный регистр СФР' "
        "FROM sfr_persons s WHERE s.reject IS NULL AND NOT EXISTS (SELECT 1 FROM registry_registerentry e "
        "WHERE e.person_id = s.person_id AND e.register = 'federal' AND e.included_on = s.included_on)",
        "registry_registerentry", params, first_load=first_load)
    # open federal entries that the register no longer has: of everyone absent from a snapshot,
    # of the excluded in a delta; the file's own exclusion date wins where it has one
    absent = ("NOT EXISTS (SELECT 1 FROM sfr_persons s WHERE s.person_id = t.person_id)" if full
              else "t.person_id IN (SELECT person_id FROM sfr_persons WHERE action = 'exclude' AND reject IS NULL)")
    cursor.execute(noting(
        "UPDATE registry_registerentry t SET excluded_on = GREATEST(t.included_on, %(close_on)s) "
        f"WHERE t.register = 'federal' AND t.excluded_on IS NULL AND {absent}",
        "registry_registerentry", "update"), params)


def _merge_refusals(cursor, params, *, first_load: bool) -> None:
    cursor.execute(noting(
        "UPDATE registry_nsurefusal t SET refused = s.nsu_refused FROM sfr_persons s "
        "WHERE s.reject IS NULL AND s.nsu_refused IS NOT NULL AND t.person_id = s.person_id "
        "AND t.year = s.nsu_year AND t.refused <> s.nsu_refused",
        "registry_nsurefusal", "update"), params)
    _insert(
        cursor, "INSERT INTO registry_nsurefusal (person_id, year, refused, source) "
        "SELECT s.person_id, s.nsu_year, s.nsu_refused, 'sfr' FROM sfr_persons s "
        "WHERE s.reject IS NULL AND s.nsu_refused IS NOT NULL AND NOT EXISTS "
        "(SELECT 1 FROM registry_nsurefusal r WHERE r.person_id = s.person_id AND r.year = s.nsu_year)",
        "registry_nsurefusal", params, first_load=first_load)


def _merge_rights(cursor, params, counts, *, full: bool, first_load: bool) -> None:
    cursor.execute(_RIGHTS.format(join="FULL" if full else "LEFT"))
    cursor.execute("ANALYZE sfr_rights")
    data = ", ".join(f"{c} = s.{c}" for c in RIGHT_DATA)
    cursor.execute(noting(
        f"UPDATE registry_benefitright t SET {data}, updated_at = now() FROM sfr_rights s "
        f"WHERE s.row_no IS NOT NULL AND NOT s.unchanged AND t.id = s.right_id AND "
        f"({_listed('t', RIGHT_DATA)}) IS DISTINCT FROM ({_listed('s', RIGHT_DATA)})",
        "registry_benefitright", "update"), params)
    counts["rights_changed"] = cursor.rowcount
    counts["rights_added"] = _insert(
        cursor, "INSERT INTO registry_benefitright (person_id, program_id, category_id, valid_from, valid_to, "
        "source, document_name, document_number, disability_group, external_key, created_at, updated_at) "
        "SELECT s.person_id, %(program)s, s.category_id, s.valid_from, s.valid_to, 'sfr', s.document_name, "
        "s.document_number, s.disability_group, s.external_key, now(), now() FROM sfr_rights s "
        "WHERE s.reject IS NULL AND s.right_id IS NULL",
        "registry_benefitright", params, first_load=first_load)
    # Rights of the register that it no longer lists, except for persons with a rejected record.
    # A snapshot speaks for everyone in the register; a delta for the persons it names.
    cursor.execute(_PROTECTED)
    unlisted = ("t.id IN (SELECT right_id FROM sfr_rights WHERE row_no IS NULL)" if full
                else "t.person_id IN (SELECT person_id FROM sfr_persons WHERE reject IS NULL) "
                     "AND NOT EXISTS (SELECT 1 FROM sfr_rights s WHERE s.right_id = t.id)")
    excluded = "t.person_id IN (SELECT person_id FROM sfr_persons WHERE action = 'exclude' AND reject IS NULL)"
    close = ("UPDATE registry_benefitright t SET valid_to = GREATEST(t.valid_from, %(close_on)s), updated_at = now() "
             "WHERE t.source = 'sfr' AND (t.valid_to IS NULL OR t.valid_to > %(close_on)s) "
             "AND NOT EXISTS (SELECT 1 FROM sfr_protected k WHERE k.person_id = t.person_id) AND ")
    # two statements, not one with OR: each is a hash join; OR-ed sub-queries would run once per right
    cursor.execute(noting(close + unlisted, "registry_benefitright", "update"), params)
    closed = cursor.rowcount
    scope = "" if full else "t.person_id IN (SELECT person_id FROM sfr_persons WHERE reject IS NULL) AND "
    cursor.execute(noting(close + scope + excluded, "registry_benefitright", "update"), params)
    counts["rights_closed"] = closed + cursor.rowcount


_CONFLICTS = """
    SELECT count(DISTINCT a.person_id) FROM registry_benefitright a
    JOIN registry_benefitright b ON b.person_id = a.person_id AND b.program_id <> a.program_id
      AND daterange(a.valid_from, a.valid_to, '[]') && daterange(b.valid_from, b.valid_to, '[]')
    WHERE a.person_id IN (SELECT person_id FROM sfr_persons WHERE person_id IS NOT NULL)
      AND (a.valid_to IS NULL OR a.valid_to >= %(today)s)
"""


def _save_rejects(cursor, run_id: int) -> int:
    cursor.execute(
        "INSERT INTO registry_sfrreject (sfr_import_id, kind, row_no, snils, reason) "
        "SELECT %(run)s, 'person', row_no, coalesce(snils, ''), left(reject, 500) FROM sfr_persons "
        "WHERE reject IS NOT NULL UNION ALL "
        "SELECT %(run)s, 'right', row_no, coalesce(snils, ''), left(reject, 500) FROM sfr_rights "
        "WHERE reject IS NOT NULL", {"run": run_id})
    return cursor.rowcount


def sfr_program() -> Program:
    code = settings.SFR_PROGRAM
    program = Program.objects.filter(code=code).first()
    if program is None:
        raise ValidationFailed(
            f"Программа {code}, к которой относятся права из федерального регистра, не найдена: "
            "создайте её или укажите другую в настройке SFR_PROGRAM", code="sfr.program_missing")
    return program


def load_register(
    *,
    run_id: int,
    persons: Iterable[tuple[int, dict]],
    rights: Iterable[tuple[int, dict]],
    full: bool,
    file_date: date,
    today: date,
    on_progress: Callable[[str, int | None], None] | None = None,
) -> Outcome:
    """Load one file pair (or one delta). Must run inside the caller's transaction."""
    if not connection.in_atomic_block:
        raise RuntimeError("load_register must run inside transaction.atomic()")
    program = sfr_program()
    params = {"program": program.pk, "close_on": file_date - timedelta(days=1), "today": today}
    outcome = Outcome()
    counts = outcome.counts
    with connection.cursor() as cursor, ExitStack() as stack:
        # (an earlier load in the same transaction left them: they go at the commit)
        cursor.execute("DROP TABLE IF EXISTS sfr_person_stage, sfr_right_stage, sfr_persons, sfr_rights, "
                       "sfr_protected")
        stage.create_stage(cursor)
        parser = rec.Parser(today=today, region_okato=settings.LLO_REGION_OKATO,
                            categories=dict(BenefitCategory.objects.values_list("federal_code", "pk")))
        # millions of short-lived dicts and tuples: the cyclic collector would only walk them
        gc.disable()
        try:
            load_rights = stack.enter_context(stage.rights_parsed_apart(cursor, rights, parser))
            outcome.persons_read = stage.copy_persons(cursor, persons, parser, on_progress)
        finally:
            gc.enable()
        if on_progress:  # the benefits are being parsed apart meanwhile: no count to show
            on_progress("rights", None)
        cursor.execute(_SNILS_TWICE)
        # Set-based statements over whole tables: the statistics do not know this transaction's own
        # inserts (a table loaded for the first time looks empty), and a nested loop planned on them
        # turns an anti-join of a million rows into a million scans. Hash and merge joins are linear.
        cursor.execute("SET LOCAL enable_nestloop = off")
        # Foreign keys are checked at each statement rather than queued to the commit: the queue of a
        # million checks lives in memory, and an index cannot be built while it is pending.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        # The first load into an empty register rebuilds checks and search indexes once, after the rows
        # (the tables are locked until the commit; they are empty, so nobody waits for anything).
        first_load = not Person.objects.exists()
        with history_in_bulk(cursor), (
                checks_and_indexes_rebuilt(cursor, TABLES) if first_load else nullcontext()):
            _merge_persons(cursor, params, counts, first_load=first_load)
            _merge_register(cursor, params, full=full, first_load=first_load)
            _merge_refusals(cursor, params, first_load=first_load)
            outcome.rights_read = load_rights()
            if on_progress:
                on_progress("merge", outcome.persons_read + outcome.rights_read)
            cursor.execute(_BENEFIT_TWICE)
            _merge_rights(cursor, params, counts, full=full, first_load=first_load)
        cursor.execute(_CONFLICTS, params)
        counts["conflicts"] = cursor.fetchone()[0]
        counts["rejected"] = _save_rejects(cursor, run_id)
        cursor.execute("SET LOCAL enable_nestloop = on")
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")
    return outcome
