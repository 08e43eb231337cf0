"""Models of the REST API: API keys, the audit log of writes, and remembered idempotent responses."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class ApiKey(models.Model):
    """A machine client's key: belongs to a user, has a role, is stored only as a SHA-256 digest."""

    class Role(models.TextChoices):
        READ = "read", _("Read only")
        OPERATE = "operate", _("Read and operate")

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100, help_text="Who or what uses the key (an integration's name)")
    role = models.CharField(max_length=8, choices=Role.choices, default=Role.READ)
    # The first characters of the key, shown in lists so a person can tell keys apart.
    prefix = models.CharField(max_length=16)
    # Keys are 256-bit random strings, so a fast digest is enough (no key stretching needed).
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class AuditLog(models.Model):
    """One write through the API: who, with which key, what request, on which object, with what result."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    api_key = models.ForeignKey(ApiKey, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500)
    object_type = models.CharField(max_length=50, blank=True)
    object_id = models.CharField(max_length=100, blank=True)
    status_code = models.PositiveSmallIntegerField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.method} {self.path} → {self.status_code}"


class IdempotencyRecord(models.Model):
    """The first response to a POST with an `Idempotency-Key`, replayed to the same user's retries."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=100)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500)
    # SHA-256 of the request body: a key reused for a different request is refused.
    request_hash = models.CharField(max_length=64)
    # Null while the first request is still being served.
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint("user", "key", name="idempotency_key_unique_per_user")]

    def __str__(self) -> str:
        return f"{self.key} {self.method} {self.path}"
