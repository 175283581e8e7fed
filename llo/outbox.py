"""Transactional outbox.

A domain service calls ``publish(topic, payload, key=...)`` inside its own transaction, so
the message exists exactly when the business change does. A Celery task
(``llo.outbox_dispatch``) claims due messages one by one by conditional update
(``pending → processing``, exactly one row), calls the handler registered for the topic
outside any transaction, and records the outcome: ``done`` with the handler's result, or a
retry with exponential backoff, or ``dead`` after ``OUTBOX_MAX_ATTEMPTS`` (or at once on
``PermanentError``). Delivery is at least once: handlers must be idempotent, and the message
key is the idempotency key to pass on to the far side.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from . import prebuilt
from .errors import ConflictError
from .models import OutboxMessage, OutboxStatus

logger = logging.getLogger(__name__)

Handler = Callable[[OutboxMessage], Any]
_HANDLERS: dict[str, Handler] = {}


class PermanentError(Exception):
    """Raised by a handler when retrying cannot help (the far side refused the content)."""


class RetryLater(Exception):
    """Raised by a handler whose message cannot go yet but surely can later: the far side is down, or
    an earlier message must be answered first. The message is never declared dead for it: it waits
    `delay` seconds (the usual backoff when None). `count=False` (waiting on another message, not a
    failure) gives the attempt back, so the budget of real failures stays whole."""

    def __init__(self, reason: str, *, delay: float | None = None, count: bool = True):
        super().__init__(reason)
        self.delay = delay
        self.count = count


def handler(topic: str) -> Callable[[Handler], Handler]:
    """Register the function that delivers messages of `topic` (one handler per topic)."""

    def register(func: Handler) -> Handler:
        existing = _HANDLERS.get(topic)
        if existing is not None and existing is not func:
            raise RuntimeError(f"Outbox topic {topic!r} already has a handler: {existing.__qualname__}")
        _HANDLERS[topic] = func
        return func

    return register


def unregister(topic: str) -> None:
    _HANDLERS.pop(topic, None)


_INSERT = """
    INSERT INTO llo_outboxmessage
        (topic, key, payload, status, attempts, available_at, claimed_by, last_error, created_at)
    VALUES (%s, %s, %s, 'pending', 0, now(), '', '', now())
    ON CONFLICT (key) DO NOTHING
    RETURNING *
"""


def publish(topic: str, payload: dict[str, Any], *, key: str) -> OutboxMessage:
    """Write a message in the caller's transaction; a second publish with the same key is a no-op.

    One statement and no savepoint, so the caller's transaction (which may hold stock locks)
    is not held longer than it must. Republishing a key under another topic is a programming
    error and raises ConflictError.
    """
    payload_db = OutboxMessage._meta.get_field("payload").get_db_prep_value(payload, connection)
    created = list(OutboxMessage.objects.raw(_INSERT, [topic, key, payload_db]))
    if created:
        transaction.on_commit(_wake_dispatcher)
        return created[0]
    message = OutboxMessage.objects.get(key=key)
    if message.topic != topic:
        raise ConflictError(
            f"Ключ {key} уже использован для темы {message.topic}",
            code="outbox.key_reused",
            details={"key": key, "topic": message.topic},
        )
    return message


def insert_select_sql(*, source: str, key_sql: str, payload_sql: str, where: str = "TRUE") -> str:
    """The message row `publish` writes, as an INSERT … SELECT from `source` for a service that writes its
    change and its message in one statement (a CTE): `%(topic)s` is the topic's parameter; `key_sql` and
    `payload_sql` are SQL over `source`. Idempotent by key like `publish` (`ON CONFLICT (key) DO NOTHING`);
    the service calls `wake_after_commit()` when a row was written."""
    return f"""
        INSERT INTO llo_outboxmessage
            (topic, key, payload, status, attempts, available_at, claimed_by, last_error, created_at)
        SELECT %(topic)s, {key_sql}, {payload_sql}, 'pending', 0, now(), '', '', now() FROM {source} WHERE {where}
        ON CONFLICT (key) DO NOTHING
        RETURNING id"""


def wake_after_commit() -> None:
    """Wake the dispatcher once the caller's transaction commits (what `publish` does for its message)."""
    transaction.on_commit(_wake_dispatcher)


