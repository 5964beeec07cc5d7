"""One error shape for the whole API: `{"error": {"code", "message", "details"}}`."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import DataError, IntegrityError
from django.db.models import ProtectedError, RestrictedError
from django.http import Http404, HttpRequest, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response

from pdm_saas.errors import ServiceError, TooManyRequests

logger = logging.getLogger(__name__)


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def error_json(*, status_code: int, code: str, message: str, details: Any = None) -> JsonResponse:
    return JsonResponse(error_body(code, message, details), status=status_code)


def _drf_message(exc: exceptions.APIException) -> tuple[str, Any]:
    if isinstance(exc, exceptions.ValidationError):
        return "The request is invalid; see details.", exc.detail
    return str(exc.detail), {}


def _in_use_models(exc: ProtectedError | RestrictedError) -> list[str]:
    objects = exc.protected_objects if isinstance(exc, ProtectedError) else exc.restricted_objects
    return sorted({str(obj._meta.verbose_name_plural) for obj in objects})


def _database_refusal(exc: Exception) -> Response | None:
    """The safety net under validation: the database refused a write that validation let through
    (a race between two requests, or a check we lack). The caller gets a plain answer; the
    database's own text, which names tables and constraints, goes only to the log."""
    if isinstance(exc, (ProtectedError, RestrictedError)):
        in_use = _in_use_models(exc)
        message = f"This is still in use by other records ({', '.join(in_use)}); remove those first."
        return Response(error_body("in_use", message, {"in_use_by": in_use}), status=status.HTTP_409_CONFLICT)
    if isinstance(exc, IntegrityError):
        logger.warning("API write refused by the database (409): %s", exc)
        return Response(error_body("conflict", "This conflicts with data already stored (for example, a "
                                   "duplicate or a record that no longer exists); reload and try again."),
                        status=status.HTTP_409_CONFLICT)
    if isinstance(exc, DataError):
        logger.warning("API value refused by the database (400): %s", exc)
        return Response(error_body("invalid", "A value cannot be stored: a number is too large or a text too "
                                   "long. Check what you sent."), status=status.HTTP_400_BAD_REQUEST)
    return None


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's EXCEPTION_HANDLER: map every error we know to the one shape."""
    if isinstance(exc, ServiceError):
        answer = Response(error_body(exc.code, exc.message, exc.details), status=exc.status_code)
        if isinstance(exc, TooManyRequests) and isinstance(exc.details, dict) and "retry_after" in exc.details:
            answer["Retry-After"] = str(int(exc.details["retry_after"]))
        return answer
    refusal = _database_refusal(exc)
    if refusal is not None:
        return refusal
    if isinstance(exc, Http404):
        return Response(error_body("not_found", "Not found."), status=status.HTTP_404_NOT_FOUND)
    if isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if not isinstance(exc, exceptions.APIException):
        return None  # a bug: let Django log it and answer 500 through handler500
    message, details = _drf_message(exc)
    code = exc.get_codes() if not isinstance(exc, exceptions.ValidationError) else "invalid"
    response = Response(error_body(str(code), message, details), status=exc.status_code)
    if isinstance(exc, (exceptions.NotAuthenticated, exceptions.AuthenticationFailed)):
        response["WWW-Authenticate"] = 'Bearer realm="api"'
    if getattr(exc, "wait", None):
        response["Retry-After"] = str(int(exc.wait))  # type: ignore[attr-defined]
    return response


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def handler404(request: HttpRequest, exception: Exception | None = None) -> Any:
    if _is_api(request):
        return error_json(status_code=404, code="not_found", message="Not found.")
    from django.views.defaults import page_not_found

    return page_not_found(request, exception or Http404())


def handler500(request: HttpRequest) -> Any:
    if _is_api(request):
        return error_json(status_code=500, code="server_error", message="Internal server error.")
    from django.views.defaults import server_error

    return server_error(request)
