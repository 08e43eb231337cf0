"""Faults and alerts: the list and the acknowledgement (with a note)."""

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext
from django.views.decorators.http import require_POST

from chargenet.permissions import UserRequest, operate_required, staff_required
from stations.alerts import services as alerts
from stations.dashboard.views.base import render_page


@staff_required
def alert_list(request: HttpRequest) -> HttpResponse:
    show = request.GET.get("show", "open")
    context = {
        "alerts": alerts.alert_list(include_acknowledged=show == "all"),
        "show": show,
        "mail_enabled": alerts.alert_mail_enabled(user=request.user),
        "offline_minutes": settings.ALERT_OFFLINE_MINUTES,
    }
    return render_page(
        request, "stations/alert_list.html", context, fragments={"rows": "stations/_alert_rows.html"}
    )


@require_POST
@operate_required
def alert_acknowledge(request: HttpRequest) -> HttpResponse:
    try:
        object_id = int(request.POST.get("object_id", ""))
    except ValueError:
        object_id = 0
    try:
        alerts.alert_acknowledge(
            kind=request.POST.get("kind", ""),
            object_id=object_id,
            occurred_at=request.POST.get("occurred_at", ""),
            note=request.POST.get("note", ""),
            user=request.user,
        )
    except alerts.AlertError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, gettext("Alert acknowledged."))
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = "alert-list"
    return redirect(target)


@require_POST
@staff_required
def alert_mail_update(request: UserRequest) -> HttpResponse:
    """An operator turns their own alert e-mails on or off (viewers too: it changes nothing else)."""
    enabled = request.POST.get("enabled") == "on"
    try:
        alerts.alert_mail_set(user=request.user, enabled=enabled)
    except alerts.AlertError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request,
            gettext("New alerts will be e-mailed to %(email)s.") % {"email": request.user.email}
            if enabled
            else gettext("Alert e-mails are off."),
        )
    return redirect("alert-list")
