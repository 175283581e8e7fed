"""Outbox: publishing and delivering messages, against raw SQL doing the same writes.

- publish: one message per business transaction (as services do) vs. a raw INSERT per
  transaction, and vs. one COPY of all rows (the floor). The wake-up of the worker after
  commit (one Redis round trip, outside the transaction) is shown separately.
- dispatch: claim + deliver (no-op handler) + record, one message at a time, vs. the same
  two conditional UPDATEs per message in raw SQL, and vs. one set-based UPDATE (the floor).
"""

import io
import json
from unittest import mock

from django.db import connection, transaction

from llo import outbox
from llo.models import OutboxMessage

from .timing import report, timed

N = 3000
TOPIC = "bench.noop"


def _reset() -> None:
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE llo_outboxmessage RESTART IDENTITY CASCADE")


def run() -> None:
    outbox.handler(TOPIC)(lambda message: None)
    payload = {"sgtin": "04607028393738ABCDEFGHIJKLM", "doc": 521}
    results: dict = {}

    _reset()
    with timed(results, "outbox.publish, 1 txn each"):
        for i in range(N):
            with transaction.atomic():
                outbox.publish(TOPIC, payload, key=f"p-{i}")
    _reset()
    with timed(results, "outbox.publish, no worker wake-up"), mock.patch.object(outbox, "_wake_dispatcher", lambda: None):
        for i in range(N):
            with transaction.atomic():
                outbox.publish(TOPIC, payload, key=f"q-{i}")
    _reset()
    with timed(results, "raw INSERT, 1 txn each (baseline)"):
        with connection.cursor() as cursor:
            for i in range(N):
                with transaction.atomic():
                    cursor.execute(
                        "INSERT INTO llo_outboxmessage (topic, key, payload, status, attempts, available_at,"
                        " claimed_by, last_error, created_at) VALUES (%s, %s, %s, 'pending', 0, now(), '', '', now())",
                        [TOPIC, f"r-{i}", json.dumps(payload)],
                    )
    _reset()
    with timed(results, "COPY of all rows (floor)"):
        buffer = io.StringIO("".join(f"{TOPIC}\tc-{i}\t{json.dumps(payload)}\tpending\t0\tnow\t\t\tnow\n" for i in range(N)))
        with connection.cursor() as cursor:
            with cursor.copy(
                "COPY llo_outboxmessage (topic, key, payload, status, attempts, available_at, claimed_by,"
                " last_error, created_at) FROM STDIN"
            ) as copy:
                copy.write(buffer.read())
    report("Outbox publish", N, results, "raw INSERT, 1 txn each (baseline)")

    results = {}
    OutboxMessage.objects.update(status="pending")
    with timed(results, "outbox.dispatch (claim, deliver, record)"):
        while outbox.dispatch(limit=500)["done"]:
            pass
    assert not OutboxMessage.objects.exclude(status="done").exists()
    OutboxMessage.objects.update(status="pending")
    with timed(results, "raw CAS UPDATE ×2 per row (baseline)"):
        with connection.cursor() as cursor:
            cursor.execute("SELECT id FROM llo_outboxmessage WHERE status='pending' ORDER BY available_at, id")
            for (message_id,) in cursor.fetchall():
                cursor.execute(
                    "UPDATE llo_outboxmessage SET status='processing', claimed_at=now(), attempts=attempts+1"
                    " WHERE id=%s AND status='pending'", [message_id],
                )
                cursor.execute(
                    "UPDATE llo_outboxmessage SET status='done', processed_at=now() WHERE id=%s AND status='processing'",
                    [message_id],
                )
    OutboxMessage.objects.update(status="pending")
    with timed(results, "one set-based UPDATE (floor)"):
        with connection.cursor() as cursor:
            cursor.execute("UPDATE llo_outboxmessage SET status='done', processed_at=now() WHERE status='pending'")
    report("Outbox dispatch", N, results, "raw CAS UPDATE ×2 per row (baseline)")
    outbox.unregister(TOPIC)
