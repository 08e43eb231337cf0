"""Who may call what: the user's role limited by the role of the API key used."""

from rest_framework import permissions

from chargenet.api.models import ApiKey


def request_may_write(request) -> bool:
    """Writes need an operate key (or a browser session); a read-only key never writes."""
    api_key = request.auth if isinstance(request.auth, ApiKey) else None
    return api_key is None or api_key.role == ApiKey.Role.OPERATE


class IsStaffReadOperateWrite(permissions.BasePermission):
    """Operators' resources: any operator role reads; admins and operators with an operate key write."""

    message = "Your role or API key may view but not act."

    def has_permission(self, request, view):
        user = request.user
        if not (user and user.is_authenticated and user.is_staff_member):
            self.message = "Operators only."
            return False
        if request.method in permissions.SAFE_METHODS:
            return True
        self.message = "Your role or API key may view but not act."
        return user.can_operate and request_may_write(request)


class IsStaffOrDriverRead(permissions.BasePermission):
    """Resources drivers see a part of (their own cards and sessions): read for both;
    writes only for operators who may operate."""

    message = "Your role or API key may view but not act."

    def has_permission(self, request, view):
        user = request.user
        if not (user and user.is_authenticated and (user.is_staff_member or user.is_driver)):
            return False
        if request.method in permissions.SAFE_METHODS:
            return True
        return user.can_operate and request_may_write(request)


class IsAuthenticatedOwner(permissions.BasePermission):
    """Resources every user owns a part of (webhook subscriptions): writes need an operate key."""

    message = "This API key is read-only."

    def has_permission(self, request, view):
        user = request.user
        if not (user and user.is_authenticated):
            return False
        return request.method in permissions.SAFE_METHODS or request_may_write(request)
