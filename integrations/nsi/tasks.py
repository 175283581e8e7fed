"""Celery tasks of the NSI exchange: run a requested import, check the portal for new versions."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

from celery import shared_task
from django.conf import settings

from llo.errors import ApplicationError
from llo.models import ImportMode, NsiDictionary, NsiImportRun, RunStatus
from llo.reference.nsi import progress, services

from .client import NsiClient, NsiError, read_spool

logger = logging.getLogger(__name__)


@shared_task(name="nsi.import_run", ignore_result=True)
def import_run(run_id: int) -> str:
    """Download the version to a local file (outside any transaction), then apply it in one."""
    run = NsiImportRun.objects.select_related("dictionary").filter(pk=run_id).first()
    if run is None or not services.nsi_import_start(run=run):
        return "skipped"
    oid = run.dictionary.oid
    version = run.version
    try:
        client = NsiClient.from_settings()
        if not version:
            version = client.latest_version(oid).version
        passport = client.passport(oid, version)
        NsiImportRun.objects.filter(pk=run.pk).update(version=version, rows_total=passport.rows_count)
        run.rows_total = passport.rows_count
        progress.report(run.pk, "downloading", done=0, total=None)
        with tempfile.TemporaryDirectory(prefix="nsi-") as directory:
            spool = client.spool(
                oid, version, Path(directory),
                on_progress=lambda done, total: progress.report(run.pk, "downloading", done=done, total=total),
            )
            with read_spool(spool.path) as (header, rows):
                services.nsi_import_apply(run=run, version=version, publish_date=passport.publish_date,
                                          header=header, rows=rows, source=spool.source)
        return RunStatus.SUCCEEDED
    except ApplicationError as exc:  # the version breaks a rule: nothing was applied
        services.nsi_import_fail(run=run, error=exc.message, error_rows=exc.details.get("errors"), version=version)
    except NsiError as exc:  # the portal could not be read: nothing was applied
        services.nsi_import_fail(run=run, error=exc.message, version=version)
    except Exception as exc:  # a bug must not leave the run "running" for ever
        logger.exception("NSI import run %s failed unexpectedly", run_id)
        services.nsi_import_fail(run=run, error=f"Внутренняя ошибка загрузки ({type(exc).__name__}); "
                                 "сообщите администратору системы", version=version)
    return RunStatus.FAILED


@shared_task(name="nsi.check_versions", ignore_result=True)
def check_versions() -> dict:
    """Ask the portal for each dictionary's newest version; queue imports of automatic ones."""
    services.nsi_runs_release_stuck()
    services.dictionaries_ensure()
    if not settings.NSI_BASE_URL:
        return {"checked": 0}
    client = NsiClient.from_settings()
    checked = queued = 0
    for dictionary in NsiDictionary.objects.order_by("load_order"):
        try:
            latest = client.latest_version(dictionary.oid)
        except NsiError as exc:
            services.nsi_portal_version_record(dictionary=dictionary, error=exc.message)
            continue
        checked += 1
        services.nsi_portal_version_record(dictionary=dictionary, version=latest.version)
        dictionary.refresh_from_db()
        if dictionary.mode == ImportMode.AUTOMATIC and services.needs_update(dictionary):
            if not NsiImportRun.objects.filter(dictionary=dictionary, status__in=[RunStatus.QUEUED, RunStatus.RUNNING]).exists():
                try:
                    services.nsi_import_request(dictionary=dictionary, version=latest.version)
                    queued += 1
                except ApplicationError as exc:
                    logger.warning("Automatic NSI import of %s not queued: %s", dictionary.oid, exc.message)
    return {"checked": checked, "queued": queued}
