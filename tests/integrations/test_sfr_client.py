"""The Social Fund's FrlChangesService: the zeep client against the emulator, over real HTTP —
versions, pages, the designed delta, published versions, and every way the service can fail or
attack the client."""

import logging
import os
import pickle
import subprocess
import sys
import time
from datetime import date

import pytest
import requests

from config.launcher import free_port, load_emulators, wait_http
from integrations.sfr.client import ChangesPage, SfrClient, SfrError, SfrFormatError
from registry.synthetic import OPEN_END, PERSON_FIELDS, RIGHT_FIELDS, Region

from .conftest import SFR_PERSONS, SFR_REGION

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
TNS = "urn:ru:sfr:frl:changes:1"
REGION = Region(seed=1, okato=SFR_REGION)
YESTERDAY = "2026/11/22"  # version 2 is dated 2026-11-23


def collect(client: SfrClient, since: int) -> tuple[list[ChangesPage], list[tuple]]:
    pages = list(client.changes(since))
    return pages, [person for page in pages for person in page.persons]


def by_ss(persons) -> dict:
    return {person["SS"]: (action, person, benefits) for action, person, benefits in persons}


def version_1() -> dict:
    return {p["SS"]: ("upsert", p, rs) for p, rs in REGION.federal_register(SFR_PERSONS)}


def envelope(body: str) -> bytes:
    return (f'<soap:Envelope xmlns:soap="{SOAP}" xmlns:tns="{TNS}"><soap:Body>{body}</soap:Body>'
            "</soap:Envelope>").encode()


def post(sfr_url: str, data: bytes) -> requests.Response:
    return requests.post(sfr_url.split("?")[0], data=data, headers={"Content-Type": "text/xml; charset=utf-8"},
                         timeout=10)


# --- versions and changes ------------------------------------------------------------------------

def test_current_version(sfr_client):
    assert sfr_client.current_version() == (2, date(2026, 11, 23))


def test_records_are_shaped_like_the_dbf_files(sfr_client):
    _, persons = collect(sfr_client, 1)
    for action, person, benefits in persons:
        assert action in ("upsert", "exclude")
        assert tuple(person) == PERSON_FIELDS and all(isinstance(v, str) for v in person.values())
        assert benefits and all(tuple(b) == RIGHT_FIELDS and b["SS"] == person["SS"] for b in benefits)


def test_the_delta_since_version_1_holds_exactly_the_designed_changes(sfr_client):
    pages, persons = collect(sfr_client, 1)
    assert [page.version for page in pages] == [2]
    before = version_1()
    kinds: dict[str, list[str]] = {}
    for action, person, benefits in persons:
        ss = person["SS"]
        if ss not in before:
            kind = "new"
            assert (action, person, benefits) == ("upsert", *REGION.federal(SFR_PERSONS + len(kinds.get("new", []))))
        else:
            _, old, old_benefits = before[ss]
            changed = {name for name in PERSON_FIELDS if person[name] != old[name]}
            if action == "exclude":
                kind = "excluded"
                assert changed == {"DATE_RSE"} and person["DATE_RSE"] == YESTERDAY and benefits == old_benefits
            elif benefits != old_benefits:
                kind = "closed"
                assert not changed and len(benefits) == len(old_benefits)
                diff = [(o, n) for o, n in zip(old_benefits, benefits) if o != n]
                assert len(diff) == 1 and diff[0][0]["DATE_EL"] == OPEN_END
                assert diff[0][1] == {**diff[0][0], "DATE_EL": YESTERDAY}
            elif "U_TYPE" in changed:
                kind = "refusal"
                assert changed == {"U_TYPE", "D_TYPE"} and person["D_TYPE"] == "2027/01/01"
                assert {person["U_TYPE"], old["U_TYPE"]} == {"1", "2"}
            else:
                kind = "renamed"
                assert changed and changed <= {"FAM", "ADRES"}
            assert action == "upsert" or kind == "excluded"
        kinds.setdefault(kind, []).append(ss)
    assert {k: len(v) for k, v in kinds.items()} == {"new": 5, "closed": 5, "renamed": 3, "excluded": 2, "refusal": 1}


