"""One family of domain errors with stable codes.

Services raise these; `api_errors.exception_handler` turns them into HTTP 409/422 with
``{"code", "message", "details"}`` and `ApplicationErrorMiddleware` into a readable page.
The message is Russian and says what to do; the code is stable and English.
"""

from typing import Any


class ApplicationError(Exception):
    code = "application_error"
    http_status = 422

    def __init__(self, message: str, *, code: str | None = None, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.details = details or {}

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": self.details}


class ValidationFailed(ApplicationError):
    """The input breaks a rule: fix it and try again (422)."""

    code = "validation_failed"
    http_status = 422


class ConflictError(ApplicationError):
    """The state does not allow it now, e.g. already dispensed, already claimed (409)."""

    code = "conflict"
    http_status = 409
