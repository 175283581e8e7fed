"""Social Fund register imports: request (an uploaded DBF pair, or a delta from the service),
start, apply in one transaction, record a failure. The transport (reading DBF files, calling the
service) belongs to `integrations/sfr`; a requested import is handed to it through the outbox."""

from __future__ import annotations

import logging
import shutil
import uuid
from collections.abc import Iterable
from datetime import date
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from llo import outbox, progress
from llo.audit import audit_context
from llo.errors import ConflictError, ValidationFailed

from .models import ImportSource, ImportStatus, SfrImport
from .sfr_import import load_register

logger = logging.getLogger(__name__)

IMPORT_TOPIC = "sfr.import"
PHASES = {
    "queued": "ожидает обработчика",
    "downloading": "получение изменений из сервиса СФР",
    "persons": "чтение и проверка записей о гражданах",
    "rights": "чтение и проверка записей о льготах",
    "merge": "сопоставление с регистром и запись изменений",
    "succeeded": "завершено",
    "failed": "ошибка",
}
MAX_UPLOAD_BYTES = 2 * 2**30


def report(run_id: int, phase: str, *, done: int | None = None, total: int | None = None) -> None:
    progress.report("sfr", run_id, phase, done=done, total=total)


def read_progress(run_id: int) -> dict:
    return progress.read("sfr", run_id, PHASES)


def upload_dir(run_id: int) -> Path:
    return Path(settings.UPLOAD_ROOT) / "sfr" / str(run_id)


def _request(*, user, source: str, prepare=None, **fields) -> SfrImport:
    """Create the run and hand it to the worker once committed; `prepare(run)` runs before that,
    in the same transaction (the uploaded files are put where the worker will look)."""
    try:
        with transaction.atomic(), audit_context(user=user, action="sfr.import_request"):
            run = SfrImport.objects.create(source=source, requested_by=user, **fields)
            if prepare is not None:
                prepare(run)
            # before the commit wakes a worker: written after it, "queued" could overwrite the
            # outcome of an import the worker has already finished
            report(run.pk, "queued")
            outbox.publish(IMPORT_TOPIC, {"run_id": run.pk}, key=f"sfr-import-{run.pk}")
    except IntegrityError:
        raise ConflictError("Загрузка этого вида уже выполняется: дождитесь её окончания",
                            code="sfr.import_in_progress") from None
    return run


def sfr_dbf_import_request(*, user, persons_file, rights_file, file_date: date) -> SfrImport:
    """Queue the load of an uploaded C_REGO/C_REGL pair (a full snapshot of the region's register).
    The files are kept under UPLOAD_ROOT for the worker; they are checked there, not here."""
    for upload, name in ((persons_file, "C_REGO"), (rights_file, "C_REGL")):
        if upload is None:
            raise ValidationFailed(f"Не выбран файл {name}", code="sfr.file_missing")
        if upload.size > MAX_UPLOAD_BYTES:
            raise ValidationFailed(f"Файл {upload.name} больше 2 ГБ", code="sfr.file_too_large")
        upload.seek(0)
        first = upload.read(1)
        upload.seek(0)
        if first != b"\x03":  # dBase III; the worker checks the rest
            raise ValidationFailed(f"Файл {upload.name} ({name}) не является файлом DBF: выберите выгрузку СФР",
                                   code="sfr.not_dbf")
    if file_date > timezone.localdate():
        raise ValidationFailed("Дата выгрузки в будущем", code="sfr.file_date_future")
    staging = Path(settings.UPLOAD_ROOT) / "sfr" / f"incoming-{uuid.uuid4().hex}"
    staging.mkdir(parents=True)
    placed: list[Path] = []

    def place(run: SfrImport) -> None:
        placed.append(upload_dir(run.pk))
        staging.rename(placed[0])

    try:
        for upload, target in ((persons_file, "C_REGO.DBF"), (rights_file, "C_REGL.DBF")):
            with (staging / target).open("wb") as out:
                for chunk in upload.chunks():
                    out.write(chunk)
        return _request(user=user, source=ImportSource.DBF, prepare=place, persons_file=persons_file.name,
                        rights_file=rights_file.name, file_date=file_date)
    except BaseException:
        for directory in (staging, *placed):  # nothing requested: the personal data goes
            shutil.rmtree(directory, ignore_errors=True)
        raise


