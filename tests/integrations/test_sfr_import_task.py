"""Social Fund register imports end to end: a request becomes an outbox message, the outbox hands
it to a real Celery worker (in this process, on the real Redis broker), and the worker reads an
uploaded DBF pair or pages the changes out of the service emulator over real HTTP and applies them
in one transaction on PostgreSQL.

Pinned here: the counts equal what the source holds; the progress is readable while and after;
a repeat changes nothing; every failure (the service broken mid-stream or down, bad files,
hostile XML) fails the run with a readable Russian reason and leaves the register exactly as it
was; bad rows are rejected one by one while the rest loads; one import of a kind at a time.
"""

from __future__ import annotations

import http.server
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from celery.signals import before_task_publish
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.utils import timezone
from pghistory.models import Events

from integrations.sfr.dbf import PERSON_FIELDS, PERSONS_LAYOUT, RIGHT_FIELDS, RIGHTS_LAYOUT, read_dbf, write_dbf
from integrations.sfr.emulator import soap as emulator_soap
from integrations.sfr.tasks import sync_scheduled
from llo.errors import ConflictError, ValidationFailed
from llo.models import OutboxMessage
from registry import sfr_services
from registry.models import BenefitRight, ImportStatus, Person, RegisterEntry, SfrImport, SfrReject
from registry.seeding import load_register_files, write_register_files
from registry.snils import format_snils
from registry.synthetic import Region

from .conftest import SFR_PERSONS, SFR_REGION

REGISTER_TABLES = ("registry_person", "registry_benefitright", "registry_registerentry", "registry_nsurefusal")
HOSTILE_MESSAGE = ("содержит DTD, сущности XML или ссылки на внешние ресурсы (возможна атака на разбор XML): "
                   "ответ отклонён без разбора")
PHASE_ORDER = ("queued", "downloading", "persons", "rights", "merge", "succeeded")

# Progress lives in the cache under the run's id, and ids start again with each test database: an
# earlier session's progress must not be read. (`clean_cache` runs before any worker starts.)
pytestmark = pytest.mark.usefixtures("clean_cache")


# --- fixtures and helpers ------------------------------------------------------------------------

@pytest.fixture
def uploads(settings, tmp_path):
    """Uploaded files are kept under a directory of this test's own."""
    settings.UPLOAD_ROOT = tmp_path / "uploads"
    return settings.UPLOAD_ROOT


@pytest.fixture
def sfr_service(settings, sfr_url):
    """The settings point the worker's client at the emulator: pages of 10, one quick retry."""
    settings.SFR_WSDL_URL = sfr_url
    settings.SFR_REGION = SFR_REGION
    settings.SFR_RETRIES = 1
    settings.SFR_TIMEOUT = 5
    settings.SFR_PAGE_SIZE = 10
    return sfr_url


def region(seed: int) -> Region:
    return Region(seed=seed, today=timezone.localdate(), okato=django_settings.LLO_REGION_OKATO)


def register_state() -> dict:
    """Every row of the register's tables (a count and a digest of the rows as text, timestamps
    included) and the number of audit events: equal states mean not a row, not a timestamp, not an
    event was written."""
    state = {}
    with connection.cursor() as cursor:
        for table in REGISTER_TABLES:
            cursor.execute(f"SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t.id), '')) FROM {table} t")
            state[table] = cursor.fetchone()
    state["events"] = Events.objects.count()
    return state


def wait_for(run: SfrImport, timeout: float = 60) -> SfrImport:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if not run.is_active:
            return run
        time.sleep(0.1)
    raise AssertionError(f"import {run.pk} still {run.status}: {sfr_services.read_progress(run.pk)}")


def final_progress(run: SfrImport, timeout: float = 10) -> dict:
    """The progress once it has caught up with the finished run: the worker commits the outcome
    first and reports it to the cache a moment later."""
    deadline = time.monotonic() + timeout
    while True:
        progress = sfr_services.read_progress(run.pk)
        if progress["phase"] in ("succeeded", "failed") or time.monotonic() > deadline:
            return progress
        time.sleep(0.02)


