"""`python -m integrations.mdlp.registrar.emulator`: the emulator as a process, and its entry for
`make run`."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys

from .server import RegistrarEmulator

DEMO_POINT = "00000992100003"  # the demo's «Фарма-Сервис» в ТЦ «Северный» reports through its registrar


def launcher_entry(port: int):
    """The factory named in settings.LLO_EMULATORS: `make run` starts the emulator on `port` and gives the
    processes its address in MDLP_REGISTRARS as the registrar of one demo dispensing point."""
    from config.launcher import Emulator

    base = f"http://127.0.0.1:{port}"
    return Emulator(
        name="registrar",
        argv=[sys.executable, "-m", "integrations.mdlp.registrar.emulator", "--port", str(port)],
        env={"MDLP_REGISTRARS": json.dumps({DEMO_POINT: f"{base}/"})},
        ready_url=f"{base}/_emulator/health",
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Эмулятор регистратора выбытия (REST API v1)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8094)
    parser.add_argument("--user", default=None, help="имя пользователя HTTP Basic (без него вход не проверяется)")
    parser.add_argument("--password", default="")
    parser.add_argument("--processing-ms", type=float, default=None,
                        help="сколько миллисекунд задание выполняется (по умолчанию 200)")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    # the launcher stops its children with SIGTERM: leave through `finally`
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    emulator = RegistrarEmulator(credentials=(args.user, args.password) if args.user else None)
    if args.processing_ms is not None:
        emulator.controls.update({"processing_ms": args.processing_ms})
    try:
        emulator.serve_forever(args.host, args.port)
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop()
    return 0
