"""The misbehaviour switches every local emulator shares (set through `POST /_emulator/config`):
latency, a failure rate, being down, and the emulator's own switches; applied all at once or not at
all, with a seeded random source so that tests repeat."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from dataclasses import asdict, replace


def is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_common(name: str, value) -> bool:
    """Check a switch every emulator has; False when `name` is not one of them."""
    if name == "latency_ms":
        if not is_number(value) or value < 0:
            raise ValueError("latency_ms: ожидается неотрицательное число миллисекунд")
    elif name == "fail_rate":
        if not is_number(value) or not 0 <= value <= 1:
            raise ValueError("fail_rate: ожидается число от 0 до 1")
    elif name == "down":
        if not isinstance(value, bool):
            raise ValueError("down: ожидается true или false")
    else:
        return False
    return True


class EmulatorControls:
    """Subclasses name their frozen `behaviour_type` (latency_ms, fail_rate, down and their own
    fields) and check their own switches in `check()`."""

    behaviour_type: type

    def __init__(self, seed: int = 1):
        self._lock = threading.Lock()
        self._seed = seed
        self._random = random.Random(seed)
        self.behaviour = self.behaviour_type()

    def check(self, name: str, value) -> None:
        raise ValueError(f"{name}: неизвестный параметр")

    def as_dict(self) -> dict:
        return asdict(self.behaviour)

    def update(self, changes: dict):
        """Apply the changes at once or not at all; ValueError (Russian) names a bad value."""
        values = {}
        for name, value in changes.items():
            if name == "seed":
                if not is_int(value):
                    raise ValueError("seed: ожидается целое число")
                continue
            if name not in self.behaviour_type.__dataclass_fields__:
                raise ValueError(f"{name}: неизвестный параметр")
            if not check_common(name, value):
                self.check(name, value)
            values[name] = value
        with self._lock:
            self.behaviour = replace(self.behaviour, **values)
            if "seed" in changes:
                self._random.seed(changes["seed"])
            return self.behaviour

    def reset(self) -> None:
        with self._lock:
            self.behaviour = self.behaviour_type()
            self._random.seed(self._seed)

    def fails_now(self, rate: float) -> bool:
        if rate <= 0:
            return False
        with self._lock:
            return self._random.random() < rate


def control_api(controls: EmulatorControls, method: str, path: str, read_json: Callable[[], dict], *,
                reset: Callable[[], None], publish: Callable[[dict], dict]) -> tuple[int, dict]:
    """The `/_emulator/…` commands every emulator answers: health, config (GET/POST), reset, and
    publish (the emulator's own: `publish(payload)` returns the answer's body). (status, body)."""
    action = path.removeprefix("/_emulator/").rstrip("/")
    if action == "health" and method == "GET":
        return 200, {"ok": True}
    if action == "config" and method == "GET":
        return 200, controls.as_dict()
    if action not in ("config", "publish", "reset"):
        return 404, {"ok": False, "error": f"неизвестная команда {action}"}
    if method != "POST":
        return 405, {"ok": False, "error": "ожидается POST"}
    try:
        payload = read_json()
        if action == "config":
            controls.update(payload)
            return 200, controls.as_dict()
        if action == "reset":
            controls.reset()
            reset()
            return 200, controls.as_dict()
        return 200, {"ok": True, **publish(payload)}
    except ValueError as exc:
        return 400, {"ok": False, "error": str(exc)}
