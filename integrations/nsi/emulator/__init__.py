"""A local emulator of the federal NSI portal (nsi.rosminzdrav.ru): its REST API, its bulk CSV
files and a control API (`/_emulator/…`) that makes it slow, failing, down or publish bad data.
See docs/nsi.md."""

from .cli import launcher_entry, main
from .server import DEFAULT_USER_KEY, NsiEmulator

__all__ = ["DEFAULT_USER_KEY", "NsiEmulator", "launcher_entry", "main"]
