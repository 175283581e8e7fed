"""Outbox handlers of every exchange, found by `autodiscover_modules("handlers")`."""

from integrations.mdlp import handlers as mdlp  # noqa: F401
from integrations.nsi import handlers as nsi  # noqa: F401
from integrations.sfr import handlers as sfr  # noqa: F401
