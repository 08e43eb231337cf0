"""`Authorization: Token <key>` with ChargeNet API keys (a public contract, docs/api.md)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from chargenet.api.services import api_key_authenticate


class ApiKeyAuthentication(authentication.TokenAuthentication):
    """Authenticates a request by its API key; `request.auth` is the ApiKey row."""

    keyword = "Token"

    def authenticate_credentials(self, key):
        api_key = api_key_authenticate(key=key)
        if api_key is None:
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
