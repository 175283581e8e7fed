"""A circuit breaker shared by every worker: once a call finds MDLP down, nobody calls it for
`MDLP_BREAKER_SECONDS`; the first message due after that is the probe. Without it, every queued report
would spend the client's whole timeout and retries on a dead service. Redis itself being unreachable
leaves the breaker closed: the calls then find out for themselves."""

from __future__ import annotations

import logging

import redis
from django.conf import settings

from .ratelimit import _redis

logger = logging.getLogger(__name__)

OPEN_KEY = "llo:mdlp:breaker:open"
TRIPPED_KEY = "llo:mdlp:breaker:tripped"  # outlives OPEN_KEY: the first success after an outage sees it


def _client() -> redis.Redis:
    return _redis(settings.REDIS_URL)


def is_open() -> bool:
    try:
        return bool(_client().exists(OPEN_KEY))
    except redis.RedisError:
        return False


def state() -> tuple[bool, bool]:
    """(open now, tripped since the last success) in one round trip."""
    try:
        open_, tripped = _client().mget(OPEN_KEY, TRIPPED_KEY)
    except redis.RedisError:
        return False, False
    return open_ is not None, tripped is not None


def trip() -> None:
    try:
        with _client().pipeline() as pipe:
            pipe.set(OPEN_KEY, "1", ex=max(int(settings.MDLP_BREAKER_SECONDS), 1))
            pipe.set(TRIPPED_KEY, "1", ex=7 * 24 * 3600)
            pipe.execute()
        logger.warning("MDLP is unavailable: calls paused for %s s", settings.MDLP_BREAKER_SECONDS)
    except redis.RedisError:
        logger.warning("MDLP is unavailable and Redis too: the breaker could not be set")


def close() -> bool:
    """After a successful call: True the first time after an outage (then postponed work may go)."""
    try:
        return bool(_client().delete(TRIPPED_KEY))
    except redis.RedisError:
        return False


def reset() -> None:
    _client().delete(OPEN_KEY, TRIPPED_KEY)
