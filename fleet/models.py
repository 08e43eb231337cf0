"""Models of fleet operations: firmware images, firmware campaigns and their stations, diagnostics and
log uploads."""

import uuid

from django.conf import settings
from django.core.files.storage import storages
from django.db import models
from django.db.models import Q

from stations.models import Command, Station


def fleet_storage():
    """The storage of images and uploads (STORAGES["fleet"]: local files by default, S3 in production)."""
    return storages["fleet"]


class FirmwareImage(models.Model):
    """A firmware image an operator uploaded for one vendor/model, with its checksum."""

    vendor = models.CharField(max_length=50)
    model = models.CharField(max_length=50)
    version = models.CharField(max_length=50)
    file = models.FileField(storage=fleet_storage, upload_to="firmware/", max_length=255)
    file_name = models.CharField(max_length=200)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    # SignedUpdateFirmware (1.6 security extension) / 2.0.1 UpdateFirmware: PEM and base64 signature.
    signing_certificate = models.TextField(blank=True)
    signature = models.TextField(blank=True)
    notes = models.TextField(blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint("vendor", "model", "version", name="firmware_image_unique_version")
        ]

    def __str__(self) -> str:
        return f"{self.vendor} {self.model} {self.version}"

    @property
    def is_signed(self) -> bool:
        return bool(self.signing_certificate and self.signature)


