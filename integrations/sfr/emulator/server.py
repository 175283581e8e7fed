"""The emulator as an object: the shared served emulator (integrations/emulator_server.py) around
the service's WSGI app."""

from __future__ import annotations

import logging
from datetime import date

from integrations.emulator_server import ServedEmulator

from .app import SERVICE_PATH, FrlApp
from .controls import Controls
from .store import DEFAULT_TODAY, Register

logger = logging.getLogger("integrations.sfr.emulator")


class SfrEmulator(ServedEmulator):
    """The emulated FrlChangesService of one region. `start()` serves it from a background
    thread and returns the base URL; `serve_forever()` serves from the calling thread; `stop()`
    (or leaving the `with` block) shuts the server down."""

    name, logger = "SFR", logger

    def __init__(self, *, persons: int = 300, region: str = "99", seed: int = 1, today: date = DEFAULT_TODAY):
        self.register = Register(persons=persons, region=region, seed=seed, today=today)
        self.controls = Controls(seed)
        self.app = FrlApp(self.register, self.controls)
        super().__init__()

    @property
    def wsdl_url(self) -> str:
        return f"{self.base_url.rstrip('/')}{SERVICE_PATH}?wsdl"

    def describe(self) -> str:
        return f"{self.base_url} (WSDL: {self.wsdl_url})"
