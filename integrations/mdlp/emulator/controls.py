"""How the emulated MDLP behaves, set through `POST /_emulator/config`."""

from __future__ import annotations

from dataclasses import dataclass

from integrations.emulator_controls import EmulatorControls, is_int, is_number

# "json": answers cut in half; "shape": an object without the expected fields; "huge": an answer far larger
# than any real one; "xml_bomb": ticket and download files are an entity bomb behind a DOCTYPE; "status":
# documents/{id} names a status MDLP does not have. Authorization (auth, token) always answers properly.
HOSTILE = ("json", "shape", "huge", "xml_bomb", "status")


@dataclass(frozen=True)
class Behaviour:
    latency_ms: float = 0  # delay before every API answer
    fail_rate: float = 0.0  # share of API requests answered 503
    down: bool = False  # every API request: connection closed without an answer
    processing_ms: float = 300  # a sent document: UPLOADING → PROCESSING → processed after this long
    token_life_time: int = 30  # minutes, as MDLP's `life_time`
    enforce_intervals: bool = True  # answer 429 to calls closer than the published minimum intervals
    send_interval: float = 0.5  # s between documents/send of one token
    list_interval: float = 1.0  # s between list calls (income, outcome, registry) of one token
    hostile: str | None = None  # see HOSTILE
    huge_bytes: int = 16 * 2**20  # size of a "huge" answer


class Controls(EmulatorControls):
    behaviour_type = Behaviour

    def check(self, name: str, value) -> None:
        if name == "processing_ms":
            if not is_number(value) or value < 0:
                raise ValueError("processing_ms: ожидается неотрицательное число миллисекунд")
        elif name == "token_life_time":
            if not is_int(value) or not 1 <= value <= 1440:
                raise ValueError("token_life_time: ожидается целое число минут от 1 до 1440")
        elif name == "enforce_intervals":
            if not isinstance(value, bool):
                raise ValueError("enforce_intervals: ожидается true или false")
        elif name in ("send_interval", "list_interval"):
            if not is_number(value) or value < 0:
                raise ValueError(f"{name}: ожидается неотрицательное число секунд")
        elif name == "hostile":
            if value is not None and value not in HOSTILE:
                raise ValueError("hostile: ожидается null или одно из: " + ", ".join(HOSTILE))
        elif name == "huge_bytes":
            if not is_int(value) or not 0 < value <= 2**30:
                raise ValueError("huge_bytes: ожидается число байтов от 1 до 2^30")
        else:
            raise ValueError(f"{name}: неизвестный параметр")
