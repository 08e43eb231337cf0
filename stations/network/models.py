"""Models of the network: locations, stations, EVSEs, connectors and the status history of connectors."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from rfid.models import Driver


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


class Tag(models.Model):
    """A label operators put on stations ("pilot", "garage-north") to find them and target them
    together (the station list, the API's `?tag=`, fleet campaigns). Names are normalised: lower case,
    words joined by "-"."""

    name = models.CharField(max_length=40, unique=True)

    class Meta:
        ordering = ["name"]

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
        NONE = 0, _("0: no authentication (trusted networks only)")
        BASIC = 1, _("1: HTTP Basic auth")
        TLS_BASIC = 2, _("2: TLS + HTTP Basic auth")
        TLS_CLIENT_CERT = 3, _("3: TLS with client certificate")

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
    tags = models.ManyToManyField(Tag, blank=True, related_name="stations")
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
        AC_1 = "AC_1_PHASE", _("AC single phase")
        AC_3 = "AC_3_PHASE", _("AC three phase")
        DC = "DC", _("DC")

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


class ConnectorStatusChange(models.Model):
    """One StatusNotification: the status history of a connector (connector blank = the station)."""

    # No index of its own: the (station, timestamp) index below serves a station's lookups.
    station = models.ForeignKey(
        Station, on_delete=models.CASCADE, related_name="status_changes", db_index=False
    )
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
