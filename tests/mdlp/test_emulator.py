"""What the MDLP emulator checks and does, over real HTTP: XSD and signature checks of received documents,
processing into receipts, the registry of packs and boxes, notifications between places, the interval
checks, the control API, and running it for `make run`."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import time

import pytest
import requests

from config.launcher import free_port, load_emulators, wait_http
from integrations.mdlp import xsd
from integrations.mdlp.errors import MdlpRejected, MdlpUnavailable

from .conftest import (
    OTHER_PLACE,
    PHARMACY,
    SUPPLIER,
    WAREHOUSE,
    accept,
    move_order,
    move_place,
    new_sscc,
    query_kiz,
    recipe,
    requires_schemas,
    send_and_wait,
    sgtins,
    ticket_result,
    unit_pack,
    withdrawal,
)

pytestmark = requires_schemas


def test_an_xsd_invalid_document_is_refused_with_the_reason(fast_client, mdlp_emulator):
    broken = recipe(PHARMACY, sgtins(1)).replace(b"<doc_num>000123</doc_num>", b"")
    with pytest.raises(MdlpRejected) as caught:
        fast_client.send(broken, request_id="bad-1")
    assert caught.value.details["status"] == 400 and caught.value.details["error_code"] == "DOCUMENT_INVALID"
    assert "не соответствует схеме" in caught.value.message and "doc_num" in caught.value.message
    assert mdlp_emulator.mdlp.outcome == {}


def test_a_document_with_a_doctype_is_refused(fast_client):
    hostile = b'<?xml version="1.0"?><!DOCTYPE documents [<!ENTITY x "x">]><documents version="1.38"/>'
    with pytest.raises(MdlpRejected) as caught:
        fast_client.send(hostile, request_id="bad-2")
    assert caught.value.details["error_code"] == "XML_MALFORMED"


def test_without_the_schemas_the_emulator_refuses_to_accept(fast_client, settings, tmp_path):
    settings.MDLP_SCHEMA_DIR = tmp_path  # the emulator runs in this process and reads the same settings
    with pytest.raises(MdlpUnavailable) as caught:
        fast_client.send(recipe(PHARMACY, sgtins(1)), request_id="no-schemas")
    assert "нет XSD-схем документов" in caught.value.message and "MDLP_SCHEMA_DIR" in caught.value.message


def test_a_document_signature_must_match_the_document(fast_client, mdlp_url, mdlp_signer):
    fast_client.outcome()
    token = fast_client.tokens.get(fast_client._token_key)[0]
    xml = recipe(PHARMACY, sgtins(1))
    answer = requests.post(mdlp_url + "documents/send", headers={"Authorization": f"token {token}"}, json={
        "document": base64.b64encode(xml).decode(), "sign": base64.b64encode(mdlp_signer.sign(xml + b" ")).decode(),
        "request_id": "forged"}, timeout=10)
    assert answer.status_code == 400
    assert answer.json() == {"error_code": "INVALID_SIGNATURE",
                             "error_description": "Подпись документа не прошла проверку: документ изменён после "
                                                  "подписания"}


def test_statuses_move_from_uploading_to_processed(fast_client, mdlp_control, mdlp_emulator):
    code = sgtins(1)[0]
    mdlp_emulator.seed(PHARMACY, [code])
    mdlp_control("config", {"processing_ms": 400})
    document_id = fast_client.send(recipe(PHARMACY, [code]), request_id="slow")
    seen = []
    while not seen or seen[-1] != "PROCESSED_DOCUMENT":
        seen.append(fast_client.document(document_id).doc_status)
        time.sleep(0.05)
    assert [s for i, s in enumerate(seen) if i == 0 or seen[i - 1] != s] == [
        "UPLOADING_DOCUMENT", "PROCESSING_DOCUMENT", "PROCESSED_DOCUMENT"]
    with pytest.raises(MdlpRejected):  # asked too early, the ticket is not there yet: 404
        fast_client.ticket(fast_client.send(recipe(PHARMACY, [code]), request_id="slow-2"))


def test_direct_acceptance_of_a_suppliers_shipment(fast_client, mdlp_control):
    codes, sscc, boxed = sgtins(2), new_sscc(), sgtins(2)
    published = mdlp_control("publish", {"sender": SUPPLIER, "receiver": WAREHOUSE, "sgtins": codes,
                                         "boxes": {sscc: boxed}, "contract_num": "ГК-17"})
    page = fast_client.income({"receiver_id": WAREHOUSE, "doc_type": 601})
    assert page.total == 1 and page.documents[0].document_id == published["document_id"]
    assert page.documents[0].sender_id == SUPPLIER
    notice = fast_client.download(published["document_id"])
    xsd.validate(notice)
    root = xsd.parse_safely(notice)
    assert root.xpath("move_order_notification/order_details/union/sgtin/text()") == codes
    assert root.xpath("move_order_notification/order_details/union/sscc_detail/sscc/text()") == [sscc]
    assert fast_client.sgtin(codes[0]).status == "in_transit"

    ticket = send_and_wait(fast_client, accept(WAREHOUSE, SUPPLIER, codes, [sscc]))[2]
    assert ticket_result(ticket) == ("Accepted", [])
    assert {(i.owner_id, i.status) for i in fast_client.sgtins(codes + boxed)} == {(WAREHOUSE, "in_circulation")}
    confirmation = fast_client.income({"receiver_id": SUPPLIER, "doc_type": 607})
    assert confirmation.total == 1
    xsd.validate(fast_client.download(confirmation.documents[0].document_id))


def test_a_partial_acceptance_notifies_only_what_was_accepted(fast_client, mdlp_emulator):
    shipped, foreign = sgtins(2)
    mdlp_emulator.seed(WAREHOUSE, [shipped, foreign])
    send_and_wait(fast_client, move_order(WAREHOUSE, PHARMACY, [shipped]))
    _, status, ticket = send_and_wait(fast_client, accept(PHARMACY, WAREHOUSE, [shipped, foreign]))
    result, errors = ticket_result(ticket)
    assert (status.doc_status, result) == ("PROCESSED_DOCUMENT", "Partial")
    assert [(code, obj) for code, _, obj in errors] == [("6", foreign)]
    assert fast_client.sgtin(shipped).owner_id == PHARMACY
    notice = fast_client.income({"receiver_id": WAREHOUSE, "doc_type": 607}).documents[0]
    assert xsd.parse_safely(fast_client.download(notice.document_id)).xpath("//sgtin/text()") == [shipped]


def test_a_shipment_with_one_foreign_pack_is_rejected_whole(fast_client, mdlp_emulator):
    mine, foreign = sgtins(2)
    mdlp_emulator.seed(WAREHOUSE, [mine])
    mdlp_emulator.seed(OTHER_PLACE, [foreign])
    _, status, ticket = send_and_wait(fast_client, move_order(WAREHOUSE, PHARMACY, [mine, foreign]))
    assert status.doc_status == "FAILED_RESULT_READY"
    assert [(code, obj) for code, _, obj in ticket_result(ticket)[1]] == [("3", foreign)]
    assert fast_client.sgtin(mine).status == "in_circulation"
    assert fast_client.income({"receiver_id": PHARMACY}).total == 0


def test_moves_withdrawals_and_the_registry(fast_client, mdlp_emulator):
    moved, withdrawn = sgtins(2)
    mdlp_emulator.seed(PHARMACY, [moved, withdrawn])
    assert ticket_result(send_and_wait(fast_client, move_place(PHARMACY, OTHER_PLACE, [moved]))[2])[0] == "Accepted"
    assert ticket_result(send_and_wait(fast_client, withdrawal(PHARMACY, [withdrawn]))[2])[0] == "Accepted"
    assert (fast_client.sgtin(moved).owner_id, fast_client.sgtin(withdrawn).status) == (OTHER_PLACE, "withdrawn")
    _, _, again = send_and_wait(fast_client, recipe(PHARMACY, [withdrawn]))
    assert ticket_result(again)[1][0][0] == "4"  # not in circulation


def test_aggregation_and_the_hierarchy(fast_client, mdlp_emulator):
    codes, sscc = sgtins(3), new_sscc()
    mdlp_emulator.seed(WAREHOUSE, codes)
    assert ticket_result(send_and_wait(fast_client, unit_pack(WAREHOUSE, sscc, codes[:2]))[2])[0] == "Accepted"
    hierarchy = fast_client.sscc_hierarchy(sscc)
    assert hierarchy.path == (sscc,) and sorted(hierarchy.down.all_sgtins()) == sorted(codes[:2])
    assert fast_client.sgtin(codes[0]).sscc == sscc
    _, status, ticket = send_and_wait(fast_client, unit_pack(WAREHOUSE, sscc, codes[2:]))
    assert status.doc_status == "FAILED_RESULT_READY" and ticket_result(ticket)[1][0][0] == "7"
    # a pack in a box is shipped with its box, not alone
    _, _, ticket = send_and_wait(fast_client, move_order(WAREHOUSE, PHARMACY, [codes[0]]))
    assert ticket_result(ticket)[1][0][0] == "5"
    _, _, ticket = send_and_wait(fast_client, move_order(WAREHOUSE, PHARMACY, [], [sscc]))
    assert ticket_result(ticket)[0] == "Accepted"
    assert {i.status for i in fast_client.sgtins(codes[:2])} == {"in_transit"}


def test_a_query_is_answered_with_a_211(fast_client, mdlp_emulator):
    code = sgtins(1)[0]
    mdlp_emulator.seed(PHARMACY, [code], series_number="A123", expiration_date="01.06.2028")
    ticket = send_and_wait(fast_client, query_kiz(PHARMACY, code))[2]
    xsd.validate(ticket)
    info = xsd.parse_safely(ticket).find("kiz_info/sgtin/info_sgtin")
    assert (info.findtext("status"), info.findtext("series_number"), info.findtext("expiration_date")) == (
        "in_circulation", "A123", "01.06.2028")


def test_calls_closer_than_the_published_interval_get_429(make_client, mdlp_emulator):
    slept = []

    def sleep(seconds):
        slept.append(seconds)
        time.sleep(seconds)

    client = make_client(limited=False, sleep=sleep)
    client.outcome()
    client.outcome()  # 429 at once, then the client waits as told (Retry-After) and repeats
    assert slept == [1.0]
    assert len(mdlp_emulator.calls("list")) == 3


def test_the_control_api(mdlp_emulator, mdlp_url):
    root = mdlp_emulator.root_url
    assert requests.get(root + "_emulator/health", timeout=5).json() == {"ok": True}
    bad = requests.post(root + "_emulator/config", json={"hostile": "polite"}, timeout=5)
    assert bad.status_code == 400 and "hostile" in bad.json()["error"]
    bad = requests.post(root + "_emulator/sgtins", json={"place": "1", "sgtins": []}, timeout=5)
    assert bad.status_code == 400 and "place" in bad.json()["error"]
    seeded = requests.post(root + "_emulator/sgtins", json={"place": PHARMACY, "sgtins": sgtins(2)}, timeout=5)
    assert seeded.json() == {"ok": True, "seeded": 2}
    assert requests.post(root + "_emulator/config", json={"down": True}, timeout=5).json()["down"] is True
    with pytest.raises(requests.ConnectionError):
        requests.post(mdlp_url + "auth", json={}, timeout=5)
    requests.post(root + "_emulator/reset", timeout=5).raise_for_status()
    assert mdlp_emulator.mdlp.packs == {} and requests.get(root + "_emulator/config", timeout=5).json()["down"] is False


def test_launcher_entry_is_registered(settings):
    (emulator,) = load_emulators({"mdlp": settings.LLO_EMULATORS["mdlp"]})
    port = emulator.argv[emulator.argv.index("--port") + 1]
    assert emulator.name == "mdlp" and emulator.argv[1:4] == ["-m", "integrations.mdlp.emulator", "--port"]
    state = settings.BASE_DIR / "var" / "emulators" / f"mdlp-{settings.DATABASES['default']['NAME']}.pickle"
    assert emulator.argv[-2:] == ["--state-file", str(state)]
    assert emulator.env == {"MDLP_BASE_URL": f"http://127.0.0.1:{port}/api/v1/",
                            "MDLP_CLIENT_ID": "demo-mdlp-client", "MDLP_CLIENT_SECRET": "demo-mdlp-secret"}
    assert emulator.ready_url == f"http://127.0.0.1:{port}/_emulator/health"


def test_the_emulator_runs_as_a_process():
    port = free_port()
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    process = subprocess.Popen([sys.executable, "-m", "integrations.mdlp.emulator", "--port", str(port)],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert wait_http(f"http://127.0.0.1:{port}/_emulator/health", 20), (
            process.stdout.read() if process.poll() is not None else "")
        answer = requests.post(f"http://127.0.0.1:{port}/api/v1/auth", json={
            "client_id": "demo-mdlp-client", "client_secret": "demo-mdlp-secret", "user_id": "a" * 40,
            "auth_type": "SIGNED_CODE"}, timeout=5)
        assert answer.status_code == 200 and set(answer.json()) == {"code"}
    finally:
        process.terminate()
        process.wait(10)


def test_the_registry_survives_a_restart_through_its_state_file(tmp_path):
    from integrations.mdlp.emulator.store import Mdlp

    before = Mdlp()
    codes = sgtins(3)
    before.seed(place=PHARMACY, sgtins=codes[:2])
    before.seed(place=SUPPLIER, sgtins=codes[2:], state="in_transit", receiver=WAREHOUSE)
    before.save(tmp_path / "mdlp.pickle")

    after = Mdlp()
    assert after.load(tmp_path / "nothing.pickle") is False and after.stats()["packs"] == 0
    assert after.load(tmp_path / "mdlp.pickle") is True
    assert after.stats() == before.stats() == {"packs": 3, "boxes": 0, "documents": 0, "income": 0}
    assert (after.packs[codes[2]].owner, after.packs[codes[2]].state) == (SUPPLIER, "in_transit")
    assert after.packs[codes[2]].receiver == WAREHOUSE and after.packs[codes[0]].owner == PHARMACY
