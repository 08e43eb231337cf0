"""Reads of certificates: a station's inventory (issued by ChargeNet's CA, and installed on it)."""

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from stations.certificates.models import IssuedCertificate
from stations.models import Station, StationProtocolState


@dataclass
class IssuedRow:
    certificate: IssuedCertificate
    expired: bool
    expiring: bool  # within OCPP_CERTIFICATE_EXPIRY_WARNING_DAYS


@dataclass
class CertificateInventory:
    """What ChargeNet knows about a station's certificates."""

    issued: list[IssuedRow] = field(default_factory=list)
    # certificateHashData objects (with certificateType) the station last reported
    # (GetInstalledCertificateIds), minus the ones it deleted since.
    installed: list[dict[str, Any]] = field(default_factory=list)

    @property
    def warnings(self) -> list[IssuedRow]:
        return [row for row in self.issued if row.expiring or row.expired]


def station_certificate_inventory(*, station: Station, limit: int = 20) -> CertificateInventory:
    """The station's certificates: the latest `limit` issued by ChargeNet's CA, flagged expired or
    expiring (the current one of each type only), and those installed on it as it last reported."""
    now = timezone.now()
    soon = now + timedelta(days=settings.OCPP_CERTIFICATE_EXPIRY_WARNING_DAYS)
    rows, seen_types = [], set()
    for certificate in IssuedCertificate.objects.filter(station=station).select_related("command")[:limit]:
        current = certificate.certificate_type not in seen_types and certificate.station_answer != "Rejected"
        if current:
            seen_types.add(certificate.certificate_type)
        rows.append(
            IssuedRow(
                certificate=certificate,
                expired=current and certificate.not_after <= now,
                expiring=current and now < certificate.not_after <= soon,
            )
        )
    state = StationProtocolState.objects.filter(station=station).only("installed_certificates").first()
    return CertificateInventory(issued=rows, installed=list(state.installed_certificates) if state else [])