def uploaded(path: Path) -> SimpleUploadedFile:
    return SimpleUploadedFile(path.name, path.read_bytes(), content_type="application/octet-stream")


def request_files(user, persons_path: Path, rights_path: Path) -> SfrImport:
    return sfr_services.sfr_dbf_import_request(user=user, persons_file=uploaded(persons_path),
                                               rights_file=uploaded(rights_path), file_date=timezone.localdate())


def request_sync(user) -> SfrImport:
    return sfr_services.sfr_soap_import_request(user=user)


def records_in(path: Path, required) -> list[dict]:
    with read_dbf(path, required=required) as (_, records):
        return [record for _, record in records]


def counts(run: SfrImport) -> tuple:
    return (run.persons_added, run.persons_changed, run.rights_added, run.rights_changed, run.rights_closed,
            run.rejected)


def digits(ss: str) -> str:
    return ss.replace("-", "").replace(" ", "")


def service_register(sfr_client, since: int = 0) -> list[tuple[str, dict, list[dict]]]:
    """What the service lists after `since`, read through the client (the test's own connection)."""
    return [person for page in sfr_client.changes(since) for person in page.persons]


# --- DBF files through the outbox and the worker -------------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_an_uploaded_pair_is_loaded_by_the_worker_and_the_same_pair_again_changes_nothing(
        reference, ministry_admin, uploads, tmp_path, celery_worker_thread):
    """The request is an outbox message `sfr.import`; the worker loads as many persons and rights as
    the files hold, the progress reads «завершено» and the uploaded copies are deleted. The same
    files again: nothing added, changed or closed — not a row, a timestamp or an audit event."""
    persons_path, rights_path = write_register_files(region(11), 60, tmp_path / "files")
    persons, rights = records_in(persons_path, PERSON_FIELDS), records_in(rights_path, RIGHT_FIELDS)
    assert len(persons) == 60 and len(rights) >= 60

    run = request_files(ministry_admin, persons_path, rights_path)
    message = OutboxMessage.objects.get(key=f"sfr-import-{run.pk}")
    assert (message.topic, message.payload) == ("sfr.import", {"run_id": run.pk})
    run = wait_for(run)
    assert run.status == ImportStatus.SUCCEEDED, run.error
    assert (run.persons_read, run.rights_read) == (len(persons), len(rights))
    assert counts(run) == (len(persons), 0, len(rights), 0, 0, 0)
    assert (run.persons_file, run.rights_file, run.requested_by, run.file_date) == (
        "C_REGO.DBF", "C_REGL.DBF", ministry_admin, timezone.localdate())
    assert Person.objects.count() == len(persons) and BenefitRight.objects.count() == len(rights)
    assert RegisterEntry.objects.filter(register="federal").count() == len(persons)
    assert set(Person.objects.values_list("snils", flat=True)) == {digits(p["SS"]) for p in persons}
    assert final_progress(run) == {
        "phase": "succeeded", "label": "завершено", "done": None, "total": None, "percent": None}
    message.refresh_from_db()
    assert (message.status, message.result) == ("done", {"queued": run.pk})
    assert not sfr_services.upload_dir(run.pk).exists()  # personal data does not stay on disk

    before = register_state()
    again = wait_for(request_files(ministry_admin, persons_path, rights_path))
    assert again.status == ImportStatus.SUCCEEDED, again.error
    assert (again.persons_read, again.rights_read) == (len(persons), len(rights))
    assert counts(again) == (0, 0, 0, 0, 0, 0)
    assert register_state() == before


