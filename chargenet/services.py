"""Framework-level business actions: users and API tokens."""

from django.contrib.auth import get_user_model
from django.db import transaction

from chargenet.models import User


class UserNotFound(Exception):
    """No user has that username."""


def api_token_create(*, username: str, name: str = "create_api_token", role: str | None = None) -> str:
    """Create an API key for the user and return it (only its digest is stored, so every call makes
    a new key). The role defaults to operate for users who may operate, read otherwise.
    Raises UserNotFound."""
    from chargenet.api.models import ApiKey
    from chargenet.api.services import api_key_create

    try:
        user = get_user_model().objects.get(username=username)
    except User.DoesNotExist:
        raise UserNotFound(f"no user named {username!r}") from None
    if role is None:
        role = ApiKey.Role.OPERATE if user.can_operate else ApiKey.Role.READ
    _, key = api_key_create(user=user, name=name, role=role)
    return key


class UserError(Exception):
    """A change to a user was refused; the message says why."""


@transaction.atomic
def user_role_set(*, user: User, role: str, is_active: bool) -> User:
    """Give `user` a role and an active flag. Refuses to leave the network without an active admin
    and to change a driver (drivers are managed with their account)."""
    if role not in (User.Role.ADMIN, User.Role.OPERATOR, User.Role.VIEWER):
        raise UserError("choose admin, operator or viewer")
    if user.is_driver:
        raise UserError("drivers are managed from their account, not given operator roles")
    demoting_admin = user.role == User.Role.ADMIN and (role != User.Role.ADMIN or not is_active)
    if (
        demoting_admin
        and not User.objects.filter(role=User.Role.ADMIN, is_active=True).exclude(pk=user.pk).exists()
    ):
        raise UserError("the network needs at least one active admin")
    user.role = role
    user.is_active = is_active
    user.save(update_fields=["role", "is_active"])
    return user
