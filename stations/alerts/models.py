"""Models of alerts: acknowledgements, who wants alert mails, which occurrences were mailed."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from stations.network.models import Station


class AlertAcknowledgement(models.Model):
    """An operator's acknowledgement (with a note) of one occurrence of an alert.

    Alerts themselves are derived from live state (a faulted connector, a silent station, a refused
    boot, a security event); an occurrence is named by its kind, the object and when it began, so a
    new fault of the same connector shows up unacknowledged again.
    """

    class Kind(models.TextChoices):
        CONNECTOR_FAULT = "connector_fault", _("Connector faulted")
        STATION_OFFLINE = "station_offline", _("Station offline")
        BOOT_REJECTED = "boot_rejected", _("Boot refused")
        SECURITY_EVENT = "security_event", _("Security event")
        DEVICE_PROBLEM = "device_problem", _("Device problem")

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
