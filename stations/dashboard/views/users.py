"""Users and roles: admins invite operators and give them the admin, operator or viewer role."""

from functools import wraps

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext
from django.views.decorators.http import require_POST

from chargenet.services import UserError, user_invite, user_role_set


def admin_required(view):
    """Only admins manage users."""

    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if request.user.role != "admin":
            raise PermissionDenied("Admins only.")
        return view(request, *args, **kwargs)

    return wrapper


@admin_required
def user_list(request: HttpRequest) -> HttpResponse:
    User = get_user_model()
    users = User.objects.exclude(role=User.Role.DRIVER).select_related("alert_mail").order_by("username")
    roles = [(value, label) for value, label in User.Role.choices if value != User.Role.DRIVER]
    return render(request, "stations/user_list.html", {"users": users, "roles": roles})


@require_POST
@admin_required
def user_update(request: HttpRequest, pk: int) -> HttpResponse:
    user = get_object_or_404(get_user_model(), pk=pk)
    try:
        user_role_set(
            user=user, role=request.POST.get("role", ""), is_active=request.POST.get("is_active") == "on"
        )
    except UserError as exc:
        messages.error(request, f"{user.username}: {exc}")
    else:
        messages.success(
            request,
            (
                gettext("%(username)s is now %(role)s.")
                if user.is_active
                else gettext("%(username)s is now %(role)s (inactive).")
            )
            % {"username": user.username, "role": user.get_role_display()},
        )
    return redirect("user-list")


@require_POST
@admin_required
def user_invite_view(request: HttpRequest) -> HttpResponse:
    """Add an operator and e-mail them a link to choose their password."""
    try:
        user = user_invite(
            username=request.POST.get("username", ""),
            email=request.POST.get("email", ""),
            role=request.POST.get("role", ""),
        )
    except UserError as exc:
        messages.error(request, gettext("Not invited: %(exc)s.") % {"exc": exc})
    else:
        messages.success(
            request,
            gettext("Invited %(username)s (%(role)s); the e-mail is on its way.")
            % {"username": user.username, "role": user.get_role_display()},
        )
    return redirect("user-list")
