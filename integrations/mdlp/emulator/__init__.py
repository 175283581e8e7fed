"""A local emulator of ФГИС МДЛП's REST API: authorization by a signed code, documents checked against the
official XSD and processed into receipts, the registry of packs and boxes, incoming notifications, and a
control API (`/_emulator/…`) that makes it slow, failing, down or hostile. See docs/mdlp.md, «Client and
emulator»."""

from .cli import launcher_entry, main
from .server import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, MdlpEmulator

__all__ = ["DEFAULT_CLIENT_ID", "DEFAULT_CLIENT_SECRET", "MdlpEmulator", "launcher_entry", "main"]
