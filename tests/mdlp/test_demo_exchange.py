"""The demo region against the MDLP emulator, as `make run` has it: the packs seeded where MDLP would have
them before our operations, then every report of the demo (receipts, shipments and their acceptance,
dispensings, write-offs) delivered by the outbox and accepted — the demo's reports are consistent with
MDLP's rules. Seeding twice leaves the registry alone."""

from __future__ import annotations

import time

import pytest
from django.utils import timezone

from integrations.mdlp import exchange
from integrations.mdlp.demo import seed_emulator
from integrations.mdlp.operations import TOPICS
from integrations.models import MdlpDocument, MdlpStatus
from llo import outbox
from llo.demo import seed_demo
from llo.models import OutboxMessage, OutboxStatus

from .conftest import requires_schemas

pytestmark = [pytest.mark.django_db, requires_schemas]


def test_every_demo_report_is_accepted_by_the_emulator(mdlp_emulator, mdlp_exchange):
    seed_demo()

    seeded = seed_emulator(mdlp_emulator.root_url)
    assert not seeded["skipped"] and seeded["packs"] > 0 and seeded["incoming"] >= 1
    assert seed_emulator(mdlp_emulator.root_url)["skipped"]  # a registry that holds packs is left alone

    messages = OutboxMessage.objects.filter(topic__in=TOPICS)
    assert messages.exists()
    deadline = time.monotonic() + 120
    while messages.exclude(status=OutboxStatus.DONE).exists() or MdlpDocument.objects.filter(
            status__in=[MdlpStatus.QUEUED, MdlpStatus.SENT]).exists():
        assert time.monotonic() < deadline, list(messages.exclude(status=OutboxStatus.DONE)
                                                 .values_list("topic", "status", "last_error")[:5])
        assert not messages.filter(status=OutboxStatus.DEAD).exists(), list(
            messages.filter(status=OutboxStatus.DEAD).values_list("topic", "last_error")[:5])
        messages.filter(status=OutboxStatus.PENDING).update(available_at=timezone.now())
        outbox.dispatch()
        MdlpDocument.objects.filter(status=MdlpStatus.SENT).update(next_check_at=timezone.now())
        exchange.poll_due()
        time.sleep(0.05)

    outcomes = dict.fromkeys(MdlpDocument.objects.values_list("scheme", "status", "error").distinct())
    assert set(MdlpDocument.objects.values_list("status", flat=True)) == {MdlpStatus.ACCEPTED}, outcomes
    schemes = set(MdlpDocument.objects.values_list("scheme", flat=True))
    assert {701, 521} <= schemes, schemes