@pytest.mark.django_db(transaction=True)
def test_the_progress_reads_queued_before_a_worker_can_be_woken(reference, ministry_admin):
    """The wake-up of the outbox dispatcher is the moment a worker may start the import, so by then
    the progress must already read «ожидает обработчика»: written after it, a late «queued» could
    overwrite the «завершено» of a quick import for good."""
    phases = []

    def at_wake_up(sender=None, **_kwargs):
        if sender == "llo.outbox_dispatch":
            newest = SfrImport.objects.order_by("-pk").first()
            phases.append(sfr_services.read_progress(newest.pk)["phase"] if newest else None)

    before_task_publish.connect(at_wake_up, weak=False)
    try:
        run = request_sync(ministry_admin)
    finally:
        before_task_publish.disconnect(at_wake_up)
    assert phases == ["queued"]
    assert sfr_services.read_progress(run.pk)["label"] == "ожидает обработчика"


# --- the SOAP service through the outbox and the worker ------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_a_sync_loads_the_services_register_and_a_second_sync_changes_nothing(
        reference, ministry_admin, sfr_service, sfr_client, sfr_control, celery_worker_thread):
    """The first sync asks for everything (since 0) and brings the register to the service's
    version; the next one, with no new version, changes nothing; a published version brings only
    its own change."""
    listed = service_register(sfr_client)
    benefits = sum(len(b) for _, _, b in listed)
    excluded = [p for action, p, _ in listed if action == "exclude"]
    assert len(listed) == SFR_PERSONS + 5 and len(excluded) == 2  # version 1 and the designed delta

    first = wait_for(request_sync(ministry_admin))
    assert first.status == ImportStatus.SUCCEEDED, first.error
    assert (first.from_version, first.to_version, first.persons_read, first.rights_read) == (
        0, 2, len(listed), benefits)
    assert (first.persons_added, first.rights_added, first.rejected) == (len(listed), benefits, 0)
    assert sorted(RegisterEntry.objects.filter(register="federal", excluded_on__isnull=False)
                  .values_list("person__snils", flat=True)) == sorted(digits(p["SS"]) for p in excluded)

    before = register_state()
    second = wait_for(request_sync(ministry_admin))
    assert second.status == ImportStatus.SUCCEEDED, second.error
    assert (second.from_version, second.to_version, second.persons_read, second.rights_read) == (2, 2, 0, 0)
    assert counts(second) == (0, 0, 0, 0, 0, 0)
    assert register_state() == before

    action, person, person_benefits = next(item for item in listed if item[0] == "upsert")
    sfr_control("publish", {"version": 3, "persons": [
        {"action": "upsert", "person": dict(person, FAM="Новосёлова"), "benefits": person_benefits}]})
    third = wait_for(request_sync(ministry_admin))
    assert (third.status, third.from_version, third.to_version) == (ImportStatus.SUCCEEDED, 2, 3), third.error
    assert counts(third) == (0, 1, 0, 0, 0, 0)
    assert Person.objects.get(snils=digits(person["SS"])).last_name == "Новосёлова"


@pytest.mark.django_db(transaction=True)
def test_progress_is_readable_while_the_worker_downloads_and_after(
        reference, ministry_admin, sfr_service, sfr_control, celery_worker_thread):
    """While slow pages come, the progress names the phase and counts the persons received so far;
    phases only move forward; at the end it reads «завершено»."""
    sfr_control("config", {"latency_ms": 150})
    run = request_sync(ministry_admin)
    seen = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        progress = sfr_services.read_progress(run.pk)
        if progress["phase"] and (not seen or seen[-1] != progress):
            seen.append(progress)
        run.refresh_from_db()
        if not run.is_active:
            break
        time.sleep(0.02)
    assert run.status == ImportStatus.SUCCEEDED, run.error
    downloading = [p["done"] for p in seen if p["phase"] == "downloading"]
    assert len(downloading) >= 2 and downloading == sorted(downloading) and downloading[0] % 10 == 0, seen
    assert {p["label"] for p in seen if p["phase"] == "downloading"} == {"получение изменений из сервиса СФР"}
    order = [PHASE_ORDER.index(p["phase"]) for p in seen]
    assert order == sorted(order), seen
    assert final_progress(run)["label"] == "завершено"


