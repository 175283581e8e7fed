"""Periodic work of the deferred service: overdue deferrals, deferrals whose prescription left the
service, and the patients' notices."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from llo.audit import audit_context

from . import deferrals


@shared_task(name="pharmacy.deferrals_mark_overdue", ignore_result=True)
def deferrals_mark_overdue() -> int:
    with audit_context(source="pharmacy.deferrals_mark_overdue"):
        return deferrals.deferrals_mark_overdue(today=timezone.localdate())


@shared_task(name="pharmacy.deferrals_close_stale", ignore_result=True)
def deferrals_close_stale() -> int:
    with audit_context(source="pharmacy.deferrals_close_stale"):
        return deferrals.deferrals_close_stale()


@shared_task(name="pharmacy.notifications_send", ignore_result=True)
def notifications_send() -> int:
    return deferrals.notifications_send()
