"""Template helpers of the station page's certificates section."""

from django import template

from stations.certificates.selectors import CertificateInventory, station_certificate_inventory
from stations.certificates.services import INSTALL_TYPES, QUERY_TYPES
from stations.models import Station

register = template.Library()


@register.simple_tag
def station_certificates(station: Station) -> CertificateInventory:
    """The station's certificate inventory (issued by ChargeNet's CA, installed on the station)."""
    return station_certificate_inventory(station=station)


@register.simple_tag
def certificate_types(station: Station, purpose: str) -> tuple[str, ...]:
    """The certificate types the station's OCPP version knows, to install or to query."""
    return (INSTALL_TYPES if purpose == "install" else QUERY_TYPES)[station.ocpp_version]
