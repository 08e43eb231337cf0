"""OCPP 2.0.1 Part 6 CSMS test cases of blocks A (security) and M (certificate management) that had
no test yet, each over a real socket against the real server with ChargeNet's CA configured: the
operator acts on the station page or through the REST API (the services every interface uses), the
test station answers as the case says, and the test checks what the CSMS sent and what the operator
then sees. docs/ocpp-2.0.1-coverage.md maps every Part 6 case to its test."""

import contextlib
import urllib.request

import pytest
from asgiref.sync import sync_to_async
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.urls import reverse
from rest_framework.test import APIClient
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from chargenet.api.services import api_key_create
from stations.models import Command, IssuedCertificate, SecurityEvent, Station
from tests.stations.certificates.conftest import ORGANIZATION
from tests.stations.certificates.pki import chain_split, csr_make
from tests.stations.connection.client import TestStation, eventually, station_connection
from tests.stations.connection.conftest import server_start, server_stop
from tests.stations.connection.helpers import PASSWORD, command_send, station_make
from tests.stations.devicemodel.helpers import BOOT, booted201
from tests.support import free_port

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def site_server(test_db_name, redis_server, station_ca):
    """The server with ChargeNet's CA whose SITE_URL is its own address, so that the URLs it writes
    into certificates can be fetched from it."""
    port = free_port()
    server = server_start(
        test_db_name,
        port=port,
        SITE_URL=f"http://127.0.0.1:{port}",
        OCPP_CA_CERT_FILE=str(station_ca.cert_file),
        OCPP_CA_KEY_FILE=str(station_ca.key_file),
        OCPP_CA_ORGANIZATION=ORGANIZATION,
    )
    yield server
    server_stop(server)


@pytest.fixture
def api(operator):
    _, key = api_key_create(user=operator, name="tests", role="operate")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def post(api, station, path: str, body: dict):
    return sync_to_async(api.post)(
        f"/api/v1/stations/{station.identity}/{path}/", {**body, "wait": 10}, format="json"
    )


def installed(api, station) -> list[dict]:
    return api.get(f"/api/v1/stations/{station.identity}/certificates/").json()["installed"]


def crl_points(certificate: x509.Certificate) -> list[str]:
    extension = certificate.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    return [name.value for point in extension for name in point.full_name or []]


# --- A: security -----------------------------------------------------------------------------------


