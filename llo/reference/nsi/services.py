"""Writes of the NSI import: request a run, start it, apply a version, record a failure, record
what the portal offers, set a dictionary's mode.

The download itself belongs to `integrations/nsi` (it talks to the portal): a requested run is
published to the outbox topic `nsi.import`, whose handler there queues the Celery task.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from datetime import date

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from llo import outbox
from llo.audit import audit_context
from llo.errors import ConflictError, ValidationFailed
from llo.models import ImportMode, NsiDictionary, NsiImportRun, RunStatus

from . import dictionaries, progress
from .loader import LoadResult, load_version

logger = logging.getLogger(__name__)

IMPORT_TOPIC = "nsi.import"
CHECK_TOPIC = "nsi.check"
_VERSION = re.compile(r"^\d{1,6}(\.\d{1,6}){0,3}$")


def version_key(version: str) -> tuple[int, ...]:
    """NSI versions are dotted numbers ("1.9" < "1.10" < "2.1")."""
    if not _VERSION.match(version or ""):
        raise ValidationFailed(f"Непонятный номер версии «{version}»: ожидаются числа через точку", code="nsi.bad_version")
    return tuple(int(part) for part in version.split("."))


def dictionaries_ensure() -> None:
    """Create the rows of the dictionaries the system knows how to load (idempotent)."""
    for spec in dictionaries.DICTIONARIES:
        NsiDictionary.objects.update_or_create(
            oid=spec.oid, defaults={"name": spec.name, "load_order": spec.load_order}
        )


def _spec_of(dictionary: NsiDictionary) -> dictionaries.Dictionary:
    spec = dictionaries.get(dictionary.oid)
    if spec is None:
        raise ValidationFailed(
            f"Справочник с OID {dictionary.oid} не поддерживается: система не знает, куда его загружать",
            code="nsi.unknown_oid", details={"oid": dictionary.oid},
        )
    return spec


def nsi_import_request(*, dictionary: NsiDictionary, version: str = "", user=None) -> NsiImportRun:
    """Queue an import of `version` (empty: the newest on the portal). One at a time per dictionary."""
    _spec_of(dictionary)
    if version:
        version_key(version)
    try:
        with transaction.atomic(), audit_context(user=user, action="nsi.import_request"):
            run = NsiImportRun.objects.create(dictionary=dictionary, version=version, requested_by=user)
            outbox.publish(IMPORT_TOPIC, {"run_id": run.pk, "oid": dictionary.oid}, key=f"nsi-import-{run.pk}")
    except IntegrityError:
        raise ConflictError(
            f"Загрузка справочника «{dictionary.name}» уже выполняется: дождитесь её окончания.",
            code="nsi.import_in_progress",
        ) from None
    progress.report(run.pk, "queued")
    return run


def nsi_check_request(*, user) -> None:
    """Ask the portal for new versions now rather than at the next scheduled check."""
    with transaction.atomic(), audit_context(user=user, action="nsi.check_request"):
        outbox.publish(CHECK_TOPIC, {"user": user.pk if user else None},
                       key=f"nsi-check-{timezone.now():%Y%m%d%H%M%S}")


def nsi_import_start(*, run: NsiImportRun) -> bool:
    """queued → running; False if another worker already took it (the task is delivered at least once)."""
    taken = NsiImportRun.objects.filter(pk=run.pk, status=RunStatus.QUEUED).update(
        status=RunStatus.RUNNING, started_at=timezone.now()
    )
    if taken:
        run.refresh_from_db()
    return taken == 1


def nsi_import_apply(
    *,
    run: NsiImportRun,
    version: str,
    publish_date: date,
    header: Sequence[str],
    rows: Iterable[Sequence[str]],
    source: str,
) -> NsiImportRun:
    """Apply one version in one transaction: the records, the dictionary's loaded version and the
    run's outcome commit together, or nothing does."""
    dictionary = run.dictionary
    spec = _spec_of(dictionary)
    new_key = version_key(version)

    def on_progress(done: int) -> None:
        progress.report(run.pk, "loading", done=done, total=run.rows_total or None)

    with transaction.atomic(), audit_context(source=f"nsi:{spec.oid}:{version}", run=run.pk):
        locked = NsiDictionary.objects.select_for_update().get(pk=dictionary.pk)
        if locked.loaded_version:
            old_key = version_key(locked.loaded_version)
            if new_key < old_key:
                raise ValidationFailed(
                    f"Справочник «{spec.name}»: версия {version} старше загруженной {locked.loaded_version}; "
                    "откат на старую версию не выполняется.",
                    code="nsi.version_backwards", details={"loaded": locked.loaded_version, "offered": version},
                )
            if new_key == old_key:
                raise ConflictError(
                    f"Справочник «{spec.name}»: версия {version} уже загружена.", code="nsi.version_loaded",
                    details={"loaded": locked.loaded_version},
                )
        for dependency in spec.depends_on:
            if not NsiDictionary.objects.filter(oid=dependency).exclude(loaded_version="").exists():
                raise ValidationFailed(
                    f"Справочник «{spec.name}» ссылается на {dependency}, который ещё не загружен: загрузите сначала его.",
                    code="nsi.dependency_missing", details={"oid": dependency},
                )
        result = load_version(spec, header=header, rows=rows, publish_date=publish_date, on_progress=on_progress)
        progress.report(run.pk, "merged", done=result.rows, total=result.rows)
        now = timezone.now()
        NsiDictionary.objects.filter(pk=locked.pk).update(loaded_version=version, loaded_at=now)
        _finish(run, result, version=version, source=source, finished_at=now)
        transaction.on_commit(lambda: _analyze(result.tables))
    logger.info("NSI %s %s loaded: %s", spec.oid, version, result.tables)
    run.refresh_from_db()
    return run


