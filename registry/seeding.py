"""A synthetic region's register: the federal part written as `C_REGO`/`C_REGL` files and loaded
through the Social Fund import, the regional part (children, pensioners, disease-based programs,
14 ВЗН, «Круг добра», HIV/TB) loaded set-based, and everyone attached to one of the region's MOs.

Used by `manage.py seed_region` (benchmarks), by the demo seed (a few hundred persons covering
every program) and by the tests.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from llo.audit import audit_context
from llo.bulk_audit import history_in_bulk, noting
from llo.models import BenefitCategory, Diagnosis, Organization, Program

from .models import ImportSource, ImportStatus, SfrImport
from .sfr_services import sfr_import_apply
from .synthetic import Region

FEDERAL_SHARE = 0.8
# what higher apps add to a synthetic region (`seed_region --<name> N`): name -> (seeder(N) -> written, help)
HISTORY_SEEDERS: dict[str, tuple[Callable[[int], int], str]] = {}
# regional program, category, diagnoses to pick from (None: by category), share of regional persons
REGIONAL_MIX = (
    ("REG-CAT", "701", None, 0.22),
    ("REG-CAT", "702", None, 0.10),
    ("REG-50", "703", None, 0.18),
    ("REG-DIS", "704", ("E10", "E11", "E11.9", "G40", "G20", "F20", "J45", "M05", "E70.0", "K90.0", "C50", "I21"), 0.38),
    ("VZN", "704", ("D66", "E84", "E23.0", "E75.2", "C90", "G35", "Z94", "M08"), 0.05),
    ("KRUG-DOBRA", "084", ("G12.1", "E84"), 0.02),
    ("HIV-TB", "704", ("B24", "A15"), 0.05),
)


@dataclass
class Summary:
    federal: int
    regional: int
    rights: int
    files: tuple[Path, Path]
    sfr_import: SfrImport


def write_register_files(region: Region, count: int, directory: Path) -> tuple[Path, Path]:
    """The federal register of `count` persons as the Social Fund's DBF pair, in one pass over the
    generator: benefits wait in a scratch file while the persons' file is written."""
    from integrations.sfr.dbf import (  # the file format
        PERSONS_LAYOUT,
        RIGHT_FIELDS,
        RIGHTS_LAYOUT,
        write_dbf,
    )

    directory.mkdir(parents=True, exist_ok=True)
    persons_path, rights_path = directory / "C_REGO.DBF", directory / "C_REGL.DBF"
    scratch = directory / "C_REGL.scratch"
    with scratch.open("w", encoding="utf-8") as pending:
        def persons():
            for person, rights in region.federal_register(count):
                for right in rights:
                    pending.write("\t".join(right[name] for name in RIGHT_FIELDS) + "\n")
                yield person

        write_dbf(persons_path, PERSONS_LAYOUT, persons())
    with scratch.open(encoding="utf-8") as pending:
        write_dbf(rights_path, RIGHTS_LAYOUT, (dict(zip(RIGHT_FIELDS, line.rstrip("\n").split("\t")))
                                               for line in pending))
    scratch.unlink()
    return persons_path, rights_path


def load_register_files(persons_path: Path, rights_path: Path, *, file_date: date) -> SfrImport:
    from integrations.sfr.dbf import PERSON_FIELDS, RIGHT_FIELDS, read_dbf

    run = SfrImport.objects.create(source=ImportSource.DBF, status=ImportStatus.RUNNING, started_at=timezone.now(),
                                   persons_file=persons_path.name, rights_file=rights_path.name)
    with read_dbf(persons_path, required=PERSON_FIELDS, name="C_REGO") as (_, persons), \
            read_dbf(rights_path, required=RIGHT_FIELDS, name="C_REGL") as (_, rights):
        return sfr_import_apply(run=run, persons=persons, rights=rights, full=True, file_date=file_date)


_REGIONAL_STAGE = """
    CREATE TEMP TABLE seed_regional (
        n integer, snils text, last_name text, first_name text, patronymic text, sex text, birth_date date,
        oms_policy text, document_type text, document_number text, address text,
        program_id bigint, category_id bigint, diagnosis_id bigint, valid_from date, person_id bigint
    ) ON COMMIT DROP
"""


