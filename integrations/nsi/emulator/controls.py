"""How the emulated portal misbehaves, set through `POST /_emulator/config`."""

from __future__ import annotations

from dataclasses import dataclass

from integrations.emulator_controls import EmulatorControls, is_int

CORRUPTIONS = ("json", "zip")


@dataclass(frozen=True)
class Behaviour:
    latency_ms: float = 0  # delay before every portal answer
    fail_rate: float = 0.0  # share of portal requests answered 503
    down: bool = False  # every portal request: connection closed without an answer
    truncate_bulk_after: int | None = None  # bytes of a bulk file sent before the connection breaks
    corrupt: str | None = None  # "json": REST answers are cut in half; "zip": bulk files are damaged


class Controls(EmulatorControls):
    behaviour_type = Behaviour

    def check(self, name: str, value) -> None:
        if name == "truncate_bulk_after":
            if value is not None and (not is_int(value) or value < 0):
                raise ValueError("truncate_bulk_after: ожидается неотрицательное число байтов или null")
        elif name == "corrupt":
            if value is not None and value not in CORRUPTIONS:
                raise ValueError("corrupt: ожидается null, \"json\" или \"zip\"")
