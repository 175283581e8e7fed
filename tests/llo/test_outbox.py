import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test import override_settings
from django.utils import timezone
from pghistory.models import Events

from llo import outbox
from llo.errors import ConflictError
from llo.models import OutboxMessage, OutboxStatus


@pytest.fixture
def topic():
    """A topic with a handler that records each delivery; unregistered afterwards."""
    name = "test.topic"
    calls: list[int] = []
    lock = threading.Lock()
    behaviour = {"fail": 0, "permanent": False, "sleep": 0.0}

    @outbox.handler(name)
    def deliver(message):
        time.sleep(behaviour["sleep"])
        with lock:
            calls.append(message.pk)
        if behaviour["permanent"]:
            raise outbox.PermanentError("far side refused the document")
        if behaviour["fail"]:
            behaviour["fail"] -= 1
            raise ConnectionError("far side down")
        return {"delivered": message.payload["n"]}

    yield name, calls, behaviour
    outbox.unregister(name)


@pytest.mark.django_db
class TestPublish:
    def test_publish_is_part_of_the_callers_transaction(self, topic):
        name, _, _ = topic
        with pytest.raises(RuntimeError), transaction.atomic():
            outbox.publish(name, {"n": 1}, key="rolled-back")
            raise RuntimeError("business change failed")
        assert not OutboxMessage.objects.filter(key="rolled-back").exists()

    def test_same_key_twice_is_one_message(self, topic):
        name, _, _ = topic
        first = outbox.publish(name, {"n": 1}, key="k-1")
        again = outbox.publish(name, {"n": 1}, key="k-1")
        assert first.pk == again.pk
        assert OutboxMessage.objects.filter(key="k-1").count() == 1

    def test_same_key_other_topic_is_refused(self, topic):
        name, _, _ = topic
        outbox.publish(name, {"n": 1}, key="k-2")
        with pytest.raises(ConflictError) as err:
            outbox.publish("other.topic", {"n": 1}, key="k-2")
        assert err.value.code == "outbox.key_reused"

    def test_delivery_records_result(self, topic):
        name, calls, _ = topic
        message = outbox.publish(name, {"n": 7}, key="k-3")
        assert outbox.dispatch() == {"done": 1, "retry": 0, "dead": 0, "skipped": 0}
        message.refresh_from_db()
        assert (message.status, message.result, message.attempts) == (OutboxStatus.DONE, {"delivered": 7}, 1)
        assert calls == [message.pk]
        assert outbox.dispatch()["done"] == 0  # nothing runs twice


@pytest.mark.django_db
class TestRetries:
    @override_settings(OUTBOX_MAX_ATTEMPTS=3, OUTBOX_BACKOFF_BASE=10.0)
    def test_failing_handler_backs_off_then_goes_dead(self, topic):
        name, calls, behaviour = topic
        behaviour["fail"] = 100
        message = outbox.publish(name, {"n": 1}, key="k-fail")
        delays = []
        for attempt in range(1, 4):
            before = timezone.now()
            outbox.dispatch()
            message.refresh_from_db()
            assert message.attempts == attempt
            assert "ConnectionError: far side down" in message.last_error
            if attempt < 3:
                assert message.status == OutboxStatus.PENDING
                delays.append((message.available_at - before).total_seconds())
                assert outbox.dispatch()["done"] + outbox.dispatch()["retry"] == 0  # not due yet
                OutboxMessage.objects.filter(pk=message.pk).update(available_at=timezone.now())
        assert message.status == OutboxStatus.DEAD
        assert message.processed_at is not None
        assert len(calls) == 3
        # exponential: ~10 s then ~20 s (±20 % jitter)
        assert 8 <= delays[0] <= 12.5 and 16 <= delays[1] <= 24.5

    def test_permanent_error_goes_dead_at_once(self, topic):
        name, _, behaviour = topic
        behaviour["permanent"] = True
        message = outbox.publish(name, {"n": 1}, key="k-perm")
        outbox.dispatch()
        message.refresh_from_db()
        assert (message.status, message.attempts) == (OutboxStatus.DEAD, 1)

    def test_unknown_topic_is_retried_not_lost(self):
        message = outbox.publish("nobody.listens", {"n": 1}, key="k-orphan")
        outbox.dispatch()
        message.refresh_from_db()
        assert message.status == OutboxStatus.PENDING
        assert "Нет обработчика" in message.last_error

    def test_stale_claim_released(self, topic):
        name, _, _ = topic
        message = outbox.publish(name, {"n": 1}, key="k-stale")
        assert outbox.claim(message.pk, worker="crashed")
        OutboxMessage.objects.filter(pk=message.pk).update(claimed_at=timezone.now() - timedelta(hours=1))
        assert outbox.release_stale(older_than=600) == 1
        assert outbox.dispatch()["done"] == 1