def sfr_soap_import_request(*, user) -> SfrImport:
    """Queue fetching the changes since the last delta loaded (everything, the first time)."""
    return _request(user=user, source=ImportSource.SOAP, from_version=last_loaded_version())


def last_loaded_version() -> int:
    last = (SfrImport.objects.filter(source=ImportSource.SOAP, status=ImportStatus.SUCCEEDED)
            .exclude(to_version=None).order_by("-to_version").values_list("to_version", flat=True).first())
    return last or 0


def sfr_import_start(*, run: SfrImport) -> bool:
    taken = SfrImport.objects.filter(pk=run.pk, status=ImportStatus.QUEUED).update(
        status=ImportStatus.RUNNING, started_at=timezone.now())
    if taken:
        run.refresh_from_db()
    return taken == 1


def sfr_import_apply(*, run: SfrImport, persons: Iterable[tuple[int, dict]], rights: Iterable[tuple[int, dict]],
                     full: bool, file_date: date, to_version: int | None = None) -> SfrImport:
    """Load the records in one transaction with the run's outcome; on any error nothing changes."""
    def on_progress(phase: str, done: int | None) -> None:
        report(run.pk, phase, done=done)

    with transaction.atomic(), audit_context(source=f"sfr:{run.source}", run=run.pk):
        # A file and a sync may both be active (one of each kind); their loads must not interleave
        # (the same persons inserted twice, a first load rebuilding keys under another): the second
        # waits here for the first to commit, then merges against what it wrote.
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext('registry_sfr_import'))")
        outcome = load_register(run_id=run.pk, persons=persons, rights=rights, full=full, file_date=file_date,
                                today=timezone.localdate(), on_progress=on_progress)
        SfrImport.objects.filter(pk=run.pk).update(
            status=ImportStatus.SUCCEEDED, finished_at=timezone.now(), file_date=file_date, to_version=to_version,
            persons_read=outcome.persons_read, rights_read=outcome.rights_read, error="", **outcome.counts)
        written = sum(outcome.counts.get(k, 0) for k in ("persons_added", "persons_changed", "rights_added",
                                                           "rights_changed", "rights_closed"))
        if written > ANALYZE_AFTER:
            transaction.on_commit(_analyze)
    report(run.pk, "succeeded")
    run.refresh_from_db()
    logger.info("SFR import %s loaded: %s", run.pk, outcome.counts)
    return run


# Statistics are refreshed at once after a load that wrote this many rows (the first load, a big
# change): queries planned on an empty table's statistics would scan. Small deltas leave it to autovacuum.
ANALYZE_AFTER = 10_000


def _analyze() -> None:
    with connection.cursor() as cursor:
        for table in ("registry_person", "registry_benefitright", "registry_registerentry", "registry_nsurefusal"):
            cursor.execute(f"ANALYZE {table}")


def sfr_import_fail(*, run: SfrImport, error: str) -> None:
    SfrImport.objects.filter(pk=run.pk, status__in=[ImportStatus.QUEUED, ImportStatus.RUNNING]).update(
        status=ImportStatus.FAILED, finished_at=timezone.now(), error=error[:4000])
    report(run.pk, "failed")
    logger.warning("SFR import %s failed: %s", run.pk, error)


def sfr_imports_release_stuck(*, older_than_hours: int = 3) -> int:
    cutoff = timezone.now() - timezone.timedelta(hours=older_than_hours)
    return SfrImport.objects.filter(status=ImportStatus.RUNNING, started_at__lt=cutoff).update(
        status=ImportStatus.FAILED, finished_at=timezone.now(),
        error="Загрузка прервана (обработчик остановился); запустите её снова.")
