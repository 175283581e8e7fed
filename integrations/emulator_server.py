"""What every local emulator shares: a threaded standard-library HTTP server around its WSGI app, run
in a background thread (tests) or in the foreground (the CLI). While "down" it hangs up on every
request outside `/_emulator/`, without a word, as a dead service behind a balancer does."""

from __future__ import annotations

import logging
import threading
from socketserver import ThreadingMixIn
from typing import Self
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer


class _Handler(WSGIRequestHandler):
    def parse_request(self) -> bool:
        if not super().parse_request():
            return False
        if self.server.emulator.drops(self.path):
            self.close_connection = True
            return False
        return True

    def log_message(self, format, *args):
        emulator = self.server.emulator
        emulator.logger.debug("%s %s", self.address_string(), emulator.log_line(format % args))


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, address, emulator: ServedEmulator):
        self.emulator = emulator
        super().__init__(address, _Handler)
        self.set_app(emulator.app)


class ServedEmulator:
    """A subclass sets `name`, `logger` and `self.app` (its WSGI app) and `self.controls` (its
    `EmulatorControls`). `start()` serves from a daemon thread and returns the base URL;
    `serve_forever()` serves from the calling thread; `stop()` (or leaving the `with` block) shuts the
    server down and calls `close()`."""

    name = "emulator"
    logger = logging.getLogger("integrations.emulator")

    def __init__(self) -> None:
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def root_url(self) -> str:
        if self._server is None:
            raise RuntimeError(f"the {self.name} emulator is not serving")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/"

    @property
    def base_url(self) -> str:
        """What the system's settings point at (the root unless the service lives under a path)."""
        return self.root_url

    def describe(self) -> str:
        return self.base_url

    def drops(self, path: str) -> bool:
        """Whether a request for `path` is to be dropped unanswered (the service is "down")."""
        return self.controls.behaviour.down and not path.startswith("/_emulator/")

    def log_line(self, text: str) -> str:
        """A request line as logged (a subclass masks what must not reach the log)."""
        return text

    def bind(self, host: str = "127.0.0.1", port: int = 0) -> str:
        self._server = _Server((host, port), self)
        return self.base_url

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve from a daemon thread; port 0 picks a free port. Returns the base URL."""
        url = self.bind(host, port)
        self._thread = threading.Thread(target=self._server.serve_forever, name=f"{self.name.lower()}-emulator",
                                        daemon=True)
        self._thread.start()
        self.logger.info("%s emulator serving at %s", self.name, self.describe())
        return url

    def serve_forever(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.bind(host, port)
        self.logger.info("%s emulator serving at %s", self.name, self.describe())
        self._server.serve_forever()

    def stop(self) -> None:
        if self._server is not None:
            if self._thread is not None:
                self._server.shutdown()
                self._thread.join(10)
            self._server.server_close()
            self._server = self._thread = None
        self.close()

    def close(self) -> None:
        """What the emulator frees when it stops (files, caches)."""

    def __enter__(self) -> Self:
        if self._server is None:
            self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
