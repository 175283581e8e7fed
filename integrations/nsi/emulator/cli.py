"""`python -m integrations.nsi.emulator`: the emulator as a process, and its entry for `make run`."""

from __future__ import annotations

import argparse
import logging
import signal
import sys

from .server import DEFAULT_USER_KEY, NsiEmulator


def launcher_entry(port: int):
    """The factory named in settings.LLO_EMULATORS: `make run` starts the emulator on `port`."""
    from config.launcher import Emulator

    return Emulator(
        name="nsi",
        argv=[sys.executable, "-m", "integrations.nsi.emulator", "--port", str(port)],
        env={"NSI_BASE_URL": f"http://127.0.0.1:{port}/", "NSI_USER_KEY": DEFAULT_USER_KEY},
        ready_url=f"http://127.0.0.1:{port}/_emulator/health",
    )


def setup_django() -> None:
    """The dictionaries import `llo.models`, so the app registry must be ready. The emulator
    needs nothing else of the system: it is configured from the base settings, with no
    database, and so starts neither the embedded servers nor touches the local ones, whatever
    DJANGO_SETTINGS_MODULE says."""
    import django
    from django.conf import settings

    if not settings.configured:
        from config.settings import base

        settings.configure(**{name: value for name, value in vars(base).items() if name.isupper()})
    django.setup()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Эмулятор портала НСИ Минздрава (ФНСИ)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8091)
    parser.add_argument("--user-key", default=DEFAULT_USER_KEY, help="ключ пользователя, который принимает портал")
    parser.add_argument("--scale", type=int, default=None,
                        help="добавить столько синтетических упаковок в ЕСКЛП (для замеров)")
    args = parser.parse_args(argv)
    if args.scale is not None and args.scale < 0:
        parser.error("--scale must not be negative")

    setup_django()
    logging.getLogger("integrations.nsi.emulator").setLevel(logging.INFO)
    # the launcher stops its children with SIGTERM: leave through `finally` to delete the files
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    emulator = NsiEmulator(user_key=args.user_key, scale=args.scale or None)
    try:
        emulator.serve_forever(args.host, args.port)
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop()
    return 0
