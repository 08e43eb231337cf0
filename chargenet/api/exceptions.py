"""One error format for the whole API: `{"error": {"code", "message", "details"}}`.

`code` is machine-readable and stable; `message` is for people; `details` carries field errors.
Domain exceptions of the services become 409 (the request was understood but the state refuses it).
"""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.views import set_rollback

from chargenet.errors import DomainError


class ErrorBodySerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Machine-readable error code, e.g. `validation_error`")
    message = serializers.CharField(help_text="What went wrong, in words a person understands")
    details = serializers.JSONField(
        required=False, help_text="Field errors for `validation_error`: field → list of messages"
    )


class ErrorSerializer(serializers.Serializer):
    """The body of every error response."""

    error = ErrorBodySerializer()


def _domain_error(exc: Exception) -> tuple[int, str] | None:
    # Each app's errors say how they are reported (chargenet.errors), so this module knows no app.
    if isinstance(exc, DomainError):
        return exc.api_status, exc.api_code
    return None


def error_response(*, status_code: int, code: str, message: str, details=None, headers=None) -> Response:
    body: dict = {"code": code, "message": message}
    if details is not None:
        body["details"] = details
    return Response({"error": body}, status=status_code, headers=headers)


def api_exception_handler(exc, context):
    """DRF exception handler that renders every error in the one format."""
    domain = _domain_error(exc)
    if domain is not None:
        set_rollback()
        return error_response(status_code=domain[0], code=domain[1], message=str(exc))
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if not isinstance(exc, exceptions.APIException):
        return None  # a bug: let Django answer 500 and log it
    headers = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait))
    set_rollback()
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        return error_response(
            status_code=exc.status_code,
            code="validation_error",
            message=_first_message(detail) or "The request is not valid.",
            details=detail,
            headers=headers,
        )
    code = exc.get_codes() if isinstance(exc.get_codes(), str) else exc.default_code
    return error_response(status_code=exc.status_code, code=code, message=str(exc.detail), headers=headers)


def _first_message(detail) -> str:
    """A one-line summary of the first field error: 'identity: This field is required.'"""
    for field, errors in detail.items():
        first = errors[0] if isinstance(errors, list) and errors else errors
        if isinstance(first, dict):
            inner = _first_message(first)
            return f"{field}.{inner}" if inner else str(field)
        return f"{first}" if field == "non_field_errors" else f"{field}: {first}"
    return ""