@pytest.mark.django_db(transaction=True)
def test_a_sync_broken_mid_stream_or_facing_a_dead_service_changes_nothing_and_a_later_one_loads(
        reference, ministry_admin, sfr_service, sfr_client, sfr_control, celery_worker_thread):
    """Pages received before a page breaks off are not applied; a service that drops every
    connection fails the run too. Either way: status «failed», a Russian reason naming the request,
    the register untouched, the loaded version unchanged; once the service recovers the same delta
    loads."""
    assert wait_for(request_sync(ministry_admin)).status == ImportStatus.SUCCEEDED
    renamed = [{"action": "upsert", "person": dict(person, FAM="Переименованная"), "benefits": benefits}
               for action, person, benefits in service_register(sfr_client) if action == "upsert"][:12]
    sfr_control("publish", {"version": 3, "persons": renamed})  # two pages of 10
    before = register_state()

    sfr_control("config", {"fail_on_page": 2})
    broken = wait_for(request_sync(ministry_admin))
    assert broken.status == ImportStatus.FAILED
    assert broken.error == ("Сервис СФР недоступен: соединение не установлено или разорвано (изменения регистра "
                            "после версии 2, страница 2); загрузка будет повторена")
    assert final_progress(broken)["label"] == "ошибка"
    assert register_state() == before and not SfrReject.objects.exists()
    assert sfr_services.last_loaded_version() == 2

    sfr_control("config", {"fail_on_page": None, "down": True})
    down = wait_for(request_sync(ministry_admin))
    assert down.status == ImportStatus.FAILED
    assert down.error.startswith("Сервис СФР недоступен: соединение не установлено или разорвано") and (
        "страница 1" in down.error), down.error
    assert register_state() == before

    sfr_control("config", {"down": False})
    healed = wait_for(request_sync(ministry_admin))
    assert (healed.status, healed.from_version, healed.to_version) == (ImportStatus.SUCCEEDED, 2, 3), healed.error
    assert counts(healed) == (0, 12, 0, 0, 0, 0)
    assert Person.objects.filter(last_name="Переименованная").count() == 12


# --- bad input ------------------------------------------------------------------------------------

def _rewrite(path: Path, layout, encoding="cp866", drop=()):
    records = records_in(path, ())
    write_dbf(path, [f for f in layout if f.name not in drop],
              ({k: v for k, v in r.items() if k not in drop} for r in records), encoding=encoding)


def not_a_dbf(persons: Path, rights: Path) -> None:
    """Starts like dBase III (so the upload passes its first-byte check), then is nothing of the kind."""
    persons.write_bytes(b"\x03" + "SS;FAM;IM;OT\n112-233-445 95;Иванов\n".encode())


def truncated(persons: Path, rights: Path) -> None:
    rights.write_bytes(rights.read_bytes()[:-500])


def unknown_code_page(persons: Path, rights: Path) -> None:
    data = bytearray(persons.read_bytes())
    data[29] = 0x03
    persons.write_bytes(bytes(data))


def code_page_lies(persons: Path, rights: Path) -> None:
    _rewrite(persons, PERSONS_LAYOUT, encoding="cp1251")
    data = bytearray(persons.read_bytes())
    data[29] = 0x65  # "cp866"
    persons.write_bytes(bytes(data))


def field_missing(persons: Path, rights: Path) -> None:
    _rewrite(persons, PERSONS_LAYOUT, drop=("DR",))


