"""The emulator as an object: a threaded standard-library HTTP server around the WSGI app, run
in a background thread (tests) or in the foreground (the CLI)."""

from __future__ import annotations

import logging
import re
import threading
from pathlib import Path
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

from .app import PortalApp
from .controls import Controls
from .store import Portal

logger = logging.getLogger("integrations.nsi.emulator")

DEFAULT_USER_KEY = "demo-nsi-key"
_KEY_IN_QUERY = re.compile(r"(userKey=)[^&\s\"]*")


class _Handler(WSGIRequestHandler):
    def parse_request(self) -> bool:
        if not super().parse_request():
            return False
        if self.server.emulator.drops(self.path):
            # "down": hang up without a word, as a dead portal behind a balancer does
            self.close_connection = True
            return False
        return True

    def log_message(self, format, *args):
        logger.debug("%s %s", self.address_string(), _KEY_IN_QUERY.sub(r"\1***", format % args))


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, address, emulator: NsiEmulator):
        self.emulator = emulator
        super().__init__(address, _Handler)
        self.set_app(emulator.app)


class NsiEmulator:
    """The emulated NSI portal. `start()` serves it from a background thread and returns the
    base URL; `serve_forever()` serves it from the calling thread; `stop()` (or leaving the
    `with` block) shuts the server down and deletes the cached files."""

    def __init__(self, *, user_key: str = DEFAULT_USER_KEY, scale: int | None = None, seed: int = 1,
                 work_dir: Path | None = None):
        self.portal = Portal(scale=scale, work_dir=work_dir)
        self.controls = Controls(seed)
        self.app = PortalApp(self.portal, self.controls, user_key)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the NSI emulator is not serving")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/"

    def drops(self, path: str) -> bool:
        """Whether a request for `path` is to be dropped unanswered (the portal is "down")."""
        return self.controls.behaviour.down and not path.startswith("/_emulator/")

    def bind(self, host: str = "127.0.0.1", port: int = 0) -> str:
        self._server = _Server((host, port), self)
        return self.base_url

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve from a daemon thread; port 0 picks a free port. Returns the base URL."""
        url = self.bind(host, port)
        self._thread = threading.Thread(target=self._server.serve_forever, name="nsi-emulator", daemon=True)
        self._thread.start()
        logger.info("NSI emulator serving at %s", url)
        return url

    def serve_forever(self, host: str = "127.0.0.1", port: int = 0) -> None:
        url = self.bind(host, port)
        logger.info("NSI emulator serving at %s", url)
        self._server.serve_forever()

    def stop(self) -> None:
        if self._server is not None:
            if self._thread is not None:
                self._server.shutdown()
                self._thread.join(10)
            self._server.server_close()
            self._server = self._thread = None
        self.portal.close()

    def __enter__(self) -> NsiEmulator:
        if self._server is None:
            self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
