"""Models of certificates: what ChargeNet's CA issued to each station."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from stations.connection.models import Command
from stations.network.models import Station


class IssuedCertificate(models.Model):
    """A certificate ChargeNet's CA signed for a station (SignCertificate) and sent back to it."""

    class Type(models.TextChoices):
        CHARGING_STATION = "ChargingStationCertificate", _("Charging station certificate")
        V2G = "V2GCertificate", _("V2G certificate")

    station = models.ForeignKey(Station, on_delete=models.CASCADE, related_name="issued_certificates")
    certificate_type = models.CharField(max_length=30, choices=Type.choices)
    # Hex, lower case, no leading zeros: as OCPP's certificateHashData.serialNumber spells it.
    serial_number = models.CharField(max_length=64, unique=True)
    subject = models.CharField(max_length=255)
    not_before = models.DateTimeField()
    not_after = models.DateTimeField()
    certificate = models.TextField(help_text="PEM of the issued certificate")
    # The CertificateSigned command that carried it, and the station's answer to it.
    command = models.ForeignKey(Command, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    station_answer = models.CharField(max_length=20, blank=True)
    expiry_warned_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["not_after"])]

    def __str__(self) -> str:
        return f"{self.certificate_type} {self.serial_number} for {self.station_id}"
