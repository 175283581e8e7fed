"""Periodic checks of the stock ledger."""

from __future__ import annotations

import logging

from celery import shared_task
from django.core.cache import cache
from django.utils import timezone

from . import ledger

logger = logging.getLogger(__name__)
DRIFT_KEY = "warehouse:drift"


@shared_task(name="warehouse.stock_drift_check", ignore_result=True)
def stock_drift_check() -> int:
    """Re-derive every balance from the ledger; any difference is an error someone must look at."""
    drift = ledger.drift()
    cache.set(DRIFT_KEY, {"checked_at": timezone.now().isoformat(), "count": len(drift),
                          "examples": [d.__dict__ for d in drift[:20]]}, None)
    if drift:
        logger.error("Stock balances differ from the ledger in %s places, e.g. %s", len(drift), drift[:5])
    return len(drift)
