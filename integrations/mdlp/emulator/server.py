"""The emulator as an object: the shared served emulator (integrations/emulator_server.py) around
MDLP's WSGI app."""

from __future__ import annotations

import logging
from pathlib import Path

from integrations.emulator_server import ServedEmulator

from .app import API, MdlpApp
from .controls import Controls
from .store import Mdlp

logger = logging.getLogger("integrations.mdlp.emulator")

DEFAULT_CLIENT_ID = "demo-mdlp-client"
DEFAULT_CLIENT_SECRET = "demo-mdlp-secret"


def _demo_ca():
    from django.conf import settings

    from prescriptions.signing import load_or_create_authority

    return load_or_create_authority(Path(settings.PRESCRIPTION_DEMO_CA_FILE))[1]


class MdlpEmulator(ServedEmulator):
    """The emulated MDLP. `start()` serves it from a background thread and returns the API's base URL
    (…/api/v1/); `serve_forever()` serves from the calling thread; `stop()` (or leaving the `with`
    block) shuts the server down. `trusted` is the CA whose certificates may sign (default: the demo CA
    of PRESCRIPTION_DEMO_CA_FILE); `accounts` maps client_id to client_secret."""

    name, logger = "MDLP", logger

    def __init__(self, *, accounts: dict[str, str] | None = None, trusted=None, seed: int = 1):
        self.mdlp = Mdlp()
        self.controls = Controls(seed)
        self.app = MdlpApp(self.mdlp, self.controls,
                           accounts=accounts or {DEFAULT_CLIENT_ID: DEFAULT_CLIENT_SECRET},
                           trusted=trusted if trusted is not None else _demo_ca)
        super().__init__()

    @property
    def base_url(self) -> str:
        """The API's base URL, what MDLP_BASE_URL is set to."""
        return self.root_url.rstrip("/") + API

    # seeding and inspection from the same process (tests)

    def seed(self, place: str, sgtins: list[str], **options) -> int:
        return self.mdlp.seed(place=place, sgtins=sgtins, **options)

    def incoming_move_order(self, sender: str, receiver: str, sgtins: list[str], **options) -> str:
        """A 601 from `sender` in `receiver`'s income list; the packs in transit to it. Its document_id."""
        return self.mdlp.incoming_move_order(sender=sender, receiver=receiver, sgtins=sgtins, **options)

    def calls(self, kind: str | None = None) -> list[dict]:
        with self.mdlp.lock:
            return [call for call in self.mdlp.calls if kind is None or call["kind"] == kind]
