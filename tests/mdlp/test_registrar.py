"""The withdrawal registrar's client against its emulator over real HTTP on a free port (and a canned HTTP
server for answers the emulator does not make)."""

from __future__ import annotations

import base64
import json
import os
import pickle
import subprocess
import sys
import uuid
from datetime import date, datetime

import pytest
import requests

from config.launcher import free_port, load_emulators, wait_http
from integrations.mdlp.documents.outgoing import SgtinPart
from integrations.mdlp.registrar import (
    CodeError,
    RegistrarAnswerInvalid,
    RegistrarClient,
    RegistrarInvalidInput,
    RegistrarMark,
    RegistrarNotFound,
    RegistrarRejected,
    RegistrarUnavailable,
)
from integrations.mdlp.registrar.emulator import RegistrarEmulator
from tests.mdlp.registrar_fixtures import GTIN, CannedServer, sgtins, wait_finished

USER, PASSWORD = "rv-user", "rv-secret-5c1e"
DAY = date(2026, 3, 2)
PRESCRIPTION = {"prescription_date": DAY, "series": "56-26", "number": "000123"}


@pytest.fixture(scope="module")
def emulator():
    with RegistrarEmulator(credentials=(USER, PASSWORD)) as running:
        yield running


@pytest.fixture
def rv(emulator):
    emulator.reset()
    emulator.controls.update({"processing_ms": 100})
    return emulator


def url_of(emulator, password: str = PASSWORD) -> str:
    return emulator.root_url.replace("http://", f"http://{USER}:{password}@")


@pytest.fixture
def sleeps():
    return []


@pytest.fixture
def client(rv, sleeps):
    with RegistrarClient(url_of(rv), timeout=2, retries=2, backoff=0.01, sleep=sleeps.append) as made:
        yield made


def posts(emulator) -> list[dict]:
    return [call for call in emulator.calls() if call["method"] == "POST"]


# --- the happy path and idempotency --------------------------------------------------------------

def test_a_prescription_is_queued_processed_and_read_back(rv, client):
    codes = sgtins(3)
    full = f"01{codes[2][:14]}21{codes[2][14:]}\x1d91EE06\x1d92{'A' * 43}="
    marks = [codes[0], SgtinPart(codes[1], "1/2"), RegistrarMark(codes[2], code=full)]
    rv_id = client.register_by_prescription(marks, request_id="outbox-41", **PRESCRIPTION)

    assert str(uuid.UUID(rv_id)) == rv_id
    first = client.request(rv_id)
    assert first.status in ("wait", "inProgress") and not first.finished and not first.succeeded
    done = wait_finished(client, rv_id)
    assert done.status == "ready" and done.finished and done.succeeded
    assert sorted(done.registered) == sorted(codes) and done.codes_errors == ()
    assert done.mdlp_request_id and done.request_id == rv_id

    kept = rv.requests()[rv_id]
    assert kept.document == {"type": 1, "code": "3108805", "codeName": "Рецепт по форме 148-1/у-04(л)",
                             "date": "2026-03-02T00:00:00Z", "series": "56-26", "number": "000123"}
    by_sgtin = {mark.sgtin: mark for mark in kept.marks}
    assert base64.b64decode(by_sgtin[codes[0]].mark).decode() == f"01{codes[0][:14]}21{codes[0][14:]}"
    assert by_sgtin[codes[1]].sold_part == "1/2" and by_sgtin[codes[0]].sold_part is None
    assert base64.b64decode(by_sgtin[codes[2]].mark).decode() == full
    assert sorted(sgtin for sgtin, _ in rv.registrations()) == sorted(codes)


