"""Celery task of the MDLP income: store the suppliers' new 601 notifications (beat, every minute)."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings


@shared_task(name="integrations.mdlp_income", ignore_result=True)
def fetch(limit: int = 500) -> dict[str, int]:
    """No-op while the MDLP exchange is not configured (MDLP_BASE_URL empty)."""
    if not settings.MDLP_BASE_URL:
        return {}
    from .income import fetch_incoming

    return fetch_incoming(limit)