def damaged_record(persons: Path, rights: Path) -> None:
    """Record 7 of C_REGL loses its deletion flag: found while reading, after C_REGO was staged."""
    data = bytearray(rights.read_bytes())
    header, length = int.from_bytes(data[8:10], "little"), int.from_bytes(data[10:12], "little")
    data[header + 6 * length] = ord("#")
    rights.write_bytes(bytes(data))


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("damage, error", [
    (not_a_dbf, "Заголовок файла C_REGO повреждён"),
    (truncated, "Файл C_REGL обрезан: в заголовке"),
    (unknown_code_page, "В заголовке файла C_REGO указана неизвестная кодировка (код драйвера языка 0x03, байт 29)"),
    (code_page_lies, "Файл C_REGO записан не в кодировке cp866, указанной в заголовке"),
    (field_missing, "В файле C_REGO нет поля DR"),
    (damaged_record, "Файл C_REGL повреждён: запись 7 не начинается с признака удаления"),
], ids=lambda v: getattr(v, "__name__", ""))
def test_a_broken_file_fails_the_run_and_changes_nothing(
        reference, ministry_admin, uploads, tmp_path, celery_worker_thread, damage, error):
    """A register is loaded; a newer pair (which would add 30 persons and close everyone else's
    rights) arrives broken: the run fails with the reader's Russian message naming the file, the
    register stays exactly as it was, no record is reported as rejected, the copies are deleted."""
    load_register_files(*write_register_files(region(21), 30, tmp_path / "loaded"), file_date=timezone.localdate())
    persons_path, rights_path = write_register_files(region(22), 30, tmp_path / "broken")
    damage(persons_path, rights_path)
    before = register_state()

    run = wait_for(request_files(ministry_admin, persons_path, rights_path))
    assert run.status == ImportStatus.FAILED
    assert run.error.startswith(error), run.error
    assert register_state() == before
    assert counts(run) == (0, 0, 0, 0, 0, 0) and not SfrReject.objects.filter(sfr_import=run).exists()
    assert final_progress(run)["phase"] == "failed"
    assert not sfr_services.upload_dir(run.pk).exists()


@pytest.mark.django_db
def test_a_rights_file_without_its_persons_file_is_refused_before_anything_is_queued(
        reference, ministry_admin, uploads, tmp_path):
    """Without C_REGO (or with a date of unloading still to come) the request is refused at once:
    no import, no outbox message, no file kept."""
    persons_path, rights_path = write_register_files(region(23), 5, tmp_path / "files")
    with pytest.raises(ValidationFailed) as refused:
        sfr_services.sfr_dbf_import_request(user=ministry_admin, persons_file=None,
                                            rights_file=uploaded(rights_path), file_date=timezone.localdate())
    assert (refused.value.code, refused.value.message) == ("sfr.file_missing", "Не выбран файл C_REGO")
    with pytest.raises(ValidationFailed) as refused:
        sfr_services.sfr_dbf_import_request(user=ministry_admin, persons_file=uploaded(persons_path),
                                            rights_file=uploaded(rights_path),
                                            file_date=timezone.localdate() + timedelta(days=1))
    assert refused.value.code == "sfr.file_date_future"
    spreadsheet = tmp_path / "C_REGO.csv"
    spreadsheet.write_text("SS;FAM;IM\n112-233-445 95;Иванов;Иван\n", encoding="utf-8")
    with pytest.raises(ValidationFailed) as refused:
        sfr_services.sfr_dbf_import_request(user=ministry_admin, persons_file=uploaded(spreadsheet),
                                            rights_file=uploaded(rights_path), file_date=timezone.localdate())
    assert refused.value.code == "sfr.not_dbf" and "C_REGO" in refused.value.message
    assert not SfrImport.objects.exists() and not OutboxMessage.objects.exists()
    assert not any(Path(uploads).rglob("*"))


