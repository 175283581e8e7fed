"""The NSI portal client against the emulator, over real HTTP: protocol, paging, bulk files and
their fallback to the REST API, and every way the portal can fail."""

import logging
import os
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest
import requests

from config.launcher import free_port, load_emulators, wait_http
from integrations.nsi import client as client_module
from integrations.nsi.client import (
    KEY_REJECTED,
    NsiClient,
    NsiError,
    NsiFormatError,
    PortalVersion,
    read_spool,
)
from llo.reference import demo_data
from llo.reference.nsi import dictionaries as d

from .conftest import NSI_USER_KEY

ROOT = Path(__file__).resolve().parents[2]


def generated(oid: str, version: str = "1.1") -> tuple[list[str], list[list[str]]]:
    header, rows = demo_data.dictionary_rows(oid, version)
    return header, list(rows)


def portal_get(base: str, endpoint: str, **params) -> requests.Response:
    return requests.get(f"{base}port/rest/{endpoint}", params={"userKey": NSI_USER_KEY, **params}, timeout=10)


# --- the protocol ----------------------------------------------------------------------------

def test_passport_of_the_latest_and_of_a_given_version(nsi_client):
    passport = nsi_client.passport(d.ICD10)
    header, rows = generated(d.ICD10)
    assert passport.oid == d.ICD10 and passport.name == d.get(d.ICD10).name
    assert (passport.version, passport.publish_date) == ("1.1", date(2026, 11, 10))
    assert passport.fields == header and passport.rows_count == len(rows)

    older = nsi_client.passport(d.ICD10, "1.0")
    assert (older.version, older.publish_date) == ("1.0", date(2025, 12, 1))
    assert older.rows_count == len(generated(d.ICD10, "1.0")[1])


def test_versions_newest_first(nsi_client, nsi_url, monkeypatch):
    expected = [PortalVersion("1.1", date(2026, 11, 10)), PortalVersion("1.0", date(2025, 12, 1))]
    assert nsi_client.versions(d.UNITS) == expected
    assert nsi_client.latest_version(d.UNITS).version == "1.1"
    second = portal_get(nsi_url, "versions", identifier=d.UNITS, page=2, size=1).json()
    assert second["total"] == 2 and [v["version"] for v in second["list"]] == ["1.0"]
    monkeypatch.setattr(client_module, "VERSIONS_PAGE_SIZE", 1)
    assert nsi_client.versions(d.UNITS) == expected


