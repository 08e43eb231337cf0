"""SignCertificate signed by ChargeNet's CA and CertificateSigned sent back, over a real socket to
the real server, for OCPP 1.6 (security extension, OCTT TC_074) and 2.0.1 (TC_A_11 … TC_A_14)."""

import pytest
from asgiref.sync import sync_to_async
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.x509.oid import NameOID
from django.urls import reverse

from stations.models import Command, IssuedCertificate
from tests.stations.certificates.conftest import ORGANIZATION
from tests.stations.certificates.pki import chain_split, csr_make, station_key
from tests.stations.connection.client import eventually, station_connection
from tests.stations.connection.helpers import PASSWORD, booted, sent_to, station_make

pytestmark = pytest.mark.django_db(transaction=True)

BOOT_201 = {"chargingStation": {"vendorName": "ChargeNet Test", "model": "TS-2"}, "reason": "PowerUp"}


def signed_by(certificate, ca) -> bool:
    ca.certificate.public_key().verify(
        certificate.signature,
        certificate.tbs_certificate_bytes,
        padding.PKCS1v15(),
        certificate.signature_hash_algorithm,
    )
    return True


def test_TC_074_a_1_6_station_gets_its_csr_signed_by_the_csms_ca(pki_server, run, station_ca):
    station = station_make()

    async def scenario():
        async with booted(pki_server, station) as cp:
            command, _ = await sent_to(
                cp, station, "ExtendedTriggerMessage", {"requestedMessage": "SignChargePointCertificate"}
            )
            assert command.status == Command.Status.ACCEPTED
            answer = await cp.ok("SignCertificate", {"csr": csr_make(station.identity, ORGANIZATION)})
            signed = await cp.wait_call("CertificateSigned")
            return answer, signed

    answer, signed = run(scenario())
    # then the CSR was accepted and the signed chain came back: the station's leaf, then the CA
    assert answer == {"status": "Accepted"}
    assert set(signed) == {"certificateChain"}
    leaf, issuer = chain_split(signed["certificateChain"])
    assert leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == station.identity
    assert issuer == station_ca.certificate
    assert signed_by(leaf, station_ca)
    # and the certificate is in the station's inventory with the station's answer
    issued = eventually(
        lambda: IssuedCertificate.objects.filter(station=station, station_answer="Accepted").first()
    )
    assert issued.serial_number == format(leaf.serial_number, "x")
    assert issued.certificate_type == "ChargingStationCertificate"
    assert issued.command.action == "CertificateSigned"
    assert issued.command.status == Command.Status.ACCEPTED


@pytest.mark.parametrize(
    ("csr", "why"),
    [
        (lambda identity: "-----BEGIN CERTIFICATE REQUEST-----\nnot base64\n", "unparseable"),
        (lambda identity: csr_make("SOMEONE-ELSE", ORGANIZATION), "names another station"),
        (lambda identity: csr_make(identity, "Another Operator"), "another organisation"),
        (lambda identity: csr_make(identity, ORGANIZATION, key=station_key("rsa", 1024)), "weak key"),
    ],
)
def test_TC_A_14_a_bad_csr_is_rejected_and_nothing_is_stored_or_sent(pki_server, run, csr, why):
    station = station_make(ocpp_version="2.0.1")

    async def scenario():
        async with station_connection(
            pki_server.url, station.identity, PASSWORD, subprotocols=("ocpp2.0.1",)
        ) as cp:
            assert (await cp.ok("BootNotification", BOOT_201))["status"] == "Accepted"
            answer = await cp.ok("SignCertificate", {"csr": csr(station.identity)})
            await cp.ok("Heartbeat", {})  # anything the CSMS would send has had its chance
            return answer, [name for name, _ in cp.received]

    answer, received = run(scenario())
    assert answer["status"] == "Rejected", why
    assert answer["statusInfo"]["reasonCode"] == "InvalidCSR"
    assert answer["statusInfo"]["additionalInfo"]  # a sentence saying what is wrong
    assert "CertificateSigned" not in received
    assert not IssuedCertificate.objects.filter(station=station).exists()
    assert not Command.objects.filter(station=station, action="CertificateSigned").exists()


