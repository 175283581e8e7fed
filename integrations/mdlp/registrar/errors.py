"""Errors of the exchange with a withdrawal registrar (регистратор выбытия, РВ).

Every error has a stable `code`, a Russian `message` saying what happened and what to do, `details` for a
handler or a page, and `retryable`: whether the same call may succeed later. None of them carries the
device's password (the URL is shown without its credentials).
"""

from __future__ import annotations

from integrations.errors import ExchangeError


class RegistrarError(ExchangeError):
    code = "registrar.error"


class RegistrarInvalidInput(RegistrarError):
    """Our own input is wrong (an SGTIN, the prescription's number or date, the request id): nothing was
    sent. `details["field"]` names it."""

    code = "registrar.invalid_input"
    http_status = 422


class RegistrarUnavailable(RegistrarError):
    """No useful answer (no connection, timeout, HTTP 5xx/408/429) after every retry: try later."""

    code = "registrar.unavailable"
    http_status = 503
    retryable = True


class RegistrarRejected(RegistrarError):
    """The device refused the request (HTTP 4xx): the same request will be refused again. `details` hold
    the HTTP `status` and the device's `error_code`/`error_description` when it gave them."""

    code = "registrar.rejected"
    http_status = 422


class RegistrarNotFound(RegistrarRejected):
    """The device knows no request with that id (HTTP 404): it was never queued or the device lost it."""

    code = "registrar.not_found"
    http_status = 404


class RegistrarAnswerInvalid(RegistrarError):
    """The device (or something in between) answered with something we refuse to read: not JSON, the wrong
    shape or types, larger than allowed, an unknown status. `details["reason"]` says which; nothing was
    changed on our side, and a repeat with the same request id is safe."""

    code = "registrar.answer_invalid"