def test_small_pages_give_exactly_the_generated_rows(nsi_url):
    header, expected = generated(d.ESKLP)
    got, page = [], 1
    while True:
        answer = portal_get(nsi_url, "data", identifier=d.ESKLP, version="1.1", page=page, size=7).json()
        assert answer["result"] == "OK" and answer["total"] == len(expected)
        if not answer["list"]:
            break
        assert len(answer["list"]) <= 7
        got += [[cell["value"] or "" for cell in row] for row in answer["list"]]
        assert all([cell["column"] for cell in row] == header for row in answer["list"])
        page += 1
    assert page == -(-len(expected) // 7) + 1
    assert got == expected


@pytest.mark.parametrize("params, problem", [
    ({"size": 501}, "size"), ({"size": 0}, "size"), ({"page": 0}, "page"), ({"page": "abc"}, "page"),
    ({"page": "-1"}, "page"), ({"size": "1e3"}, "size"),
])
def test_bad_paging_is_a_400_error_answer(nsi_url, params, problem):
    response = portal_get(nsi_url, "data", identifier=d.UNITS, **params)
    assert response.status_code == 400
    answer = response.json()
    assert answer["result"] == "ERROR" and problem in answer["resultText"]


def test_wrong_or_missing_key_is_refused_without_the_key_in_the_message(nsi_url, caplog):
    caplog.set_level(logging.DEBUG)
    wrong = "wrong-key-a81d93"
    with pytest.raises(NsiError) as error:
        NsiClient(nsi_url, wrong, retries=0).passport(d.UNITS)
    assert error.value.message == KEY_REJECTED and not error.value.retryable
    assert wrong not in str(error.value) and wrong not in caplog.text
    response = requests.get(f"{nsi_url}port/rest/versions", params={"identifier": d.UNITS}, timeout=10)
    assert response.status_code == 401 and response.json()["resultText"] == "Неверный ключ пользователя"


def test_unknown_dictionary_and_unknown_version(nsi_client):
    with pytest.raises(NsiError) as error:
        nsi_client.versions("1.2.643.5.1.13.13.99.9.999")
    assert "1.2.643.5.1.13.13.99.9.999" in error.value.message and not error.value.retryable
    with pytest.raises(NsiError) as error:
        nsi_client.passport(d.UNITS, "9.9")
    assert "9.9" in error.value.message and d.UNITS in error.value.message and not error.value.retryable


# --- spooling ----------------------------------------------------------------------------------

def test_bulk_spool_equals_rest_spool_and_reads_back(nsi_client, tmp_path):
    progress = []
    bulk = nsi_client.spool(d.ESKLP, "1.1", tmp_path / "bulk", on_progress=lambda *p: progress.append(p))
    rest = nsi_client.spool(d.ESKLP, "1.1", tmp_path / "rest", prefer_bulk=False)
    header, expected = generated(d.ESKLP)
    assert (bulk.source, rest.source) == ("csv_zip", "rest")
    assert bulk.rows == rest.rows == len(expected)
    assert bulk.path.read_bytes() == rest.path.read_bytes()
    assert progress and progress[-1][0] == progress[-1][1]  # bytes of the zip, all of them
    with read_spool(rest.path) as (got_header, rows):
        assert got_header == header and list(rows) == expected
    assert list(tmp_path.rglob("*.part")) == []


def test_rest_spool_in_small_pages(nsi_client, tmp_path, monkeypatch):
    monkeypatch.setattr(client_module, "PAGE_SIZE", 7)
    progress = []
    spool = nsi_client.spool(d.ICD10, "1.0", tmp_path, prefer_bulk=False, on_progress=lambda *p: progress.append(p))
    header, expected = generated(d.ICD10, "1.0")
    assert spool.rows == len(expected) and len(progress) == -(-len(expected) // 7)
    assert progress[0] == (7, len(expected)) and progress[-1] == (len(expected), len(expected))
    with read_spool(spool.path) as (got_header, rows):
        assert got_header == header and list(rows) == expected


@pytest.mark.parametrize("config", [{"truncate_bulk_after": 2000}, {"corrupt": "zip"}],
                         ids=["truncated", "damaged"])
def test_an_unusable_bulk_file_falls_back_to_rest(nsi_client, nsi_control, tmp_path, config):
    nsi_control("config", config)
    spool = nsi_client.spool(d.ESKLP, "1.1", tmp_path)
    assert spool.source == "rest"
    with read_spool(spool.path) as (_header, rows):
        assert list(rows) == generated(d.ESKLP)[1]
    assert sorted(p.name for p in tmp_path.iterdir()) == [spool.path.name]


def test_a_version_that_changes_while_paged_is_refused(nsi_client, nsi_control, tmp_path):
    header = ["ID", "FULL_NAME", "SHORT_NAME", "DATE_BEGIN", "DATE_END"]
    nsi_control("publish", {"oid": d.UNITS, "version": "2.0", "publish_date": "01.02.2027", "header": header,
                            "rows": [[str(n), f"Единица {n}", "ед", "", ""] for n in range(600)]})

    def republish(done, total):
        if done == 500:
            nsi_control("publish", {"oid": d.UNITS, "version": "2.0", "publish_date": "01.02.2027",
                                    "header": header, "rows": [["1", "Штука", "шт", "", ""]]})

    with pytest.raises(NsiFormatError, match="500 .* 600"):
        nsi_client.spool(d.UNITS, "2.0", tmp_path, prefer_bulk=False, on_progress=republish)


# --- failures ----------------------------------------------------------------------------------

def test_latency_beyond_the_timeout_is_a_retryable_error(nsi_url, nsi_control):
    nsi_control("config", {"latency_ms": 700})
    with pytest.raises(NsiError) as error:
        NsiClient(nsi_url, NSI_USER_KEY, timeout=0.2, retries=1, backoff=0.01).passport(d.UNITS)
    assert error.value.retryable and "нет ответа" in error.value.message
    assert "повторена" in error.value.message
    assert NsiClient(nsi_url, NSI_USER_KEY, timeout=5).passport(d.UNITS).version == "1.1"


def test_failures_are_retried_then_reported_as_retryable(nsi_client, nsi_control, caplog):
    # the logger's own level: an in-process Celery worker of an earlier test leaves the root at ERROR
    caplog.set_level(logging.WARNING, logger="integrations.nsi.client")
    nsi_control("config", {"fail_rate": 1})
    with pytest.raises(NsiError) as error:
        nsi_client.versions(d.UNITS)
    assert error.value.retryable and "HTTP 503" in error.value.message
    assert "retry 1 of 1" in caplog.text


def test_a_portal_that_is_down_drops_connections(nsi_url, nsi_client, nsi_control, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    nsi_control("config", {"down": True})
    assert requests.get(nsi_url + "_emulator/health", timeout=5).json() == {"ok": True}
    with pytest.raises(requests.ConnectionError):
        portal_get(nsi_url, "versions", identifier=d.UNITS)
    with pytest.raises(NsiError) as error:
        nsi_client.spool(d.UNITS, "1.1", tmp_path)
    assert error.value.retryable and "недоступен" in error.value.message
    assert NSI_USER_KEY not in caplog.text and NSI_USER_KEY not in error.value.message


def test_malformed_json_is_a_format_error(nsi_client, nsi_control):
    nsi_control("config", {"corrupt": "json"})
    with pytest.raises(NsiFormatError) as error:
        nsi_client.passport(d.UNITS)
    assert not error.value.retryable and "JSON" in error.value.message


def test_bad_control_values_are_refused(nsi_url):
    response = requests.post(nsi_url + "_emulator/config", json={"fail_rate": 2}, timeout=5)
    assert response.status_code == 400 and "fail_rate" in response.json()["error"]


# --- published versions ------------------------------------------------------------------------

def test_a_published_version_is_served_everywhere(nsi_client, nsi_control, tmp_path):
    header = ["ID", "FULL_NAME", "SHORT_NAME", "DATE_BEGIN", "DATE_END"]
    rows = [["1", "Штука", "шт", None, ""], ["99", "Бочка; большая", 'бч "Б"'],
            ["100", "Ящик\nдеревянный", "ящ", "", ""]]
    nsi_control("publish", {"oid": d.UNITS, "version": "1.2", "publish_date": "15.01.2027", "header": header,
                            "rows": rows})
    assert nsi_client.latest_version(d.UNITS) == PortalVersion("1.2", date(2027, 1, 15))
    passport = nsi_client.passport(d.UNITS)
    assert (passport.version, passport.rows_count, passport.fields) == ("1.2", 3, header)

    expected = [["1", "Штука", "шт", "", ""], ["99", "Бочка; большая", 'бч "Б"', "", ""],
                ["100", "Ящик\nдеревянный", "ящ", "", ""]]
    for prefer_bulk in (True, False):
        spool = nsi_client.spool(d.UNITS, "1.2", tmp_path / str(prefer_bulk), prefer_bulk=prefer_bulk)
        with read_spool(spool.path) as (got_header, got_rows):
            got = list(got_rows)
        assert got_header == header and spool.rows == 3
        # the file keeps a short row short; the REST API cannot tell, so its missing columns are empty
        assert got == (expected if not prefer_bulk else [expected[0], ["99", "Бочка; большая", 'бч "Б"'], expected[2]])


def test_a_later_publication_with_a_lower_number_is_the_latest(nsi_client, nsi_control):
    header = d.get(d.UNITS).column_names
    nsi_control("publish", {"oid": d.UNITS, "version": "0.9", "publish_date": "2027-03-01", "header": header,
                            "rows": [["1", "Штука", "шт", "", ""]]})
    assert [v.version for v in nsi_client.versions(d.UNITS)] == ["0.9", "1.1", "1.0"]


def test_a_malformed_bulk_file_names_the_line(nsi_client, nsi_control, tmp_path):
    raw = "ID;FULL_NAME;SHORT_NAME;DATE_BEGIN;DATE_END\r\n1;Штука;шт;;\r\n2;\"Литр;л;;\r\n3;Метр;м;;\r\n"
    nsi_control("publish", {"oid": d.UNITS, "version": "1.3", "publish_date": "20.01.2027", "raw_csv": raw})
    with pytest.raises(NsiFormatError, match="Файл справочника повреждён: строка 3: кавычка не закрыта"):
        nsi_client.spool(d.UNITS, "1.3", tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("content, line, reason", [
    (b"ID;NAME\r\n1;a\r\n2;\"b\"c\r\n", 3, "ожидался разделитель"),
    (b"ID;NAME\r\n1;a\r\n2;b\x00\r\n", 3, "NUL"),
    (b"\xef\xbb\xbfID;NAME\r\n1;\xd0\xb0\r\n2;\xff\xfe\r\n", 3, "UTF-8"),
    (b"ID;NAME\r\n1;\"multi\r\nline\"\r\n2;\"open\r\n3;x\r\n", 4, "не закрыта"),
])
def test_read_spool_names_the_damaged_line(tmp_path, content, line, reason):
    path = tmp_path / "damaged.csv"
    path.write_bytes(content)
    with pytest.raises(NsiFormatError) as error, read_spool(path) as (header, rows):
        assert header == ["ID", "NAME"]
        list(rows)
    assert f"Файл справочника повреждён: строка {line}: " in error.value.message
    assert reason in error.value.message


def test_read_spool_of_an_empty_file(tmp_path):
    (tmp_path / "empty.csv").write_bytes(b"")
    with pytest.raises(NsiFormatError, match="нет строки заголовка"), read_spool(tmp_path / "empty.csv"):
        pass


# --- configuration and the process -------------------------------------------------------------

def test_client_from_settings(settings):
    settings.NSI_BASE_URL = ""
    with pytest.raises(NsiError, match="NSI_BASE_URL") as error:
        NsiClient.from_settings()
    assert not error.value.retryable
    settings.NSI_BASE_URL, settings.NSI_USER_KEY, settings.NSI_TIMEOUT = "http://nsi.example/", "k", 7.5
    client = NsiClient.from_settings()
    assert (client.base_url, client.timeout) == ("http://nsi.example/", 7.5) and "k" not in repr(client)


def test_launcher_entry_is_registered(settings):
    (emulator,) = load_emulators({"nsi": settings.LLO_EMULATORS["nsi"]})
    port = emulator.argv[-1]
    assert emulator.name == "nsi" and emulator.argv[1:4] == ["-m", "integrations.nsi.emulator", "--port"]
    assert emulator.env == {"NSI_BASE_URL": f"http://127.0.0.1:{port}/", "NSI_USER_KEY": "demo-nsi-key"}
    assert emulator.ready_url == f"http://127.0.0.1:{port}/_emulator/health"


def test_the_emulator_runs_as_a_process(tmp_path):
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "integrations.nsi.emulator", "--port", str(port), "--user-key", "cli-key"],
        cwd=ROOT, env=os.environ.copy(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    base = f"http://127.0.0.1:{port}/"
    try:
        assert wait_http(base + "_emulator/health", 20), process.stdout.read() if process.poll() is not None else ""
        client = NsiClient(base, "cli-key", timeout=10, retries=0)
        assert client.latest_version(d.ROUTES).version == "1.1"
        assert client.spool(d.ROUTES, "1.0", tmp_path).rows == len(generated(d.ROUTES, "1.0")[1])
    finally:
        process.terminate()
        started = time.monotonic()
        code = process.wait(10)
    assert code == 0 and time.monotonic() - started < 5


def test_an_archive_that_unpacks_beyond_the_limit_is_refused(tmp_path, monkeypatch):
    import zipfile

    from integrations.nsi import client as client_module

    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        zipped.writestr("x.csv", "ID;NAME\n" + "1;" + "я" * 200_000 + "\n")
    monkeypatch.setattr(client_module, "MAX_EXTRACTED_BYTES", 100_000)
    with pytest.raises(client_module._BulkUnusable) as caught:
        client_module._extract(archive, tmp_path / "out.csv")
    assert "больше" in str(caught.value)
