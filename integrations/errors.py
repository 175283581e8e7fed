"""What the errors of every exchange share: a stable code, a Russian message, details, whether a retry
may help — and they survive Celery's pickling with their code and details."""

from __future__ import annotations

from typing import Any

from llo.errors import ApplicationError


class ExchangeError(ApplicationError):
    code = "exchange.error"
    http_status = 502
    retryable = False

    def __init__(self, message: str, *, code: str | None = None, details: dict[str, Any] | None = None):
        super().__init__(message, code=code, details=details)

    def __reduce__(self):  # Celery pickles errors: keep the code and the details
        return _rebuild, (type(self), self.message, self.code, self.details)


def _rebuild(cls: type[ExchangeError], message: str, code: str, details: dict) -> ExchangeError:
    error = cls.__new__(cls)
    ApplicationError.__init__(error, message, code=code, details=details)
    return error