def test_tc_a_13_a_combined_certificate_is_asked_for_signed_for_both_uses_and_shown_accepted(
    site_server, run, client, operator, station_ca
):
    # given a booted station whose serial number is what its certificates name (A00.FR.405)
    station = station_make(ocpp_version="2.0.1")
    client.force_login(operator)
    boot = {**BOOT, "chargingStation": {**BOOT["chargingStation"], "serialNumber": "SN-A13"}}

    async def scenario():
        async with station_connection(
            site_server.url, station.identity, PASSWORD, subprotocols=("ocpp2.0.1",)
        ) as cp:
            assert (await cp.ok("BootNotification", boot))["status"] == "Accepted"
            # when the operator asks for a new combined certificate on the station page
            await sync_to_async(client.post)(
                reverse("station-certificate-command", args=[station.identity]),
                {"action": "renew", "certificate_type": "Combined"},
            )
            triggered = await cp.wait_call("TriggerMessage")
            # the station sends its CSR without a certificateType: one certificate for both uses
            signed = await cp.ok("SignCertificate", {"csr": csr_make("SN-A13", ORGANIZATION)})
            return triggered, signed, await cp.wait_call("CertificateSigned")

    triggered, signed, chain = run(scenario())
    # then the CSMS asked for a combined CSR, accepted it and sent back the signed chain
    assert triggered == {"requestedMessage": "SignCombinedCertificate"}
    assert signed == {"status": "Accepted"}
    assert "certificateType" not in chain
    assert chain["certificateChain"].startswith("-----BEGIN CERTIFICATE-----")
    leaf, issuer = chain_split(chain["certificateChain"])
    assert issuer == station_ca.certificate and leaf.issuer == station_ca.certificate.subject
    assert leaf.serial_number > 0
    assert leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "SN-A13"
    public_key = leaf.public_key()
    assert isinstance(public_key, ec.EllipticCurvePublicKey) and public_key.curve.key_size >= 224
    usages = set(leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    assert {ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH} <= usages
    # and the operator sees the certificate the station accepted
    issued = eventually(
        lambda: IssuedCertificate.objects.filter(station=station, station_answer="Accepted").first()
    )
    assert issued.serial_number == format(leaf.serial_number, "x")
    assert Command.objects.get(station=station, action="TriggerMessage").status == Command.Status.ACCEPTED


def test_an_issued_certificate_names_the_crl_of_chargenets_ca_and_that_crl_lists_it_once_revoked(
    site_server, run, station_ca
):
    from stations.certificates.services import certificate_revoke

    station = station_make(ocpp_version="2.0.1")

    async def scenario():
        async with booted201(site_server, station) as cp:
            await cp.ok(
                "SignCertificate",
                {
                    "csr": csr_make(station.identity, ORGANIZATION),
                    "certificateType": "ChargingStationCertificate",
                },
            )
            return await cp.wait_call("CertificateSigned")

    chain = run(scenario())
    leaf, _ = chain_split(chain["certificateChain"])
    # the certificate says where its CA publishes revocations: SITE_URL + /pki/crl
    (url,) = crl_points(leaf)
    assert url == f"{site_server.base_url}/pki/crl"
    # ChargeNet has no HTTP OCSP responder (stations ask through GetCertificateStatus): no AIA
    with pytest.raises(x509.ExtensionNotFound):
        leaf.extensions.get_extension_for_class(x509.AuthorityInformationAccess)

    def crl() -> x509.CertificateRevocationList:
        with urllib.request.urlopen(url, timeout=10) as response:
            return x509.load_der_x509_crl(response.read())

    before = crl()
    assert before.is_signature_valid(station_ca.certificate.public_key())
    assert before.get_revoked_certificate_by_serial_number(leaf.serial_number) is None
    certificate_revoke(certificate=IssuedCertificate.objects.get(station=station), reason="key_compromise")
    assert crl().get_revoked_certificate_by_serial_number(leaf.serial_number) is not None


@contextlib.asynccontextmanager
async def with_client_certificate(server, station):
    """A connection as nginx passes one with a verified TLS client certificate (security profile 3):
    the test plays the trusted proxy on 127.0.0.1 (OCPP_TRUSTED_PROXIES)."""
    headers = {
        "X-SSL-Client-Verify": "SUCCESS",
        "X-SSL-Client-S-DN": f"CN={station.identity},O={ORGANIZATION}",
    }
    ws = await connect(
        server.url + station.identity, subprotocols=["ocpp2.0.1"], additional_headers=headers, open_timeout=10
    )
    cp = TestStation(ws)
    try:
        yield cp
    finally:
        await cp.close()


def test_tc_a_19_a_station_raised_to_security_profile_3_is_held_to_it_after_it_reconnects(
    site_server, run, api, settings
):
    # given a profile-2 station (TLS and Basic auth; the TLS is nginx's, ChargeNet sees the password)
    station = station_make(ocpp_version="2.0.1", security_profile=Station.SecurityProfile.TLS_BASIC)
    priority = [{"component": "OCPPCommCtrlr", "variable": "NetworkConfigurationPriority", "value": "2,1"}]

    async def upgrade():
        async with booted201(site_server, station) as cp:
            # steps 1-6: a new profile in slot 2 with profile 3, the slot first in the priority, a reset
            profile = await post(
                api, station, "network-profile", {"configuration_slot": 2, "security_profile": 3}
            )
            sent_profile = await cp.wait_call("SetNetworkProfile")
            cp.responders["SetVariables"] = lambda p: {
                "setVariableResult": [
                    {"attributeStatus": "Accepted", "component": i["component"], "variable": i["variable"]}
                    for i in p["setVariableData"]
                ]
            }
            await post(api, station, "variables/set", {"variables": priority})
            sent_priority = await cp.wait_call("SetVariables")
            reset = await command_send(station, "Reset", {"type": "Immediate"})
            return profile, sent_profile, sent_priority, reset

    async def reconnect():
        # steps 7-9: the station comes back with its client certificate and boots
        async with with_client_certificate(site_server, station) as cp:
            booted = await cp.ok("BootNotification", BOOT)
            await cp.ok(
                "NotifyEvent",
                {
                    "generatedAt": "2026-01-01T00:00:00Z",
                    "seqNo": 0,
                    "eventData": [
                        {
                            "eventId": 1,
                            "timestamp": "2026-01-01T00:00:00Z",
                            "trigger": "Delta",
                            "actualValue": "Available",
                            "eventNotificationType": "HardWiredNotification",
                            "component": {"name": "Connector", "evse": {"id": 1, "connectorId": 1}},
                            "variable": {"name": "AvailabilityState"},
                        }
                    ],
                },
            )
        # steps 10-11: its old credentials (profile 2) no longer admit it
        try:
            async with station_connection(
                site_server.url, station.identity, PASSWORD, subprotocols=("ocpp2.0.1",)
            ):
                old = 101
        except InvalidStatus as exc:
            old = exc.response.status_code
        # steps 12-13: the client certificate still does
        async with with_client_certificate(site_server, station) as cp:
            again = await cp.ok("Heartbeat", {})
        return booted, old, again

    profile, sent_profile, sent_priority, reset = run(upgrade())
    assert profile.json()["status"] == "accepted"
    data = sent_profile["connectionData"]
    assert sent_profile["configurationSlot"] == 2
    assert (data["securityProfile"], data["ocppTransport"], data["ocppVersion"]) == (3, "JSON", "OCPP20")
    # ChargeNet's own endpoint, over TLS for the new profile (the operator's API call built it)
    assert data["ocppCsmsUrl"] == f"wss://{settings.SITE_URL.split('://', 1)[1]}/ocpp/"
    assert data["messageTimeout"] > 0 and data["ocppInterface"]
    (item,) = sent_priority["setVariableData"]
    assert (item["component"]["name"], item["variable"]["name"]) == (
        "OCPPCommCtrlr",
        "NetworkConfigurationPriority",
    )
    assert "2" in item["attributeValue"].split(",")
    assert reset.status == Command.Status.ACCEPTED
    # the station is still on profile 2 until it proves profile 3
    assert Station.objects.get(pk=station.pk).security_profile == 2

    booted, old, again = run(reconnect())
    assert booted["status"] == "Accepted" and "currentTime" in again
    assert old == 401
    assert Station.objects.get(pk=station.pk).security_profile == Station.SecurityProfile.TLS_CLIENT_CERT
    assert SecurityEvent.objects.filter(station=station, type="MissingClientCertificate").exists()


def test_a_client_certificate_without_an_accepted_profile_3_does_not_change_the_stations_profile(
    site_server, run
):
    station = station_make(ocpp_version="2.0.1", security_profile=Station.SecurityProfile.TLS_BASIC)

    async def scenario():
        try:
            async with with_client_certificate(site_server, station):
                return 101
        except InvalidStatus as exc:
            return exc.response.status_code

    # no password and no agreed upgrade: refused as any profile-2 station without credentials
    assert run(scenario()) == 401
    assert Station.objects.get(pk=station.pk).security_profile == Station.SecurityProfile.TLS_BASIC


# --- M: certificate management ----------------------------------------------------------------------

HASH = {"hashAlgorithm": "SHA256", "issuerNameHash": "aabbccdd" * 8, "issuerKeyHash": "eeff0011" * 8}


@pytest.mark.parametrize(
    "case, certificate_type, answer, status",
    [
        ("TC_M_02", "ManufacturerRootCertificate", "Accepted", "accepted"),
        ("TC_M_03", "V2GRootCertificate", "Accepted", "accepted"),
        ("TC_M_04", "MORootCertificate", "Accepted", "accepted"),
        ("TC_M_05", "CSMSRootCertificate", "Failed", "rejected"),
    ],
)
def test_tc_m_02_to_tc_m_05_a_root_certificate_of_the_type_is_installed_and_the_answer_shown(
    site_server, run, api, station_ca, case, certificate_type, answer, status
):
    station = station_make(ocpp_version="2.0.1")

    async def scenario():
        async with booted201(site_server, station) as cp:
            cp.responders["InstallCertificate"] = {"status": answer}
            command = await post(
                api,
                station,
                "certificates/install",
                {"certificate_type": certificate_type, "certificate": station_ca.pem},
            )
            return command, await cp.wait_call("InstallCertificate")

    command, received = run(scenario())
    assert received["certificateType"] == certificate_type
    assert chain_split(received["certificate"]) == [station_ca.certificate]
    assert command.status_code == 201
    assert command.json()["status"] == status and command.json()["response"] == {"status": answer}


def chain_entry(certificate_type: str, serial: str, children: list[str] = ()) -> dict:
    entry = {"certificateType": certificate_type, "certificateHashData": {**HASH, "serialNumber": serial}}
    if children:
        entry["childCertificateHashData"] = [{**HASH, "serialNumber": child} for child in children]
    return entry


@pytest.mark.parametrize(
    "case, types, chain",
    [
        ("TC_M_12", ["CSMSRootCertificate"], [chain_entry("CSMSRootCertificate", "1a")]),
        ("TC_M_13", ["ManufacturerRootCertificate"], [chain_entry("ManufacturerRootCertificate", "2b")]),
        ("TC_M_14", ["V2GRootCertificate"], [chain_entry("V2GRootCertificate", "3c")]),
        ("TC_M_15", ["V2GCertificateChain"], [chain_entry("V2GCertificateChain", "4d", ["5e", "6f"])]),
        ("TC_M_16", ["MORootCertificate"], [chain_entry("MORootCertificate", "7a")]),
        (
            "TC_M_17",
            ["CSMSRootCertificate", "ManufacturerRootCertificate"],
            [chain_entry("CSMSRootCertificate", "1a"), chain_entry("ManufacturerRootCertificate", "2b")],
        ),
    ],
)
def test_tc_m_12_to_tc_m_17_the_installed_certificates_of_the_asked_types_are_shown_as_reported(
    site_server, run, api, case, types, chain
):
    station = station_make(ocpp_version="2.0.1")
    # a certificate of another type, reported earlier, is not touched by a query for these types
    other = "MORootCertificate" if "MORootCertificate" not in types else "V2GRootCertificate"

    async def scenario():
        async with booted201(site_server, station) as cp:
            cp.responders["GetInstalledCertificateIds"] = {
                "status": "Accepted",
                "certificateHashDataChain": [chain_entry(other, "ff")],
            }
            await post(api, station, "certificates/installed-ids", {"certificate_types": [other]})
            await cp.wait_call("GetInstalledCertificateIds")
            cp.responders["GetInstalledCertificateIds"] = {
                "status": "Accepted",
                "certificateHashDataChain": chain,
            }
            command = await post(api, station, "certificates/installed-ids", {"certificate_types": types})
            return command, await cp.wait_call("GetInstalledCertificateIds")

    command, received = run(scenario())
    assert received == {"certificateType": types}
    assert command.json()["status"] == "accepted"
    shown = {c["serialNumber"]: c for c in installed(api, station)}
    assert set(shown) == {"ff"} | {entry["certificateHashData"]["serialNumber"] for entry in chain}
    for entry in chain:
        row = shown[entry["certificateHashData"]["serialNumber"]]
        assert row["certificateType"] == entry["certificateType"]
        assert row["issuerNameHash"] == HASH["issuerNameHash"]
        # TC_M_15: the V2G chain's sub-CA certificates stay under their leaf (M03.FR.05)
        assert [c["serialNumber"] for c in row.get("childCertificateHashData", [])] == [
            c["serialNumber"] for c in entry.get("childCertificateHashData", [])
        ]
