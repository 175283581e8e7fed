"""Celery tasks of the Social Fund exchange: load a requested import (an uploaded DBF pair or the
service's changes), and request the service's changes on a schedule."""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from contextlib import ExitStack
from pathlib import Path

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from llo.errors import ApplicationError
from registry.models import ImportSource, ImportStatus, SfrImport
from registry.sfr_services import (
    last_loaded_version, report, sfr_import_apply, sfr_import_fail, sfr_import_start, sfr_imports_release_stuck,
    sfr_soap_import_request, upload_dir,
)

from .client import SfrClient, SfrError
from .dbf import PERSON_FIELDS, RIGHT_FIELDS, DbfError, read_dbf

logger = logging.getLogger(__name__)


@shared_task(name="sfr.import_run", ignore_result=True)
def import_run(run_id: int) -> str:
    run = SfrImport.objects.filter(pk=run_id).first()
    if run is None or not sfr_import_start(run=run):
        return "skipped"
    try:
        if run.source == ImportSource.DBF:
            _load_files(run)
        else:
            _load_changes(run)
        return ImportStatus.SUCCEEDED
    except (DbfError, SfrError) as exc:  # the file or the service: nothing was applied
        sfr_import_fail(run=run, error=exc.message)
    except ApplicationError as exc:
        sfr_import_fail(run=run, error=exc.message)
    except Exception as exc:  # a bug must not leave the import "running" for ever
        logger.exception("SFR import %s failed unexpectedly", run_id)
        sfr_import_fail(run=run, error=f"Внутренняя ошибка загрузки ({type(exc).__name__}); "
                                       "сообщите администратору системы")
    finally:
        if run.source == ImportSource.DBF:  # personal data does not stay on disk
            shutil.rmtree(upload_dir(run.pk), ignore_errors=True)
    return ImportStatus.FAILED


def _load_files(run: SfrImport) -> None:
    directory = upload_dir(run.pk)
    with ExitStack() as stack:
        _, persons = stack.enter_context(read_dbf(directory / "C_REGO.DBF", required=PERSON_FIELDS, name="C_REGO"))
        _, rights = stack.enter_context(read_dbf(directory / "C_REGL.DBF", required=RIGHT_FIELDS, name="C_REGL"))
        sfr_import_apply(run=run, persons=persons, rights=rights, full=True, file_date=run.file_date)


def _load_changes(run: SfrImport) -> None:
    """Fetch the page set to local files first (no network inside the transaction), then apply."""
    since = run.from_version or 0
    with SfrClient.from_settings() as client, tempfile.TemporaryDirectory(prefix="sfr-") as tmp:
        persons_path, rights_path = Path(tmp) / "persons.jsonl", Path(tmp) / "rights.jsonl"
        version, persons_count = since, 0
        with persons_path.open("w", encoding="utf-8") as persons_out, rights_path.open("w", encoding="utf-8") as rights_out:
            for page in client.changes(since):
                version = page.version
                for action, person, benefits in page.persons:
                    persons_out.write(json.dumps({**person, "_action": action}, ensure_ascii=False) + "\n")
                    for benefit in benefits:
                        rights_out.write(json.dumps(benefit, ensure_ascii=False) + "\n")
                    persons_count += 1
                report(run.pk, "downloading", done=persons_count)
        with persons_path.open(encoding="utf-8") as persons_in, rights_path.open(encoding="utf-8") as rights_in:
            sfr_import_apply(
                run=run, persons=((n, json.loads(line)) for n, line in enumerate(persons_in, start=1)),
                rights=((n, json.loads(line)) for n, line in enumerate(rights_in, start=1)),
                full=since == 0, file_date=timezone.localdate(), to_version=version,
            )


@shared_task(name="sfr.sync_scheduled", ignore_result=True)
def sync_scheduled() -> str:
    """Ask the service for the changes since the last delta, unless one is being loaded already."""
    sfr_imports_release_stuck()
    if not settings.SFR_WSDL_URL:
        return "not configured"
    if SfrImport.objects.filter(source=ImportSource.SOAP, status__in=[ImportStatus.QUEUED, ImportStatus.RUNNING]).exists():
        return "busy"
    try:
        version, _ = SfrClient.from_settings().current_version()
    except SfrError as exc:
        logger.warning("SFR service not reachable for the scheduled sync: %s", exc.message)
        return "unreachable"
    if version <= last_loaded_version():
        return "up to date"
    sfr_soap_import_request(user=None)
    return "queued"
