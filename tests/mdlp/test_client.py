"""The MDLP client against the emulator over real HTTP: authorization by a signed code, the token and its
renewal, sending and polling, receipts, lists, the registry, and every way the far side can fail."""

from __future__ import annotations

import logging
import pickle

import pytest

from integrations.mdlp import xsd
from integrations.mdlp.client import MdlpClient
from integrations.mdlp.errors import (
    MdlpAnswerInvalid,
    MdlpAuthFailed,
    MdlpNotConfigured,
    MdlpNotFound,
    MdlpRejected,
    MdlpUnavailable,
)
from integrations.mdlp.signer import DemoSigner

from .conftest import (
    CLIENT_SECRET,
    PHARMACY,
    WAREHOUSE,
    move_order,
    recipe,
    requires_schemas,
    send_and_wait,
    sgtins,
    ticket_result,
)


def auth_calls(emulator) -> int:
    return len(emulator.calls("auth"))


def authorize(client: MdlpClient) -> None:
    """Any cheap authorized call: a status of an unknown document."""
    with pytest.raises(MdlpNotFound):
        client.document("no-such-document")


# --- authorization --------------------------------------------------------------------------------

def test_auth_and_token_with_the_signed_code(mdlp_client, mdlp_emulator, caplog):
    caplog.set_level(logging.DEBUG)
    assert mdlp_client.outcome().total == 0
    assert [call["path"] for call in mdlp_emulator.calls("auth")] == ["/api/v1/auth", "/api/v1/token"]
    token = mdlp_client.tokens.get(mdlp_client._token_key)[0]
    mdlp_client.outcome()  # the token is reused, not asked for again
    assert auth_calls(mdlp_emulator) == 2
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "authorized client_id=test-mdlp-client for 30 min" in logged
    assert token not in logged and CLIENT_SECRET not in logged and "Authorization" not in logged


def test_a_signature_by_an_untrusted_certificate_is_refused(make_client, tmp_path, mdlp_emulator):
    stranger = DemoSigner(key_file=tmp_path / "key.pem", ca_file=tmp_path / "other-ca.pem")
    client = make_client(signer=stranger)
    with pytest.raises(MdlpAuthFailed) as caught:
        client.outcome()
    assert caught.value.code == "mdlp.auth_failed" and not caught.value.retryable
    assert caught.value.details["error_code"] == "INVALID_SIGNATURE"
    assert "не доверенным удостоверяющим центром" in caught.value.message
    assert "MDLP_USER_ID" in caught.value.message
    assert auth_calls(mdlp_emulator) == 2  # refused at once, not retried


def test_a_signature_over_other_bytes_is_refused(make_client, mdlp_signer):
    class Forger:
        thumbprint = mdlp_signer.thumbprint

        def sign(self, data: bytes) -> bytes:
            return mdlp_signer.sign(data + b"!")

    with pytest.raises(MdlpAuthFailed) as caught:
        make_client(signer=Forger()).outcome()
    assert "документ изменён после подписания" in caught.value.message


def test_a_wrong_secret_is_refused(mdlp_url, mdlp_signer):
    from integrations.mdlp.client import Credentials

    from .conftest import CLIENT_ID

    with MdlpClient(mdlp_url, Credentials(CLIENT_ID, "wrong", mdlp_signer.thumbprint), signer=mdlp_signer,
                    retries=0) as client, pytest.raises(MdlpAuthFailed) as caught:
        client.outcome()
    assert caught.value.details["error_code"] == "INVALID_CLIENT"
    assert "wrong" not in caught.value.message


def test_the_token_is_renewed_before_it_expires(make_client, mdlp_emulator):
    now = [1000.0]
    client = make_client(clock=lambda: now[0], renew_before=120)
    authorize(client)
    now[0] += 27 * 60  # 30 minutes of life, renewed 2 minutes before the end
    authorize(client)
    assert auth_calls(mdlp_emulator) == 2
    now[0] += 60 + 1
    authorize(client)
    assert auth_calls(mdlp_emulator) == 4


def test_a_refused_token_is_renewed_once(mdlp_client, mdlp_emulator, mdlp_control):
    authorize(mdlp_client)
    old = mdlp_client.tokens.get(mdlp_client._token_key)[0]
    assert mdlp_control("tokens/expire")["expired"] == 1
    authorize(mdlp_client)  # 401, a new token, the call repeated
    assert auth_calls(mdlp_emulator) == 4
    assert mdlp_client.tokens.get(mdlp_client._token_key)[0] != old


# --- documents --------------------------------------------------------------------------------------