def _send_wake() -> None:
    from .tasks import outbox_dispatch

    try:
        outbox_dispatch.apply_async(retry=False)  # never make a committed request wait on the broker
    except Exception:  # the broker being down must not fail the business operation
        logger.warning("Could not wake the outbox dispatcher; the beat schedule will pick it up", exc_info=True)


class _Waker:
    """Wakes the dispatcher after a commit — at most once per `OUTBOX_WAKE_INTERVAL` seconds per
    process. A commit inside the interval is covered by one trailing wake at its end, so no message
    waits for the beat; at a hundred dispensings a second a process sends ten wakes, not a hundred
    (each is a broker round trip, about a millisecond of the request)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reset()
        os.register_at_fork(after_in_child=self._reset)  # a timer thread does not survive a fork

    def _reset(self) -> None:
        self._last = float("-inf")
        self._timer: threading.Timer | None = None

    def __call__(self) -> None:
        interval = settings.OUTBOX_WAKE_INTERVAL
        with self._lock:
            now = time.monotonic()
            due = now - self._last >= interval
            if due:
                self._last = now
            elif self._timer is None:
                self._timer = threading.Timer(self._last + interval - now, self._trailing)
                self._timer.daemon = True
                self._timer.start()
        if due:
            _send_wake()

    def _trailing(self) -> None:
        with self._lock:
            self._timer, self._last = None, time.monotonic()
        _send_wake()


_wake_dispatcher = _Waker()


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


_MESSAGE = prebuilt.layout((OutboxMessage, "m"))
_CLAIM = f"""
    UPDATE llo_outboxmessage m
    SET status = 'processing', claimed_at = %(now)s, claimed_by = %(worker)s, attempts = attempts + 1
    WHERE id = %(id)s AND status = 'pending' AND available_at <= %(now)s
    RETURNING {_MESSAGE.columns}
"""


# The next due message, skipping rows another worker is claiming this instant: workers never collide.
_CLAIM_NEXT = f"""
    UPDATE llo_outboxmessage m
    SET status = 'processing', claimed_at = %(now)s, claimed_by = %(worker)s, attempts = attempts + 1
    WHERE id = (SELECT id FROM llo_outboxmessage WHERE status = 'pending' AND available_at <= %(now)s
                ORDER BY available_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)
    RETURNING {_MESSAGE.columns}
"""


def _claimed(sql: str, params: dict) -> OutboxMessage | None:
    rows = prebuilt.fetch(sql, params, _MESSAGE)  # prepared: every worker runs it for every message
    return rows[0][0] if rows else None


def claim(message_id: int, *, worker: str) -> OutboxMessage | None:
    """Move one due pending message to processing: the message for the single winner, None for the others
    (one statement: the claim returns the row it took)."""
    return _claimed(_CLAIM, {"now": timezone.now(), "worker": worker, "id": message_id})


def claim_next(*, worker: str) -> OutboxMessage | None:
    """Claim the oldest due message no other worker holds (None when there is none)."""
    return _claimed(_CLAIM_NEXT, {"now": timezone.now(), "worker": worker})


def backoff_seconds(attempts: int) -> float:
    """10 s, 20 s, 40 s … capped, with ±20 % jitter so retries of many messages spread out."""
    base = settings.OUTBOX_BACKOFF_BASE * (2 ** max(attempts - 1, 0))
    return min(base, settings.OUTBOX_BACKOFF_CAP) * random.uniform(0.8, 1.2)


def process(message_id: int, *, worker: str | None = None) -> str | None:
    """Claim and deliver one message. Returns its new status, or None if another worker had it."""
    worker = worker or worker_name()
    message = claim(message_id, worker=worker)
    return None if message is None else _deliver(message, worker)


_DONE = """
    UPDATE llo_outboxmessage SET status = 'done', result = %s, last_error = '', processed_at = %s, claimed_at = NULL,
                                 claimed_by = ''
    WHERE id = %s AND status = 'processing' AND claimed_by = %s
