"""The outbox → MDLP exchange against the emulator over real HTTP: documents registered in operation order,
sent with the message key as request_id, followed to MDLP's receipt, applied to each code; and the faults it
must survive — a long outage and hostile answers (a worker killed mid-send: test_exchange_concurrency.py)."""

from __future__ import annotations

import time
import uuid
from datetime import date

import pytest
import requests
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from integrations.mdlp import exchange, xsd
from integrations.models import ItemStatus, MdlpDocument, MdlpStatus
from llo import outbox
from llo.barcodes.check_digits import gs1_check_digit
from llo.models import OutboxMessage, OutboxStatus
from llo.models.organizations import OrganizationKind as K
from tests.llo import factories as f

from .conftest import OTHER_PLACE, PHARMACY, requires_schemas

GTIN = "0460123456789" + gs1_check_digit("0460123456789")


def sgtins(count: int) -> list[str]:
    """New SGTINs with a valid GTIN (the builder checks it)."""
    tag = uuid.uuid4().hex[:7].upper()
    return [f"{GTIN}{tag}{n:06d}" for n in range(count)]

pytestmark = [pytest.mark.django_db, requires_schemas]


@pytest.fixture
def mdlp(mdlp_exchange):
    return mdlp_exchange


@pytest.fixture
def point(region):
    chain = f.organization(K.PHARMACY_ORG, region=region)
    return f.organization(K.DISPENSING_POINT, parent=chain, mdlp_place_id=PHARMACY)


def recipe(place_mdlp_id: str | None, codes: list[str], n: int | None = None) -> OutboxMessage:
    n = n or uuid.uuid4().int % 10**8
    return outbox.publish("mdlp.recipe", {
        "dispensation_id": n, "place_mdlp_id": place_mdlp_id, "operation_date": timezone.now().isoformat(),
        "sgtins": codes, "prescription": {"date": date.today().isoformat(), "series": "99-26", "number": f"{n:06d}"},
    }, key=f"dispensation-{n}")


def process(message: OutboxMessage) -> str:
    OutboxMessage.objects.filter(pk=message.pk).update(available_at=timezone.now())
    return outbox.process(message.pk, worker="test")


def settle(timeout: float = 10.0) -> None:
    """Poll until no sent document is left unanswered."""
    deadline = time.monotonic() + timeout
    while MdlpDocument.objects.filter(status=MdlpStatus.SENT).exists():
        assert time.monotonic() < deadline, "MDLP did not answer in time"
        MdlpDocument.objects.filter(status=MdlpStatus.SENT).update(next_check_at=timezone.now())
        exchange.poll_due()
        time.sleep(0.03)


@pytest.fixture
def sent(mdlp_emulator):
    """The documents/send calls the emulator answered."""

    def calls() -> list[dict]:
        answer = requests.get(mdlp_emulator.root_url + "_emulator/calls", timeout=5).json()["calls"]
        return [c for c in answer if c["path"].endswith("documents/send")]

    return calls


@pytest.fixture
def seed(mdlp_control):
    def put(place: str, codes: list[str]) -> list[str]:
        mdlp_control("sgtins", {"place": place, "sgtins": codes})
        return codes

    return put


def test_a_dispensing_is_reported_followed_and_every_code_accepted(mdlp, point, seed):
    codes = seed(PHARMACY, sgtins(3))
    message = recipe(PHARMACY, codes)

    assert process(message) == OutboxStatus.DONE
    document = MdlpDocument.objects.get(message=message)
    assert (document.status, document.scheme, document.place, document.items) == (MdlpStatus.SENT, 521, point, 3)
    assert document.request_id == f"{message.key}.1" and document.mdlp_document_id
    xsd.validate(bytes(document.xml))
    assert set(document.codes.values_list("code", flat=True)) == set(codes)

    settle()
    document.refresh_from_db()
    assert (document.status, document.mdlp_status) == (MdlpStatus.ACCEPTED, "PROCESSED_DOCUMENT")
    assert b"<operation_result>Accepted</operation_result>" in bytes(document.ticket)
    assert set(document.codes.values_list("status", flat=True)) == {ItemStatus.ACCEPTED}


