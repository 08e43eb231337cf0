"""HTTP response headers Django 5.2 does not set itself."""

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse


class ContentSecurityPolicyMiddleware:
    """Adds `Content-Security-Policy` (settings.CONTENT_SECURITY_POLICY) to every response that has
    none, except on the paths in CONTENT_SECURITY_POLICY_EXEMPT (pages of third-party code that
    need inline script, e.g. Redoc)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        policy = settings.CONTENT_SECURITY_POLICY
        if (
            policy
            and "Content-Security-Policy" not in response
            and not any(request.path.startswith(prefix) for prefix in settings.CONTENT_SECURITY_POLICY_EXEMPT)
        ):
            response["Content-Security-Policy"] = policy
        return response
