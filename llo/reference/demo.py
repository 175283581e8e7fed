"""Reference data of the demo region: version 1.0 of every NSI dictionary (loaded through the
import service, so the import journal shows it), the federal benefit categories mapped to the
NSI list, and the programs with their lists. Idempotent."""

from datetime import date

from django.db import transaction

from llo.audit import audit_context
from llo.models import (
    BenefitCategory, Diagnosis, NsiBenefitCategory, NsiDictionary, NsiImportRun, Program, ProgramCategory,
    ProgramDiagnosis, ProgramDrug, RunStatus, StandardizedDrug,
)

from . import demo_catalogue as data
from . import demo_data
from .nsi import dictionaries
from .nsi.services import dictionaries_ensure, nsi_import_apply

SINCE = date(2026, 1, 1)


def seed_reference() -> None:
    dictionaries_ensure()
    version = demo_data.SEED_VERSION
    for spec in sorted(dictionaries.DICTIONARIES, key=lambda s: s.load_order):
        dictionary = NsiDictionary.objects.get(oid=spec.oid)
        if dictionary.loaded_version:
            continue
        run = NsiImportRun.objects.create(dictionary=dictionary, version=version.version, status=RunStatus.RUNNING,
                                          source="demo")
        header, rows = demo_data.dictionary_rows(spec.oid, version.version)
        nsi_import_apply(run=run, version=version.version, publish_date=version.publish_date, header=header,
                         rows=rows, source="demo")
    with transaction.atomic(), audit_context(source="seed_demo"):
        _categories()
        _programs()


def _categories() -> None:
    nsi = {c.nsi_code: c for c in NsiBenefitCategory.objects.all()}
    for federal_code, name, nsi_code in data.BENEFIT_CATEGORIES:
        BenefitCategory.objects.get_or_create(
            federal_code=federal_code, defaults={"name": name, "nsi_category": nsi.get(nsi_code)}
        )


def _programs() -> None:
    categories = {c.federal_code: c for c in BenefitCategory.objects.all()}
    for (code, name, kind, funding, share, percent, by_diagnosis, basis, category_codes, icd_codes,
         inns) in data.PROGRAMS:
        program, created = Program.objects.get_or_create(code=code, defaults={
            "name": name, "kind": kind, "funding_source": funding, "payment_share": share,
            "payment_percent": percent, "requires_diagnosis": by_diagnosis, "basis": basis, "valid_from": SINCE,
        })
        if not created:
            continue
        ProgramCategory.objects.bulk_create(
            ProgramCategory(program=program, category=categories[c], valid_from=SINCE) for c in category_codes
        )
        ProgramDiagnosis.objects.bulk_create(
            ProgramDiagnosis(program=program, diagnosis=Diagnosis.objects.get(code=c), valid_from=SINCE)
            for c in icd_codes
        )
        drugs = StandardizedDrug.objects.filter(inn__name__in=inns).order_by("pk")
        missing = set(inns) - set(drugs.values_list("inn__name", flat=True))
        if missing:
            raise LookupError(f"demo program {code} names unknown INNs: {sorted(missing)}")
        ProgramDrug.objects.bulk_create(ProgramDrug(program=program, drug=d, valid_from=SINCE) for d in drugs)
