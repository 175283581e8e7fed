"""Helpers of the registrar tests: distinct valid SGTINs, polling a request to its end, and a tiny HTTP
server answering whatever a test sets (for answers the emulator's hostile switch does not make)."""

from __future__ import annotations

import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self

from llo.barcodes import with_check_digit

GTIN = with_check_digit("0460700001234")


def sgtins(count: int) -> list[str]:
    """Distinct SGTINs with a valid GTIN, new for every call."""
    tag = uuid.uuid4().hex[:7].upper()
    return [f"{GTIN}{tag}{n:06d}" for n in range(count)]


def wait_finished(client, rv_id: str, timeout: float = 5.0):
    deadline = time.monotonic() + timeout
    while True:
        state = client.request(rv_id)
        if state.finished or time.monotonic() > deadline:
            return state
        time.sleep(0.05)


class CannedServer:
    """Answers every request with `status`, `headers` and `body` (or `chunks`, sent chunked without a
    Content-Length). `arrivals` counts the requests."""

    def __init__(self) -> None:
        self.status, self.headers, self.body, self.chunks = 200, {"Content-Type": "application/json"}, b"", None
        self.arrivals = 0
        canned = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self):
                canned.arrivals += 1
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(canned.status)
                for name, value in canned.headers.items():
                    self.send_header(name, value)
                try:
                    if canned.chunks is not None:
                        self.send_header("Transfer-Encoding", "chunked")
                        self.end_headers()
                        for chunk in canned.chunks:
                            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                        self.wfile.write(b"0\r\n\r\n")
                    else:
                        self.send_header("Content-Length", str(len(canned.body)))
                        self.end_headers()
                        self.wfile.write(canned.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            do_GET = do_POST = _answer

            def log_message(self, format, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