class Campaign(models.Model):
    """An operation on a set of stations in waves (a firmware rollout, or collecting diagnostics);
    Celery beat advances it (fleet.tasks)."""

    class Kind(models.TextChoices):
        FIRMWARE = "firmware", "Firmware update"
        DIAGNOSTICS = "diagnostics", "Diagnostics collection"

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        PAUSED = "paused", "Paused"
        HALTED = "halted", "Halted"
        CANCELLED = "cancelled", "Cancelled"
        COMPLETED = "completed", "Completed"

    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.FIRMWARE)
    # What a firmware campaign installs (empty for diagnostics).
    image = models.ForeignKey(
        FirmwareImage, null=True, blank=True, on_delete=models.PROTECT, related_name="campaigns"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    # What the operator targeted, as given (stations, location, vendor/model, firmware version, tags).
    target = models.JSONField(default=dict, blank=True)
    # Wave sizes as given: a count ("1"), a share of all targets ("10%") or "rest".
    waves = models.JSONField(default=list)
    current_wave = models.PositiveSmallIntegerField(default=1)
    max_failure_rate = models.PositiveSmallIntegerField(
        default=10, help_text="Per cent of a wave's stations that may fail before the campaign halts"
    )
    # Stations are updated only between these local times of their location (blank = any time).
    window_start = models.TimeField(null=True, blank=True)
    window_end = models.TimeField(null=True, blank=True)
    allow_while_charging = models.BooleanField(default=False)
    max_retries = models.PositiveSmallIntegerField(default=1)
    halted_reason = models.CharField(max_length=300, blank=True)
    # A diagnostics campaign: the time window of the logs, how stations upload, the GetLog type.
    log_since = models.DateTimeField(null=True, blank=True)
    log_until = models.DateTimeField(null=True, blank=True)
    transport = models.CharField(max_length=4, blank=True)
    log_type = models.CharField(max_length=20, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name

    @property
    def target_summary(self) -> str:
        """The target's criteria in words ("tags: pilot, north; tags_match: any")."""
        return "; ".join(
            f"{key}: {', '.join(map(str, value)) if isinstance(value, list) else value}"
            for key, value in self.target.items()
        )


class CampaignStation(models.Model):
    """One station of a campaign: its wave and where its update (or upload) stands."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        DOWNLOADING = "downloading", "Downloading"
        DOWNLOADED = "downloaded", "Downloaded"
        INSTALLING = "installing", "Installing"
        INSTALLED = "installed", "Installed, awaiting reboot"
        UPLOADING = "uploading", "Uploading"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    ACTIVE = (
        Status.SENT,
        Status.DOWNLOADING,
        Status.DOWNLOADED,
        Status.INSTALLING,
        Status.INSTALLED,
        Status.UPLOADING,
    )
    FINAL = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="stations")
    station = models.ForeignKey(Station, on_delete=models.CASCADE, related_name="firmware_updates")
    wave = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    request_id = models.PositiveIntegerField(null=True, blank=True)
    command = models.ForeignKey(Command, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # A diagnostics campaign: the request of the latest attempt (its file once received).
    diagnostics = models.ForeignKey(
        "DiagnosticsRequest", null=True, blank=True, on_delete=models.SET_NULL, related_name="campaign_rows"
    )
    last_report = models.CharField(max_length=40, blank=True)
    last_report_at = models.DateTimeField(null=True, blank=True)
    triggered_at = models.DateTimeField(null=True, blank=True)
    waiting_reason = models.CharField(max_length=200, blank=True)
    failure_reason = models.CharField(max_length=300, blank=True)
    # A failure the operator accepted by resuming a halted campaign no longer counts towards a halt.
    failure_accepted = models.BooleanField(default=False)
    version_before = models.CharField(max_length=50, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["wave", "station__identity"]
        constraints = [
            models.UniqueConstraint("campaign", "station", name="campaign_station_unique"),
            # Never two campaign steps (two updates, or an update and an upload) at one station at once.
            models.UniqueConstraint(
                "station",
                condition=Q(
                    status__in=["sent", "downloading", "downloaded", "installing", "installed", "uploading"]
                ),
                name="campaign_station_one_active_step",
            ),
        ]
        indexes = [models.Index(fields=["campaign", "wave", "status"])]

    def __str__(self) -> str:
        return f"{self.campaign} → {self.station} ({self.status})"


class CampaignEvent(models.Model):
    """One line of a campaign's timeline: a wave started, a station reported, the campaign halted."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="events")
    station = models.ForeignKey(Station, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    message = models.CharField(max_length=300)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return self.message


class DiagnosticsRequest(models.Model):
    """A request for a station's diagnostics (1.6 GetDiagnostics) or log (GetLog), with the one-time
    upload credentials it carries and the file the station sent."""

    class Kind(models.TextChoices):
        DIAGNOSTICS = "diagnostics", "Diagnostics (GetDiagnostics)"
        LOG = "log", "Log (GetLog)"

    class Transport(models.TextChoices):
        HTTP = "http", "HTTP"
        FTP = "ftp", "FTP"

    class Status(models.TextChoices):
        REQUESTED = "requested", "Requested"
        UPLOADING = "uploading", "Uploading"
        RECEIVED = "received", "Received"
        FAILED = "failed", "Failed"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    station = models.ForeignKey(Station, on_delete=models.CASCADE, related_name="diagnostics_requests")
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.DIAGNOSTICS)
    log_type = models.CharField(max_length=20, blank=True, help_text="GetLog: DiagnosticsLog or SecurityLog")
    transport = models.CharField(max_length=4, choices=Transport.choices, default=Transport.HTTP)
    request_id = models.PositiveIntegerField(null=True, blank=True)
    since = models.DateTimeField(null=True, blank=True)
    until = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.REQUESTED)
    station_status = models.CharField(max_length=40, blank=True)
    # A salted SHA-256 of the one-time secret (URL token or FTP password); cleared once used.
    secret_hash = models.CharField(max_length=200, blank=True)
    ftp_user = models.CharField(max_length=40, blank=True, db_index=True)
    secret_expires_at = models.DateTimeField()
    command = models.ForeignKey(Command, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    file = models.FileField(storage=fleet_storage, upload_to="diagnostics/", max_length=255, blank=True)
    file_name = models.CharField(max_length=200, blank=True)
    size = models.PositiveBigIntegerField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    uploaded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of {self.station} ({self.status})"


class FirmwarePublication(models.Model):
    """A firmware image a Local Controller (an OCPP 2.0.1 station) was asked to publish to the stations
    behind it (PublishFirmware, L03), its reported progress, and its withdrawal (UnpublishFirmware, L04)."""

    class Status(models.TextChoices):
        REQUESTED = "requested", "Requested"
        REFUSED = "refused", "Refused"
        IN_PROGRESS = "in_progress", "In progress"
        PUBLISHED = "published", "Published"
        FAILED = "failed", "Failed"
        UNPUBLISHED = "unpublished", "Unpublished"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    station = models.ForeignKey(Station, on_delete=models.CASCADE, related_name="firmware_publications")
    image = models.ForeignKey(
        FirmwareImage, null=True, blank=True, on_delete=models.SET_NULL, related_name="publications"
    )
    request_id = models.PositiveIntegerField()
    location = models.URLField(max_length=1000)
    # PublishFirmware and UnpublishFirmware name the image by the MD5 of its bytes (OCPP 2.0.1 L03/L04).
    checksum = models.CharField(max_length=32)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.REQUESTED)
    # The last PublishFirmwareStatusNotification status, as the station sent it.
    station_status = models.CharField(max_length=40, blank=True)
    # Published: the URIs the Local Controller serves the image at.
    locations = models.JSONField(default=list, blank=True)
    error = models.CharField(max_length=300, blank=True)
    command = models.ForeignKey(Command, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    unpublish_command = models.ForeignKey(
        Command, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The answer to UnpublishFirmware: Unpublished, NoFirmware or DownloadOngoing.
    unpublish_status = models.CharField(max_length=20, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"publication of {self.image or self.checksum} by {self.station} ({self.status})"