@requires_schemas
def test_send_poll_and_an_accepted_ticket(mdlp_client, mdlp_emulator):
    codes = sgtins(2)
    mdlp_emulator.seed(WAREHOUSE, codes)
    document_id, status, ticket = send_and_wait(mdlp_client, move_order(WAREHOUSE, PHARMACY, codes), "ship-1")
    assert status.doc_status == "PROCESSED_DOCUMENT" and status.result_ready
    assert (status.document_id, status.request_id, status.doc_type) == (document_id, "ship-1", 415)
    xsd.validate(ticket)
    assert ticket_result(ticket) == ("Accepted", [])
    assert xsd.parse_safely(ticket).findtext("result/operation_id") == document_id
    info = mdlp_client.sgtin(codes[0])
    assert (info.status, info.owner_id, info.gtin) == ("in_transit", WAREHOUSE, codes[0][:14])
    assert [(s.sgtin, s.status) for s in mdlp_client.sgtins([*codes, sgtins(1)[0]])] == [
        (code, "in_transit") for code in codes]
    page = mdlp_client.outcome({"doc_type": 415})
    assert page.total == 1 and page.documents[0].document_id == document_id


@requires_schemas
def test_a_pack_this_place_does_not_own_is_rejected(mdlp_client, mdlp_emulator):
    code = sgtins(1)[0]
    mdlp_emulator.seed(WAREHOUSE, [code])
    _, status, ticket = send_and_wait(mdlp_client, recipe(PHARMACY, [code]))
    assert status.doc_status == "FAILED_RESULT_READY"
    result, errors = ticket_result(ticket)
    assert result == "Rejected"
    text = f"Код маркировки {code} не принадлежит месту деятельности {PHARMACY} (владелец — {WAREHOUSE})"
    assert errors == [("3", text, code)]
    assert mdlp_client.sgtin(code).status == "in_circulation"  # nothing applied


@requires_schemas
def test_partly_accepted(mdlp_client, mdlp_emulator):
    mine, unknown = sgtins(2)
    mdlp_emulator.seed(PHARMACY, [mine])
    _, status, ticket = send_and_wait(mdlp_client, recipe(PHARMACY, [mine, unknown]))
    assert status.doc_status == "PROCESSED_DOCUMENT"
    xsd.validate(ticket)
    assert ticket_result(ticket) == ("Partial", [("2", f"Код маркировки {unknown} не найден в реестре МДЛП", unknown)])
    assert mdlp_client.sgtin(mine).status == "dispensed"


@requires_schemas
def test_the_same_request_id_is_one_document(mdlp_client, mdlp_emulator):
    code = sgtins(1)[0]
    mdlp_emulator.seed(PHARMACY, [code])
    xml = recipe(PHARMACY, [code])
    first = mdlp_client.send(xml, request_id="outbox-42")
    second = mdlp_client.send(xml, request_id="outbox-42")
    assert first == second
    assert mdlp_client.wait(first, timeout=10, interval=0.03).doc_status == "PROCESSED_DOCUMENT"
    assert mdlp_client.outcome().total == 1
    assert len(mdlp_emulator.mdlp.outcome) == 1


def test_ids_are_checked_before_anything_is_sent(mdlp_client, mdlp_emulator):
    with pytest.raises(ValueError):
        mdlp_client.send(b"<documents/>", request_id="")
    with pytest.raises(ValueError):
        mdlp_client.document("../../_emulator/reset")
    with pytest.raises(ValueError):
        mdlp_client.sgtin("not-a-code")
    assert mdlp_emulator.calls() == []


# --- failures ---------------------------------------------------------------------------------------

def test_down_raises_unavailable_after_retries_with_backoff(make_client, mdlp_control):
    slept = []
    client = make_client(retries=3, backoff=0.01, sleep=slept.append)
    authorize(client)
    mdlp_control("config", {"down": True})
    with pytest.raises(MdlpUnavailable) as caught:
        client.document("some-document")
    assert caught.value.retryable and caught.value.code == "mdlp.unavailable"
    assert caught.value.details["attempts"] == 4
    assert "соединение не установлено или разорвано" in caught.value.message
    assert slept == [0.01, 0.02, 0.04]


def test_5xx_is_retried_then_unavailable(make_client, mdlp_control):
    client = make_client(retries=1)
    authorize(client)
    mdlp_control("config", {"fail_rate": 1})
    with pytest.raises(MdlpUnavailable) as caught:
        client.document("some-document")
    assert "HTTP 503 (Сервис временно недоступен" in caught.value.message


def test_an_answer_slower_than_the_timeout_is_retried(make_client, mdlp_control, mdlp_emulator):
    slept = []

    def sleep(seconds):  # the far side recovers while the client backs off
        slept.append(seconds)
        mdlp_control("config", {"latency_ms": 0})

    client = make_client(timeout=0.3, retries=2, sleep=sleep)
    authorize(client)
    mdlp_control("config", {"latency_ms": 800})
    with pytest.raises(MdlpNotFound):
        client.document("some-document")
    assert len(slept) == 1
    assert [c["path"] for c in mdlp_emulator.calls("read")][-2:] == ["/api/v1/documents/some-document"] * 2