def test_the_same_request_id_is_one_request_registered_once(rv, client):
    codes = sgtins(2)
    rv_id = client.register_by_prescription(codes, request_id="outbox-77", **PRESCRIPTION)
    again = client.register_by_prescription(codes, request_id="outbox-77", **PRESCRIPTION)  # the device: 409
    assert again == rv_id and list(rv.requests()) == [rv_id] and len(posts(rv)) == 2
    assert wait_finished(client, rv_id).succeeded
    assert client.register_by_prescription(codes, request_id="outbox-77", **PRESCRIPTION) == rv_id
    wait_finished(client, rv_id)
    assert [len(rv.registrations(code)) for code in codes] == [1, 1]

    # another message with the same packs: the device refuses them, they are withdrawn already
    other = client.register_by_prescription(codes, request_id="outbox-78", **PRESCRIPTION)
    assert other != rv_id
    refused = wait_finished(client, other)
    assert refused.status == "ready" and not refused.succeeded and refused.registered == ()
    assert {error.sgtin: error.code for error in refused.codes_errors} == dict.fromkeys(codes, "onlineCheckError:4")


def test_a_uuid_request_id_is_used_as_it_is(client):
    key = str(uuid.uuid4())
    assert client.register_by_prescription(sgtins(1), request_id=key, **PRESCRIPTION) == key


# --- refusals -------------------------------------------------------------------------------------

def test_codes_the_device_refuses_come_back_per_code(rv, client):
    codes = sgtins(3)
    rv.refuse([codes[1]], code=1)
    answer = requests.post(rv.root_url + "_emulator/refuse", json={"sgtins": [codes[2]], "code": 3}, timeout=5)
    assert answer.json() == {"ok": True, "refused": 1}
    done = wait_finished(client, client.register_by_prescription(codes, request_id="outbox-5", **PRESCRIPTION))
    assert done.status == "ready" and done.registered == (codes[0],) and not done.succeeded
    assert sorted(done.codes_errors) == sorted([
        CodeError(codes[1], "onlineCheckError:1", "кода нет в ИС МДЛП"),
        CodeError(codes[2], "onlineCheckError:3", "код не прошёл криптопроверку")])
    assert rv.registrations(codes[1]) == [] and len(rv.registrations(codes[0])) == 1


def test_a_request_the_device_failed_is_an_error_with_its_code(rv, client):
    rv.controls.update({"device_error": 5090})
    done = wait_finished(client, client.register_by_prescription(sgtins(1), request_id="outbox-6", **PRESCRIPTION))
    assert done.status == "error" and done.finished and not done.succeeded
    assert done.error_code == "5090" and "5090" in done.error_description and rv.registrations() == []


def test_wrong_credentials_and_unknown_requests_are_refused(rv):
    with (RegistrarClient(url_of(rv, "wrong"), retries=2, backoff=0) as client,
          pytest.raises(RegistrarRejected) as refused):
        client.register_by_prescription(sgtins(1), request_id="outbox-7", **PRESCRIPTION)
    assert refused.value.code == "registrar.rejected" and refused.value.details["status"] == 401
    assert "wrong" not in refused.value.message and len(posts(rv)) == 1  # a 4xx is not retried
    with RegistrarClient(url_of(rv)) as client, pytest.raises(RegistrarNotFound) as missing:
        client.request(str(uuid.uuid4()))
    assert missing.value.code == "registrar.not_found" and missing.value.details["error_code"] == "NOT_FOUND"


# --- an unreachable, failing or slow device ------------------------------------------------------

def test_a_device_that_is_down_is_unavailable_after_the_retries(rv, client, sleeps):
    rv.controls.update({"down": True})
    with pytest.raises(RegistrarUnavailable) as down:
        client.register_by_prescription(sgtins(1), request_id="outbox-8", **PRESCRIPTION)
    assert down.value.code == "registrar.unavailable" and down.value.retryable
    assert down.value.details["attempts"] == 3 and down.value.details["reason"] == "connection"
    assert sleeps == [0.01, 0.02] and PASSWORD not in down.value.message and PASSWORD not in repr(client)
    restored = pickle.loads(pickle.dumps(down.value))
    assert type(restored) is RegistrarUnavailable and restored.details == down.value.details


def test_busy_answers_are_retried_until_the_retries_run_out(rv, client):
    rv.controls.update({"fail_next": 2})
    rv_id = client.register_by_prescription(sgtins(1), request_id="outbox-9", **PRESCRIPTION)
    assert len(posts(rv)) == 3 and list(rv.requests()) == [rv_id]
    rv.controls.update({"fail_next": 5})
    with pytest.raises(RegistrarUnavailable) as busy:
        client.request(rv_id)
    assert busy.value.details["problem"].startswith("HTTP 503") and busy.value.details["attempts"] == 3


