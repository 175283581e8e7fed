"""The emulator as an object: the shared served emulator (integrations/emulator_server.py) around
the portal's WSGI app."""

from __future__ import annotations

import logging
import re
from pathlib import Path

from integrations.emulator_server import ServedEmulator

from .app import PortalApp
from .controls import Controls
from .store import Portal

logger = logging.getLogger("integrations.nsi.emulator")

DEFAULT_USER_KEY = "demo-nsi-key"
_KEY_IN_QUERY = re.compile(r"(userKey=)[^&\s\"]*")


class NsiEmulator(ServedEmulator):
    """The emulated NSI portal. `start()` serves it from a background thread and returns the
    base URL; `serve_forever()` serves it from the calling thread; `stop()` (or leaving the
    `with` block) shuts the server down and deletes the cached files."""

    def __init__(self, *, user_key: str = DEFAULT_USER_KEY, scale: int | None = None, seed: int = 1,
                 work_dir: Path | None = None):
        self.portal = Portal(scale=scale, work_dir=work_dir)
        self.controls = Controls(seed)
        self.app = PortalApp(self.portal, self.controls, user_key)
        super().__init__()

    def log_line(self, text: str) -> str:
        return _KEY_IN_QUERY.sub(r"\1***", text)

    def close(self) -> None:
        self.portal.close()
