"""The emulated registrar's memory: the requests it was given (one per rvRequestId), the codes whose
withdrawal it registered, the codes it must refuse, and the API calls that arrived. One lock."""

from __future__ import annotations

import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field

# onlineCheckError values (the device's own): 1 not in MDLP, 2 wrong format, 3 crypto check failed,
# 4 the code's status does not allow it (already withdrawn, not this pharmacy's …)
REFUSAL_CODES = (1, 2, 3, 4)
ALREADY_WITHDRAWN = 4


@dataclass(frozen=True)
class Mark:
    key: str  # the key in the request's `marks` object
    mark: str  # base64 of the code, as sent
    sgtin: str
    sold_part: str | None = None


@dataclass
class Request:
    rv_id: str
    document: dict
    marks: tuple[Mark, ...]
    received: float
    processing_s: float
    status: str = "wait"
    result: dict | None = None
    error: dict | None = None

    def answer(self) -> dict:
        results: dict = {"status": self.status}
        if self.result is not None:
            results["result"] = self.result
        if self.error is not None:
            results["error"] = self.error
        return {"rvRequestId": self.rv_id, "results": results}


@dataclass
class Registrar:
    lock: threading.RLock = field(default_factory=threading.RLock)
    requests: dict[str, Request] = field(default_factory=dict)  # in arrival order
    withdrawn: dict[str, str] = field(default_factory=dict)  # sgtin -> rvRequestId that withdrew it
    registrations: list[tuple[str, str]] = field(default_factory=list)  # (sgtin, rvRequestId), every one
    refused: dict[str, int] = field(default_factory=dict)  # sgtin -> onlineCheckError to answer
    calls: deque = field(default_factory=lambda: deque(maxlen=2000))

    def reset(self) -> None:
        with self.lock:
            self.requests.clear()
            self.withdrawn.clear()
            self.registrations.clear()
            self.refused.clear()
            self.calls.clear()

    def log_call(self, method: str, path: str) -> None:
        with self.lock:
            self.calls.append({"at": time.time(), "method": method, "path": path})

    def queue(self, rv_id: str, document: dict, marks: tuple[Mark, ...], processing_s: float) -> bool:
        """Keep a new request; False (and nothing changed) when the rvRequestId is already known."""
        with self.lock:
            if rv_id in self.requests:
                return False
            self.requests[rv_id] = Request(rv_id, document, marks, time.monotonic(), processing_s)
            return True

    def request(self, rv_id: str, device_error: int | None) -> Request | None:
        with self.lock:
            self.tick(device_error)
            return self.requests.get(rv_id)

    def refuse(self, sgtins: list[str], code: int = ALREADY_WITHDRAWN) -> int:
        with self.lock:
            self.refused.update(dict.fromkeys(sgtins, code))
            return len(sgtins)

    def tick(self, device_error: int | None) -> None:
        """Move every request on by the time passed, processing the due ones in arrival order."""
        now = time.monotonic()
        with self.lock:
            for request in self.requests.values():
                if request.status in ("ready", "error"):
                    continue
                elapsed = now - request.received
                if elapsed < request.processing_s / 2:
                    continue
                request.status = "inProgress"
                if elapsed >= request.processing_s:
                    self._process(request, device_error)

    def _process(self, request: Request, device_error: int | None) -> None:
        if device_error is not None:
            request.status = "error"
            request.error = {"code": device_error,
                             "description": f"Ошибка регистратора выбытия {device_error}: задание не выполнено"}
            return
        marks = {}
        for mark in request.marks:
            refusal = self.refused.get(mark.sgtin)
            if refusal is None and self.withdrawn.get(mark.sgtin, request.rv_id) != request.rv_id:
                refusal = ALREADY_WITHDRAWN
            if refusal is None and mark.sold_part is None:
                self.withdrawn[mark.sgtin] = request.rv_id
            if refusal is None:
                self.registrations.append((mark.sgtin, request.rv_id))
            marks[mark.key] = {"mark": mark.mark, "deviceError": 0, "flcError": 0, "localCheckStatus": 1,
                               "onlineCheckStatus": 0 if refusal is None else 2, "onlineCheckError": refusal or 0}
        request.status = "ready"
        request.result = {"mdlpRequestId": str(uuid.uuid4()), "marks": marks}
