"""How the emulated portal misbehaves, set through `POST /_emulator/config`."""

from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass, replace

CORRUPTIONS = ("json", "zip")


@dataclass(frozen=True)
class Behaviour:
    latency_ms: float = 0  # delay before every portal answer
    fail_rate: float = 0.0  # share of portal requests answered 503
    down: bool = False  # every portal request: connection closed without an answer
    truncate_bulk_after: int | None = None  # bytes of a bulk file sent before the connection breaks
    corrupt: str | None = None  # "json": REST answers are cut in half; "zip": bulk files are damaged


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
    elif name == "truncate_bulk_after":
        if value is not None and (not _is_int(value) or value < 0):
            raise ValueError("truncate_bulk_after: ожидается неотрицательное число байтов или null")
    elif name == "corrupt":
        if value is not None and value not in CORRUPTIONS:
            raise ValueError("corrupt: ожидается null, \"json\" или \"zip\"")
    return value
