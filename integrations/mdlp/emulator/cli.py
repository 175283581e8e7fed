"""`python -m integrations.mdlp.emulator`: the emulator as a process, and its entry for `make run`."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from pathlib import Path

from .server import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, MdlpEmulator


def launcher_entry(port: int):
    """The factory named in settings.LLO_EMULATORS: `make run` starts the emulator on `port`."""
    from django.conf import settings

    from config.launcher import VAR_DIR, Emulator

    base = f"http://127.0.0.1:{port}"
    # the registry belongs to the database whose demo it mirrors (a scratch database gets its own)
    state = VAR_DIR / "emulators" / f"mdlp-{settings.DATABASES['default']['NAME']}.pickle"
    return Emulator(
        name="mdlp",
        argv=[sys.executable, "-m", "integrations.mdlp.emulator", "--port", str(port), "--state-file", str(state)],
        env={"MDLP_BASE_URL": f"{base}/api/v1/", "MDLP_CLIENT_ID": DEFAULT_CLIENT_ID,
             "MDLP_CLIENT_SECRET": DEFAULT_CLIENT_SECRET},
        ready_url=f"{base}/_emulator/health",
    )


SAVE_INTERVAL = 10.0  # s between saves of the registry while running


def _save_every(emulator: MdlpEmulator, path: Path, interval: float) -> None:
    def loop() -> None:
        while True:
            time.sleep(interval)
            emulator.mdlp.save(path)

    threading.Thread(target=loop, name="mdlp-emulator-save", daemon=True).start()


def setup_django() -> None:
    """The signature check uses prescriptions.signing and the XSD check reads MDLP_SCHEMA_DIR, so the app
    registry must be ready. Configured from the base settings with no database: the emulator starts
    neither the embedded servers nor touches the local ones, whatever DJANGO_SETTINGS_MODULE says."""
    import django
    from django.conf import settings

    if not settings.configured:
        from config.settings import base

        settings.configure(**{name: value for name, value in vars(base).items() if name.isupper()})
    django.setup()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Эмулятор ФГИС МДЛП (REST API v1)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8093)
    parser.add_argument("--client-id", default=DEFAULT_CLIENT_ID)
    parser.add_argument("--client-secret", default=DEFAULT_CLIENT_SECRET)
    parser.add_argument("--state-file", type=Path, default=None,
                        help="файл, где эмулятор хранит реестр между запусками (читается при старте)")
    parser.add_argument("--processing-ms", type=float, default=None,
                        help="сколько миллисекунд документ обрабатывается (по умолчанию 300)")
    args = parser.parse_args(argv)

    setup_django()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    # the launcher stops its children with SIGTERM: leave through `finally`
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    emulator = MdlpEmulator(accounts={args.client_id: args.client_secret})
    if args.processing_ms is not None:
        emulator.controls.update({"processing_ms": args.processing_ms})
    if args.state_file is not None:
        emulator.mdlp.load(args.state_file)
        _save_every(emulator, args.state_file, SAVE_INTERVAL)
    try:
        emulator.serve_forever(args.host, args.port)
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop()
        if args.state_file is not None:
            emulator.mdlp.save(args.state_file)
    return 0