def test_everything_since_0_is_version_1_with_the_delta_applied(sfr_client):
    pages, persons = collect(sfr_client, 0)
    assert [page.version for page in pages] == [2]
    expected = version_1()
    for action, person, benefits in collect(sfr_client, 1)[1]:
        expected[person["SS"]] = (action, person, benefits)
    assert [(a, p, b) for a, p, b in persons] == list(expected.values())
    assert len(persons) == SFR_PERSONS + 5


def test_small_pages_give_the_same_changes(sfr_url, sfr_client):
    _, whole = collect(sfr_client, 0)
    with SfrClient(sfr_url, region=SFR_REGION, page_size=7, retries=0) as small:
        pages, persons = collect(small, 0)
    assert len(pages) == -(-len(whole) // 7) and all(len(page.persons) <= 7 for page in pages)
    assert {page.version for page in pages} == {2} and persons == whole


def test_nothing_new_is_one_empty_page(sfr_client):
    assert list(sfr_client.changes(2)) == [ChangesPage(2, [])]


def test_a_page_set_keeps_its_version_when_a_new_one_is_published(sfr_url, sfr_control):
    with SfrClient(sfr_url, region=SFR_REGION, page_size=20, retries=0) as client:
        pages = client.changes(0)
        first = next(pages)
        sfr_control("publish", {"version": 3, "persons": [{"person": {"SS": "112-233-445 95"}}]})
        rest = list(pages)
    assert [page.version for page in [first, *rest]] == [2, 2, 2]
    assert "112-233-445 95" not in by_ss([p for page in rest for p in page.persons])


def test_a_published_version_with_bad_rows_is_served_as_it_is(sfr_client, sfr_control):
    rows = [
        {"person": {"SS": "123-456-789 00", "FAM": "Петров", "IM": "Пётр", "DR": "19500230", "W": "3"},
         "benefits": [{"C_KATL": "999", "DATE_BL": "2026/02/30", "DATE_EL": "9999/99/99"},
                      {"SS": "000-000-000 00", "C_KATL": "", "NAME_DL": None, "DATE_BL": "вчера"}]},
        {"person": {"SS": "", "FAM": "Без СНИЛС", "U_TYPE": 7}, "benefits": []},
        {"action": "exclude", "person": {"SS": REGION.federal(0)[0]["SS"], "DATE_RSE": "2027/13/01"}},
    ]
    answer = sfr_control("publish", {"version": 3, "date": "2026-12-01", "persons": rows})
    assert answer == {"ok": True, "version": 3, "date": "2026-12-01", "persons": 3}
    assert sfr_client.current_version() == (3, date(2026, 12, 1))
    pages, persons = collect(sfr_client, 2)
    assert [page.version for page in pages] == [3]
    blank = dict.fromkeys(PERSON_FIELDS, "")
    first, second, third = persons
    assert first == ("upsert", {**blank, "SS": "123-456-789 00", "FAM": "Петров", "IM": "Пётр", "DR": "19500230",
                                "W": "3"},
                     [{"SS": "123-456-789 00", "C_KATL": "999", "NAME_DL": "", "SN_DL": "", "DATE_BL": "2026/02/30",
                       "DATE_EL": "9999/99/99"},
                      {"SS": "123-456-789 00", "C_KATL": "", "NAME_DL": "", "SN_DL": "", "DATE_BL": "вчера",
                       "DATE_EL": ""}])
    assert second == ("upsert", {**blank, "FAM": "Без СНИЛС", "U_TYPE": "7"}, [])
    assert third == ("exclude", {**blank, "SS": REGION.federal(0)[0]["SS"], "DATE_RSE": "2027/13/01"}, [])
    # since 0: the newest state of each person, in the order of first listing
    everything = by_ss(collect(sfr_client, 0)[1])
    assert everything[REGION.federal(0)[0]["SS"]] == third and len(everything) == SFR_PERSONS + 5 + 2


@pytest.mark.parametrize("payload, problem", [
    ({"version": 2, "persons": []}, "больше текущего (2)"),
    ({"persons": [{"person": {"SS": "1", "NAME": "x"}}]}, "неизвестное поле NAME"),
    ({"persons": [{"person": {"FAM": "x"}}]}, "нужно поле SS"),
    ({"persons": [{"person": {"SS": "1"}, "action": "delete"}]}, "upsert или exclude"),
    ({"persons": [{"person": {"SS": "1\x01"}}]}, "недопустимые в XML"),
    ({"persons": "none"}, "ожидается список"),
])
def test_bad_publications_are_refused(sfr_emulator, sfr_url, payload, problem):
    response = requests.post(sfr_emulator.base_url + "_emulator/publish", json=payload, timeout=10)
    assert response.status_code == 400 and problem in response.json()["error"]


# --- failures ------------------------------------------------------------------------------------

def test_latency_beyond_the_timeout_is_a_retryable_error(sfr_url, sfr_control):
    with SfrClient(sfr_url, region=SFR_REGION, timeout=0.3, retries=1, backoff=0.01) as client:
        assert client.current_version()[0] == 2  # the WSDL is loaded
        sfr_control("config", {"latency_ms": 800})
        with pytest.raises(SfrError) as error:
            client.current_version()
    assert error.value.retryable and "нет ответа за 0.3 с" in error.value.message
    assert "повторена" in error.value.message


def test_server_faults_are_retried_then_reported_as_retryable(sfr_client, sfr_control, caplog):
    caplog.set_level(logging.WARNING, logger="integrations.sfr.client")
    sfr_client.current_version()
    sfr_control("config", {"fail_rate": 1})
    with pytest.raises(SfrError) as error:
        list(sfr_client.changes(0))
    assert error.value.retryable and "Сервис временно недоступен" in error.value.message
    assert "retry 1 of 1" in caplog.text


def test_a_service_that_is_down_drops_connections(sfr_url, sfr_emulator, sfr_client, sfr_control):
    sfr_control("config", {"down": True})
    assert requests.get(sfr_emulator.base_url + "_emulator/health", timeout=5).json() == {"ok": True}
    with pytest.raises(requests.ConnectionError):
        requests.get(sfr_url, timeout=5)
    with pytest.raises(SfrError) as error:
        sfr_client.current_version()  # the WSDL cannot be loaded either
    assert error.value.retryable and "недоступен" in error.value.message


def test_a_page_broken_off_mid_stream_raises_after_the_earlier_pages(sfr_url, sfr_control, caplog):
    caplog.set_level(logging.WARNING, logger="integrations.sfr.client")
    sfr_control("config", {"fail_on_page": 2})
    yielded = []
    with SfrClient(sfr_url, region=SFR_REGION, page_size=7, retries=1, backoff=0.01) as client:
        with pytest.raises(SfrError) as error:
            for page in client.changes(0):
                yielded.append(page)
    assert len(yielded) == 1 and len(yielded[0].persons) == 7
    assert error.value.retryable and "страница 2" in error.value.message and "разорвано" in error.value.message


def test_a_client_fault_is_not_retried(sfr_url, caplog):
    caplog.set_level(logging.WARNING, logger="integrations.sfr.client")
    with SfrClient(sfr_url, region="77", retries=3, backoff=0.01) as client:
        with pytest.raises(SfrError) as error:
            client.current_version()
    assert not error.value.retryable and "retry" not in caplog.text
    assert error.value.message == ("Сервис СФР отклонил запрос «текущая версия регистра по региону 77»: Сведения по "
                                   "региону «77» этим сервисом не предоставляются: проверьте код региона (SFR_REGION)")


@pytest.mark.parametrize("kind, marker", [("bomb", b"<!ENTITY lol9"), ("xxe", b"file:///etc/passwd")])
def test_hostile_answers_are_refused_without_expansion(sfr_url, sfr_client, sfr_control, caplog, kind, marker):
    caplog.set_level(logging.DEBUG)
    sfr_client.current_version()
    sfr_control("config", {"hostile": kind})
    raw = post(sfr_url, envelope(f"<tns:GetCurrentVersionRequest><tns:regionCode>{SFR_REGION}</tns:regionCode>"
                                 "</tns:GetCurrentVersionRequest>"))
    assert marker in raw.content  # the emulator does attack
    started = time.monotonic()
    for call in (sfr_client.current_version, lambda: list(sfr_client.changes(0))):
        with pytest.raises(SfrFormatError) as error:
            call()
        assert not error.value.retryable and "DTD, сущности XML" in error.value.message
        text = f"{error.value.message} {error.value!r} {caplog.text}"
        assert "root:" not in text and "lollol" not in text
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("corrupt, problem", [("xml", "не XML или XML оборван"),
                                              ("schema", "не соответствует описанию сервиса (WSDL)")])
def test_unreadable_answers_are_format_errors(sfr_client, sfr_control, corrupt, problem):
    sfr_client.current_version()
    sfr_control("config", {"corrupt": corrupt})
    for call in (sfr_client.current_version, lambda: list(sfr_client.changes(1))):
        with pytest.raises(SfrFormatError) as error:
            call()
        assert problem in error.value.message and not error.value.retryable


def test_answers_stay_out_of_the_logs(sfr_client, caplog):
    caplog.set_level(logging.DEBUG)
    _, persons = collect(sfr_client, 1)
    assert persons and "zeep.transports" in {r.name for r in caplog.records}
    for _, person, _ in persons:
        assert person["SS"] not in caplog.text and person["FAM"] not in caplog.text


def test_a_wrong_wsdl_address(sfr_emulator, sfr_url):
    with SfrClient(sfr_emulator.base_url + "nothing?wsdl", region=SFR_REGION, retries=0) as client:
        with pytest.raises(SfrError, match="HTTP 404; проверьте адрес SFR_WSDL_URL") as error:
            client.current_version()
    assert not error.value.retryable


def test_a_wsdl_kept_on_disk_works_and_may_not_import_other_files(sfr_url, tmp_path):
    served = requests.get(sfr_url, timeout=10).content
    local = tmp_path / "FrlChangesService.wsdl"
    local.write_bytes(served)
    with SfrClient(str(local), region=SFR_REGION, retries=0) as client:
        assert client.current_version()[0] == 2
    schema = b'<xs:schema targetNamespace="urn:ru:sfr:frl:changes:1"'
    local.write_bytes(served.replace(schema, b'<xs:schema><xs:include schemaLocation="/etc/passwd"/></xs:schema>'
                                     + schema, 1))
    with SfrClient(str(local), region=SFR_REGION, retries=0) as client:
        with pytest.raises(SfrFormatError) as error:
            client.current_version()
    assert "описание сервиса (WSDL)" in error.value.message and "внешние ресурсы" in error.value.message


def test_a_page_that_is_not_a_wsdl(sfr_emulator, sfr_url):
    with SfrClient(sfr_emulator.base_url + "_emulator/health", region=SFR_REGION, retries=0) as client:
        with pytest.raises(SfrFormatError, match="описание сервиса \\(WSDL\\)»"):
            client.current_version()


# --- the service's own checks ------------------------------------------------------------------

def _changes(since="0", extra=""):
    return (f"<tns:GetChangesRequest><tns:regionCode>{SFR_REGION}</tns:regionCode><tns:sinceVersion>{since}"
            f"</tns:sinceVersion>{extra}</tns:GetChangesRequest>")


@pytest.mark.parametrize("data, code, text", [
    (b"", "Client", "Пустой запрос"),
    (b"<not xml", "Client", "не является корректным XML"),
    (b"<a/>", "Client", "soap:Envelope"),
    (b'<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body/></e:Envelope>', "VersionMismatch",
     "SOAP 1.1"),
    (envelope(""), "Client", "ровно один элемент запроса"),
    (envelope("<tns:DropRegister/>"), "Client", "Неизвестная операция DropRegister"),
    (envelope("<tns:GetCurrentVersionRequest/>"), "Client", "не соответствует схеме сервиса"),
    (envelope(_changes("abc")), "Client", "не соответствует схеме сервиса"),
    (envelope(_changes("-1")), "Client", "sinceVersion должен быть от 0"),
    (envelope(_changes("3")), "Client", "до текущей версии 2, получено 3"),
    (envelope(_changes(extra="<tns:pageSize>0</tns:pageSize>")), "Client", "pageSize должен быть от 1 до 5000"),
    (envelope(_changes(extra="<tns:pageSize>5001</tns:pageSize>")), "Client", "pageSize"),
    (envelope(_changes(extra="<tns:pageToken>bm9wZQ</tns:pageToken>")), "Client", "pageToken не выдавался"),
    (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>' + envelope("&e;"), "Client",
     "DTD"),
])
def test_malformed_requests_get_a_fault(sfr_url, data, code, text):
    from lxml import etree

    response = post(sfr_url, data)
    assert response.status_code == 500 and response.headers["Content-Type"].startswith("text/xml")
    fault = etree.fromstring(response.content).find(f"{{{SOAP}}}Body/{{{SOAP}}}Fault")
    assert fault.findtext("faultcode") == f"soap:{code}"
    assert text in fault.findtext("faultstring")
    assert "root:" not in response.text


def test_the_wsdl_names_the_service_address(sfr_emulator, sfr_url):
    response = requests.get(sfr_url, timeout=10)
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/xml")
    assert f'location="{sfr_emulator.base_url}FrlChangesService"'.encode() in response.content
    assert b'targetNamespace="urn:ru:sfr:frl:changes:1"' in response.content


# --- configuration and the process -------------------------------------------------------------

def test_client_from_settings(settings):
    settings.SFR_WSDL_URL = ""
    with pytest.raises(SfrError, match=r"Адрес сервиса СФР не настроен \(SFR_WSDL_URL\)") as error:
        SfrClient.from_settings()
    assert not error.value.retryable
    settings.SFR_WSDL_URL, settings.SFR_REGION = "http://sfr.example/FrlChangesService?wsdl", "42"
    settings.SFR_TIMEOUT, settings.SFR_RETRIES, settings.SFR_PAGE_SIZE = 7.5, 2, 500
    client = SfrClient.from_settings()
    assert (client.wsdl_url, client.region, client.timeout, client.retries, client.page_size) == (
        "http://sfr.example/FrlChangesService?wsdl", "42", 7.5, 2, 500)
    settings.SFR_PAGE_SIZE = 6000
    with pytest.raises(SfrError, match="SFR_PAGE_SIZE"):
        SfrClient.from_settings()


def test_errors_pickle_with_their_flag():
    for error in (SfrError("Сервис СФР недоступен", retryable=True), SfrFormatError("Ответ не разбирается")):
        copy = pickle.loads(pickle.dumps(error))
        assert type(copy) is type(error) and (copy.message, copy.retryable) == (error.message, error.retryable)


def test_launcher_entry_is_registered(settings):
    (emulator,) = load_emulators({"sfr": settings.LLO_EMULATORS["sfr"]})
    port = emulator.argv[-1]
    assert emulator.name == "sfr" and emulator.argv[1:4] == ["-m", "integrations.sfr.emulator", "--port"]
    assert emulator.env == {"SFR_WSDL_URL": f"http://127.0.0.1:{port}/FrlChangesService?wsdl", "SFR_REGION": "99"}
    assert emulator.ready_url == f"http://127.0.0.1:{port}/_emulator/health"


def test_the_emulator_runs_as_a_process():
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "integrations.sfr.emulator", "--port", str(port), "--persons", "12", "--region", "42"],
        cwd=ROOT, env=os.environ.copy(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        assert wait_http(f"http://127.0.0.1:{port}/_emulator/health", 20), (
            process.stdout.read() if process.poll() is not None else "")
        with SfrClient(f"http://127.0.0.1:{port}/FrlChangesService?wsdl", region="42", retries=0) as client:
            assert client.current_version()[0] == 2
            assert len([p for page in client.changes(0) for p in page.persons]) == 12 + 5
    finally:
        process.terminate()
        started = time.monotonic()
        code = process.wait(10)
    assert code == 0 and time.monotonic() - started < 5
