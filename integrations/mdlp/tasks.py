"""Celery tasks of the MDLP exchange."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from . import exchange


@shared_task(name="integrations.mdlp_poll", ignore_result=True)
def poll() -> dict[str, int]:
    """Follow the sent documents whose check is due (beat, every few seconds)."""
    if not settings.MDLP_BASE_URL:
        return {}
    return exchange.poll_due(limit=200)
