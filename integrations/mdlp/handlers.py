"""Outbox topics reported to ФГИС МДЛП: every one goes through `exchange.deliver`."""

from llo import outbox

from .exchange import deliver
from .operations import TOPICS

for _topic in TOPICS:
    outbox.handler(_topic)(deliver)