"""


def _deliver(message: OutboxMessage, worker: str) -> str:
    func = _HANDLERS.get(message.topic)
    try:
        if func is None:
            raise LookupError(f"Нет обработчика для темы {message.topic}")
        result = func(message)
    except Exception as exc:  # any failure of delivery is recorded, never lost
        return _record_failure(message, exc)
    result = OutboxMessage._meta.get_field("result").get_db_prep_save(_jsonable(result), connection)
    with prebuilt.cursor() as cursor:
        cursor.execute(_DONE, [result, timezone.now(), message.pk, worker])
    return OutboxStatus.DONE


def _record_failure(message: OutboxMessage, exc: Exception) -> str:
    error = f"{type(exc).__name__}: {exc}"[:4000]
    later = exc if isinstance(exc, RetryLater) else None
    dead = later is None and (isinstance(exc, PermanentError) or message.attempts >= settings.OUTBOX_MAX_ATTEMPTS)
    status = OutboxStatus.DEAD if dead else OutboxStatus.PENDING
    fields: dict[str, Any] = {"status": status, "last_error": error, "claimed_at": None, "claimed_by": ""}
    if dead:
        fields["processed_at"] = timezone.now()
    else:
        delay = later.delay if later is not None and later.delay is not None else backoff_seconds(message.attempts)
        fields["available_at"] = timezone.now() + timedelta(seconds=delay)
        if later is not None and not later.count:
            fields["attempts"] = F("attempts") - 1
    OutboxMessage.objects.filter(pk=message.pk, status=OutboxStatus.PROCESSING).update(**fields)
    log = logger.error if dead else logger.info if later is not None else logger.warning
    log("Outbox message %s (%s) attempt %s failed: %s", message.pk, message.topic, message.attempts, error)
    return status


def _jsonable(result: Any) -> Any:
    if result is None or isinstance(result, (dict, list, str, int, float, bool)):
        return result
    return str(result)


def dispatch(*, limit: int = 200, worker: str | None = None) -> dict[str, int]:
    """Deliver up to `limit` due messages, oldest first; safe to run in any number of workers at once
    (each claims the next message the others do not hold). "skipped" stays for callers that count it."""
    worker = worker or worker_name()
    counts = {"done": 0, "retry": 0, "dead": 0, "skipped": 0}
    for _ in range(limit):
        message = claim_next(worker=worker)
        if message is None:
            break
        status = _deliver(message, worker)
        counts[{OutboxStatus.DONE: "done", OutboxStatus.PENDING: "retry"}.get(status, "dead")] += 1
    return counts


def release_stale(*, older_than: int | None = None) -> int:
    """Return messages whose worker died mid-delivery to the queue (they will be retried)."""
    older_than = older_than if older_than is not None else settings.OUTBOX_CLAIM_TIMEOUT
    cutoff = timezone.now() - timedelta(seconds=older_than)
    return OutboxMessage.objects.filter(status=OutboxStatus.PROCESSING, claimed_at__lt=cutoff).update(
        status=OutboxStatus.PENDING, claimed_at=None, claimed_by="", available_at=timezone.now(),
        last_error="Обработчик не завершил работу в отведённое время; сообщение возвращено в очередь",
    )


def resend(*, message: OutboxMessage, user) -> OutboxMessage:
    """Put a delivered or dead message back in the queue with a fresh attempt budget."""
    from .audit import audit_context

    allowed = (OutboxStatus.DEAD, OutboxStatus.DONE)
    with transaction.atomic(), audit_context(user=user, action="outbox.resend"):
        updated = OutboxMessage.objects.filter(pk=message.pk, status__in=allowed).update(
            status=OutboxStatus.PENDING, attempts=0, available_at=timezone.now(), processed_at=None
        )
        if updated != 1:
            raise ConflictError(
                "Сообщение ещё в очереди или обрабатывается: повторная отправка не нужна.",
                code="outbox.not_resendable",
                details={"status": message.status},
            )
        logger.info("Outbox message %s re-sent by user %s", message.pk, user.pk)
        transaction.on_commit(_wake_dispatcher)
    message.refresh_from_db()
    return message
