"""Reads of the reference data: what is valid on a date, catalogue search, program lists."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.db import connection
from django.db.models import Exists, OuterRef, Prefetch, QuerySet
from django.utils import timezone

from llo.models import (
    BenefitCategory, Diagnosis, Package, Program, ProgramCategory, ProgramDiagnosis, ProgramDrug, StandardizedDrug,
    TradeName,
)

from . import search


def packages_qs() -> QuerySet[Package]:
    return Package.objects.select_related("trade_name__drug__inn", "pack_unit")


def drugs_qs() -> QuerySet[StandardizedDrug]:
    return StandardizedDrug.objects.select_related("inn", "route")


def _on_program(queryset: QuerySet, drug_path: str, program: Program, on: date) -> QuerySet:
    rows = ProgramDrug.objects.valid_on(on).filter(program=program, drug=OuterRef(drug_path))
    return queryset.filter(Exists(rows))


@dataclass
class Page:
    items: list
    count: int
    similar: bool = False  # a search found nothing containing the text; these are similar names


def _catalogue(found_by, queryset: QuerySet, *, drug_path: str, kind_field: str, ordering: tuple, q: str,
               on: date | None, kind: str, program: Program | None, limit: int, offset: int) -> Page:
    query = search.parse_query(q)
    if query.text or query.gtin:
        found = found_by(query, on=on, kind=kind, program=program.pk if program else None, limit=limit, offset=offset)
        rows = queryset.in_bulk(found.ids)
        return Page([rows[i] for i in found.ids if i in rows], found.count, found.similar)
    if on is not None:
        queryset = queryset.valid_on(on)
    if kind:
        queryset = queryset.filter(**{kind_field: kind})
    if program is not None:
        queryset = _on_program(queryset, drug_path, program, on or timezone.localdate())
    queryset = queryset.order_by(*ordering)
    return Page(list(queryset[offset:offset + limit]), queryset.count())


def catalogue_packages(*, q: str = "", on: date | None = None, kind: str = "", program: Program | None = None,
                       limit: int = 50, offset: int = 0) -> Page:
    """Packages valid on `on` (all dates when None), optionally of a kind and on a program's list,
    matching `q` (see search.py) and ranked by the match."""
    return _catalogue(search.search_package_ids, packages_qs(), drug_path="trade_name__drug_id",
                      kind_field="trade_name__drug__kind", ordering=("trade_name__name", "pack_quantity", "id"), q=q, on=on, kind=kind, program=program,
                      limit=limit, offset=offset)


def catalogue_drugs(*, q: str = "", on: date | None = None, kind: str = "", program: Program | None = None,
                    limit: int = 50, offset: int = 0) -> Page:
    """Standardized drugs (devices, nutrition), as `catalogue_packages`."""
    return _catalogue(search.search_drug_ids, drugs_qs(), drug_path="pk", kind_field="kind",
                      ordering=("inn__name", "dosage_form", "dosage", "id"), q=q, on=on, kind=kind, program=program, limit=limit, offset=offset)


def packages_by_gtin(gtin: str, *, on: date) -> QuerySet[Package]:
    return packages_qs().valid_on(on).filter(gtin=gtin)


def programs_qs() -> QuerySet[Program]:
    return Program.objects.all().order_by("code")


def _rows_prefetch(on: date | None) -> list[Prefetch]:
    def rows(model):
        qs = model.objects.all() if on is None else model.objects.valid_on(on)
        return qs.order_by("valid_from", "id")

    return [
        Prefetch("drug_rows", queryset=rows(ProgramDrug).select_related("drug__inn")),
        Prefetch("category_rows", queryset=rows(ProgramCategory).select_related("category")),
        Prefetch("diagnosis_rows", queryset=rows(ProgramDiagnosis).select_related("diagnosis")),
    ]


def programs_with_all_rows() -> QuerySet[Program]:
    """Programs with every list row, past and future (for sync and the ministry's program card)."""
    return Program.objects.prefetch_related(*_rows_prefetch(None))


def programs_with_rows(*, on: date) -> list[Program]:
    """Programs in force on `on`, with the list rows in force that day."""
    return list(Program.objects.valid_on(on).order_by("code").prefetch_related(*_rows_prefetch(on)))


_COVERS_DRUG = """
    SELECT EXISTS (SELECT 1 FROM llo_programdrug WHERE program_id = %(program)s AND drug_id = %(drug)s
                   AND valid_from <= %(on)s AND (valid_to IS NULL OR valid_to >= %(on)s))
"""


def program_covers_drug(program: Program, drug: StandardizedDrug, *, on: date) -> bool:
    """Is the drug on the program's list on `on` (raw SQL: asked on every prescription issued)."""
    with connection.cursor() as cursor:
        cursor.execute(_COVERS_DRUG, {"program": program.pk, "drug": drug.pk, "on": on})
        return cursor.fetchone()[0]


def program_covers_category(program: Program, category: BenefitCategory, *, on: date) -> bool:
    return ProgramCategory.objects.valid_on(on).filter(program=program, category=category).exists()


_COVERS_DIAGNOSIS = """
    WITH RECURSIVE up AS (
        SELECT id, parent_id FROM llo_diagnosis WHERE id = %(diagnosis)s
        UNION ALL
        SELECT d.id, d.parent_id FROM llo_diagnosis d JOIN up ON d.id = up.parent_id
    )
    SELECT EXISTS (
        SELECT 1 FROM llo_programdiagnosis pd
        WHERE pd.program_id = %(program)s AND pd.diagnosis_id IN (SELECT id FROM up)
          AND pd.valid_from <= %(on)s AND (pd.valid_to IS NULL OR pd.valid_to >= %(on)s)
    )
"""


def program_covers_diagnosis(program: Program, diagnosis: Diagnosis, *, on: date) -> bool:
    """True when the program lists the diagnosis or any node above it (E11 covers E11.9), on `on`."""
    with connection.cursor() as cursor:
        cursor.execute(_COVERS_DIAGNOSIS, {"diagnosis": diagnosis.pk, "program": program.pk, "on": on})
        return cursor.fetchone()[0]


def drug_trade_names(drug: StandardizedDrug) -> QuerySet[TradeName]:
    return TradeName.objects.filter(drug=drug).order_by("name", "id")


def drug_programs(drug: StandardizedDrug) -> QuerySet[ProgramDrug]:
    """Every list row naming this drug, past, present and future."""
    return ProgramDrug.objects.filter(drug=drug).select_related("program").order_by("program__code", "valid_from")


def diagnosis_by_code(code: str, *, on: date) -> Diagnosis | None:
    return Diagnosis.objects.valid_on(on).filter(code=code.strip().upper()).order_by("id").first()

