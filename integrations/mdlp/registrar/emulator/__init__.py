"""A local emulator of a withdrawal registrar's REST API (регистратор выбытия): requests kept in memory
and processed after a delay, idempotent on rvRequestId, codes it must refuse, and a control API
(`/_emulator/…`) that makes it slow, failing, down or hostile. See docs/mdlp-registrar.md."""

from .cli import launcher_entry, main
from .server import RegistrarEmulator

__all__ = ["RegistrarEmulator", "launcher_entry", "main"]
