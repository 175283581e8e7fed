"""NSI imports end to end: a request goes through the outbox to a real Celery worker, which
downloads the version from the portal emulator over HTTP and applies it; failures of the portal
or of the data leave the previous version in force and say why."""

import time

import pytest

from integrations.nsi import tasks
from llo.models import ImportMode, NsiDictionary, NsiImportRun, Package, RunStatus
from llo.reference import demo_data
from llo.reference.nsi import dictionaries as d
from llo.reference.nsi.services import dictionaries_ensure, nsi_import_request

from .conftest import NSI_USER_KEY


@pytest.fixture
def portal(settings, nsi_url):
    settings.NSI_BASE_URL = nsi_url
    settings.NSI_USER_KEY = NSI_USER_KEY
    settings.NSI_RETRIES = 1
    settings.NSI_TIMEOUT = 5
    return nsi_url


def wait_for(run: NsiImportRun, timeout: float = 60) -> NsiImportRun:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if not run.is_active:
            return run
        time.sleep(0.2)
    raise AssertionError(f"run {run.pk} still {run.status}")


def run_now(dictionary_oid: str, version: str = "") -> NsiImportRun:
    """Request an import and run its task in this thread (the worker path is tested separately)."""
    run = nsi_import_request(dictionary=NsiDictionary.objects.get(oid=dictionary_oid), version=version)
    tasks.import_run(run.pk)
    run.refresh_from_db()
    return run


@pytest.mark.django_db(transaction=True)
def test_a_requested_import_reaches_the_worker_and_loads_the_new_version(portal, reference, celery_worker_thread):
    smnn = nsi_import_request(dictionary=NsiDictionary.objects.get(oid=d.SMNN))  # newest: 1.1
    assert wait_for(smnn).status == RunStatus.SUCCEEDED, smnn.error
    esklp = nsi_import_request(dictionary=NsiDictionary.objects.get(oid=d.ESKLP))
    esklp = wait_for(esklp)
    assert (esklp.status, esklp.version, esklp.source) == (RunStatus.SUCCEEDED, "1.1", "csv_zip")
    assert (esklp.rows_total, esklp.added, esklp.changed, esklp.retired) == (335, 1, 18, 1)
    assert NsiDictionary.objects.get(oid=d.ESKLP).loaded_version == "1.1"
    assert Package.objects.filter(trade_name__name="Оземпик").exists()


@pytest.mark.django_db
def test_rest_paging_is_used_when_the_bulk_file_is_broken(portal, reference, nsi_control):
    nsi_control("config", {"corrupt": "zip"})
    run = run_now(d.SMNN, "1.1")
    assert (run.status, run.source, run.added) == (RunStatus.SUCCEEDED, "rest", 1), run.error


@pytest.mark.django_db
def test_portal_down_fails_the_run_and_changes_nothing(portal, reference, nsi_control):
    nsi_control("config", {"down": True})
    packages = Package.objects.count()
    run = run_now(d.ESKLP, "1.1")
    assert run.status == RunStatus.FAILED and "недоступен" in run.error
    assert NsiDictionary.objects.get(oid=d.ESKLP).loaded_version == "1.0"
    assert Package.objects.count() == packages
    assert NSI_USER_KEY not in run.error


@pytest.mark.django_db
def test_a_bad_version_on_the_portal_fails_naming_record_and_field(portal, reference, nsi_control):
    header, rows = demo_data.dictionary_rows(d.ESKLP, "1.0")
    rows = [list(r) for r in rows]
    gtin = header.index("GTIN")
    rows[41][gtin] = rows[41][gtin][:-1] + str((int(rows[41][gtin][-1]) + 3) % 10)
    nsi_control("publish", {"oid": d.ESKLP, "version": "1.2", "publish_date": "20.11.2026", "header": header,
                            "rows": rows})
    run = run_now(d.ESKLP, "1.2")
    assert run.status == RunStatus.FAILED
    assert run.error_rows[0] == {"row": 42, "field": "GTIN", "message": run.error_rows[0]["message"]}
    assert "контрольная цифра" in run.error and d.ESKLP in run.error
    assert NsiDictionary.objects.get(oid=d.ESKLP).loaded_version == "1.0"


@pytest.mark.django_db
def test_malformed_csv_on_the_portal_fails_the_run(portal, reference, nsi_control):
    nsi_control("publish", {"oid": d.UNITS, "version": "1.3", "publish_date": "20.11.2026",
                            "raw_csv": 'ID;FULL_NAME;SHORT_NAME;DATE_BEGIN;DATE_END\n1;"Штука;шт;;\n'})
    run = run_now(d.UNITS, "1.3")
    assert run.status == RunStatus.FAILED and "повреждён" in run.error
    assert NsiDictionary.objects.get(oid=d.UNITS).loaded_version == "1.0"


@pytest.mark.django_db
def test_a_version_older_than_the_loaded_one_is_refused(portal, reference, nsi_control):
    header, rows = demo_data.dictionary_rows(d.ROUTES, "1.0")
    nsi_control("publish", {"oid": d.ROUTES, "version": "0.9", "publish_date": "22.11.2026", "header": header,
                            "rows": [list(r) for r in rows]})
    run = run_now(d.ROUTES)  # "newest" by publication date is 0.9
    assert run.status == RunStatus.FAILED and "старше загруженной 1.0" in run.error


@pytest.mark.django_db
def test_check_versions_records_the_portal_and_imports_automatic_dictionaries(portal, reference, nsi_control):
    NsiDictionary.objects.filter(oid=d.UNITS).update(mode=ImportMode.AUTOMATIC)
    result = tasks.check_versions()
    assert result == {"checked": 9, "queued": 1}
    units = NsiDictionary.objects.get(oid=d.UNITS)
    assert units.portal_version == "1.1" and units.portal_checked_at and not units.portal_error
    queued = NsiImportRun.objects.get(dictionary=units, status=RunStatus.QUEUED)
    assert queued.version == "1.1" and queued.requested_by is None
    assert not NsiImportRun.objects.filter(dictionary__oid=d.ESKLP, status=RunStatus.QUEUED).exists()  # manual

    nsi_control("config", {"down": True})
    tasks.check_versions()
    esklp = NsiDictionary.objects.get(oid=d.ESKLP)
    assert esklp.portal_version == "1.1" and "недоступен" in esklp.portal_error


@pytest.mark.django_db
def test_without_a_portal_address_nothing_is_checked(settings, reference):
    settings.NSI_BASE_URL = ""
    dictionaries_ensure()
    assert tasks.check_versions() == {"checked": 0}
    run = run_now(d.UNITS, "1.1")
    assert run.status == RunStatus.FAILED and "NSI_BASE_URL" in run.error
