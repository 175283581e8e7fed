"""`python -m integrations.sfr.emulator`: the emulator as a process, and its entry for `make run`."""

from __future__ import annotations

import argparse
import logging
import re
import signal
import sys

from .app import SERVICE_PATH
from .server import SfrEmulator

DEFAULT_REGION = "99"


def launcher_entry(port: int):
    """The factory named in settings.LLO_EMULATORS: `make run` starts the emulator on `port`."""
    from config.launcher import Emulator

    base = f"http://127.0.0.1:{port}"
    return Emulator(
        name="sfr",
        argv=[sys.executable, "-m", "integrations.sfr.emulator", "--port", str(port)],
        env={"SFR_WSDL_URL": f"{base}{SERVICE_PATH}?wsdl", "SFR_REGION": DEFAULT_REGION},
        ready_url=f"{base}/_emulator/health",
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Эмулятор сервиса изменений федерального регистра СФР (ФРЛ)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8092)
    parser.add_argument("--persons", type=int, default=300, help="граждан в версии 1 регистра")
    parser.add_argument("--region", default=DEFAULT_REGION, help="код региона (две цифры)")
    parser.add_argument("--seed", type=int, default=1, help="зерно генератора синтетического региона")
    args = parser.parse_args(argv)
    if args.persons < 0:
        parser.error("--persons must not be negative")
    if not re.fullmatch(r"\d{2}", args.region):
        parser.error("--region must be two digits")

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    # the launcher stops its children with SIGTERM: leave through `finally`
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    emulator = SfrEmulator(persons=args.persons, region=args.region, seed=args.seed)
    try:
        emulator.serve_forever(args.host, args.port)
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop()
    return 0
