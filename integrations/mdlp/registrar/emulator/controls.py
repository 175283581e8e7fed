"""How the emulated registrar behaves, set through `POST /_emulator/config`."""

from __future__ import annotations

from dataclasses import dataclass, replace

from integrations.emulator_controls import EmulatorControls, is_int, is_number

# "json": answers cut in half; "shape": an answer without `results`; "types": per-code results with
# fields of the wrong type; "status": a request status the device does not have; "huge": an answer of
# `huge_bytes`.
HOSTILE = ("json", "shape", "types", "status", "huge")


@dataclass(frozen=True)
class Behaviour:
    latency_ms: float = 0  # delay before every API answer
    fail_rate: float = 0.0  # share of API requests answered 503
    down: bool = False  # every API request: connection closed without an answer
    fail_next: int = 0  # the next n API requests are answered 503
    processing_ms: float = 200  # a request: wait, inProgress from half this time, then ready or error
    device_error: int | None = None  # requests processed while set end in status "error" with this code
    hostile: str | None = None  # see HOSTILE
    huge_bytes: int = 2 * 2**20  # size of a "huge" answer


class Controls(EmulatorControls):
    behaviour_type = Behaviour

    def check(self, name: str, value) -> None:
        if name == "fail_next":
            if not is_int(value) or not 0 <= value <= 1000:
                raise ValueError("fail_next: ожидается целое число от 0 до 1000")
        elif name == "processing_ms":
            if not is_number(value) or value < 0:
                raise ValueError("processing_ms: ожидается неотрицательное число миллисекунд")
        elif name == "device_error":
            if value is not None and (not is_int(value) or not 1 <= value <= 99999):
                raise ValueError("device_error: ожидается null или код ошибки устройства (1–99999)")
        elif name == "hostile":
            if value is not None and value not in HOSTILE:
                raise ValueError("hostile: ожидается null или одно из: " + ", ".join(HOSTILE))
        elif name == "huge_bytes":
            if not is_int(value) or not 0 < value <= 2**30:
                raise ValueError("huge_bytes: ожидается число байтов от 1 до 2^30")
        else:
            raise ValueError(f"{name}: неизвестный параметр")

    def take_fail_next(self) -> bool:
        """Whether this request is one of the `fail_next` to fail (and count it)."""
        with self._lock:
            if self.behaviour.fail_next <= 0:
                return False
            self.behaviour = replace(self.behaviour, fail_next=self.behaviour.fail_next - 1)
            return True
