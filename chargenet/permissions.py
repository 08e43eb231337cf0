"""Who may see and do what: operators (admin, operator, viewer) versus drivers."""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from chargenet.models import User


class UserRequest(HttpRequest):
    """A request from a signed-in user, as every view behind `login_required` or the decorators below
    gets it (a type for the checker; at run time it is the ordinary HttpRequest)."""

    user: User


def staff_required(view):
    """Operator pages: any operator role may look; drivers get 403."""

    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_staff_member:
            raise PermissionDenied("Operators only.")
        return view(request, *args, **kwargs)

    return wrapper


def operate_required(view):
    """Actions on the network: admins and operators only; viewers and drivers get 403."""

    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.can_operate:
            raise PermissionDenied("Your role may view but not act.")
        return view(request, *args, **kwargs)

    return wrapper


def driver_required(view):
    """Driver pages: the account page of a logged-in driver."""

    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_driver:
            raise PermissionDenied("Drivers only.")
        return view(request, *args, **kwargs)

    return wrapper
