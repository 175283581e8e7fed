"""A local emulator of the Social Fund's FrlChangesService (SOAP 1.1, WSDL served at
`/FrlChangesService?wsdl`) and a control API (`/_emulator/…`) that makes it slow, failing, down,
hostile or publish bad data. See docs/sfr.md."""

from .cli import launcher_entry, main
from .server import SfrEmulator

__all__ = ["SfrEmulator", "launcher_entry", "main"]
