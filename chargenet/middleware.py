"""Request middleware: times in the viewer's time zone; pages in the user's stored language; "not found" in the site's layout; HTTP
response headers Django 5.2 does not set itself.

The zone is the user's own setting, else the browser's (a `tz` cookie that the layout's script
keeps), else OPERATOR_TIME_ZONE. Every shown time carries its zone's abbreviation, so nobody has to
guess which zone a time is in.
"""

import zoneinfo
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.utils import timezone, translation

TIME_ZONE_COOKIE = "tz"


def time_zone_valid(name: str) -> bool:
    """Whether `name` is an IANA time zone this machine knows."""
    if not name or len(name) > 64:
        return False
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def viewer_time_zone(request: HttpRequest) -> str:
    """The time zone this request's pages are shown in (see the module docstring)."""
    user = getattr(request, "user", None)
    own = getattr(user, "time_zone", "") if user is not None and user.is_authenticated else ""
    if own and time_zone_valid(own):
        return own
    browser = request.COOKIES.get(TIME_ZONE_COOKIE, "")
    if time_zone_valid(browser):
        return browser
    return settings.OPERATOR_TIME_ZONE


class ViewerTimeZoneMiddleware:
    """Activates the viewer's time zone for the request (templates convert times to it)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith(("/api/", "/ocpi/")):
            # Machine interfaces answer in UTC whoever asks (their times carry the offset anyway).
            return self.get_response(request)
        timezone.activate(zoneinfo.ZoneInfo(viewer_time_zone(request)))
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


class UserLanguageMiddleware:
    """A logged-in user's stored language (set with the switcher or on Preferences) wins over the
    cookie and the browser's, so they read their language on any device. Runs after
    AuthenticationMiddleware; LocaleMiddleware has chosen for everyone else."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        language = getattr(user, "language", "") if user is not None and user.is_authenticated else ""
        if language and language in dict(settings.LANGUAGES) and language != request.LANGUAGE_CODE:
            translation.activate(language)
            request.LANGUAGE_CODE = language
        return self.get_response(request)


class NotFoundPageMiddleware:
    """With DEBUG on (the embedded mode's default) Django answers an unknown page with its technical
    "Page not found" listing every URL pattern; people trying the product get the site's own page.
    API and OCPI errors stay JSON."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            settings.DEBUG
            and response.status_code == 404
            and response.get("Content-Type", "").startswith("text/html")
            and not request.path.startswith(("/api/", "/ocpi/"))
        ):
            body = render_to_string("404.html", {"request_path": request.path}, request=request)
            return HttpResponse(body, status=404)
        return response


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
