"""The published minimum intervals between MDLP calls, kept by all processes together through Redis."""

from __future__ import annotations

import itertools
import multiprocessing
import threading
import time
import uuid

import pytest
import redis
from django.conf import settings
from redis.backoff import NoBackoff
from redis.retry import Retry

from integrations.mdlp.errors import MdlpRateLimited, MdlpUnavailable
from integrations.mdlp.ratelimit import IntervalLimiter

from .conftest import PHARMACY, recipe, requires_schemas, sgtins


def _take_slots(url: str, account: str, times, count: int) -> None:
    limiter = IntervalLimiter(redis.Redis.from_url(url), account=account, intervals={"send": 0.2}, margin=0)
    for _ in range(count):
        limiter.wait("send")
        times.append(time.time())


def test_two_processes_keep_the_interval_between_them():
    account = f"test-{uuid.uuid4().hex[:12]}"
    context = multiprocessing.get_context("fork")
    with context.Manager() as manager:
        times = manager.list()
        workers = [context.Process(target=_take_slots, args=(settings.REDIS_URL, account, times, 3))
                   for _ in range(2)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(20)
        assert [worker.exitcode for worker in workers] == [0, 0]
        moments = sorted(times)
    assert len(moments) == 6
    gaps = [b - a for a, b in itertools.pairwise(moments)]
    assert min(gaps) >= 0.19, gaps  # Redis TIME has millisecond steps; the sleep rounds down at most 1 ms


def test_a_queue_longer_than_allowed_is_not_joined(redis_client):
    slept = []
    limiter = IntervalLimiter(redis_client, account=f"test-{uuid.uuid4().hex[:12]}", intervals={"list": 1.0},
                              margin=0, max_wait=1.5, sleep=slept.append)
    assert [limiter.wait("list") for _ in range(2)] == [0, pytest.approx(1.0, abs=0.05)]
    with pytest.raises(MdlpRateLimited) as caught:
        limiter.wait("list")  # would wait about 2 s
    assert caught.value.retryable and caught.value.details["kind"] == "list"
    assert limiter.wait("read") == 0.0  # no interval for reads: Redis is not even asked


def test_redis_down_is_unavailable():
    unreachable = redis.Redis(port=1, socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0))
    limiter = IntervalLimiter(unreachable, account="x", intervals={"send": 0.5})
    with pytest.raises(MdlpUnavailable) as caught:
        limiter.wait("send")
    assert "Redis недоступен" in caught.value.message


@requires_schemas
def test_two_workers_sending_keep_half_a_second_at_mdlp(make_client, mdlp_emulator):
    """Two clients (as two workers would have), each with its own token, one limiter account."""
    codes = sgtins(4)
    mdlp_emulator.seed(PHARMACY, codes)
    clients = [make_client(), make_client()]
    for client in clients:
        client.outcome()  # authorize first, so the sends start together
    failures = []

    def work(client, mine):
        try:
            for code in mine:
                client.send(recipe(PHARMACY, [code]), request_id=f"r-{code}")
        except Exception as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(client, codes[i::2])) for i, client in enumerate(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert failures == []
    arrivals = [call["at"] for call in mdlp_emulator.calls("send")]
    assert len(arrivals) == 4
    gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    assert min(gaps) >= 0.5, gaps
