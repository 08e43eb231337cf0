"""Sign-in forms of the web pages and the Django admin, throttled against brute force."""

from typing import Any

from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError

from chargenet.signin import SigninLocked, signin_check, signin_failure_record, signin_success_record

GATE = "web"  # /login/ and /admin/login/ share one count: two doors to the same accounts


class SigninThrottleMixin:
    """Refuses a sign-in from a locked source or for a locked account before the password is
    checked, counts wrong passwords, and clears the account's count on success."""

    request: Any
    cleaned_data: dict[str, Any]

    def clean(self) -> dict[str, Any]:
        source = self.request.META.get("REMOTE_ADDR", "") if self.request else ""
        username = str(self.cleaned_data.get("username") or "")
        try:
            signin_check(gate=GATE, source=source, account=username)
        except SigninLocked as exc:
            raise ValidationError(exc.lockout.message, code="locked") from None
        try:
            cleaned = super().clean()  # type: ignore[misc]
        except ValidationError as exc:
            if exc.code == "invalid_login":
                path = self.request.path if self.request else ""
                lockout = signin_failure_record(gate=GATE, source=source, account=username, path=path)
                if lockout is not None:
                    raise ValidationError(lockout.message, code="locked") from None
            raise
        signin_success_record(gate=GATE, source=source, account=username)
        return cleaned


class LoginForm(SigninThrottleMixin, AuthenticationForm):
    """The /login/ form of operators and drivers."""


class AdminLoginForm(SigninThrottleMixin, AdminAuthenticationForm):
    """The Django admin's login form."""
