"""The emulator as an object: a threaded standard-library HTTP server around the WSGI app, run in a
background thread (tests) or in the foreground (the CLI)."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Self
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

from .app import API, MdlpApp
from .controls import Controls
from .store import Mdlp

logger = logging.getLogger("integrations.mdlp.emulator")

DEFAULT_CLIENT_ID = "demo-mdlp-client"
DEFAULT_CLIENT_SECRET = "demo-mdlp-secret"


class _Handler(WSGIRequestHandler):
    def parse_request(self) -> bool:
        if not super().parse_request():
            return False
        if self.server.emulator.drops(self.path):
            # "down": hang up without a word, as a dead service behind a balancer does
            self.close_connection = True
            return False
        return True

    def log_message(self, format, *args):
        logger.debug("%s %s", self.address_string(), format % args)


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, address, emulator: MdlpEmulator):
        self.emulator = emulator
        super().__init__(address, _Handler)
        self.set_app(emulator.app)


def _demo_ca():
    from django.conf import settings

    from prescriptions.signing import load_or_create_authority

    return load_or_create_authority(Path(settings.PRESCRIPTION_DEMO_CA_FILE))[1]


class MdlpEmulator:
    """The emulated MDLP. `start()` serves it from a background thread and returns the API's base URL
    (…/api/v1/); `serve_forever()` serves from the calling thread; `stop()` (or leaving the `with`
    block) shuts the server down. `trusted` is the CA whose certificates may sign (default: the demo CA
    of PRESCRIPTION_DEMO_CA_FILE); `accounts` maps client_id to client_secret."""

    def __init__(self, *, accounts: dict[str, str] | None = None, trusted=None, seed: int = 1):
        self.mdlp = Mdlp()
        self.controls = Controls(seed)
        self.app = MdlpApp(self.mdlp, self.controls,
                           accounts=accounts or {DEFAULT_CLIENT_ID: DEFAULT_CLIENT_SECRET},
                           trusted=trusted if trusted is not None else _demo_ca)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def root_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the MDLP emulator is not serving")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/"

    @property
    def base_url(self) -> str:
        """The API's base URL, what MDLP_BASE_URL is set to."""
        return self.root_url.rstrip("/") + API

    def drops(self, path: str) -> bool:
        return self.controls.behaviour.down and not path.startswith("/_emulator/")

    # seeding and inspection from the same process (tests)

    def seed(self, place: str, sgtins: list[str], **options) -> int:
        return self.mdlp.seed(place=place, sgtins=sgtins, **options)

    def incoming_move_order(self, sender: str, receiver: str, sgtins: list[str], **options) -> str:
        """A 601 from `sender` in `receiver`'s income list; the packs in transit to it. Its document_id."""
        return self.mdlp.incoming_move_order(sender=sender, receiver=receiver, sgtins=sgtins, **options)

    def calls(self, kind: str | None = None) -> list[dict]:
        with self.mdlp.lock:
            return [call for call in self.mdlp.calls if kind is None or call["kind"] == kind]

    def bind(self, host: str = "127.0.0.1", port: int = 0) -> str:
        self._server = _Server((host, port), self)
        return self.base_url

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        url = self.bind(host, port)
        self._thread = threading.Thread(target=self._server.serve_forever, name="mdlp-emulator", daemon=True)
        self._thread.start()
        logger.info("MDLP emulator serving at %s", url)
        return url

    def serve_forever(self, host: str = "127.0.0.1", port: int = 0) -> None:
        url = self.bind(host, port)
        logger.info("MDLP emulator serving at %s", url)
        self._server.serve_forever()

    def stop(self) -> None:
        if self._server is not None:
            if self._thread is not None:
                self._server.shutdown()
                self._thread.join(10)
            self._server.server_close()
            self._server = self._thread = None

    def __enter__(self) -> Self:
        if self._server is None:
            self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
