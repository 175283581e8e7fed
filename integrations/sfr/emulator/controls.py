"""How the emulated service misbehaves, set through `POST /_emulator/config`."""

from __future__ import annotations

from dataclasses import dataclass

from integrations.emulator_controls import EmulatorControls, is_int

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


class Controls(EmulatorControls):
    behaviour_type = Behaviour

    def check(self, name: str, value) -> None:
        if name == "fail_on_page":
            if value is not None and (not is_int(value) or value < 1):
                raise ValueError("fail_on_page: ожидается номер страницы (от 1) или null")
        elif name == "hostile":
            if value is not None and value not in HOSTILE:
                raise ValueError('hostile: ожидается null, "bomb" или "xxe"')
        elif name == "corrupt":
            if value is not None and value not in CORRUPTIONS:
                raise ValueError('corrupt: ожидается null, "xml" или "schema"')
