import pghistory
from celery import shared_task
from celery.signals import task_postrun, task_prerun, worker_ready
from django.core.cache import cache
from django.utils import timezone

from . import outbox

HEARTBEAT_KEY = "worker-heartbeat"


@shared_task(name="llo.worker_heartbeat", ignore_result=True)
def worker_heartbeat() -> None:
    """Scheduled by beat, run by a worker: proves the broker → worker path works."""
    cache.set(HEARTBEAT_KEY, timezone.now().timestamp(), timeout=3600)


@worker_ready.connect
def _heartbeat_on_start(**_kwargs) -> None:
    worker_heartbeat()


@shared_task(name="llo.outbox_dispatch", ignore_result=True)
def outbox_dispatch() -> dict:
    return outbox.dispatch()


@shared_task(name="llo.outbox_release_stale", ignore_result=True)
def outbox_release_stale() -> int:
    return outbox.release_stale()


# Changes made by tasks are attributed to the task in the audit trail.
_task_contexts: dict[str, pghistory.context] = {}


@task_prerun.connect
def _enter_audit_context(task_id=None, task=None, **_kwargs) -> None:
    ctx = pghistory.context(task=task.name, task_id=task_id)
    ctx.__enter__()
    _task_contexts[task_id] = ctx


@task_postrun.connect
def _exit_audit_context(task_id=None, **_kwargs) -> None:
    ctx = _task_contexts.pop(task_id, None)
    if ctx is not None:
        ctx.__exit__(None, None, None)
