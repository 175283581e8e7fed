"""Errors of the MDLP REST exchange (the XML-level ones live in integrations.mdlp.xsd).

Every error has a stable `code`, a Russian `message` that says what happened and what to do, `details`
for a handler or a page, and `retryable`: whether the same call may succeed later. None of them ever
carries a token, a secret, an authorization code or a signature.
"""

from __future__ import annotations

from integrations.errors import ExchangeError


class MdlpError(ExchangeError):
    code = "mdlp.error"


class MdlpNotConfigured(MdlpError):
    """A setting the exchange needs is empty or wrong (MDLP_BASE_URL, credentials, the signer)."""

    code = "mdlp.not_configured"
    http_status = 503


class MdlpUnavailable(MdlpError):
    """MDLP did not answer usefully (no connection, timeout, HTTP 5xx or 429) after every retry: try later."""

    code = "mdlp.unavailable"
    http_status = 503
    retryable = True


class MdlpRateLimited(MdlpUnavailable):
    """Too many calls are queued for the published minimum interval: this call was not made; try later."""

    code = "mdlp.rate_limited"


class MdlpRejected(MdlpError):
    """MDLP refused the request (HTTP 4xx): the same request will be refused again. `details` hold the
    HTTP `status` and MDLP's `error_code`/`error_description` when it gave them."""

    code = "mdlp.rejected"
    http_status = 422


class MdlpAuthFailed(MdlpRejected):
    """MDLP refused the credentials or the signature of the authorization code."""

    code = "mdlp.auth_failed"
    http_status = 503


class MdlpNotFound(MdlpRejected):
    """MDLP knows no such document, code or box (HTTP 404)."""

    code = "mdlp.not_found"
    http_status = 404


class MdlpAnswerInvalid(MdlpError):
    """MDLP (or something in between) answered with something we refuse to read: not JSON, the wrong
    shape, too large, an unknown status, a hostile or broken XML file. Nothing was changed on our side;
    `details["reason"]` says what was wrong. A resend with the same request_id is safe."""

    code = "mdlp.answer_invalid"
