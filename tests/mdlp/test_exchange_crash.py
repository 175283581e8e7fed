"""A worker killed (SIGKILL) while its `documents/send` is on the wire: the message is released as stale,
handled again by another worker with the same request_id, and MDLP holds one document — no duplicate."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
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
