"""Framework-level pages: health, home, login."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from chargenet.permissions import UserRequest
from chargenet.selectors import health_check


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when every part answers, 503 naming the parts that do not. `?worker=1` adds Celery."""
    parts = health_check(include_worker=request.GET.get("worker") in ("1", "true", "yes"))
    healthy = all(value == "ok" for value in parts.values())
    return JsonResponse({"status": "ok" if healthy else "error", **parts}, status=200 if healthy else 503)


@login_required
def home(request: UserRequest) -> HttpResponse:
    """Operators land on the dashboard, drivers on their account page."""
    if request.user.is_driver:
        return redirect("account")
    if not request.user.is_staff_member:
        raise PermissionDenied("Your account has no role yet: ask an admin to give you one.")
    return redirect("dashboard")