def test_a_batch_is_registered_with_one_lookup_of_its_point_and_each_message_sent_in_four_statements(
        mdlp, point, seed, django_assert_num_queries):
    codes = seed(PHARMACY, sgtins(2 * 30))
    messages = [recipe(PHARMACY, codes[2 * n:2 * n + 2]) for n in range(30)]
    OutboxMessage.objects.update(available_at=timezone.now())
    with CaptureQueriesContext(connection) as registering:
        assert outbox.process(messages[0].pk, worker="test") == OutboxStatus.DONE
    lookups = [q["sql"] for q in registering.captured_queries if 'FROM "llo_organization"' in q["sql"]]
    assert len(lookups) == 1, lookups  # thirty messages of one point registered, the point read once
    assert MdlpDocument.objects.filter(message__in=messages).count() == 30
    with django_assert_num_queries(4):  # claim, its documents with what blocks them, sent, done
        assert outbox.process(messages[1].pk, worker="test") == OutboxStatus.DONE


def test_a_pack_the_place_does_not_own_is_rejected_with_mdlps_error_and_the_rest_accepted(mdlp, point, seed):
    ours, theirs = seed(PHARMACY, sgtins(2)), seed(OTHER_PLACE, sgtins(1))
    message = recipe(PHARMACY, ours + theirs)
    process(message)
    settle()

    document = MdlpDocument.objects.get(message=message)
    assert document.status == MdlpStatus.PARTIAL
    items = {i.code: i for i in document.codes.all()}
    assert {c: items[c].status for c in ours} == dict.fromkeys(ours, ItemStatus.ACCEPTED)
    bad = items[theirs[0]]
    assert bad.status == ItemStatus.REJECTED and bad.error_code and bad.error_text


def test_a_later_document_waits_for_the_earlier_one_with_the_same_codes(mdlp, point, seed, sent):
    """The later message is handled first: it registers the earlier one too, and waits for it."""
    mdlp("config", {"processing_ms": 400})
    codes = seed(PHARMACY, sgtins(2))
    first, second = recipe(PHARMACY, codes), recipe(PHARMACY, codes[:1])

    assert process(second) == OutboxStatus.PENDING
    second.refresh_from_db()
    assert second.attempts == 0 and f"{first.key}.1" in second.last_error
    assert MdlpDocument.objects.get(message=first).status == MdlpStatus.QUEUED  # registered before the later one
    assert sent() == []

    assert process(first) == OutboxStatus.DONE
    assert process(second) == OutboxStatus.PENDING  # the first is sent but not answered yet
    settle()
    assert process(second) == OutboxStatus.DONE
    settle()
    assert MdlpDocument.objects.get(message=first).status == MdlpStatus.ACCEPTED
    later = MdlpDocument.objects.get(message=second)
    assert later.status == MdlpStatus.REJECTED  # MDLP: that pack was already dispensed by the first
    assert exchange.client().outcome({"doc_type": 521}).total == 2  # what MDLP holds, not calls (a 401 repeats one)


def test_a_long_outage_loses_nothing_and_delivers_each_report_once(mdlp, point, seed, sent, settings):
    settings.OUTBOX_MAX_ATTEMPTS = 2
    codes = seed(PHARMACY, sgtins(12))
    mdlp("config", {"down": True})
    messages = [recipe(PHARMACY, codes[i:i + 2]) for i in range(0, 12, 2)]

    for _ in range(4):  # a long stretch: far more rounds than the attempt budget
        OutboxMessage.objects.filter(status=OutboxStatus.PENDING).update(available_at=timezone.now())
        outbox.dispatch()
    statuses = set(OutboxMessage.objects.filter(pk__in=[m.pk for m in messages]).values_list("status", flat=True))
    assert statuses == {OutboxStatus.PENDING}  # never dead for an outage
    assert set(MdlpDocument.objects.values_list("status", flat=True)) == {MdlpStatus.QUEUED}
    assert "недоступен" in OutboxMessage.objects.get(pk=messages[0].pk).last_error

    mdlp("config", {"down": False})
    time.sleep(settings.MDLP_BREAKER_SECONDS + 0.1)  # the breaker lets the next call probe
    OutboxMessage.objects.filter(pk=messages[0].pk).update(available_at=timezone.now())  # the first retry comes due
    outbox.dispatch()  # it succeeds and pulls the rest forward
    outbox.dispatch()
    assert set(OutboxMessage.objects.filter(pk__in=[m.pk for m in messages]).values_list("status", flat=True)) == {
        OutboxStatus.DONE}
    settle()
    assert set(MdlpDocument.objects.values_list("status", flat=True)) == {MdlpStatus.ACCEPTED}
    held = exchange.client().outcome({"doc_type": 521}, count=100)
    assert held.total == len(messages)
    assert sorted(d.request_id for d in held.documents) == sorted(f"{m.key}.1" for m in messages)