def test_a_slow_device_times_out(rv):
    rv.controls.update({"latency_ms": 1500})
    with (RegistrarClient(url_of(rv), timeout=0.3, retries=1, backoff=0) as client,
          pytest.raises(RegistrarUnavailable) as slow):
        client.register_by_prescription(sgtins(1), request_id="outbox-10", **PRESCRIPTION)
    assert slow.value.details["reason"] == "timeout" and slow.value.details["attempts"] == 2


# --- hostile answers -----------------------------------------------------------------------------

@pytest.mark.parametrize(("call", "mode", "reason"), [
    ("post", "json", "not_json"), ("post", "shape", "shape"), ("post", "huge", "too_large"),
    ("get", "json", "not_json"), ("get", "shape", "shape"), ("get", "types", "shape"),
    ("get", "status", "unknown_status"), ("get", "huge", "too_large"),
])
def test_hostile_answers_are_refused(rv, client, call, mode, reason):
    rv_id = client.register_by_prescription(sgtins(1), request_id="outbox-11", **PRESCRIPTION) if call == "get" \
        else None
    rv.controls.update({"hostile": mode})
    with pytest.raises(RegistrarAnswerInvalid) as hostile:
        if call == "get":
            client.request(rv_id)
        else:
            client.register_by_prescription(sgtins(1), request_id="outbox-12", **PRESCRIPTION)
    assert hostile.value.code == "registrar.answer_invalid" and hostile.value.details["reason"] == reason


READY = {"results": {"status": "ready", "result": {"marks": {"1": {"sgtin": f"{GTIN}ABCDEFGHJKLMN"}}}}}


@pytest.mark.parametrize(("status", "body", "chunks", "reason"), [
    (200, b"<html>Registrar</html>", None, "not_json"),
    (200, b"[" * 200_000, None, "not_json"),
    (200, b"[]", None, "shape"),
    (200, None, [b"x" * 65536] * 20, "too_large"),  # chunked, no Content-Length
    (200, json.dumps(READY).encode(), None, "shape"),  # a per-code result without onlineCheckStatus
    (200, b'{"results": {"status": "error", "error": "boom"}}', None, "shape"),
    (302, b"", None, "status"),
])
def test_malformed_status_answers_are_refused(status, body, chunks, reason):
    with CannedServer() as canned, RegistrarClient(canned.url, retries=0) as client:
        canned.status, canned.body, canned.chunks = status, body, chunks
        with pytest.raises(RegistrarAnswerInvalid) as bad:
            client.request(str(uuid.uuid4()))
    assert bad.value.details["reason"] == reason


def test_per_code_results_are_read_however_they_name_the_code():
    codes = sgtins(4)
    mark = base64.b64encode(f"01{codes[2][:14]}21{codes[2][14:]}\x1d91EE06".encode()).decode()
    marks = {"1": {"sgtin": codes[0], "onlineCheckStatus": 0}, codes[1]: {"onlineCheckStatus": 0},
             "3": {"mark": mark, "onlineCheckStatus": 0, "localCheckStatus": 1},
             "4": {"sgtin": codes[3], "onlineCheckStatus": 1}}  # the check was not made: not registered
    with CannedServer() as canned, RegistrarClient(canned.url, retries=0) as client:
        canned.body = json.dumps({"results": {"status": "ready", "result": {"mdlpRequestId": "m-1", "marks": marks}}})
        canned.body = canned.body.encode()
        done = client.request(str(uuid.uuid4()))
    assert done.registered == tuple(codes[:3]) and done.mdlp_request_id == "m-1"
    assert [(error.sgtin, error.code) for error in done.codes_errors] == [(codes[3], "onlineCheckStatus:1")]