def _analyze(tables: dict) -> None:
    """Fresh planner statistics once a large version is in: search plans depend on them."""
    with connection.cursor() as cursor:
        for table, counts in tables.items():
            if counts["added"] + counts["changed"] + counts["retired"] > 1000:
                cursor.execute(f"ANALYZE {table}")


def _finish(run: NsiImportRun, result: LoadResult, *, version: str, source: str, finished_at) -> None:
    main = result.main
    NsiImportRun.objects.filter(pk=run.pk).update(
        status=RunStatus.SUCCEEDED, version=version, source=source, finished_at=finished_at,
        rows_total=result.rows, added=main["added"], changed=main["changed"], retired=main["retired"],
        error="", error_rows=[], tables=[{"table": table, **counts} for table, counts in result.tables.items()],
    )
    progress.report(run.pk, "succeeded", done=result.rows, total=result.rows)


def nsi_import_fail(*, run: NsiImportRun, error: str, error_rows: list[dict] | None = None, version: str = "") -> None:
    fields = {"status": RunStatus.FAILED, "finished_at": timezone.now(), "error": error[:4000],
              "error_rows": (error_rows or [])[:50]}
    if version:
        fields["version"] = version
    NsiImportRun.objects.filter(pk=run.pk, status__in=[RunStatus.QUEUED, RunStatus.RUNNING]).update(**fields)
    progress.report(run.pk, "failed")
    logger.warning("NSI import run %s of %s failed: %s", run.pk, run.dictionary.oid, error)


def nsi_portal_version_record(*, dictionary: NsiDictionary, version: str = "", error: str = "") -> None:
    """What the portal offers now (or why it could not be asked)."""
    fields = {"portal_checked_at": timezone.now(), "portal_error": error[:1000]}
    if version:
        fields["portal_version"] = version
    NsiDictionary.objects.filter(pk=dictionary.pk).update(**fields)


def nsi_mode_set(*, dictionary: NsiDictionary, mode: str, user) -> NsiDictionary:
    if mode not in ImportMode.values:
        raise ValidationFailed(f"Неизвестный режим обновления: {mode}", code="nsi.unknown_mode")
    with transaction.atomic(), audit_context(user=user, action="nsi.mode_set"):
        NsiDictionary.objects.filter(pk=dictionary.pk).update(mode=mode)
    dictionary.refresh_from_db()
    return dictionary


def nsi_runs_release_stuck(*, older_than_hours: int = 2) -> int:
    """Runs whose worker died mid-import: mark them failed so the dictionary can be loaded again."""
    cutoff = timezone.now() - timezone.timedelta(hours=older_than_hours)
    return NsiImportRun.objects.filter(status=RunStatus.RUNNING, started_at__lt=cutoff).update(
        status=RunStatus.FAILED, finished_at=timezone.now(),
        error="Загрузка прервана (обработчик остановился); запустите её снова.",
    )


def needs_update(dictionary: NsiDictionary) -> bool:
    """The portal offers a newer version than the one in force."""
    if not dictionary.portal_version:
        return False
    if not dictionary.loaded_version:
        return True
    try:
        return version_key(dictionary.portal_version) > version_key(dictionary.loaded_version)
    except ValidationFailed:
        return False
