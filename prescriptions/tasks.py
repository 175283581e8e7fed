"""Periodic moves of prescriptions: expiry at the end of validity, reservations running out."""

from __future__ import annotations

import logging

from celery import shared_task
from django.utils import timezone

from llo.audit import audit_context

from . import services

logger = logging.getLogger(__name__)


@shared_task(name="prescriptions.expire", ignore_result=True)
def prescriptions_expire() -> int:
    with audit_context(source="prescriptions.expire"):
        count = services.prescriptions_expire(today=timezone.localdate())
    if count:
        logger.info("%s prescriptions expired", count)
    return count


@shared_task(name="prescriptions.reservations_expire", ignore_result=True)
def reservations_expire() -> int:
    with audit_context(source="prescriptions.reservations_expire"):
        return services.reservations_expire(now=timezone.now())