@pytest.mark.django_db(transaction=True)
def test_bad_rows_of_a_file_are_rejected_one_by_one_and_the_rest_loads(
        reference, ministry_admin, uploads, tmp_path, celery_worker_thread):
    """A SNILS with wrong check digits, impossible dates, an unknown category, a benefit of nobody:
    each row is rejected with a reason naming the field, the rest of the file loads."""
    source = region(31)
    persons, rights = [], []
    for person, benefits in source.federal_register(12):
        persons.append(person)
        rights.extend(benefits)
    unloaded = {persons[n]["SS"] for n in (0, 1, 2)}  # their benefits belong to nobody loaded
    bad_ss = persons[0]["SS"][:-1] + str((int(persons[0]["SS"][-1]) + 1) % 10)
    persons[0] = dict(persons[0], SS=bad_ss)  # its benefits keep the right SNILS
    persons[1] = dict(persons[1], DR="20250229")
    persons[2] = dict(persons[2], DATE_RSB="2024/13/01")
    of_person = {n: next(i for i, r in enumerate(rights) if r["SS"] == persons[n]["SS"]) for n in (5, 6)}
    rights[of_person[5]] = dict(rights[of_person[5]], C_KATL="999")
    rights[of_person[6]] = dict(rights[of_person[6]], DATE_BL="2023/02/30")
    stranger = format_snils(source.citizen(500).snils)
    rights.append(dict(rights[-1], SS=stranger))
    files = tmp_path / "files"
    files.mkdir()
    write_dbf(files / "C_REGO.DBF", PERSONS_LAYOUT, persons)
    write_dbf(files / "C_REGL.DBF", RIGHTS_LAYOUT, rights)

    run = wait_for(request_files(ministry_admin, files / "C_REGO.DBF", files / "C_REGL.DBF"))
    assert run.status == ImportStatus.SUCCEEDED, run.error
    reasons = {(r.kind, r.row_no): r.reason for r in SfrReject.objects.filter(sfr_import=run)}
    assert f"СНИЛС {bad_ss}: неверная контрольная сумма" == reasons[("person", 1)]
    assert reasons[("person", 2)] == "дата рождения: «20250229» — такой даты нет"
    assert reasons[("person", 3)] == "дата включения в регистр: «2024/13/01» — такой даты нет"
    assert reasons[("right", of_person[5] + 1)] == "льготной категории с кодом 999 нет в справочнике категорий"
    assert reasons[("right", of_person[6] + 1)] == "дата начала льготы: «2023/02/30» — такой даты нет"
    nobodys = {n + 1 for n, r in enumerate(rights) if r["SS"] in unloaded | {stranger}}
    assert {row for (kind, row), reason in reasons.items()
            if reason == "гражданина с этим СНИЛС нет ни в файле граждан, ни в регистре"} == nobodys
    assert len(reasons) == run.rejected == 3 + 2 + len(nobodys)
    assert (run.persons_added, run.rights_added) == (9, len(rights) - 2 - len(nobodys))
    assert set(Person.objects.values_list("snils", flat=True)) == {digits(p["SS"]) for p in persons[3:]}


@pytest.mark.django_db(transaction=True)
def test_bad_rows_from_the_service_are_rejected_one_by_one_and_the_rest_loads(
        reference, ministry_admin, sfr_service, sfr_control, celery_worker_thread):
    """The service serves what it was given: in a version with a bad SNILS, an impossible birth
    date and an unknown category, those rows are rejected and the good persons and benefits load."""
    assert wait_for(request_sync(ministry_admin)).status == ImportStatus.SUCCEEDED
    source = Region(seed=1, okato=SFR_REGION)  # the emulator's region; indexes from 100 are new
    (good, good_rights), (bad_ss, bad_ss_rights), (unborn, unborn_rights), (mixed, mixed_rights) = [
        source.federal(100 + n) for n in range(4)]
    bad_ss = dict(bad_ss, SS=bad_ss["SS"][:-2] + f"{(int(bad_ss['SS'][-2:]) + 1) % 100:02d}")
    unborn = dict(unborn, DR="19500230")
    mixed_rights = [dict(mixed_rights[0], C_KATL="999")] + mixed_rights
    sfr_control("publish", {"version": 3, "persons": [
        {"person": p, "benefits": b} for p, b in ((good, good_rights), (bad_ss, bad_ss_rights),
                                                  (unborn, unborn_rights), (mixed, mixed_rights))]})

    run = wait_for(request_sync(ministry_admin))
    assert run.status == ImportStatus.SUCCEEDED, run.error
    reasons = sorted(SfrReject.objects.filter(sfr_import=run).values_list("kind", "reason"))
    assert ("person", f"СНИЛС {bad_ss['SS']}: неверная контрольная сумма") in reasons
    assert ("person", "дата рождения: «19500230» — такой даты нет") in reasons
    assert ("right", "льготной категории с кодом 999 нет в справочнике категорий") in reasons
    assert run.rejected == len(reasons) == 3 + len(bad_ss_rights) + len(unborn_rights)
    assert (run.persons_added, run.rights_added) == (2, len(good_rights) + len(mixed_rights) - 1)
    assert Person.objects.filter(snils__in=[digits(good["SS"]), digits(mixed["SS"])]).count() == 2
    assert not Person.objects.filter(snils=digits(unborn["SS"])).exists()


