from django.core.exceptions import PermissionDenied, ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from .errors import ApplicationError

_DRF_CODES = {
    exceptions.NotAuthenticated: ("auth.not_authenticated", "Требуется аутентификация: передайте ключ API или войдите в систему."),
    exceptions.AuthenticationFailed: ("auth.failed", "Ключ API неверен или отозван."),
    exceptions.PermissionDenied: ("auth.forbidden", "Вашей роли это действие недоступно."),
    exceptions.NotFound: ("not_found", "Объект не найден."),
    exceptions.MethodNotAllowed: ("method_not_allowed", "Метод не поддерживается."),
    exceptions.Throttled: ("throttled", "Слишком много запросов, повторите позже."),
    exceptions.ParseError: ("bad_request", "Тело запроса не разобрано: проверьте JSON."),
    exceptions.UnsupportedMediaType: ("unsupported_media_type", "Неподдерживаемый тип содержимого."),
    exceptions.NotAcceptable: ("not_acceptable", "Формат ответа не поддерживается."),
}


def exception_handler(exc, context):
    """Every API error has the same shape: {"code", "message", "details"}."""
    if isinstance(exc, ApplicationError):
        return Response(exc.as_dict(), status=exc.http_status)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        response.data = {"code": "validation_failed", "message": "Данные не прошли проверку.", "details": exc.detail}
        response.status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
        return response
    code, message = next(
        ((c, m) for cls, (c, m) in _DRF_CODES.items() if isinstance(exc, cls)), ("error", str(exc.detail))
    )
    response.data = {"code": code, "message": message, "details": {}}
    return response