def test_broken_json_is_refused_and_nothing_else_changes(mdlp_client, mdlp_emulator, mdlp_control):
    authorize(mdlp_client)
    token = mdlp_client.tokens.get(mdlp_client._token_key)
    mdlp_control("config", {"hostile": "json"})
    with pytest.raises(MdlpAnswerInvalid) as caught:
        mdlp_client.outcome()
    assert caught.value.details == {"reason": "not_json"} and not caught.value.retryable
    assert "ответ не в формате JSON" in caught.value.message
    mdlp_control("config", {"hostile": None})
    assert mdlp_client.outcome().total == 0
    assert mdlp_client.tokens.get(mdlp_client._token_key) == token and auth_calls(mdlp_emulator) == 2


@requires_schemas
def test_an_answer_of_the_wrong_shape_to_a_send_and_the_safe_resend(mdlp_client, mdlp_emulator, mdlp_control):
    code = sgtins(1)[0]
    mdlp_emulator.seed(PHARMACY, [code])
    authorize(mdlp_client)
    mdlp_control("config", {"hostile": "shape"})
    with pytest.raises(MdlpAnswerInvalid) as caught:
        mdlp_client.send(recipe(PHARMACY, [code]), request_id="outbox-7")
    assert caught.value.details == {"reason": "shape"}
    mdlp_control("config", {"hostile": None})
    document_id = mdlp_client.send(recipe(PHARMACY, [code]), request_id="outbox-7")
    assert list(mdlp_emulator.mdlp.outcome) == [document_id]  # MDLP kept the first one, and only it


def test_a_huge_answer_is_not_read(make_client, mdlp_control):
    client = make_client(max_answer_bytes=64 * 1024)
    authorize(client)
    mdlp_control("config", {"hostile": "huge", "huge_bytes": 4 * 2**20})
    with pytest.raises(MdlpAnswerInvalid) as caught:
        client.outcome()
    assert caught.value.details == {"reason": "too_large"}


@requires_schemas
def test_a_hostile_ticket_and_an_unknown_status(mdlp_client, mdlp_emulator, mdlp_control):
    code = sgtins(1)[0]
    mdlp_emulator.seed(PHARMACY, [code])
    document_id, _, _ = send_and_wait(mdlp_client, recipe(PHARMACY, [code]))
    mdlp_control("config", {"hostile": "xml_bomb"})
    with pytest.raises(MdlpAnswerInvalid) as caught:
        mdlp_client.ticket(document_id)
    assert caught.value.details == {"reason": "doctype"}
    assert "DOCTYPE" in caught.value.message
    mdlp_control("config", {"hostile": "status"})
    with pytest.raises(MdlpAnswerInvalid) as caught:
        mdlp_client.document(document_id)
    assert caught.value.details == {"reason": "unknown_status"}
    assert "DOCUMENT_LOST_IN_SPACE" in caught.value.message
    mdlp_control("config", {"hostile": None})
    assert ticket_result(mdlp_client.ticket(document_id))[0] == "Accepted"


def test_a_refused_request_names_the_error(mdlp_client):
    with pytest.raises(MdlpRejected) as caught:
        mdlp_client.income({"colour": "red"})
    assert caught.value.details["status"] == 400 and caught.value.details["error_code"] == "BAD_REQUEST"
    assert "filter: допустимые поля" in caught.value.message


# --- settings and errors ----------------------------------------------------------------------------

def test_from_settings(settings, mdlp_url, mdlp_signer):
    settings.MDLP_BASE_URL = ""
    with pytest.raises(MdlpNotConfigured):
        MdlpClient.from_settings()
    settings.MDLP_BASE_URL, settings.MDLP_CLIENT_ID, settings.MDLP_CLIENT_SECRET = mdlp_url, "c", "s"
    settings.MDLP_USER_ID = ""
    client = MdlpClient.from_settings()
    assert client.base_url == mdlp_url and client.limiter is not None
    assert client.credentials.user_id == client.signer.thumbprint  # the signer's own certificate
    assert "client_secret" not in repr(client.credentials)
    client.close()


def test_errors_survive_pickling():
    error = MdlpRejected("МДЛП отклонила запрос", details={"status": 400, "error_code": "X"})
    copy = pickle.loads(pickle.dumps(error))
    assert (type(copy), copy.code, copy.message, copy.details) == (MdlpRejected, "mdlp.rejected", error.message,
                                                                  error.details)

