"""Get15118EVCertificate and GetCertificateStatus (2.0.1 M) answered through the configured
provider: the test double on the certificate tests' server, "not configured" on the plain one."""

import contextlib

import pytest

from tests.stations.certificates.provider import EXI_PREFIX
from tests.stations.connection.client import station_connection
from tests.stations.connection.helpers import PASSWORD, station_make

pytestmark = pytest.mark.django_db(transaction=True)

BOOT_201 = {"chargingStation": {"vendorName": "ChargeNet Test", "model": "TS-2"}, "reason": "PowerUp"}
OCSP = {
    "hashAlgorithm": "SHA256",
    "issuerNameHash": "a" * 64,
    "issuerKeyHash": "b" * 64,
    "serialNumber": "0a1b",
    "responderURL": "http://ocsp.example.com/",
}


@contextlib.asynccontextmanager
async def booted201(server, station):
    async with station_connection(server.url, station.identity, PASSWORD, subprotocols=("ocpp2.0.1",)) as cp:
        assert (await cp.ok("BootNotification", BOOT_201))["status"] == "Accepted"
        yield cp


def test_TC_M_26_TC_M_28_an_ev_certificate_request_is_answered_by_the_provider(pki_server, run):
    station = station_make(ocpp_version="2.0.1")

    async def scenario():
        async with booted201(pki_server, station) as cp:
            install = await cp.ok(
                "Get15118EVCertificate",
                {
                    "iso15118SchemaVersion": "urn:iso:15118:2:2013:MsgDef",
                    "action": "Install",
                    "exiRequest": "AAEC",
                },
            )
            update = await cp.ok(
                "Get15118EVCertificate",
                {
                    "iso15118SchemaVersion": "urn:iso:15118:2:2013:MsgDef",
                    "action": "Update",
                    "exiRequest": "AAED",
                },
            )
            return install, update

    install, update = run(scenario())
    assert install == {"status": "Accepted", "exiResponse": f"{EXI_PREFIX}Install:AAEC"}
    assert update == {"status": "Accepted", "exiResponse": f"{EXI_PREFIX}Update:AAED"}


def test_TC_M_24_certificate_status_is_answered_by_the_provider_with_the_request_in_ocpp_terms(
    pki_server, run
):
    station = station_make(ocpp_version="2.0.1")

    async def scenario():
        async with booted201(pki_server, station) as cp:
            return await cp.ok("GetCertificateStatus", {"ocspRequestData": OCSP})

    # the provider got the request in OCPP's own spelling (serialNumber, responderURL …)
    assert run(scenario()) == {"status": "Accepted", "ocspResult": "good:0a1b"}


def test_a_failing_provider_gives_failed_with_the_reason(pki_server, run):
    station = station_make(ocpp_version="2.0.1")

    async def scenario():
        async with booted201(pki_server, station) as cp:
            return await cp.ok(
                "Get15118EVCertificate",
                {
                    "iso15118SchemaVersion": "urn:iso:15118:2:2013:MsgDef",
                    "action": "Install",
                    "exiRequest": "broken",
                },
            )

    answer = run(scenario())
    assert answer["status"] == "Failed"
    assert answer["statusInfo"]["reasonCode"] == "ProviderError"
    assert "pool unreachable" in answer["statusInfo"]["additionalInfo"]


def test_without_a_provider_both_requests_fail_saying_it_is_not_configured(ocpp_server, run):
    station = station_make(ocpp_version="2.0.1")

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            ev = await cp.ok(
                "Get15118EVCertificate",
                {
                    "iso15118SchemaVersion": "urn:iso:15118:2:2013:MsgDef",
                    "action": "Install",
                    "exiRequest": "AAEC",
                },
            )
            status = await cp.ok("GetCertificateStatus", {"ocspRequestData": OCSP})
            return ev, status

    ev, status = run(scenario())
    assert ev["status"] == status["status"] == "Failed"
    assert ev["exiResponse"] == ""
    assert ev["statusInfo"]["reasonCode"] == status["statusInfo"]["reasonCode"] == "NotConfigured"
    assert "not configured" in ev["statusInfo"]["additionalInfo"]
    assert "not configured" in status["statusInfo"]["additionalInfo"]
