"""The certificate inventory on the station page, expiry warnings (the daily check → an alert), the
operator's certificate forms, and where the CA comes from (configured, generated, missing)."""

import stat

import pytest
from django.urls import reverse

from stations.alerts.services import alert_list
from stations.certificates import ca
from stations.certificates.services import certificate_sign_request
from stations.models import Command, IssuedCertificate, SecurityEvent, StationProtocolState
from stations.tasks import certificate_expiry_check_task
from tests.stations.certificates.conftest import ORGANIZATION
from tests.stations.certificates.pki import csr_make
from tests.stations.connection.helpers import station_make

pytestmark = pytest.mark.django_db


@pytest.fixture
def configured_ca(settings, station_ca):
    settings.OCPP_CA_CERT_FILE = str(station_ca.cert_file)
    settings.OCPP_CA_KEY_FILE = str(station_ca.key_file)
    settings.OCPP_CA_ORGANIZATION = ORGANIZATION
    ca.ca_load.cache_clear()
    yield station_ca
    ca.ca_load.cache_clear()


def sign(station, days: int, settings) -> IssuedCertificate:
    settings.OCPP_CERTIFICATE_DAYS = days
    result = certificate_sign_request(station_id=station.pk, csr=csr_make(station.identity, ORGANIZATION))
    assert result.status == "Accepted", result
    return result.certificate


def test_a_certificate_close_to_expiry_is_warned_about_once_as_an_alert(configured_ca, settings):
    # given a station whose certificate expires in 10 days (warnings start 30 days ahead)
    settings.OCPP_CERTIFICATE_EXPIRY_WARNING_DAYS = 30
    station = station_make()
    certificate = sign(station, 10, settings)

    # when the daily check runs twice
    first, second = certificate_expiry_check_task(), certificate_expiry_check_task()

    # then one security event names the certificate, and it is an alert on the station
    assert (first, second) == (1, 0)
    event = SecurityEvent.objects.get(station=station)
    assert event.type == "CertificateExpiring"
    assert certificate.serial_number in event.tech_info
    assert any(a.title == "Security event CertificateExpiring" for a in alert_list(station=station))


def test_a_certificate_already_renewed_is_not_warned_about(configured_ca, settings):
    station = station_make()
    sign(station, 10, settings)
    sign(station, 365, settings)  # the station renewed in time

    assert certificate_expiry_check_task() == 0
    assert not SecurityEvent.objects.filter(station=station).exists()


def test_the_station_page_lists_issued_and_installed_certificates_with_the_expiry_warning(
    client, operator, configured_ca, settings
):
    station = station_make()
    expiring = sign(station, 10, settings)
    StationProtocolState.objects.update_or_create(
        station=station,
        defaults={
            "installed_certificates": [
                {
                    "certificateType": "ManufacturerRootCertificate",
                    "hashAlgorithm": "SHA256",
                    "issuerNameHash": "c" * 64,
                    "issuerKeyHash": "d" * 64,
                    "serialNumber": "5a5a",
                }
            ]
        },
    )
    client.force_login(operator)

    page = client.get(reverse("station-detail", args=[station.identity])).content.decode()

    assert "Issued by ChargeNet’s CA" in page
    assert expiring.serial_number in page
    assert f"CN={station.identity}" in page
    assert "expiring" in page and 'role="alert"' in page
    assert "5a5a" in page and "ManufacturerRootCertificate" in page
    assert "Install a root certificate" in page  # an operator gets the forms


def test_the_operators_forms_queue_the_commands_and_explain_a_refusal(client, operator, station_ca):
    station = station_make(ocpp_version="2.0.1")
    client.force_login(operator)
    url = reverse("station-certificate-command", args=[station.identity])

    refused = client.post(
        url,
        {"action": "install", "certificate_type": "V2GRootCertificate", "certificate": "nope"},
        follow=True,
    )
    assert "PEM" in refused.content.decode()
    assert not Command.objects.filter(station=station).exists()

    client.post(
        url, {"action": "install", "certificate_type": "V2GRootCertificate", "certificate": station_ca.pem}
    )
    client.post(url, {"action": "query", "certificate_type": ""})
    client.post(
        url,
        {
            "action": "delete",
            "hashAlgorithm": "SHA256",
            "issuerNameHash": "c" * 64,
            "issuerKeyHash": "d" * 64,
            "serialNumber": "5a5a",
        },
    )
    queued = list(Command.objects.filter(station=station).order_by("id").values_list("action", "payload"))
    assert queued[0] == (
        "InstallCertificate",
        {"certificateType": "V2GRootCertificate", "certificate": station_ca.pem.strip()},
    )
    assert queued[1] == ("GetInstalledCertificateIds", {})
    assert queued[2][0] == "DeleteCertificate"
    assert queued[2][1]["certificateHashData"]["serialNumber"] == "5a5a"


def test_a_viewer_sees_the_inventory_but_cannot_send_certificate_commands(client, viewer):
    station = station_make()
    client.force_login(viewer)

    page = client.get(reverse("station-detail", args=[station.identity])).content.decode()
    response = client.post(
        reverse("station-certificate-command", args=[station.identity]),
        {"action": "query", "certificate_type": "x"},
    )

    assert "Certificates" in page and "Install a root certificate" not in page
    assert response.status_code == 403
    assert not Command.objects.filter(station=station).exists()


def test_the_embedded_mode_generates_its_ca_once_and_keeps_the_key_private(settings, tmp_path):
    settings.EMBEDDED, settings.DATA_DIR = True, tmp_path
    settings.OCPP_CA_CERT_FILE = settings.OCPP_CA_KEY_FILE = ""
    ca.ca_load.cache_clear()
    try:
        first = ca.ca_load()
        ca.ca_load.cache_clear()
        again = ca.ca_load()
    finally:
        ca.ca_load.cache_clear()
    assert first.certificate == again.certificate
    assert stat.S_IMODE((tmp_path / "ca" / "ca-key.pem").stat().st_mode) == 0o600


def test_without_a_ca_in_production_a_csr_is_rejected_saying_so(settings):
    settings.EMBEDDED = False
    settings.OCPP_CA_CERT_FILE = settings.OCPP_CA_KEY_FILE = ""
    station = station_make()
    ca.ca_load.cache_clear()
    try:
        result = certificate_sign_request(station_id=station.pk, csr=csr_make(station.identity, None))
    finally:
        ca.ca_load.cache_clear()
    assert (result.status, result.reason_code) == ("Rejected", "NoCA")
    assert "OCPP_CA_CERT_FILE" in result.reason
    assert not IssuedCertificate.objects.exists()
    assert not Command.objects.exists()
