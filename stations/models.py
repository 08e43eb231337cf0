import uuid

from django.conf import settings
from django.db import models

from rfid.models import Driver, IdToken


class Location(models.Model):
    """A site with one or more stations; its time zone drives tariffs and local times."""

    name = models.CharField(max_length=200)
    address = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    country = models.CharField(max_length=3, default="NLD", help_text="ISO 3166-1 alpha-3")
    latitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    time_zone = models.CharField(
        max_length=64, default="UTC", help_text="IANA time zone, e.g. Europe/Amsterdam"
    )
    is_public = models.BooleanField(default=True, help_text="Public locations accept any valid card")
    # Who may charge when the location is private (docs/drivers-and-cards.md).
    allowed_drivers = models.ManyToManyField(Driver, blank=True, related_name="allowed_locations")
    allowed_groups = models.JSONField(default=list, blank=True, help_text="Group ids (parent id tags)")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class Station(models.Model):
    """A charge point (OCPP charging station), known by the identity in its WebSocket URL."""

    class OcppVersion(models.TextChoices):
        V16 = "1.6", "OCPP 1.6J"
        V201 = "2.0.1", "OCPP 2.0.1"

    class RegistrationStatus(models.TextChoices):
        ACCEPTED = "Accepted"
        PENDING = "Pending"
        REJECTED = "Rejected"

    class SecurityProfile(models.IntegerChoices):
        NONE = 0, "0: no authentication (trusted networks only)"
        BASIC = 1, "1: HTTP Basic auth"
        TLS_BASIC = 2, "2: TLS + HTTP Basic auth"
        TLS_CLIENT_CERT = 3, "3: TLS with client certificate"

    identity = models.CharField(max_length=48, unique=True)
    location = models.ForeignKey(
        Location, null=True, blank=True, on_delete=models.SET_NULL, related_name="stations"
    )
    name = models.CharField(max_length=200, blank=True)
    ocpp_version = models.CharField(max_length=8, choices=OcppVersion.choices, default=OcppVersion.V16)
    security_profile = models.PositiveSmallIntegerField(
        choices=SecurityProfile.choices, default=SecurityProfile.BASIC
    )
    # A salted SHA-256 of the Basic-auth password ("<salt>$<hexdigest>"); blank means no password set.
    password_hash = models.CharField(max_length=200, blank=True)
    registration_status = models.CharField(
        max_length=10, choices=RegistrationStatus.choices, default=RegistrationStatus.ACCEPTED
    )
    vendor = models.CharField(max_length=50, blank=True)
    model = models.CharField(max_length=50, blank=True)
    serial_number = models.CharField(max_length=50, blank=True)
    firmware_version = models.CharField(max_length=50, blank=True)
    iccid = models.CharField(max_length=20, blank=True)
    imsi = models.CharField(max_length=20, blank=True)
    meter_type = models.CharField(max_length=25, blank=True)
    meter_serial_number = models.CharField(max_length=25, blank=True)
    heartbeat_interval = models.PositiveIntegerField(
        null=True, blank=True, help_text="Seconds; blank = default"
    )
    lenient = models.BooleanField(
        default=True, help_text="Serve known harmless schema violations and record them"
    )
    is_public = models.BooleanField(default=True)
    # Who may charge when the station is private (docs/drivers-and-cards.md).
    allowed_drivers = models.ManyToManyField(Driver, blank=True, related_name="allowed_stations")
    allowed_groups = models.JSONField(default=list, blank=True, help_text="Group ids (parent id tags)")
    local_list_enabled = models.BooleanField(
        default=False, help_text="Keep a local authorization list on the station (SendLocalList)"
    )
    is_online = models.BooleanField(default=False)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    last_boot_at = models.DateTimeField(null=True, blank=True)
    connected_since = models.DateTimeField(null=True, blank=True)
    # Presence: the channel name of the live connection, and the node that holds it.
    channel_name = models.CharField(max_length=200, blank=True)
    node = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["identity"]

    def __str__(self) -> str:
        return self.identity


