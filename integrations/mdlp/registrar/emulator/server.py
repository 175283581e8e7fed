"""The emulator as an object: the shared served emulator (integrations/emulator_server.py) around the
registrar's WSGI app."""

from __future__ import annotations

import logging

from integrations.emulator_server import ServedEmulator

from .app import RegistrarApp
from .controls import Controls
from .store import ALREADY_WITHDRAWN, Registrar

logger = logging.getLogger("integrations.mdlp.registrar.emulator")


class RegistrarEmulator(ServedEmulator):
    """The emulated withdrawal registrar. `start()` serves it from a background thread and returns its
    root URL (what a client is built with); `serve_forever()` serves from the calling thread; `stop()` (or
    leaving the `with` block) shuts it down. `credentials` (user, password): HTTP Basic is required."""

    name, logger = "registrar", logger

    def __init__(self, *, credentials: tuple[str, str] | None = None, seed: int = 1):
        self.registrar = Registrar()
        self.controls = Controls(seed)
        self.app = RegistrarApp(self.registrar, self.controls, credentials=credentials)
        super().__init__()

    # inspection and switches from the same process (tests)

    def refuse(self, sgtins: list[str], code: int = ALREADY_WITHDRAWN) -> int:
        """The device will refuse these codes with `onlineCheckError` = code (1–4)."""
        return self.registrar.refuse(sgtins, code)

    def reset(self) -> None:
        self.controls.reset()
        self.registrar.reset()

    def calls(self) -> list[dict]:
        with self.registrar.lock:
            return list(self.registrar.calls)

    def requests(self) -> dict:
        """The kept requests by rvRequestId (their document, marks, status)."""
        with self.registrar.lock:
            return dict(self.registrar.requests)

    def registrations(self, sgtin: str | None = None) -> list[tuple[str, str]]:
        """Every withdrawal the device registered: (sgtin, rvRequestId)."""
        with self.registrar.lock:
            return [r for r in self.registrar.registrations if sgtin is None or r[0] == sgtin]
