"""Models of the charger connection: durable commands, the OCPP message log, what the station last
reported (protocol state, configuration keys, charging profiles), security events, protocol violations."""

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from stations.network.models import Station


class Command(models.Model):
    """A durable CSMS→station call: queued until delivered, then answered, rejected or timed out."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        SENT = "sent", _("Sent")
        ACCEPTED = "accepted", _("Accepted")
        REJECTED = "rejected", _("Rejected")
        ERROR = "error", _("Error")
        TIMED_OUT = "timed_out", _("Timed out")
        EXPIRED = "expired", _("Expired")

    FINAL = (Status.ACCEPTED, Status.REJECTED, Status.ERROR, Status.TIMED_OUT, Status.EXPIRED)

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    station = models.ForeignKey(Station, on_delete=models.CASCADE, related_name="commands")
    action = models.CharField(max_length=50)
    payload = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    response = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    message_id = models.CharField(max_length=36, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    idempotency_key = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["station", "status"])]

    def __str__(self) -> str:
        return f"{self.action} → {self.station.identity} ({self.status})"


class OcppMessage(models.Model):
    """The message log: every OCPP frame in and out of a station."""

    class Direction(models.TextChoices):
        IN = "in", _("Station → CSMS")
        OUT = "out", _("CSMS → station")

    # No index of its own: the (station, created_at) index below serves a station's lookups.
    station = models.ForeignKey(
        Station, null=True, blank=True, on_delete=models.CASCADE, related_name="messages", db_index=False
    )
    identity = models.CharField(max_length=48)
    direction = models.CharField(max_length=3, choices=Direction.choices)
    message_type = models.PositiveSmallIntegerField(null=True, blank=True)
    message_id = models.CharField(max_length=64, blank=True)
    action = models.CharField(max_length=50, blank=True)
    payload = models.TextField(help_text="The frame as it was on the wire")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["station", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.identity} {self.direction} {self.action or self.message_type} {self.message_id}"


class StationProtocolState(models.Model):
    """What a station last reported about itself over OCPP: firmware, diagnostics, local list, certificates.

    Kept beside Station (one row per station) so the protocol layer can grow without touching the
    operator-facing station record.
    """

    station = models.OneToOneField(Station, on_delete=models.CASCADE, related_name="protocol_state")
    station_status = models.CharField(max_length=16, blank=True, help_text="StatusNotification connectorId 0")
    station_error_code = models.CharField(max_length=50, blank=True)
    firmware_status = models.CharField(max_length=40, blank=True)
    firmware_status_at = models.DateTimeField(null=True, blank=True)
    firmware_request_id = models.IntegerField(null=True, blank=True)
    diagnostics_status = models.CharField(max_length=40, blank=True)
    diagnostics_status_at = models.DateTimeField(null=True, blank=True)
    diagnostics_file_name = models.CharField(max_length=255, blank=True)
    log_status = models.CharField(max_length=40, blank=True)
    log_status_at = models.DateTimeField(null=True, blank=True)
    log_request_id = models.IntegerField(null=True, blank=True)
    log_file_name = models.CharField(max_length=255, blank=True)
    local_list_version = models.IntegerField(null=True, blank=True)
    # GetInstalledCertificateIds: the certificateHashData objects the station reported.
    installed_certificates = models.JSONField(default=list, blank=True)
    # A new Basic-auth password (AuthorizationKey) sent but not yet confirmed by the station.
    pending_password_hash = models.CharField(max_length=200, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"protocol state of {self.station_id}"


class StationConfigurationKey(models.Model):
    """A configuration key as the station last reported it (GetConfiguration / ChangeConfiguration)."""

    station = models.ForeignKey(Station, on_delete=models.CASCADE, related_name="configuration_keys")
    key = models.CharField(max_length=50)
    value = models.TextField(blank=True)
    readonly = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["station", "key"]
        constraints = [models.UniqueConstraint("station", "key", name="configuration_key_unique_per_station")]

    def __str__(self) -> str:
        return f"{self.key}={self.value}"


class SecurityEvent(models.Model):
    """A security-relevant event: a refused connection (recorded by the CSMS) or a station's
    SecurityEventNotification."""

    class Source(models.TextChoices):
        CSMS = "csms", _("Central system")
        STATION = "station", _("Station")

    station = models.ForeignKey(
        Station, null=True, blank=True, on_delete=models.CASCADE, related_name="security_events"
    )
    identity = models.CharField(max_length=48)
    source = models.CharField(max_length=8, choices=Source.choices)
    type = models.CharField(max_length=50)
    tech_info = models.CharField(max_length=255, blank=True)
    remote_address = models.CharField(max_length=64, blank=True)
    timestamp = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-timestamp", "-id"]

    def __str__(self) -> str:
        return f"{self.identity} {self.type}"


class ProtocolViolation(models.Model):
    """A schema violation the CSMS served anyway because the station is in lenient mode."""

    station = models.ForeignKey(Station, on_delete=models.CASCADE, related_name="protocol_violations")
    action = models.CharField(max_length=50)
    message_id = models.CharField(max_length=36, blank=True)
    detail = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.station_id} {self.action}: {self.detail[:60]}"


class ChargingProfile(models.Model):
    """A charging profile sent to a station (SetChargingProfile) and what became of it: installed until
    replaced or cleared, or rejected by the station. One row per attempt, so the history stays."""

    class Status(models.TextChoices):
        INSTALLED = "installed", _("Installed")
        REPLACED = "replaced", _("Replaced")
        CLEARED = "cleared", _("Cleared")
        REJECTED = "rejected", _("Rejected")

    station = models.ForeignKey(Station, on_delete=models.CASCADE, related_name="charging_profiles")
    connector_id = models.PositiveIntegerField(
        default=0, help_text="1.6 connectorId or 2.0.1 evseId; 0 = the whole station"
    )
    charging_profile_id = models.IntegerField()
    stack_level = models.IntegerField(default=0)
    purpose = models.CharField(max_length=30)
    kind = models.CharField(max_length=20, blank=True)
    transaction_id = models.CharField(max_length=36, blank=True)
    profile = models.JSONField(
        help_text="The profile object as sent (1.6 csChargingProfiles, 2.0.1 chargingProfile)"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.INSTALLED)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    cleared_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["station", "connector_id", "-stack_level"]
        indexes = [models.Index(fields=["station", "is_active"])]

    def __str__(self) -> str:
        return f"profile {self.charging_profile_id} on {self.station_id}/{self.connector_id}"