def test_TC_A_12_a_2_0_1_v2g_certificate_is_signed_and_the_stations_refusal_is_recorded(
    pki_server, run, station_ca
):
    station = station_make(ocpp_version="2.0.1")

    async def scenario():
        async with station_connection(
            pki_server.url,
            station.identity,
            PASSWORD,
            subprotocols=("ocpp2.0.1",),
            responders={"CertificateSigned": {"status": "Rejected"}},
        ) as cp:
            assert (await cp.ok("BootNotification", BOOT_201))["status"] == "Accepted"
            answer = await cp.ok(
                "SignCertificate",
                {"csr": csr_make(station.identity, ORGANIZATION), "certificateType": "V2GCertificate"},
            )
            return answer, await cp.wait_call("CertificateSigned")

    answer, signed = run(scenario())
    assert answer == {"status": "Accepted"}
    assert signed["certificateType"] == "V2GCertificate"
    leaf, _ = chain_split(signed["certificateChain"])
    assert signed_by(leaf, station_ca)
    issued = eventually(
        lambda: IssuedCertificate.objects.filter(station=station, station_answer="Rejected").first()
    )
    assert issued.certificate_type == "V2GCertificate"
    assert issued.command.status == Command.Status.REJECTED


def test_a_csr_naming_the_stations_serial_number_is_signed(pki_server, run):
    # OCPP 2.0.1 A00.FR.405 puts the station's serial number in the CN; the identity works as well.
    station = station_make(ocpp_version="2.0.1")

    async def scenario():
        async with station_connection(
            pki_server.url, station.identity, PASSWORD, subprotocols=("ocpp2.0.1",)
        ) as cp:
            boot = {**BOOT_201, "chargingStation": {**BOOT_201["chargingStation"], "serialNumber": "SN-4711"}}
            assert (await cp.ok("BootNotification", boot))["status"] == "Accepted"
            return await cp.ok(
                "SignCertificate",
                {"csr": csr_make("SN-4711", ORGANIZATION), "certificateType": "ChargingStationCertificate"},
            )

    assert run(scenario()) == {"status": "Accepted"}
    issued = eventually(lambda: IssuedCertificate.objects.filter(station=station).first())
    assert "CN=SN-4711" in issued.subject


@pytest.mark.parametrize(
    ("version", "trigger", "requested"),
    [
        ("1.6", "ExtendedTriggerMessage", "SignChargePointCertificate"),
        ("2.0.1", "TriggerMessage", "SignChargingStationCertificate"),
    ],
)
def test_an_operator_renews_a_stations_certificate_from_the_station_page(
    pki_server, run, client, operator, station_ca, version, trigger, requested
):
    # given a connected station that answers a trigger for a CSR with a new CSR
    station = station_make(ocpp_version=version)
    client.force_login(operator)

    async def scenario():
        async with station_connection(
            pki_server.url, station.identity, PASSWORD, subprotocols=(f"ocpp{version}",)
        ) as cp:
            boot = await cp.ok(
                "BootNotification",
                BOOT_201 if version == "2.0.1" else {"chargePointVendor": "V", "chargePointModel": "M"},
            )
            assert boot["status"] == "Accepted"
            # when the operator asks for a new certificate on the station page
            await sync_to_async(client.post)(
                reverse("station-certificate-command", args=[station.identity]), {"action": "renew"}
            )
            triggered = await cp.wait_call(trigger)
            signed = await cp.ok("SignCertificate", {"csr": csr_make(station.identity, ORGANIZATION)})
            return triggered, signed, await cp.wait_call("CertificateSigned")

    triggered, signed, chain = run(scenario())
    # then the station was asked, its CSR signed, and the new certificate sent back
    assert triggered == {"requestedMessage": requested}
    assert signed == {"status": "Accepted"}
    leaf, _ = chain_split(chain["certificateChain"])
    assert signed_by(leaf, station_ca)
    eventually(lambda: IssuedCertificate.objects.filter(station=station, station_answer="Accepted").exists())
