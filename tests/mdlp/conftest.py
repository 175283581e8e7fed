"""The MDLP emulator over real HTTP on a free port, clients of it, and small hand-written documents (the
client and emulator tests do not depend on the document builders)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
import redis
import requests
from django.conf import settings

from integrations.mdlp import xsd
from integrations.mdlp.client import Credentials, MdlpClient
from integrations.mdlp.emulator import MdlpEmulator
from integrations.mdlp.ratelimit import IntervalLimiter
from integrations.mdlp.signer import DemoSigner

CLIENT_ID = "test-mdlp-client"
CLIENT_SECRET = "test-mdlp-secret-7d2a"
WAREHOUSE = "00000993000001"
PHARMACY = "00000992000001"
OTHER_PLACE = "00000992100001"
SUPPLIER = "00000994000001"
GTIN = "04601234567894"

requires_schemas = pytest.mark.skipif(
    not xsd.schema_available(),
    reason=f"MDLP XSD folder not found at {xsd.schema_path()} (MDLP_SCHEMA_DIR): the emulator refuses documents "
           "without it, see ../shared/reference/mdlp-xsd/README.md")


def sgtins(count: int, prefix: str = "T") -> list[str]:
    """Distinct SGTINs: GTIN + a 13-character serial, new for every call."""
    tag = uuid.uuid4().hex[:6].upper()
    return [f"{GTIN}{prefix}{tag}{n:06d}"[:27] for n in range(count)]


def new_sscc() -> str:
    return f"{uuid.uuid4().int % 10**18:018d}"


# --- documents ----------------------------------------------------------------------------------

def _now() -> str:
    return datetime.now(UTC).astimezone().isoformat(timespec="seconds")


def _doc(body: str) -> bytes:
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<documents version="1.38">{body}</documents>'.encode()


def move_order(subject: str, receiver: str, codes: list[str], boxes: list[str] = ()) -> bytes:  # 415
    union = "".join(f"<union><sgtin>{c}</sgtin><cost>100.00</cost><vat_value>9.09</vat_value></union>" for c in codes)
    union += "".join(f"<union><sscc_detail><sscc>{s}</sscc></sscc_detail><cost>100.00</cost>"
                     f"<vat_value>9.09</vat_value></union>" for s in boxes)
    return _doc(f'<move_order action_id="415"><subject_id>{subject}</subject_id><receiver_id>{receiver}</receiver_id>'
                f"<operation_date>{_now()}</operation_date><doc_num>Н-1</doc_num><doc_date>01.02.2026</doc_date>"
                "<turnover_type>1</turnover_type><source>2</source><contract_type>6</contract_type>"
                f"<order_details>{union}</order_details></move_order>")


def accept(subject: str, counterparty: str, codes: list[str], boxes: list[str] = ()) -> bytes:  # 701
    details = "".join(f"<sgtin>{c}</sgtin>" for c in codes) + "".join(f"<sscc>{s}</sscc>" for s in boxes)
    return _doc(f'<accept action_id="701"><subject_id>{subject}</subject_id><counterparty_id>{counterparty}'
                f"</counterparty_id><operation_date>{_now()}</operation_date>"
                f"<order_details>{details}</order_details></accept>")


def recipe(subject: str, codes: list[str]) -> bytes:  # 521
    union = "".join(f"<union><sgtin>{c}</sgtin></union>" for c in codes)
    return _doc(f'<recipe action_id="521"><subject_id>{subject}</subject_id><operation_date>{_now()}</operation_date>'
                f"<doc_date>01.02.2026</doc_date><doc_series>99-26</doc_series><doc_num>000123</doc_num>"
                f"<order_details>{union}</order_details></recipe>")


def move_place(subject: str, receiver: str, codes: list[str]) -> bytes:  # 431
    details = "".join(f"<sgtin>{c}</sgtin>" for c in codes)
    return _doc(f'<move_place action_id="431"><subject_id>{subject}</subject_id><receiver_id>{receiver}</receiver_id>'
                f"<operation_date>{_now()}</operation_date><doc_num>П-1</doc_num><doc_date>01.02.2026</doc_date>"
                f"<order_details>{details}</order_details></move_place>")


def withdrawal(subject: str, codes: list[str]) -> bytes:  # 552
    details = "".join(f"<sgtin>{c}</sgtin>" for c in codes)
    return _doc(f'<withdrawal action_id="552"><subject_id>{subject}</subject_id><operation_date>{_now()}'
                "</operation_date><doc_num>С-1</doc_num><doc_date>01.02.2026</doc_date>"
                f"<withdrawal_type>10</withdrawal_type><order_details>{details}</order_details></withdrawal>")


def unit_pack(subject: str, sscc: str, codes: list[str]) -> bytes:  # 911
    content = "".join(f"<sgtin>{c}</sgtin>" for c in codes)
    return _doc(f'<unit_pack action_id="911"><subject_id>{subject}</subject_id><sscc>{sscc}</sscc>'
                f"<operation_date>{_now()}</operation_date><content>{content}</content></unit_pack>")


def query_kiz(subject: str, sgtin: str) -> bytes:  # 210
    return _doc(f'<query_kiz_info action_id="210"><subject_id>{subject}</subject_id><sgtin>{sgtin}</sgtin>'
                "</query_kiz_info>")


def ticket_result(xml: bytes) -> tuple[str, list[tuple[str, str, str | None]]]:
    """(operation_result, [(error_code, error_desc, object_id)]) of a 200 `result`."""
    result = xsd.parse_safely(xml).find("result")
    errors = [(e.findtext("error_code"), e.findtext("error_desc"), e.findtext("object_id"))
              for e in result.findall("errors")]
    return result.findtext("operation_result"), errors


# --- the emulator and clients ---------------------------------------------------------------------

@pytest.fixture(scope="session")
def mdlp_emulator():
    """The MDLP emulator, serving from a background thread on a free port, trusting the demo CA."""
    with MdlpEmulator(accounts={CLIENT_ID: CLIENT_SECRET}) as emulator:
        yield emulator


@pytest.fixture
def mdlp_url(mdlp_emulator):
    """The API's base URL, with an empty registry and good, fast behaviour for each test."""
    root = mdlp_emulator.root_url
    requests.post(root + "_emulator/reset", timeout=10).raise_for_status()
    requests.post(root + "_emulator/config", json={"processing_ms": 60}, timeout=10).raise_for_status()
    yield mdlp_emulator.base_url
    requests.post(root + "_emulator/reset", timeout=10).raise_for_status()