# --- hostile XML ----------------------------------------------------------------------------------

class _HostileHandler(http.server.BaseHTTPRequestHandler):
    """Serves the real WSDL (or a hostile one) and answers every SOAP call with a hostile
    document. Any other request is something the client was lured into fetching."""

    def do_GET(self):
        self.server.hits.append(("GET", self.path))
        body = self.server.wsdl if self.path.startswith("/FrlChangesService") else b'<!ENTITY leak "LEAKED">'
        self._answer(body)

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.hits.append(("POST", self.path))
        self._answer(self.server.answer)

    def _answer(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/xml; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def hostile_service(settings):
    """A tiny HTTP server standing in for a hostile Social Fund; the settings point the worker at it."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _HostileHandler)
    server.daemon_threads = True
    server.hits = []
    server.base = f"http://127.0.0.1:{server.server_address[1]}"
    server.wsdl = emulator_soap.wsdl(f"{server.base}/FrlChangesService")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.SFR_WSDL_URL = f"{server.base}/FrlChangesService?wsdl"
    settings.SFR_REGION = SFR_REGION
    settings.SFR_RETRIES = 1
    settings.SFR_TIMEOUT = 5
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)


def _changes_answer(doctype: str, reference: str) -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n{doctype}\n<soap:Envelope xmlns:soap="{emulator_soap.SOAP_ENV}"'
            f' xmlns:tns="{emulator_soap.TNS}"><soap:Body><tns:GetChangesResponse><tns:version>3</tns:version>'
            f'<tns:person action="upsert"><tns:SS>{reference}</tns:SS><tns:FAM>{reference}</tns:FAM></tns:person>'
            "</tns:GetChangesResponse></soap:Body></soap:Envelope>").encode()


def _with_entity(wsdl: bytes, base: str) -> bytes:
    """The service's WSDL with an external entity declared and referenced in it."""
    doctype = f'<!DOCTYPE wsdl:definitions [<!ENTITY xxe SYSTEM "{base}/canary/wsdl">]>\n'.encode()
    return wsdl.replace(b"<wsdl:definitions", doctype + b"<wsdl:definitions", 1).replace(
        b"</wsdl:definitions>", b"&xxe;</wsdl:definitions>", 1)


HOSTILE = {
    # ten levels of ten references: 10^9 "lol" if expanded
    "billion_laughs": lambda base: (None, emulator_soap.hostile_answer("bomb", "GetChanges")),
    "xxe_local_file": lambda base: (None, emulator_soap.hostile_answer("xxe", "GetChanges")),
    "xxe_over_http": lambda base: (None, _changes_answer(
        f'<!DOCTYPE soap:Envelope [<!ENTITY xxe SYSTEM "{base}/canary/entity">]>', "&xxe;")),
    "external_dtd": lambda base: (None, _changes_answer(
        f'<!DOCTYPE soap:Envelope SYSTEM "{base}/canary/evil.dtd">', "003-106-729 85")),
    "parameter_entity": lambda base: (None, _changes_answer(
        f'<!DOCTYPE soap:Envelope [<!ENTITY % remote SYSTEM "{base}/canary/evil.dtd"> %remote;]>', "&leak;")),
    "xxe_in_the_wsdl": lambda base: (_with_entity(emulator_soap.wsdl(f"{base}/FrlChangesService"), base), b""),
}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_hostile_xml_from_the_service_fails_the_run_without_expanding_or_fetching_anything(
        reference, ministry_admin, hostile_service, celery_worker_thread, kind):
    """A billion laughs, external entities (a local file, a URL), an external DTD, a parameter
    entity, a WSDL with an entity: the run fails with the client's «possible attack» message, no
    entity is expanded, nothing is fetched from the URLs the documents name, nothing changes."""
    wsdl, answer = HOSTILE[kind](hostile_service.base)
    if wsdl is not None:
        hostile_service.wsdl = wsdl
    hostile_service.answer = answer
    before = register_state()

    run = wait_for(request_sync(ministry_admin))
    assert run.status == ImportStatus.FAILED
    assert HOSTILE_MESSAGE in run.error, run.error
    assert "root:" not in run.error and "lol" not in run.error and "LEAKED" not in run.error
    fetched = [path for _, path in hostile_service.hits if not path.startswith("/FrlChangesService")]
    assert fetched == []
    assert hostile_service.hits[0] == ("GET", "/FrlChangesService?wsdl")
    assert register_state() == before


# --- one import of a kind at a time ---------------------------------------------------------------

@pytest.mark.django_db
def test_a_second_upload_while_one_is_queued_is_refused_and_leaves_no_file(reference, ministry_admin, uploads,
                                                                            tmp_path):
    """A second DBF import while one is queued: ConflictError `sfr.import_in_progress`, no second run,
    no second message, its upload deleted. A sync (the other kind) may be queued beside it — once."""
    persons_path, rights_path = write_register_files(region(41), 5, tmp_path / "files")
    first = request_files(ministry_admin, persons_path, rights_path)
    with pytest.raises(ConflictError) as refused:
        request_files(ministry_admin, persons_path, rights_path)
    assert (refused.value.code, refused.value.message) == (
        "sfr.import_in_progress", "Загрузка этого вида уже выполняется: дождитесь её окончания")
    assert list(SfrImport.objects.values_list("pk", flat=True)) == [first.pk]
    assert OutboxMessage.objects.filter(topic="sfr.import").count() == 1
    assert [p.name for p in (Path(uploads) / "sfr").iterdir()] == [str(first.pk)]

    sync = request_sync(ministry_admin)
    with pytest.raises(ConflictError) as refused:
        request_sync(ministry_admin)
    assert refused.value.code == "sfr.import_in_progress"
    assert sorted(SfrImport.objects.values_list("pk", flat=True)) == sorted([first.pk, sync.pk])


@pytest.mark.django_db(transaction=True)
def test_a_sync_requested_while_one_runs_is_refused_and_the_schedule_waits(
        reference, ministry_admin, sfr_service, sfr_control, celery_worker_thread):
    """While the worker pages a slow service, another sync is refused (ConflictError) and the
    scheduled sync says «busy»; after it, a sync is accepted again."""
    sfr_control("config", {"latency_ms": 150})
    running = request_sync(ministry_admin)
    deadline = time.monotonic() + 30
    while running.status != ImportStatus.RUNNING and time.monotonic() < deadline:
        time.sleep(0.02)
        running.refresh_from_db()
    assert running.status == ImportStatus.RUNNING
    with pytest.raises(ConflictError) as refused:
        request_sync(ministry_admin)
    assert refused.value.code == "sfr.import_in_progress"
    assert sync_scheduled() == "busy"
    assert SfrImport.objects.count() == 1

    assert wait_for(running).status == ImportStatus.SUCCEEDED, running.error
    sfr_control("config", {"latency_ms": 0})
    after = wait_for(request_sync(ministry_admin))
    assert (after.status, after.from_version) == (ImportStatus.SUCCEEDED, 2)
