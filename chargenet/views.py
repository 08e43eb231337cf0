"""Framework-level pages: health, home, login, the user's own preferences."""

import hmac
import zoneinfo
from ipaddress import ip_address

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST
from django.views.i18n import set_language

from chargenet.metrics import metrics_render
from chargenet.middleware import viewer_time_zone
from chargenet.permissions import UserRequest
from chargenet.selectors import health_check
from chargenet.services import UserError, user_preferences_set


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when every part answers, 503 naming the parts that do not. `?worker=1` adds Celery."""
    parts = health_check(include_worker=request.GET.get("worker") in ("1", "true", "yes"))
    healthy = all(value == "ok" for value in parts.values())
    return JsonResponse({"status": "ok" if healthy else "error", **parts}, status=200 if healthy else 503)


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus metrics. With METRICS_TOKEN set a scraper sends `Authorization: Bearer <token>`;
    without, only this machine may scrape (a reverse proxy in front forwards the client's address)."""
    token = settings.METRICS_TOKEN
    if token:
        allowed = hmac.compare_digest(request.headers.get("Authorization", ""), f"Bearer {token}")
    else:
        try:
            allowed = ip_address(request.META.get("REMOTE_ADDR", "")).is_loopback
        except ValueError:
            allowed = False
    if not allowed:
        return HttpResponse("metrics: not allowed (set METRICS_TOKEN and send it as a Bearer token)\n",
                            status=403, content_type="text/plain")  # fmt: skip
    return HttpResponse(metrics_render(), content_type="text/plain; version=0.0.4; charset=utf-8")


@login_required
def home(request: UserRequest) -> HttpResponse:
    """Operators land on the dashboard, drivers on their account page."""
    if request.user.is_driver:
        return redirect("account")
    if not request.user.is_staff_member:
        raise PermissionDenied("Your account has no role yet: ask an admin to give you one.")
    return redirect("dashboard")


@require_POST
def language_set(request: HttpRequest) -> HttpResponse:
    """The header's language switcher: Django's `set_language` (the cookie, back to `next`), and for
    a logged-in user the choice is kept with the account (pages on any device, e-mails)."""
    response = set_language(request)
    language = request.POST.get("language", "")
    if request.user.is_authenticated and language in dict(settings.LANGUAGES):
        user_preferences_set(user=request.user, language=language)
    return response


def _language_cookie(response: HttpResponse, language: str) -> None:
    if language:
        response.set_cookie(settings.LANGUAGE_COOKIE_NAME, language, samesite="Lax")
    else:
        response.delete_cookie(settings.LANGUAGE_COOKIE_NAME)


@login_required
def preferences(request: UserRequest) -> HttpResponse:
    """Every user's own display settings: the time zone pages show times in, the language of pages
    and e-mails."""
    status = 200
    if request.method == "POST":
        try:
            user_preferences_set(
                user=request.user,
                time_zone=request.POST.get("time_zone", ""),
                language=request.POST.get("language", ""),
            )
        except UserError as exc:
            messages.error(request, gettext("Not saved: %(exc)s.") % {"exc": exc})
            status = 400
        else:
            translation.activate(request.user.language or translation.get_language_from_request(request))
            messages.success(request, gettext("Preferences saved."))
            response = redirect("preferences")
            _language_cookie(response, request.user.language)
            return response
    context = {
        "zones": sorted(zoneinfo.available_timezones() - {"localtime", "Factory"}),
        "current_zone": viewer_time_zone(request),
    }
    return render(request, "chargenet/preferences.html", context, status=status)
