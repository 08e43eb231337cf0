"""`Authorization: Token <key>` with ChargeNet API keys (a public contract, docs/api.md)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from chargenet.api.services import api_key_authenticate
from chargenet.signin import SigninLocked, signin_check, signin_failure_record

GATE = "api-key"


class ApiKeyAuthentication(authentication.TokenAuthentication):
    """Authenticates a request by its API key; `request.auth` is the ApiKey row. A source address
    that sent too many invalid keys is refused with 429 before its key is looked up."""

    keyword = "Token"

    def authenticate(self, request):
        self.source = request.META.get("REMOTE_ADDR", "")
        self.path = request.path
        return super().authenticate(request)

    def authenticate_credentials(self, key):
        source = getattr(self, "source", "")
        try:
            signin_check(gate=GATE, source=source)
        except SigninLocked as exc:
            raise exceptions.Throttled(wait=exc.lockout.retry_after, detail=exc.lockout.message) from None
        api_key = api_key_authenticate(key=key)
        if api_key is None:
            lockout = signin_failure_record(gate=GATE, source=source, path=getattr(self, "path", ""))
            if lockout is not None:
                raise exceptions.Throttled(wait=lockout.retry_after, detail=lockout.message)
            raise exceptions.AuthenticationFailed("Invalid or revoked API key.")
        return api_key.user, api_key


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = ApiKeyAuthentication
    name = "apiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Token <key>`: create keys under Settings → API keys or with "
            "`manage.py create_api_token <username>`.",
        }