def test_a_queued_answer_naming_another_request_is_refused():
    with CannedServer() as canned, RegistrarClient(canned.url, retries=0) as client:
        canned.status, canned.body = 201, json.dumps({"rvRequestId": str(uuid.uuid4())}).encode()
        with pytest.raises(RegistrarAnswerInvalid) as foreign:
            client.register_by_prescription(sgtins(1), request_id="outbox-13", **PRESCRIPTION)
        canned.body = b""  # an empty 201 is fine
        assert client.register_by_prescription(sgtins(1), request_id="outbox-13", **PRESCRIPTION)
    assert foreign.value.details["reason"] == "shape"


# --- our own input -------------------------------------------------------------------------------

GOOD = sgtins(2)


@pytest.mark.parametrize(("marks", "changes", "field"), [
    ([], {}, "sgtins"),
    (GOOD[0], {}, "sgtins"),  # a string is not a list of codes
    ([GOOD[0][:26]], {}, "sgtins[0]"),
    ([GOOD[0][:13] + str((int(GOOD[0][13]) + 1) % 10) + GOOD[0][14:]], {}, "sgtins[0]"),  # GTIN check digit
    ([GOOD[0][:14] + "АБВ" + GOOD[0][17:]], {}, "sgtins[0]"),  # Cyrillic in the serial
    ([GOOD[0], GOOD[1], GOOD[0]], {}, "sgtins[2]"),
    ([SgtinPart(GOOD[0], "3/2")], {}, "sgtins[0].sold_part"),
    ([RegistrarMark(GOOD[0], code=f"01{GOOD[1][:14]}21{GOOD[1][14:]}")], {}, "sgtins[0].code"),
    ([42], {}, "sgtins[0]"),
    (GOOD, {"number": ""}, "number"),
    (GOOD, {"number": "   "}, "number"),
    (GOOD, {"number": None}, "number"),
    (GOOD, {"number": "12\n3"}, "number"),
    (GOOD, {"series": "x" * 201}, "series"),
    (GOOD, {"prescription_date": None}, "prescription_date"),
    (GOOD, {"prescription_date": datetime(2026, 3, 2, 10, 0)}, "prescription_date"),
    (GOOD, {"prescription_date": "2026-03-02"}, "prescription_date"),
    (GOOD, {"request_id": ""}, "request_id"),
    (GOOD, {"request_id": "key with spaces"}, "request_id"),
])
def test_bad_input_is_refused_before_any_call(rv, client, marks, changes, field):
    arguments = {**PRESCRIPTION, "request_id": "outbox-14", **changes}
    with pytest.raises(RegistrarInvalidInput) as bad:
        client.register_by_prescription(marks, **arguments)
    assert bad.value.code == "registrar.invalid_input" and bad.value.details["field"] == field
    assert rv.calls() == [] and rv.requests() == {}


@pytest.mark.parametrize("value", ["", "42", "not-a-uuid-but-36-characters-long!!!", None])
def test_a_bad_registrar_request_id_is_refused_before_any_call(rv, client, value):
    with pytest.raises(RegistrarInvalidInput):
        client.request(value)
    assert rv.calls() == []


def test_a_bad_url_is_refused():
    with pytest.raises(RegistrarInvalidInput):
        RegistrarClient("ftp://10.0.0.5/")


def test_for_url_takes_the_settings(settings):
    settings.MDLP_REGISTRAR_TIMEOUT, settings.MDLP_REGISTRAR_RETRIES = 3.5, 4
    client = RegistrarClient.for_url("https://user:s3cret@10.0.0.5:8443")
    assert (client.timeout, client.retries, client.base_url) == (3.5, 4, "https://10.0.0.5:8443/")
    assert "s3cret" not in repr(client)


# --- the emulator itself -------------------------------------------------------------------------

def post(emulator, body, raw: bool = False):
    auth = (USER, PASSWORD)
    url = emulator.root_url + "v1/requests"
    return requests.post(url, data=body, auth=auth, timeout=5) if raw else requests.post(url, json=body, auth=auth,
                                                                                        timeout=5)


def valid_body(code: str) -> dict:
    mark = base64.b64encode(f"01{code[:14]}21{code[14:]}".encode()).decode()
    return {"rvRequestId": str(uuid.uuid4()), "request": {
        "type": "registerMarksByRequisites", "marks": {"1": {"mark": mark}},
        "documentOut": {"type": 1, "code": "3108805", "codeName": "Рецепт", "date": "2026-03-02T00:00:00Z",
                        "series": "", "number": "1"}}}


