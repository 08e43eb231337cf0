"""Models of charging sessions and metering: sessions, meter samples, reservations."""

from django.db import models
from django.db.models import F
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

from rfid.models import IdToken
from stations.network.models import Connector, Evse, Station


class Session(models.Model):
    """A charging session (OCPP transaction) on one connector."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        COMPLETED = "completed", _("Completed")
        INCOMPLETE = "incomplete", _("Incomplete")  # closed without a StopTransaction

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
    # OCPP 2.0.1: the remoteStartId of the RequestStartTransaction that began it, and the seqNo of
    # every TransactionEvent received (a gap at Ended sends GetTransactionStatus).
    remote_start_id = models.IntegerField(null=True, blank=True)
    seq_nos = models.JSONField(default=list, blank=True)
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
        indexes = [
            models.Index(fields=["status", "station"]),
            # A card's active sessions, by the id tag its station sent (case-insensitively) and by
            # the card: the ConcurrentTx check of every start and stop (stations/access/services.py).
            models.Index(Lower("id_tag"), F("status"), name="session_id_tag_lower_status"),
            models.Index(fields=["id_token", "status"], name="session_id_token_status"),
        ]

    def __str__(self) -> str:
        return f"{self.station.identity} tx {self.transaction_id}"


class MeterSample(models.Model):
    """One sampled value of a meter (a measurand at a time, phase and location), normalised."""

    # No index of their own: meter_sample_unique and the (session, timestamp) index below serve a
    # station's and a session's lookups, and every index is written by every sample stored.
    station = models.ForeignKey(
        Station, on_delete=models.CASCADE, related_name="meter_samples", db_index=False
    )
    session = models.ForeignKey(
        Session, null=True, blank=True, on_delete=models.CASCADE, related_name="samples", db_index=False
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


class Reservation(models.Model):
    """A reservation sent with ReserveNow (connector 0 = any connector of the station)."""

    class Status(models.TextChoices):
        REQUESTED = "requested", _("Requested")
        ACTIVE = "active", _("Active")
        REFUSED = "refused", _("Refused by the station")
        CANCELLED = "cancelled", _("Cancelled")
        USED = "used", _("Used")
        EXPIRED = "expired", _("Expired")

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