class Evse(models.Model):
    """An EVSE of a station (OCPP 2.0.1); under OCPP 1.6 each connector id is its own EVSE."""

    station = models.ForeignKey(Station, on_delete=models.CASCADE, related_name="evses")
    evse_id = models.PositiveIntegerField(help_text="1-based EVSE id as the station numbers it")

    class Meta:
        ordering = ["station", "evse_id"]
        constraints = [models.UniqueConstraint("station", "evse_id", name="evse_unique_per_station")]

    def __str__(self) -> str:
        return f"{self.station.identity}/{self.evse_id}"


class Connector(models.Model):
    """A connector (socket or cable) of an EVSE with its live status."""

    class Status(models.TextChoices):
        AVAILABLE = "Available"
        PREPARING = "Preparing"
        CHARGING = "Charging"
        SUSPENDED_EVSE = "SuspendedEVSE"
        SUSPENDED_EV = "SuspendedEV"
        FINISHING = "Finishing"
        RESERVED = "Reserved"
        UNAVAILABLE = "Unavailable"
        FAULTED = "Faulted"
        OCCUPIED = "Occupied"  # OCPP 2.0.1
        UNKNOWN = "Unknown"

    class Standard(models.TextChoices):
        TYPE2 = "IEC_62196_T2", "Type 2"
        TYPE2_COMBO = "IEC_62196_T2_COMBO", "CCS2"
        CHADEMO = "CHADEMO", "CHAdeMO"
        TYPE1 = "IEC_62196_T1", "Type 1"
        TYPE1_COMBO = "IEC_62196_T1_COMBO", "CCS1"
        DOMESTIC = "DOMESTIC_F", "Domestic (Schuko)"

    class PowerType(models.TextChoices):
        AC_1 = "AC_1_PHASE", "AC single phase"
        AC_3 = "AC_3_PHASE", "AC three phase"
        DC = "DC", "DC"

    evse = models.ForeignKey(Evse, on_delete=models.CASCADE, related_name="connectors")
    connector_id = models.PositiveIntegerField(default=1, help_text="Connector id within the EVSE")
    standard = models.CharField(max_length=24, choices=Standard.choices, default=Standard.TYPE2)
    power_type = models.CharField(max_length=12, choices=PowerType.choices, default=PowerType.AC_3)
    max_power_w = models.PositiveIntegerField(default=22000)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.UNKNOWN)
    error_code = models.CharField(max_length=50, blank=True)
    vendor_error_code = models.CharField(max_length=50, blank=True)
    info = models.CharField(max_length=50, blank=True)
    status_updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["evse__station", "evse__evse_id", "connector_id"]
        constraints = [models.UniqueConstraint("evse", "connector_id", name="connector_unique_per_evse")]

    def __str__(self) -> str:
        return f"{self.evse}/{self.connector_id}"


