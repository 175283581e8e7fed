"""How the emulated service misbehaves, set through `POST /_emulator/config`."""

from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass, replace

HOSTILE = ("bomb", "xxe")
CORRUPTIONS = ("xml", "schema")


@dataclass(frozen=True)
class Behaviour:
    latency_ms: float = 0  # delay before every answer of the service (WSDL and operations)
    fail_rate: float = 0.0  # share of requests answered HTTP 500 with a soap:Server fault
    down: bool = False  # every request: connection closed without an answer
    fail_on_page: int | None = None  # this page (from 1) of every GetChanges page set breaks off mid-body
    hostile: str | None = None  # "bomb" | "xxe": operation answers carry a hostile DTD
    corrupt: str | None = None  # "xml": answers cut short (well framed); "schema": an element the WSDL lacks


class Controls:
    def __init__(self, seed: int = 1):
        self._lock = threading.Lock()
        self._seed = seed
        self._random = random.Random(seed)
        self.behaviour = Behaviour()

    def as_dict(self) -> dict:
        return asdict(self.behaviour)

    def update(self, changes: dict) -> Behaviour:
        """Apply the changes at once or not at all; ValueError (Russian) names a bad value."""
        values = {}
        for name, value in changes.items():
            if name == "seed":
                if not _is_int(value):
                    raise ValueError("seed: ожидается целое число")
                continue
            if name not in Behaviour.__dataclass_fields__:
                raise ValueError(f"{name}: неизвестный параметр")
            values[name] = _checked(name, value)
        with self._lock:
            self.behaviour = replace(self.behaviour, **values)
            if "seed" in changes:
                self._random.seed(changes["seed"])
            return self.behaviour

    def reset(self) -> None:
        with self._lock:
            self.behaviour = Behaviour()
            self._random.seed(self._seed)

    def fails_now(self, rate: float) -> bool:
        if rate <= 0:
            return False
        with self._lock:
            return self._random.random() < rate


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _checked(name: str, value):
    if name == "latency_ms":
        if not _is_number(value) or value < 0:
            raise ValueError("latency_ms: ожидается неотрицательное число миллисекунд")
    elif name == "fail_rate":
        if not _is_number(value) or not 0 <= value <= 1:
            raise ValueError("fail_rate: ожидается число от 0 до 1")
    elif name == "down":
        if not isinstance(value, bool):
            raise ValueError("down: ожидается true или false")
    elif name == "fail_on_page":
        if value is not None and (not _is_int(value) or value < 1):
            raise ValueError("fail_on_page: ожидается номер страницы (от 1) или null")
    elif name == "hostile":
        if value is not None and value not in HOSTILE:
            raise ValueError('hostile: ожидается null, "bomb" или "xxe"')
    elif name == "corrupt":
        if value is not None and value not in CORRUPTIONS:
            raise ValueError('corrupt: ожидается null, "xml" или "schema"')
    return value
