"""Security profile 3 inside ChargeNet: whose client-certificate headers are believed, and which
certificate subjects admit which station (the nginx path end to end: tests/stations/connection/test_tls.py)."""

import pytest

from stations.connection.consumers import client_certificate_subject
from stations.models import SecurityEvent, Station
from stations.services import StationAuthError, station_connect_authenticate
from tests.stations.connection.helpers import station_make

VERIFIED = [(b"x-ssl-client-verify", b"SUCCESS"), (b"x-ssl-client-s-dn", b"CN=CP-9,O=ChargeNet Tests")]


def scope(address: str, headers: list) -> dict:
    return {"client": (address, 40000), "headers": headers}


@pytest.mark.parametrize(
    ("trusted", "address", "headers", "subject"),
    [
        (["10.0.0.5"], "10.0.0.5", VERIFIED, "CN=CP-9,O=ChargeNet Tests"),
        ([], "10.0.0.5", VERIFIED, None),  # no proxy configured: nobody is believed
        (["10.0.0.5"], "203.0.113.7", VERIFIED, None),  # a station talking to us directly
        (["10.0.0.5"], "10.0.0.5", [(b"x-ssl-client-verify", b"FAILED:unable to verify"), VERIFIED[1]], None),
        (["10.0.0.5"], "10.0.0.5", [(b"x-ssl-client-verify", b"NONE"), (b"x-ssl-client-s-dn", b"")], None),
    ],
)
def test_only_a_trusted_proxys_verified_subject_is_believed(settings, trusted, address, headers, subject):
    settings.OCPP_TRUSTED_PROXIES = trusted
    assert client_certificate_subject(scope(address, headers)) == subject


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("subject", "organization", "admitted"),
    [
        ("CN={identity},O=ChargeNet Tests", "ChargeNet Tests", True),
        ("CN={identity}", "", True),  # no operator name configured: the CN decides
        ("CN=SN-77,O=ChargeNet Tests", "ChargeNet Tests", True),  # the serial number it booted with
        ("CN={identity},O=Other CSO", "ChargeNet Tests", False),
        ("CN=CP-OTHER,O=ChargeNet Tests", "ChargeNet Tests", False),
        ("this is no DN", "", False),
    ],
)
def test_a_profile_3_station_is_admitted_only_by_a_subject_that_names_it(
    settings, subject, organization, admitted
):
    settings.OCPP_CA_ORGANIZATION = organization
    station = station_make(prefix="P3", security_profile=Station.SecurityProfile.TLS_CLIENT_CERT)
    Station.objects.filter(pk=station.pk).update(serial_number="SN-77")

    def attempt():
        return station_connect_authenticate(
            identity=station.identity,
            username=None,
            password=None,
            remote_address="127.0.0.1",
            client_subject=subject.format(identity=station.identity),
        )

    if admitted:
        assert attempt().pk == station.pk
        assert not SecurityEvent.objects.filter(station=station).exists()
    else:
        with pytest.raises(StationAuthError):
            attempt()
        assert SecurityEvent.objects.get(station=station).type == "InvalidClientCertificate"