class Session(models.Model):
    """A charging session (OCPP transaction) on one connector."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        COMPLETED = "completed", "Completed"
        INCOMPLETE = "incomplete", "Incomplete"  # closed without a StopTransaction

    station = models.ForeignKey(Station, on_delete=models.PROTECT, related_name="sessions")
    evse = models.ForeignKey(Evse, null=True, blank=True, on_delete=models.SET_NULL, related_name="sessions")
    connector = models.ForeignKey(
        Connector, null=True, blank=True, on_delete=models.SET_NULL, related_name="sessions"
    )
    # 1.6: the integer the CSMS assigned, as text; 2.0.1: the station's own string (≤ 36).
    transaction_id = models.CharField(max_length=36)
    id_token = models.ForeignKey(
        IdToken, null=True, blank=True, on_delete=models.SET_NULL, related_name="sessions"
    )
    id_tag = models.CharField(max_length=36, blank=True, help_text="The id token as the station sent it")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.ACTIVE)
    started_at = models.DateTimeField()
    stopped_at = models.DateTimeField(null=True, blank=True)
    meter_start_wh = models.BigIntegerField(default=0)
    meter_stop_wh = models.BigIntegerField(null=True, blank=True)
    energy_wh = models.BigIntegerField(default=0)
    stop_reason = models.CharField(max_length=40, blank=True)
    reservation_id = models.IntegerField(null=True, blank=True)
    # Things the CSMS noticed but accepted (unknown id tag, clock skew, meter going backwards …).
    flags = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            models.UniqueConstraint(
                "station", "transaction_id", name="session_transaction_unique_per_station"
            )
        ]
        indexes = [models.Index(fields=["status", "station"])]

    def __str__(self) -> str:
        return f"{self.station.identity} tx {self.transaction_id}"


class MeterSample(models.Model):
    """One sampled value of a meter (a measurand at a time, phase and location), normalised."""

    station = models.ForeignKey(Station, on_delete=models.CASCADE, related_name="meter_samples")
    session = models.ForeignKey(
        Session, null=True, blank=True, on_delete=models.CASCADE, related_name="samples"
    )
    evse_id = models.PositiveIntegerField(default=0)
    timestamp = models.DateTimeField()
    measurand = models.CharField(max_length=64, default="Energy.Active.Import.Register")
    phase = models.CharField(max_length=8, blank=True)
    location = models.CharField(max_length=8, blank=True)
    context = models.CharField(max_length=24, blank=True)
    unit = models.CharField(max_length=12, blank=True, help_text="Unit after normalisation (Wh, W, A, V …)")
    value = models.DecimalField(max_digits=20, decimal_places=4)
    signed_data = models.TextField(blank=True)

    class Meta:
        ordering = ["timestamp"]
        constraints = [
            # Replays of the same MeterValues message are stored once.
            models.UniqueConstraint(
                "station",
                "evse_id",
                "timestamp",
                "measurand",
                "phase",
                "location",
                "context",
                name="meter_sample_unique",
            )
        ]
        indexes = [models.Index(fields=["session", "timestamp"])]

    def __str__(self) -> str:
        return f"{self.measurand} {self.value} {self.unit} @ {self.timestamp:%Y-%m-%d %H:%M:%S}"


class Command(models.Model):
    """A durable CSMS→station call: queued until delivered, then answered, rejected or timed out."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENT = "sent", "Sent"
        ACCEPTED = "accepted", "Accepted"
        REJECTED = "rejected", "Rejected"
        ERROR = "error", "Error"
        TIMED_OUT = "timed_out", "Timed out"
        EXPIRED = "expired", "Expired"

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
        IN = "in", "Station → CSMS"
        OUT = "out", "CSMS → station"

    station = models.ForeignKey(
        Station, null=True, blank=True, on_delete=models.CASCADE, related_name="messages"
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


class ConnectorStatusChange(models.Model):
    """One StatusNotification: the status history of a connector (connector blank = the station)."""

    station = models.ForeignKey(Station, on_delete=models.CASCADE, related_name="status_changes")
    connector = models.ForeignKey(
        Connector, null=True, blank=True, on_delete=models.CASCADE, related_name="status_changes"
    )
    evse_id = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=16)
    previous_status = models.CharField(max_length=16, blank=True)
    error_code = models.CharField(max_length=50, blank=True)
    vendor_error_code = models.CharField(max_length=50, blank=True)
    info = models.CharField(max_length=50, blank=True)
    timestamp = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-timestamp", "-id"]
        indexes = [models.Index(fields=["station", "-timestamp"])]

    def __str__(self) -> str:
        return f"{self.station_id}/{self.evse_id} {self.status}"


class SecurityEvent(models.Model):
    """A security-relevant event: a refused connection (recorded by the CSMS) or a station's
    SecurityEventNotification."""

    class Source(models.TextChoices):
        CSMS = "csms", "Central system"
        STATION = "station", "Station"

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


class Reservation(models.Model):
    """A reservation sent with ReserveNow (connector 0 = any connector of the station)."""

    class Status(models.TextChoices):
        REQUESTED = "requested", "Requested"
        ACTIVE = "active", "Active"
        REFUSED = "refused", "Refused by the station"
        CANCELLED = "cancelled", "Cancelled"
        USED = "used", "Used"
        EXPIRED = "expired", "Expired"

    station = models.ForeignKey(Station, on_delete=models.CASCADE, related_name="reservations")
    reservation_id = models.IntegerField()
    connector_id = models.PositiveIntegerField(default=0)
    id_tag = models.CharField(max_length=36)
    parent_id_tag = models.CharField(max_length=36, blank=True)
    expires_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.REQUESTED)
    # The station's answer to ReserveNow (Accepted, Faulted, Occupied, Rejected, Unavailable).
    response_status = models.CharField(max_length=20, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint("station", "reservation_id", name="reservation_id_unique_per_station")
        ]

    def __str__(self) -> str:
        return f"reservation {self.reservation_id} on {self.station_id}/{self.connector_id}"