@pytest.mark.django_db
class TestResend:
    def test_resend_dead_message_delivers_and_is_audited(self, topic, ministry_admin):
        name, calls, behaviour = topic
        behaviour["permanent"] = True
        message = outbox.publish(name, {"n": 1}, key="k-resend")
        outbox.dispatch()
        behaviour["permanent"] = False
        message = outbox.resend(message=OutboxMessage.objects.get(pk=message.pk), user=ministry_admin)
        assert (message.status, message.attempts) == (OutboxStatus.PENDING, 0)
        outbox.dispatch()
        message.refresh_from_db()
        assert message.status == OutboxStatus.DONE
        assert len(calls) == 2
        event = Events.objects.tracks(message).get(pgh_label="resend")
        assert event.pgh_context["user"] == ministry_admin.pk

    def test_resend_of_pending_message_is_a_conflict(self, topic, ministry_admin):
        name, _, _ = topic
        message = outbox.publish(name, {"n": 1}, key="k-pending")
        with pytest.raises(ConflictError) as err:
            outbox.resend(message=message, user=ministry_admin)
        assert err.value.code == "outbox.not_resendable"

    def test_resend_page_and_api(self, client, topic, ministry_admin, doctor_user):
        name, _, behaviour = topic
        behaviour["permanent"] = True
        message = outbox.publish(name, {"n": 1}, key="k-ui")
        outbox.dispatch()
        # another role: the page refuses, the API hides the object
        client.force_login(doctor_user)
        assert client.get("/outbox/").status_code == 403
        assert client.post(f"/outbox/{message.pk}/resend/").status_code == 403
        assert client.post(f"/api/v1/outbox/messages/{message.pk}/resend/").status_code == 403
        message.refresh_from_db()
        assert message.status == OutboxStatus.DEAD
        # the admin re-sends with htmx, then the API refuses a second re-send with 409
        client.force_login(ministry_admin)
        page = client.get("/outbox/?status=dead").content.decode()
        assert "k-ui" in page and "Отправить повторно" in page
        response = client.post(f"/outbox/{message.pk}/resend/", HTTP_HX_REQUEST="true")
        assert response.status_code == 200 and "Отправлено повторно" in response.content.decode()
        response = client.post(f"/api/v1/outbox/messages/{message.pk}/resend/")
        assert response.status_code == 409
        assert response.json()["code"] == "outbox.not_resendable"
        assert client.post("/api/v1/outbox/messages/999999/resend/").status_code == 404
        listed = client.get("/api/v1/outbox/messages/?status=pending").json()
        assert [m["key"] for m in listed["results"]] == ["k-ui"]


@pytest.mark.django_db(transaction=True)
def test_two_workers_never_deliver_one_message_twice(topic):
    name, calls, behaviour = topic
    behaviour["sleep"] = 0.005
    for n in range(60):
        outbox.publish(name, {"n": n}, key=f"race-{n}")
    barrier = threading.Barrier(3)
    errors = []

    def worker(label):
        try:
            barrier.wait()
            while outbox.dispatch(limit=20, worker=label)["done"]:
                pass
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    counts = Counter(calls)
    assert len(counts) == 60
    assert max(counts.values()) == 1
    assert OutboxMessage.objects.filter(status=OutboxStatus.DONE).count() == 60
    assert OutboxMessage.objects.filter(status=OutboxStatus.DONE, claimed_by="").count() == 60


@pytest.mark.django_db(transaction=True)
def test_celery_worker_delivers_published_message(topic, celery_worker_thread):
    name, calls, _ = topic
    with transaction.atomic():
        message = outbox.publish(name, {"n": 42}, key="via-celery")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        message.refresh_from_db()
        if message.status == OutboxStatus.DONE:
            break
        time.sleep(0.1)
    assert message.status == OutboxStatus.DONE
    assert message.result == {"delivered": 42}
    assert calls == [message.pk]


PUBLISH_WITH_BROKER_DOWN = """
import json, time, django
django.setup()
from django.db import transaction
from llo import outbox
started = time.monotonic()
with transaction.atomic():
    outbox.publish("test.topic", {"n": 1}, key="broker-down")
print(json.dumps({"elapsed": time.monotonic() - started}))
"""


@pytest.mark.django_db(transaction=True)
def test_publish_commits_when_the_broker_is_down():
    """A business operation never waits on Redis: the message stays for beat to pick up.
    Run in a fresh process whose broker address has nothing listening."""
    import json
    import os
    import subprocess
    import sys

    from config.embedded import free_port
    from tests.dburl import database_url

    env = {**os.environ, "DATABASE_URL": database_url(), "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
           "DJANGO_SETTINGS_MODULE": "config.settings.test"}
    result = subprocess.run([sys.executable, "-c", PUBLISH_WITH_BROKER_DOWN], env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "Could not wake the outbox dispatcher" in result.stderr
    assert OutboxMessage.objects.get(key="broker-down").status == OutboxStatus.PENDING
    elapsed = json.loads(result.stdout.strip().splitlines()[-1])["elapsed"]
    assert elapsed < 10, f"publish waited {elapsed:.1f} s on a dead broker"


@override_settings(OUTBOX_WAKE_INTERVAL=0.3)
def test_commits_close_together_wake_the_dispatcher_once_then_once_more_at_the_end(monkeypatch):
    """At most one wake per interval per process, and a trailing one for commits inside it: none waits
    for the beat."""
    sent = []
    monkeypatch.setattr(outbox, "_send_wake", lambda: sent.append(time.monotonic()))
    wake = outbox._Waker()
    started = time.monotonic()
    for _ in range(5):
        wake()
    assert len(sent) == 1  # the first at once, the other four covered by one trailing wake
    deadline = time.monotonic() + 5  # the trailing wake's timer thread may start late on a loaded machine
    while len(sent) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(sent) == 2 and sent[1] - started >= 0.25
    time.sleep(0.35)
    wake()  # the interval since the trailing wake has passed: at once again
    assert len(sent) == 3


@pytest.mark.django_db(transaction=True)
def test_messages_published_in_a_burst_are_all_delivered(topic, celery_worker_thread):
    name, _, _ = topic
    keys = [f"burst-{n}" for n in range(5)]
    for key in keys:  # five commits within one wake interval
        with transaction.atomic():
            outbox.publish(name, {"n": 1}, key=key)
    deadline = time.monotonic() + 20
    done = OutboxMessage.objects.filter(key__in=keys, status=OutboxStatus.DONE)
    while time.monotonic() < deadline and done.count() < 5:
        time.sleep(0.1)
    assert done.count() == 5
