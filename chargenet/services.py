"""Framework-level business actions: users and API tokens."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils.translation import gettext

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


@transaction.atomic
def user_preferences_set(*, user: User, time_zone: str | None = None, language: str | None = None) -> User:
    """Set how pages and e-mails are shown to `user` (None leaves a setting as it is): the time zone of
    every time (blank: the browser's) and the language (blank: the browser's). Raises UserError for a
    zone this machine does not know or a language the site is not translated into."""
    from chargenet.middleware import time_zone_valid

    fields = []
    if time_zone is not None:
        time_zone = time_zone.strip()
        if time_zone and not time_zone_valid(time_zone):
            raise UserError(f"{time_zone!r} is not a time zone (use an IANA name such as Europe/Stockholm)")
        user.time_zone = time_zone
        fields.append("time_zone")
    if language is not None:
        if language and language not in dict(settings.LANGUAGES):
            raise UserError(
                gettext("%(language)r is not one of this site's languages") % {"language": language}
            )
        user.language = language
        fields.append("language")
    if fields:
        user.save(update_fields=fields)
    return user


def user_language(user: User | None) -> str:
    """The language to write to `user` in when no request says (e-mails, PDFs): their stored one,
    else the site's LANGUAGE_CODE."""
    language = getattr(user, "language", "") if user is not None else ""
    return language if language in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE


@transaction.atomic
def user_invite(*, username: str, email: str, role: str) -> User:
    """Add an operator account (admin, operator or viewer) and e-mail them a link to choose their
    password; until then the account has no usable password. Raises UserError for a taken user
    name, a missing e-mail address or a role that is not an operator's."""
    from django.contrib.auth.tokens import default_token_generator
    from django.core.mail import send_mail
    from django.urls import reverse
    from django.utils.encoding import force_bytes
    from django.utils.http import urlsafe_base64_encode

    username, email = username.strip(), email.strip()
    if role not in (User.Role.ADMIN, User.Role.OPERATOR, User.Role.VIEWER):
        raise UserError("choose admin, operator or viewer")
    if not username or len(username) > 150:
        raise UserError("give a user name of at most 150 characters")
    if not email or "@" not in email:
        raise UserError("give the e-mail address the invitation goes to")
    if User.objects.filter(username__iexact=username).exists():
        raise UserError(f"the user name {username!r} is taken")
    user = User(username=username, email=email, role=role)
    user.set_unusable_password()
    user.save()
    link = settings.SITE_URL + reverse(
        "password_reset_confirm",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": default_token_generator.make_token(user),
        },
    )
    body = gettext(
        "Hello,\n\nyou have been given a ChargeNet account (%(role)s), user name %(username)s.\n"
        "Choose your password here:\n%(link)s\n"
    ) % {"role": user.get_role_display(), "username": username, "link": link}
    subject = gettext("Your ChargeNet account")
    transaction.on_commit(lambda: send_mail(subject, body, None, [email], fail_silently=False))
    return user