class ChargingProfile(models.Model):
    """A charging profile the station accepted (SetChargingProfile), until it is cleared."""

    station = models.ForeignKey(Station, on_delete=models.CASCADE, related_name="charging_profiles")
    connector_id = models.PositiveIntegerField(default=0)
    charging_profile_id = models.IntegerField()
    stack_level = models.IntegerField(default=0)
    purpose = models.CharField(max_length=30)
    kind = models.CharField(max_length=20, blank=True)
    transaction_id = models.CharField(max_length=36, blank=True)
    profile = models.JSONField(help_text="The csChargingProfiles object as sent")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    cleared_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["station", "connector_id", "-stack_level"]
        indexes = [models.Index(fields=["station", "is_active"])]

    def __str__(self) -> str:
        return f"profile {self.charging_profile_id} on {self.station_id}/{self.connector_id}"


class LocalListSync(models.Model):
    """The local authorization list a station holds: version, what was sent, and the last sync."""

    class Stage(models.TextChoices):
        IDLE = "idle", "Idle"
        ASKING_VERSION = "asking_version", "Asking the station's version"
        SENDING = "sending", "Sending the list"

    station = models.OneToOneField(Station, on_delete=models.CASCADE, related_name="local_list")
    # The version the station confirmed last, and the entries it then held ({uid: info}).
    version = models.IntegerField(default=0)
    entries = models.JSONField(default=dict, blank=True)
    # False until a SendLocalList was accepted; then a differential update is safe.
    confirmed = models.BooleanField(default=False)
    stage = models.CharField(max_length=16, choices=Stage.choices, default=Stage.IDLE)
    pending_command = models.ForeignKey(
        Command, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    pending_version = models.IntegerField(null=True, blank=True)
    pending_entries = models.JSONField(default=dict, blank=True)
    # Debounce: a sync runs once this time has passed (several card changes → one update).
    due_at = models.DateTimeField(null=True, blank=True)
    last_result = models.CharField(max_length=200, blank=True)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.station.identity} local list v{self.version}"


class AlertAcknowledgement(models.Model):
    """An operator's acknowledgement (with a note) of one occurrence of an alert.

    Alerts themselves are derived from live state (a faulted connector, a silent station, a refused
    boot, a security event); an occurrence is named by its kind, the object and when it began, so a
    new fault of the same connector shows up unacknowledged again.
    """

    class Kind(models.TextChoices):
        CONNECTOR_FAULT = "connector_fault", "Connector faulted"
        STATION_OFFLINE = "station_offline", "Station offline"
        BOOT_REJECTED = "boot_rejected", "Boot refused"
        SECURITY_EVENT = "security_event", "Security event"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    object_id = models.BigIntegerField(help_text="The connector, station or security event")
    occurred_at = models.DateTimeField(null=True, blank=True, help_text="When this occurrence began")
    station = models.ForeignKey(Station, on_delete=models.CASCADE, related_name="alert_acknowledgements")
    note = models.TextField(blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    acknowledged_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-acknowledged_at"]
        constraints = [
            models.UniqueConstraint(
                "kind", "object_id", "occurred_at", name="alert_acknowledged_once_per_occurrence"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.object_id} acknowledged"


class AlertMailPreference(models.Model):
    """An operator's own choice to be e-mailed about every new alert occurrence."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="alert_mail")
    enabled = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.user} alert mail {'on' if self.enabled else 'off'}"


class AlertNotification(models.Model):
    """One alert occurrence that was mailed: the row claims it, so it is never mailed twice."""

    kind = models.CharField(max_length=20, choices=AlertAcknowledgement.Kind.choices)
    object_id = models.BigIntegerField()
    # The occurrence's start as text ("" when unknown): a NULL would not be unique in the constraint.
    occurred_key = models.CharField(max_length=40, blank=True)
    station = models.ForeignKey(Station, on_delete=models.CASCADE, related_name="+")
    recipients = models.PositiveIntegerField(default=0)
    mailed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                "kind", "object_id", "occurred_key", name="alert_mailed_once_per_occurrence"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.object_id} mailed"