@pytest.mark.parametrize(("change", "message"), [
    (lambda b: "{not json", "не JSON"),
    (lambda b: {**b, "rvRequestId": "42"}, "rvRequestId"),
    (lambda b: {**b, "request": {**b["request"], "marks": None}}, "request.marks"),
    (lambda b: {**b, "request": {k: v for k, v in b["request"].items() if k != "documentOut"}},
     "request.documentOut: обязательное поле"),
    (lambda b: {**b, "request": {**b["request"], "type": "checkMarks"}}, "request.type"),
    (lambda b: {**b, "request": {**b["request"], "marks": {"1": {"mark": "%%%"}}}}, "request.marks[1].mark"),
    (lambda b: {**b, "request": {**b["request"], "documentOut": {**b["request"]["documentOut"],
                                                                 "date": "2026-03-02T00:00:00"}}}, "documentOut.date"),
    (lambda b: {**b, "request": {**b["request"], "documentOut": {**b["request"]["documentOut"], "number": ""}}},
     "documentOut.number"),
    (lambda b: {**b, "request": {**b["request"], "marks": {"1": {**b["request"]["marks"]["1"], "soldPart": "0/2"}}}},
     "soldPart"),
])
def test_the_emulator_refuses_malformed_requests(rv, change, message):
    body = change(valid_body(sgtins(1)[0]))
    answer = post(rv, body, raw=True) if isinstance(body, str) else post(rv, body)
    assert answer.status_code == 400 and message in answer.json()["error"]["description"]
    assert rv.requests() == {}


def test_the_emulator_control_api(rv):
    root = rv.root_url
    assert requests.get(root + "_emulator/health", timeout=5).json() == {"ok": True}
    bad = requests.post(root + "_emulator/config", json={"fail_next": -1, "down": True}, timeout=5)
    assert bad.status_code == 400 and "fail_next" in bad.json()["error"]
    assert requests.get(root + "_emulator/config", timeout=5).json()["down"] is False  # all or nothing
    assert requests.post(root + "_emulator/refuse", json={"sgtins": ["1"], "code": 4}, timeout=5).status_code == 400
    assert requests.post(root + "_emulator/refuse", json={"sgtins": sgtins(1), "code": 9}, timeout=5).status_code == 400
    assert post(rv, valid_body(sgtins(1)[0])).status_code == 201
    assert len(requests.get(root + "_emulator/requests", timeout=5).json()["requests"]) == 1
    assert [call["method"] for call in requests.get(root + "_emulator/calls", timeout=5).json()["calls"]] == ["POST"]
    requests.post(root + "_emulator/reset", timeout=5).raise_for_status()
    assert rv.requests() == {} and rv.calls() == []


def test_launcher_entry_is_registered(settings):
    (emulator,) = load_emulators({"registrar": settings.LLO_EMULATORS["registrar"]})
    port = emulator.argv[-1]
    assert emulator.name == "registrar"
    assert emulator.argv[1:4] == ["-m", "integrations.mdlp.registrar.emulator", "--port"]
    assert json.loads(emulator.env["MDLP_REGISTRARS"]) == {"00000992100003": f"http://127.0.0.1:{port}/"}
    assert emulator.ready_url == f"http://127.0.0.1:{port}/_emulator/health"


def test_the_emulator_runs_as_a_process():
    port = free_port()
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    process = subprocess.Popen([sys.executable, "-m", "integrations.mdlp.registrar.emulator", "--port", str(port),
                                "--processing-ms", "0"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
    try:
        assert wait_http(f"http://127.0.0.1:{port}/_emulator/health", 20), (
            process.stdout.read() if process.poll() is not None else "")
        with RegistrarClient(f"http://127.0.0.1:{port}/", retries=0) as client:
            rv_id = client.register_by_prescription(sgtins(1), request_id="outbox-15", **PRESCRIPTION)
            assert wait_finished(client, rv_id).succeeded
    finally:
        process.terminate()
        process.wait(10)
