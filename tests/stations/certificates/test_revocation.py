"""Revocation of the certificates ChargeNet's own CA issues, over a real socket and HTTP: an operator
revokes one through the API, the CA's CRL lists it, and a 2.0.1 station's GetCertificateStatus about
it is answered from ChargeNet's records with an OCSP response the CA signs (good before, revoked
after, unknown for a serial the CA never issued)."""

import asyncio
import base64
import hashlib
import json
import urllib.error
import urllib.request

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.x509 import ocsp

from chargenet.api.services import api_key_create
from stations.models import IssuedCertificate
from tests.stations.certificates.conftest import ORGANIZATION
from tests.stations.certificates.pki import chain_split, csr_make
from tests.stations.certificates.test_sign_certificate import BOOT_201
from tests.stations.connection.client import eventually, station_connection
from tests.stations.connection.helpers import PASSWORD, station_make

pytestmark = pytest.mark.django_db(transaction=True)


def http(base_url: str, path: str, *, key: str | None = None, body: dict | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(
        f"{base_url}{path}",
        method="POST" if body is not None else "GET",
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Content-Type": "application/json", **({"Authorization": f"Token {key}"} if key else {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def status_request(ca_certificate: x509.Certificate, serial: int) -> dict:
    """The ocspRequestData a station sends about a certificate of that CA (SHA256 hashes)."""
    key_bits = ca_certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.PKCS1
    )
    return {
        "hashAlgorithm": "SHA256",
        "issuerNameHash": hashlib.sha256(ca_certificate.subject.public_bytes()).hexdigest(),
        "issuerKeyHash": hashlib.sha256(key_bits).hexdigest(),
        "serialNumber": format(serial, "x"),
        "responderURL": "http://ocsp.example.invalid/",
    }


def ocsp_answer(answer: dict, ca_certificate: x509.Certificate) -> ocsp.OCSPResponse:
    """The OCSP response in a GetCertificateStatus answer, its signature checked against the CA."""
    assert answer["status"] == "Accepted", answer
    response = ocsp.load_der_ocsp_response(base64.b64decode(answer["ocspResult"]))
    assert response.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
    ca_certificate.public_key().verify(
        response.signature, response.tbs_response_bytes, padding.PKCS1v15(), response.signature_hash_algorithm
    )
    return response


def test_a_revoked_certificate_is_in_the_crl_and_its_status_is_answered_revoked(
    pki_server, run, station_ca, operator
):
    # given a 2.0.1 station holding a certificate ChargeNet's CA issued
    station = station_make(ocpp_version="2.0.1")
    key = api_key_create(user=operator, name="pki", role="operate")[1]
    base = pki_server.base_url

    async def scenario():
        async with station_connection(
            pki_server.url, station.identity, PASSWORD, subprotocols=("ocpp2.0.1",)
        ) as cp:
            assert (await cp.ok("BootNotification", BOOT_201))["status"] == "Accepted"
            await cp.ok("SignCertificate", {"csr": csr_make(station.identity, ORGANIZATION)})
            leaf, _ = chain_split((await cp.wait_call("CertificateSigned"))["certificateChain"])
            before = await cp.ok(
                "GetCertificateStatus",
                {"ocspRequestData": status_request(station_ca.certificate, leaf.serial_number)},
            )
            # when an operator revokes it (key compromised)
            await asyncio.to_thread(
                eventually, lambda: IssuedCertificate.objects.filter(station=station).exists()
            )
            serial = format(leaf.serial_number, "x")
            revoked = await asyncio.to_thread(
                http, base, f"/api/v1/stations/{station.identity}/certificates/{serial}/revoke/",
                key=key, body={"reason": "key_compromise"},
            )  # fmt: skip
            after = await cp.ok(
                "GetCertificateStatus",
                {"ocspRequestData": status_request(station_ca.certificate, leaf.serial_number)},
            )
            unknown = await cp.ok(
                "GetCertificateStatus", {"ocspRequestData": status_request(station_ca.certificate, 12345)}
            )
            return leaf, before, revoked, after, unknown

    leaf, before, revoked, after, unknown = run(scenario())
    # then before the revocation the CA vouched for it
    assert ocsp_answer(before, station_ca.certificate).certificate_status == ocsp.OCSPCertStatus.GOOD
    # and the API shows it revoked
    assert revoked[0] == 200, revoked
    assert json.loads(revoked[1])["revocation_reason"] == "key_compromise"
    # and afterwards the station is told it is revoked, and why
    response = ocsp_answer(after, station_ca.certificate)
    assert response.certificate_status == ocsp.OCSPCertStatus.REVOKED
    assert response.revocation_reason == x509.ReasonFlags.key_compromise
    assert response.serial_number == leaf.serial_number
    # and a serial the CA never issued is unknown
    assert ocsp_answer(unknown, station_ca.certificate).certificate_status == ocsp.OCSPCertStatus.UNKNOWN
    # and the CA's CRL lists it, signed by the CA
    status, body = http(base, "/pki/crl")
    assert status == 200
    crl = x509.load_der_x509_crl(body)
    assert crl.issuer == station_ca.certificate.subject
    assert crl.is_signature_valid(station_ca.certificate.public_key())
    entry = crl.get_revoked_certificate_by_serial_number(leaf.serial_number)
    assert entry is not None
    assert (
        entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
        == x509.ReasonFlags.key_compromise
    )


def test_revoking_refuses_an_unknown_reason_or_serial_and_changes_nothing(pki_server, operator):
    station = station_make(ocpp_version="2.0.1")
    key = api_key_create(user=operator, name="pki", role="operate")[1]
    base = pki_server.base_url

    status, _ = http(
        base, f"/api/v1/stations/{station.identity}/certificates/abc123/revoke/", key=key, body={}
    )
    assert status == 404
    status, body = http(
        base,
        f"/api/v1/stations/{station.identity}/certificates/abc123/revoke/",
        key=key,
        body={"reason": "bored"},
    )
    assert status == 400 and b"reason" in body
    # the CRL is still empty
    assert list(x509.load_der_x509_crl(http(base, "/pki/crl")[1])) == []


def test_a_certificate_of_another_issuer_still_goes_to_the_provider(pki_server, run):
    station = station_make(ocpp_version="2.0.1")
    foreign = {
        "hashAlgorithm": "SHA256",
        "issuerNameHash": "00" * 32,
        "issuerKeyHash": "11" * 32,
        "serialNumber": "abc",
        "responderURL": "http://ocsp.example.invalid/",
    }

    async def scenario():
        async with station_connection(
            pki_server.url, station.identity, PASSWORD, subprotocols=("ocpp2.0.1",)
        ) as cp:
            assert (await cp.ok("BootNotification", BOOT_201))["status"] == "Accepted"
            return await cp.ok("GetCertificateStatus", {"ocspRequestData": foreign})

    answer = run(scenario())
    # the test double of the provider answers (tests/stations/certificates/provider.py), not the CA
    assert answer == {"status": "Accepted", "ocspResult": "good:abc"}
