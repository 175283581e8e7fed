"""The emulator as an object: a threaded standard-library HTTP server around the WSGI app, run
in a background thread (tests) or in the foreground (the CLI)."""

from __future__ import annotations

import logging
import threading
from datetime import date
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

from .app import SERVICE_PATH, FrlApp
from .controls import Controls
from .store import DEFAULT_TODAY, Register

logger = logging.getLogger("integrations.sfr.emulator")


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

    def __init__(self, address, emulator: SfrEmulator):
        self.emulator = emulator
        super().__init__(address, _Handler)
        self.set_app(emulator.app)


class SfrEmulator:
    """The emulated FrlChangesService of one region. `start()` serves it from a background
    thread and returns the base URL; `serve_forever()` serves from the calling thread; `stop()`
    (or leaving the `with` block) shuts the server down."""

    def __init__(self, *, persons: int = 300, region: str = "99", seed: int = 1, today: date = DEFAULT_TODAY):
        self.register = Register(persons=persons, region=region, seed=seed, today=today)
        self.controls = Controls(seed)
        self.app = FrlApp(self.register, self.controls)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the SFR emulator is not serving")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/"

    @property
    def wsdl_url(self) -> str:
        return f"{self.base_url.rstrip('/')}{SERVICE_PATH}?wsdl"

    def drops(self, path: str) -> bool:
        """Whether a request for `path` is to be dropped unanswered (the service is "down")."""
        return self.controls.behaviour.down and not path.startswith("/_emulator/")

    def bind(self, host: str = "127.0.0.1", port: int = 0) -> str:
        self._server = _Server((host, port), self)
        return self.base_url

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve from a daemon thread; port 0 picks a free port. Returns the base URL."""
        url = self.bind(host, port)
        self._thread = threading.Thread(target=self._server.serve_forever, name="sfr-emulator", daemon=True)
        self._thread.start()
        logger.info("SFR emulator serving at %s", url)
        return url

    def serve_forever(self, host: str = "127.0.0.1", port: int = 0) -> None:
        url = self.bind(host, port)
        logger.info("SFR emulator serving at %s (WSDL: %s)", url, self.wsdl_url)
        self._server.serve_forever()

    def stop(self) -> None:
        if self._server is not None:
            if self._thread is not None:
                self._server.shutdown()
                self._thread.join(10)
            self._server.server_close()
            self._server = self._thread = None

    def __enter__(self) -> SfrEmulator:
        if self._server is None:
            self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
