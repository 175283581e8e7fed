"""Liveness and readiness probes for load balancers and orchestrators (JSON, 200 or 503)."""

import time

import redis
from django.conf import settings
from django.core.cache import cache
from django.db import connections
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from .tasks import HEARTBEAT_KEY


@never_cache
@require_GET
def live(request):
    return JsonResponse({"status": "ok"})


class CheckFailed(Exception):
    """A check's own verdict (its message is the whole story)."""


def _timed(check):
    started = time.monotonic()
    try:
        detail = check()
        ok = True
    except CheckFailed as exc:
        detail, ok = str(exc), False
    except Exception as exc:  # a probe reports every failure, whatever its kind
        detail, ok = f"{type(exc).__name__}: {exc}".strip()[:300], False
    return {"ok": ok, "detail": detail, "ms": round((time.monotonic() - started) * 1000, 1)}


def check_database() -> str:
    connection = connections["default"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return "ok"


def check_redis() -> str:
    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    try:
        client.ping()
    finally:
        client.close()
    return "ok"


def check_worker() -> str:
    beat = cache.get(HEARTBEAT_KEY)
    if beat is None:
        raise CheckFailed("фоновый обработчик (Celery) ещё не отвечал")
    age = time.time() - float(beat)
    if age > settings.WORKER_HEARTBEAT_MAX_AGE:
        raise CheckFailed(f"фоновый обработчик не отвечал {int(age)} с")
    return f"ответил {int(age)} с назад"


def readiness() -> tuple[bool, dict]:
    checks = {"database": _timed(check_database), "redis": _timed(check_redis)}
    checks["worker"] = _timed(check_worker) if checks["redis"]["ok"] else {
        "ok": False, "detail": "Redis недоступен", "ms": 0.0,
    }
    ok = all(c["ok"] for c in checks.values())
    if not checks["database"]["ok"]:
        connections["default"].close()  # do not keep a broken connection for the next request
    return ok, checks


@never_cache
@require_GET
def ready(request):
    ok, checks = readiness()
    return JsonResponse({"status": "ok" if ok else "fail", "checks": checks}, status=200 if ok else 503)
