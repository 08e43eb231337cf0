from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _


class Driver(models.Model):
    """A driver's account: owns RFID cards, sessions and invoices; linked to one login."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="driver")
    name = models.CharField(max_length=200, blank=True)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=40, blank=True)
    billing_name = models.CharField(max_length=200, blank=True)
    billing_address = models.TextField(blank=True)
    vat_number = models.CharField(max_length=40, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name or self.email or f"driver {self.pk}"


class IdToken(models.Model):
    """An identification token: an RFID card or key fob, or another OCPP id token type."""

    class Type(models.TextChoices):
        ISO14443 = "ISO14443"
        ISO15693 = "ISO15693"
        EMAID = "eMAID"
        CENTRAL = "Central"
        KEY_CODE = "KeyCode"
        MAC_ADDRESS = "MacAddress"
        NO_AUTHORIZATION = "NoAuthorization"

    class Status(models.TextChoices):
        ACCEPTED = "Accepted"
        BLOCKED = "Blocked"
        EXPIRED = "Expired"
        INVALID = "Invalid"

    class Source(models.TextChoices):
        LOCAL = "local", _("Local")
        ROAMING = "roaming", _("Roaming partner")

    # OCPP 1.6 idTag is CiString20 and 2.0.1 idToken is 36 characters.
    uid = models.CharField(max_length=36)
    type = models.CharField(max_length=20, choices=Type.choices, default=Type.ISO14443)
    printed_number = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACCEPTED)
    expires_at = models.DateTimeField(null=True, blank=True)
    parent_id_tag = models.CharField(max_length=36, blank=True, help_text="Group id (OCPP parentIdTag)")
    driver = models.ForeignKey(
        Driver, null=True, blank=True, on_delete=models.SET_NULL, related_name="id_tokens"
    )
    label = models.CharField(max_length=100, blank=True)
    # The owner blocked it (lost, then found): they may unblock it; a card an operator blocked stays.
    blocked_by_owner = models.BooleanField(default=False)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.LOCAL)
    # False for cards that must be authorized online every time (a roaming card its eMSP wants to
    # decide on): stations get them in no local list.
    offline_allowed = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # OCPP idTag comparison is case-insensitive (CiString).
            models.UniqueConstraint(Lower("uid"), name="idtoken_uid_ci_unique"),
            models.UniqueConstraint(
                "printed_number", condition=~models.Q(printed_number=""), name="idtoken_printed_number_unique"
            ),
        ]

    def __str__(self) -> str:
        return self.uid


class AuthorizationLog(models.Model):
    """One authorization decision: which card, where, the answer and why (kept for operators)."""

    # The uid as the station presented it; the card may be unknown (then id_token is empty).
    uid = models.CharField(max_length=36)
    id_token = models.ForeignKey(
        IdToken, null=True, blank=True, on_delete=models.SET_NULL, related_name="authorizations"
    )
    # rfid may not import stations: the station is recorded by its identity.
    station_identity = models.CharField(max_length=48, blank=True)
    status = models.CharField(max_length=16)  # Accepted, Blocked, Expired, Invalid, ConcurrentTx
    reason = models.CharField(max_length=200)
    source = models.CharField(max_length=40, blank=True, help_text="Who asked: ocpp1.6, ocpp2.0.1, ocpi …")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["id_token", "-created_at"]),
            models.Index(fields=["station_identity", "-created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.uid} @ {self.station_identity or '?'}: {self.status}"
