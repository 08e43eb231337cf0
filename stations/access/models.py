"""Models of access: the local authorization list each station holds."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from stations.connection.models import Command
from stations.network.models import Station


class LocalListSync(models.Model):
    """The local authorization list a station holds: version, what was sent, and the last sync."""

    class Stage(models.TextChoices):
        IDLE = "idle", _("Idle")
        ASKING_VERSION = "asking_version", _("Asking the station's version")
        SENDING = "sending", _("Sending the list")

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
