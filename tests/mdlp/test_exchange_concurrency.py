"""The exchange under real concurrency: a worker killed (SIGKILL) while its `documents/send` is on the wire is
resumed by another with the same request_id (MDLP holds one document), and two workers at once keep the
per-code order and send each document once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import date

import pytest
import requests
from django.utils import timezone

from integrations.mdlp import exchange
from integrations.models import MdlpDocument, MdlpStatus
from llo import outbox
from llo.barcodes.check_digits import gs1_check_digit
from llo.models import OutboxMessage, OutboxStatus
from llo.models.organizations import OrganizationKind as K
from tests.dburl import database_url
from tests.llo import factories as f

from .conftest import CLIENT_ID, CLIENT_SECRET, PHARMACY, requires_schemas

pytestmark = requires_schemas

WORKER = """
import django
django.setup()
from llo import outbox
outbox.process({message_id}, worker="doomed")
"""


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_send_is_resumed_without_a_duplicate(mdlp_emulator, mdlp_url, mdlp_exchange):
    mdlp_control = mdlp_exchange
    chain = f.organization(K.PHARMACY_ORG)
    f.organization(K.DISPENSING_POINT, parent=chain, mdlp_place_id=PHARMACY)
    gtin = "0460123456789" + gs1_check_digit("0460123456789")
    codes = [f"{gtin}K{uuid.uuid4().hex[:6].upper()}{n:06d}" for n in range(2)]
    mdlp_control("sgtins", {"place": PHARMACY, "sgtins": codes})
    message = outbox.publish("mdlp.recipe", {
        "dispensation_id": 1, "place_mdlp_id": PHARMACY, "operation_date": timezone.now().isoformat(),
        "sgtins": codes, "prescription": {"date": date.today().isoformat(), "series": "99-26", "number": "000001"},
    }, key=f"dispensation-crash-{uuid.uuid4().hex[:8]}")

    mdlp_control("config", {"latency_ms": 4000})  # the send hangs on the wire long enough to kill the worker
    env = {**os.environ, "DATABASE_URL": database_url(), "DJANGO_SETTINGS_MODULE": "config.settings.test",
           "MDLP_BASE_URL": mdlp_url, "MDLP_CLIENT_ID": CLIENT_ID, "MDLP_CLIENT_SECRET": CLIENT_SECRET,
           "MDLP_USER_ID": "", "MDLP_SEND_INTERVAL": "0", "MDLP_LIST_INTERVAL": "0", "MDLP_RETRIES": "0"}
    worker = subprocess.Popen([sys.executable, "-c", WORKER.format(message_id=message.pk)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not [c for c in requests.get(mdlp_emulator.root_url + "_emulator/calls", timeout=5).json()["calls"]
                   if c["path"].endswith("documents/send")]:
            assert time.monotonic() < deadline and worker.poll() is None, "the worker never sent"
            time.sleep(0.05)
    finally:
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(10)
    assert OutboxMessage.objects.get(pk=message.pk).status == OutboxStatus.PROCESSING  # dead worker's claim
    document = MdlpDocument.objects.get(message=message)
    assert document.status == MdlpStatus.QUEUED and not document.mdlp_document_id

    mdlp_control("config", {"latency_ms": 0})
    time.sleep(4.5)  # the emulator finishes the orphaned request and keeps its document
    assert outbox.release_stale(older_than=0) == 1
    assert outbox.process(message.pk, worker="survivor") == OutboxStatus.DONE
    document.refresh_from_db()
    held = exchange.client().outcome({"request_id": document.request_id})
    assert held.total == 1 and held.documents[0].document_id == document.mdlp_document_id

    deadline = time.monotonic() + 10
    while document.status == MdlpStatus.SENT and time.monotonic() < deadline:
        MdlpDocument.objects.filter(pk=document.pk).update(next_check_at=timezone.now())
        exchange.poll_due()
        document.refresh_from_db()
        time.sleep(0.05)
    assert document.status == MdlpStatus.ACCEPTED  # not refused as a second dispensing of the same packs


@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_send_each_document_once_and_never_before_the_one_it_depends_on(mdlp_exchange, settings):
    """Ten dispensings, then ten more of the same packs: two workers dispatch and poll at once. Every
    report reaches MDLP once, and each later document is sent only after the earlier one was answered."""
    from tests.concurrency import at_once

    settings.MDLP_ORDER_WAIT = 0.05
    chain = f.organization(K.PHARMACY_ORG)
    f.organization(K.DISPENSING_POINT, parent=chain, mdlp_place_id=PHARMACY)
    gtin = "0460123456789" + gs1_check_digit("0460123456789")
    codes = [f"{gtin}W{uuid.uuid4().hex[:6].upper()}{n:06d}" for n in range(10)]
    mdlp_exchange("sgtins", {"place": PHARMACY, "sgtins": codes})
    tag = uuid.uuid4().hex[:6]
    messages = [outbox.publish("mdlp.recipe", {
        "dispensation_id": n + 1, "place_mdlp_id": PHARMACY, "operation_date": timezone.now().isoformat(),
        "sgtins": [codes[n % 10]],
        "prescription": {"date": date.today().isoformat(), "series": "99-26", "number": f"{n + 1:06d}"},
    }, key=f"race-{tag}-{n:02d}") for n in range(20)]

    def work() -> None:
        deadline = time.monotonic() + 60
        while MdlpDocument.objects.filter(status__in=[MdlpStatus.QUEUED, MdlpStatus.SENT]).exists() or \
                OutboxMessage.objects.exclude(status=OutboxStatus.DONE).exists():
            assert time.monotonic() < deadline, "the workers did not finish"
            outbox.dispatch(worker=f"w{threading.get_ident()}")
            MdlpDocument.objects.filter(status=MdlpStatus.SENT).update(next_check_at=timezone.now())
            exchange.poll_due()
            time.sleep(0.02)

    assert at_once(work, work, timeout=90) == [None, None]

    documents = {d.message_id: d for d in MdlpDocument.objects.all()}
    assert len(documents) == 20 and set(OutboxMessage.objects.values_list("status", flat=True)) == {"done"}
    for first, second in zip(messages[:10], messages[10:], strict=True):
        earlier, later = documents[first.pk], documents[second.pk]
        assert earlier.status == MdlpStatus.ACCEPTED and later.status == MdlpStatus.REJECTED  # already dispensed
        assert later.sent_at >= earlier.finished_at
    held = exchange.client().outcome({"doc_type": 521}, count=100)
    assert held.total == 20 and len({d.request_id for d in held.documents}) == 20
