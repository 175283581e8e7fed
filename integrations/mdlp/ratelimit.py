"""MDLP's published minimum intervals between calls, kept by every process and host together.

MDLP refuses (HTTP 429) an account that calls more often than it publishes: at least 0.5 s between
`documents/send` and 1 s between list calls (income/outcome, the registry). Workers share one limit per
account, so the limit lives in Redis: per (account, class of call) a key holds the time of the next free
slot. A caller takes a slot with one Lua script — read the key, take max(now, next), move the key one
interval on — and sleeps until its slot. The clock is Redis's own (`TIME`), so hosts with drifting
clocks still queue correctly. A queue longer than `max_wait` is not joined: `MdlpRateLimited`, try later.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from functools import cache

import redis

from .errors import MdlpRateLimited, MdlpUnavailable

logger = logging.getLogger(__name__)

SEND, LIST, READ = "send", "list", "read"
KINDS = (SEND, LIST, READ)

# KEYS[1]: the next free slot (ms, Redis clock). ARGV: interval ms, the longest wait ms.
# Returns the wait in ms (>= 0), or -(wait) + -1 when the queue is longer than allowed (nothing taken).
_TAKE_SLOT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local free = tonumber(redis.call('GET', KEYS[1]) or '0')
local slot = math.max(now, free)
local wait = slot - now
if wait > tonumber(ARGV[2]) then
  return -wait - 1
end
redis.call('SET', KEYS[1], slot + interval, 'PX', wait + interval + 1000)
return wait
"""


class IntervalLimiter:
    """`wait(kind)` returns once this process may call MDLP with a call of `kind` (send/list/read).

    `intervals` are seconds per kind (0 or missing: no limit); `margin` is added to each interval so that
    network jitter between two callers does not bring their requests closer at MDLP than published."""

    def __init__(self, client: redis.Redis, *, account: str, intervals: Mapping[str, float],
                 margin: float = 0.05, max_wait: float = 60.0, prefix: str = "llo:mdlp:interval",
                 sleep: Callable[[float], None] = time.sleep):
        self._redis = client
        self._script = client.register_script(_TAKE_SLOT)
        self._intervals = {kind: float(value) for kind, value in intervals.items()}
        self._margin = margin
        self._max_wait_ms = int(max_wait * 1000)
        self._prefix = f"{prefix}:{account}"
        self._sleep = sleep

    @classmethod
    def from_settings(cls, account: str) -> IntervalLimiter:
        from django.conf import settings

        return cls(_redis(settings.REDIS_URL), account=account, intervals=intervals_from_settings(),
                   margin=settings.MDLP_INTERVAL_MARGIN, max_wait=settings.MDLP_RATE_MAX_WAIT)

    def interval(self, kind: str) -> float:
        return self._intervals.get(kind, 0.0)

    def wait(self, kind: str) -> float:
        """Take the next slot for `kind` and sleep until it; the seconds slept."""
        interval = self.interval(kind)
        if interval <= 0:
            return 0.0
        try:
            waited_ms = int(self._script(keys=[f"{self._prefix}:{kind}"],
                                         args=[int((interval + self._margin) * 1000), self._max_wait_ms]))
        except redis.RedisError as exc:
            raise MdlpUnavailable(
                "Не удалось согласовать интервал вызовов МДЛП между процессами: Redis недоступен; "
                "вызов будет повторён", details={"reason": type(exc).__name__}) from None
        if waited_ms < 0:
            raise MdlpRateLimited(
                f"Очередь вызовов МДЛП ({kind}) длиннее {self._max_wait_ms / 1000:g} с: вызов не сделан и "
                "будет повторён позже", details={"kind": kind, "queue_seconds": (-waited_ms - 1) / 1000})
        if waited_ms:
            self._sleep(waited_ms / 1000)
        return waited_ms / 1000


@cache
def _redis(url: str) -> redis.Redis:
    """One connection pool per process (clients are made per task)."""
    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)


def intervals_from_settings() -> dict[str, float]:
    from django.conf import settings

    return {SEND: settings.MDLP_SEND_INTERVAL, LIST: settings.MDLP_LIST_INTERVAL,
            READ: settings.MDLP_READ_INTERVAL}
