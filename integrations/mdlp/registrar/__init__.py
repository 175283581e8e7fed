"""A withdrawal registrar (регистратор выбытия): the client of its local REST API and its emulator
(`integrations.mdlp.registrar.emulator`). See docs/mdlp-registrar.md."""

from .client import RegistrarClient
from .errors import (
    RegistrarAnswerInvalid,
    RegistrarError,
    RegistrarInvalidInput,
    RegistrarNotFound,
    RegistrarRejected,
    RegistrarUnavailable,
)
from .protocol import CodeError, RegistrarMark, RegistrarRequest

__all__ = [
    "CodeError", "RegistrarAnswerInvalid", "RegistrarClient", "RegistrarError", "RegistrarInvalidInput",
    "RegistrarMark", "RegistrarNotFound", "RegistrarRejected", "RegistrarRequest", "RegistrarUnavailable",
]
