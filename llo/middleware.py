import logging
import re
import uuid

import pghistory
from django.core.handlers.wsgi import WSGIRequest
from django.shortcuts import render

from .audit import actor_context
from .errors import ApplicationError

logger = logging.getLogger(__name__)

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


class RequestIdMiddleware:
    """Each request carries an id (the caller's X-Request-ID if well-formed), echoed back."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request.request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        response = self.get_response(request)
        response["X-Request-ID"] = request.request_id
        return response


class SecurityHeadersMiddleware:
    """Headers Django's SecurityMiddleware does not set. Pages use no inline scripts."""

    CSP = (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data: blob:; font-src 'self'; connect-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'self'; object-src 'none'"
    )

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.setdefault("Content-Security-Policy", self.CSP)
        response.setdefault("Permissions-Policy", "camera=(self), geolocation=(), microphone=()")
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            response.setdefault("Cache-Control", "no-store")  # personal data stays out of caches
        return response


class _AuditedRequest(WSGIRequest):
    """Keeps the audit context in step when authentication (DRF's too) sets `request.user`."""

    def __setattr__(self, attr, value):
        if attr == "user":
            pghistory.context(**actor_context(value))
        super().__setattr__(attr, value)


class AuditContextMiddleware:
    """Every change made while serving a request records who, for which organization, which request."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        with pghistory.context(
            **actor_context(user), url=request.path, request_id=getattr(request, "request_id", None)
        ):
            if isinstance(request, WSGIRequest):
                request.__class__ = _AuditedRequest
            return self.get_response(request)


class ApplicationErrorMiddleware:
    """A domain error escaping a page view becomes a readable Russian page (API views map their own)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, ApplicationError):
            return None
        logger.info("Application error %s on %s: %s", exception.code, request.path, exception.message)
        template = "partials/error.html" if getattr(request, "htmx", False) else "error.html"
        return render(request, template, {"error": exception}, status=exception.http_status)