@pytest.mark.parametrize("hostile", ["json", "shape", "huge"])
def test_a_hostile_answer_to_a_send_leaves_the_message_retryable_with_the_reason(mdlp, point, seed, hostile):
    message = recipe(PHARMACY, seed(PHARMACY, sgtins(1)))
    mdlp("config", {"hostile": hostile})
    assert process(message) == OutboxStatus.PENDING
    message.refresh_from_db()
    assert "MdlpAnswerInvalid" in message.last_error
    assert MdlpDocument.objects.get(message=message).status == MdlpStatus.QUEUED

    mdlp("config", {"hostile": None})
    assert process(message) == OutboxStatus.DONE
    settle()
    assert MdlpDocument.objects.get(message=message).status == MdlpStatus.ACCEPTED


@pytest.mark.parametrize("hostile", ["xml_bomb", "status"])
def test_a_hostile_receipt_is_not_applied_and_is_read_again_later(mdlp, point, seed, hostile):
    message = recipe(PHARMACY, seed(PHARMACY, sgtins(1)))
    process(message)
    time.sleep(0.1)
    mdlp("config", {"hostile": hostile})
    exchange.poll_due()
    document = MdlpDocument.objects.get(message=message)
    assert document.status == MdlpStatus.SENT and document.error
    assert set(document.codes.values_list("status", flat=True)) == {ItemStatus.PENDING}

    mdlp("config", {"hostile": None})
    settle()
    assert MdlpDocument.objects.get(message=message).status == MdlpStatus.ACCEPTED


def test_a_place_without_an_mdlp_id_is_reported_and_resent_after_the_fix(mdlp, point, seed, sent):
    codes = seed(PHARMACY, sgtins(1))
    point.mdlp_place_id = None
    point.save()
    message = recipe(PHARMACY, codes)  # the payload names the id; the place it names is unknown here
    assert process(message) == OutboxStatus.DEAD
    invalid = MdlpDocument.objects.get(message=message)
    assert invalid.status == MdlpStatus.INVALID and "ID места деятельности" in invalid.error
    assert sent() == []

    point.mdlp_place_id = PHARMACY
    point.save()
    again = exchange.resend(invalid)
    assert (again.revision, again.request_id, again.status) == (2, f"{message.key}.1.r2", MdlpStatus.QUEUED)
    assert process(message) == OutboxStatus.DONE
    settle()
    assert MdlpDocument.objects.get(pk=again.pk).status == MdlpStatus.ACCEPTED
    assert MdlpDocument.objects.get(pk=invalid.pk).superseded_at is not None


def test_a_partial_document_is_resent_with_only_its_rejected_codes(mdlp, point, seed):
    ours, stray = seed(PHARMACY, sgtins(2)), sgtins(1)
    message = recipe(PHARMACY, ours + stray)
    process(message)
    settle()
    first = MdlpDocument.objects.get(message=message)
    assert first.status == MdlpStatus.PARTIAL

    seed(PHARMACY, stray)  # the fix: the pack's receipt reached MDLP after all
    again = exchange.resend(first)
    assert list(again.codes.values_list("code", flat=True)) == stray
    process(message)
    settle()
    assert MdlpDocument.objects.get(pk=again.pk).status == MdlpStatus.ACCEPTED

    with pytest.raises(Exception) as refused:
        exchange.resend(MdlpDocument.objects.get(pk=again.pk))
    assert refused.value.code == "mdlp.not_resendable"


def test_a_point_with_a_withdrawal_registrar_reports_through_the_device(mdlp, point, settings, sent):
    from integrations.mdlp.registrar.emulator import RegistrarEmulator
    from integrations.models import Channel

    with RegistrarEmulator(credentials=("rv", "rv-pass")) as device:
        device.controls.update({"processing_ms": 50})
        settings.MDLP_REGISTRARS = {PHARMACY: device.root_url.replace("http://", "http://rv:rv-pass@")}
        codes = sgtins(2)
        message = recipe(PHARMACY, codes)
        assert process(message) == OutboxStatus.DONE
        document = MdlpDocument.objects.get(message=message)
        assert (document.channel, document.status, document.scheme) == (Channel.REGISTRAR, MdlpStatus.SENT, 521)
        assert sent() == []  # nothing went to MDLP's API
        posted = [c for c in device.calls() if c["method"] == "POST"]
        assert len(posted) == 1
        settle()
        document.refresh_from_db()
        assert document.status == MdlpStatus.ACCEPTED
        assert set(document.codes.values_list("status", flat=True)) == {ItemStatus.ACCEPTED}
