"""Rate limits per API key (or per user for browser sessions, per address for anonymous calls)."""

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from chargenet.api.models import ApiKey


class ApiKeyRateThrottle(SimpleRateThrottle):
    """`API_THROTTLE_RATE` requests per key; each key of a user has its own budget."""

    scope = "api_key"

    def get_rate(self):
        return settings.API_THROTTLE_RATE or None

    def allow_request(self, request, view):
        # The rate is read per request so a changed setting applies without a restart of the class.
        self.rate = self.get_rate()
        if self.rate is None:
            return True
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request, view):
        if isinstance(request.auth, ApiKey):
            ident = f"key-{request.auth.pk}"
        elif request.user and request.user.is_authenticated:
            ident = f"user-{request.user.pk}"
        else:
            ident = f"anon-{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}