@pytest.fixture
def mdlp_control(mdlp_emulator, mdlp_url):
    """Post a command to the emulator's control API: mdlp_control("config", {"down": True})."""

    def post(command: str, payload: dict | None = None) -> dict:
        response = requests.post(f"{mdlp_emulator.root_url}_emulator/{command}", json=payload or {}, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()

    return post


@pytest.fixture(scope="session")
def mdlp_signer(tmp_path_factory):
    """The demo signer with a key of its own, certified by the shared demo CA the emulator trusts."""
    return DemoSigner(key_file=tmp_path_factory.mktemp("mdlp-signer") / "key.pem",
                      ca_file=settings.PRESCRIPTION_DEMO_CA_FILE)


@pytest.fixture
def redis_client():
    client = redis.Redis.from_url(settings.REDIS_URL)
    yield client
    client.close()


@pytest.fixture
def limiter_account():
    """A limiter account of its own per test: no queue left over from another test."""
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def make_client(mdlp_url, mdlp_signer, redis_client, limiter_account):
    """make_client(**options): a client of the emulator with short timeouts and almost no backoff, keeping
    the published intervals through Redis (limited=False: no limiter, for tests of the far side)."""
    made = []

    def make(*, limited: bool = True, signer=None, **options) -> MdlpClient:
        signer = signer or mdlp_signer
        limiter = None
        if limited:
            limiter = IntervalLimiter(redis_client, account=limiter_account,
                                      intervals={"send": 0.5, "list": 1.0, "read": 0.0})
        options = {"timeout": 2.0, "retries": 2, "backoff": 0.01, **options}
        client = MdlpClient(mdlp_url, Credentials(CLIENT_ID, CLIENT_SECRET, signer.thumbprint), signer=signer,
                            limiter=limiter, **options)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def mdlp_client(make_client):
    return make_client()


@pytest.fixture
def fast_client(make_client, mdlp_control):
    """No limiter and no interval checks at the emulator: for tests of what the far side does."""
    mdlp_control("config", {"enforce_intervals": False})
    return make_client(limited=False)


@pytest.fixture
def mdlp_exchange(settings, mdlp_url, mdlp_control):
    """The exchange (integrations.mdlp.exchange) pointed at the emulator, without the published intervals
    (kept by the client's own tests), documents processed in 40 ms; yields the control function."""
    from integrations.mdlp import breaker, exchange

    settings.MDLP_BASE_URL = mdlp_url
    settings.MDLP_CLIENT_ID, settings.MDLP_CLIENT_SECRET, settings.MDLP_USER_ID = CLIENT_ID, CLIENT_SECRET, ""
    settings.MDLP_SEND_INTERVAL = settings.MDLP_LIST_INTERVAL = 0
    settings.MDLP_TIMEOUT, settings.MDLP_RETRIES, settings.MDLP_BACKOFF = 2.0, 1, 0.01
    settings.MDLP_POLL_FIRST, settings.MDLP_BREAKER_SECONDS = 0, 1
    mdlp_control("config", {"enforce_intervals": False, "processing_ms": 40})
    exchange.reset_client()
    breaker.reset()
    yield mdlp_control
    exchange.reset_client()
    breaker.reset()


def send_and_wait(client: MdlpClient, xml: bytes, request_id: str | None = None):
    """Send, poll until processed; (document_id, final status, ticket bytes or None)."""
    document_id = client.send(xml, request_id=request_id or uuid.uuid4().hex)
    status = client.wait(document_id, timeout=10, interval=0.03)
    assert status.finished, status
    return document_id, status, client.ticket(document_id) if status.result_ready else None