def load_regional(region: Region, start: int, count: int, *, today: date) -> int:
    """Persons with regional rights only (not in the Social Fund register), set-based."""
    programs = {p.code: p.pk for p in Program.objects.filter(code__in={m[0] for m in REGIONAL_MIX})}
    categories = {c.federal_code: c.pk for c in BenefitCategory.objects.filter(federal_code__in={m[1] for m in REGIONAL_MIX})}
    diagnoses = {d.code: d.pk for d in Diagnosis.objects.filter(code__in={c for m in REGIONAL_MIX for c in (m[2] or ())})}
    weights = [m[3] for m in REGIONAL_MIX]
    rng = random.Random(region.seed)
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS seed_regional")
        cursor.execute(_REGIONAL_STAGE)
        with cursor.copy("COPY seed_regional (n, snils, last_name, first_name, patronymic, sex, birth_date, oms_policy, "
                         "document_type, document_number, address, program_id, category_id, diagnosis_id, valid_from) "
                         "FROM STDIN") as copy:
            for i in range(start, start + count):
                c = region.citizen(i)
                code, category, codes, _ = rng.choices(REGIONAL_MIX, weights)[0]
                birth = c.birth_date
                if category in ("701", "702"):  # young children
                    birth = today - timedelta(days=rng.randint(30, (3 if category == "701" else 6) * 365 - 30))
                since = max(birth, today - timedelta(days=rng.randint(30, 3000)))
                copy.write_row((i, c.snils, c.last_name, c.first_name, c.patronymic, c.sex, birth, c.policy,
                                c.document_type, c.document_number, c.address, programs[code], categories[category],
                                diagnoses[rng.choice(codes)] if codes else None, since))
        with history_in_bulk(cursor):
            cursor.execute(noting(
                "INSERT INTO registry_person (snils, last_name, first_name, patronymic, sex, birth_date, oms_policy, "
                "document_type, document_number, address, region_code, is_out_of_town, created_at, updated_at) "
                "SELECT snils, last_name, first_name, patronymic, sex, birth_date, oms_policy, document_type, "
                "document_number, address, %(region)s, false, now(), now() FROM seed_regional s "
                "WHERE NOT EXISTS (SELECT 1 FROM registry_person p WHERE p.snils = s.snils)",
                "registry_person", "insert"), {"region": settings.LLO_REGION_OKATO})
            cursor.execute("UPDATE seed_regional s SET person_id = p.id FROM registry_person p WHERE p.snils = s.snils")
            cursor.execute(noting(
                "INSERT INTO registry_registerentry (person_id, register, included_on, source, basis) "
                "SELECT DISTINCT ON (person_id) person_id, 'regional', valid_from, 'regional', 'Решение региона' "
                "FROM seed_regional ORDER BY person_id, valid_from ON CONFLICT DO NOTHING",
                "registry_registerentry", "insert"))
            cursor.execute(noting(
                "INSERT INTO registry_benefitright (person_id, program_id, category_id, diagnosis_id, valid_from, "
                "source, document_name, document_number, disability_group, created_at, updated_at) "
                "SELECT person_id, program_id, category_id, diagnosis_id, valid_from, 'regional', "
                "'Решение о включении в региональный регистр', 'Р-' || n, "
                "CASE WHEN category_id = %(child)s THEN 'child' ELSE '' END, now(), now() FROM seed_regional",
                "registry_benefitright", "insert"), {"child": categories.get("084")})
            return cursor.rowcount


def attach_to_mos(region_code: str) -> None:
    """Attach everyone without an MO to one of the region's medical organizations, evenly."""
    mos = list(Organization.objects.filter(kind="medical_org", region__code=region_code).order_by("pk")
               .values_list("pk", flat=True))
    if not mos:
        return
    with transaction.atomic(), connection.cursor() as cursor, history_in_bulk(cursor):
        cursor.execute(noting(
            "UPDATE registry_person t SET attached_mo_id = (%s::bigint[])[1 + t.id %% %s] "
            "WHERE t.attached_mo_id IS NULL AND t.merged_into_id IS NULL", "registry_person", "update"),
            [mos, len(mos)])


def seed_region(count: int, *, directory: Path, region_code: str, seed: int = 1, today: date | None = None) -> Summary:
    """`count` beneficiaries: 80 % from the Social Fund register files, the rest regional."""
    today = today or timezone.localdate()
    region = Region(seed=seed, today=today, okato=settings.LLO_REGION_OKATO)
    federal = int(count * FEDERAL_SHARE)
    persons_path, rights_path = write_register_files(region, federal, directory)
    run = load_register_files(persons_path, rights_path, file_date=today)
    with transaction.atomic(), audit_context(source="seed_region"):
        regional_rights = load_regional(region, federal, count - federal, today=today)
        attach_to_mos(region_code)
    return Summary(federal=run.persons_added, regional=count - federal, rights=run.rights_added + regional_rights,
                   files=(persons_path, rights_path), sfr_import=run)
