"""Writes of certificates: signing a station's CSR, the certificate commands an operator sends,
expiry warnings, and the ISO 15118 provider calls (docs/security.md)."""

import base64
import hashlib
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.module_loading import import_string

from rfid.services import AuthorizationDecision
from stations.certificates import ca
from stations.certificates.models import IssuedCertificate
from stations.common import StationError
from stations.connection.services.commands import CommandError, command_create
from stations.connection.services.reports import security_event_record
from stations.models import Command, Station
from stations.sessions.services import station_id_tag_authorize

logger = logging.getLogger(__name__)

V16 = Station.OcppVersion.V16

# Certificate types an operator may install, per version (1.6 security whitepaper; 2.0.1 M01).
INSTALL_TYPES: dict[str, tuple[str, ...]] = {
    "1.6": ("CentralSystemRootCertificate", "ManufacturerRootCertificate"),
    "2.0.1": (
        "CSMSRootCertificate",
        "ManufacturerRootCertificate",
        "V2GRootCertificate",
        "MORootCertificate",
    ),
}
# Types GetInstalledCertificateIds may ask for (2.0.1 adds the V2G chain).
QUERY_TYPES: dict[str, tuple[str, ...]] = {
    "1.6": INSTALL_TYPES["1.6"],
    "2.0.1": (*INSTALL_TYPES["2.0.1"], "V2GCertificateChain"),
}
# One name for the CSMS root across versions: an operator may use either spelling.
_SPELLING = {
    "1.6": {"CSMSRootCertificate": "CentralSystemRootCertificate"},
    "2.0.1": {"CentralSystemRootCertificate": "CSMSRootCertificate"},
}
HASH_ALGORITHMS = ("SHA256", "SHA384", "SHA512")
# The renewal of a 2.0.1 station's combined charging-station and V2G certificate.
COMBINED = "Combined"


@dataclass(frozen=True)
class SignResult:
    """The answer to a SignCertificate: Accepted (a CertificateSigned command is queued) or Rejected
    with a short reason code and a sentence."""

    status: str
    reason_code: str = ""
    reason: str = ""
    certificate: IssuedCertificate | None = None


def certificate_sign_request(*, station_id: int, csr: str, certificate_type: str | None = None) -> SignResult:
    """Check a station's CSR and, when it is sound, sign it with ChargeNet's CA and queue the
    CertificateSigned command with the chain (leaf + CA), both in one transaction.

    A CSR that cannot be parsed, has a wrong signature, a weak key, or a subject that does not name
    the station (CN = identity or serial number; O = OCPP_CA_ORGANIZATION when set) is Rejected and
    nothing is stored; so is every CSR while no CA is configured.
    """
    station = Station.objects.get(pk=station_id)
    try:
        request = ca.csr_parse(csr)
        ca.csr_check(request, names={n for n in (station.identity, station.serial_number) if n})
    except ca.CsrError as exc:
        logger.info("refused the CSR of %s: %s", station.identity, exc)
        return SignResult("Rejected", "InvalidCSR", str(exc))
    try:
        authority = ca.ca_load()
    except ca.CaError as exc:
        logger.warning("cannot sign the CSR of %s: %s", station.identity, exc)
        return SignResult("Rejected", "NoCA", str(exc))
    v2g = certificate_type != IssuedCertificate.Type.CHARGING_STATION
    issued = ca.certificate_issue(request, authority=authority, v2g=v2g, crl_url=crl_url())
    chain = ca.certificate_pem(issued) + authority.pem
    payload: dict[str, Any] = {"certificateChain": chain}
    if station.ocpp_version != V16 and certificate_type:
        payload["certificateType"] = certificate_type
    with transaction.atomic():
        try:
            command = command_create(station=station, action="CertificateSigned", payload=payload)
        except CommandError as exc:  # e.g. a Rejected station: nothing may be sent to it
            return SignResult("Rejected", "NotSent", str(exc))
        certificate = IssuedCertificate.objects.create(
            station=station,
            certificate_type=certificate_type or IssuedCertificate.Type.CHARGING_STATION,
            serial_number=ca.serial_hex(issued.serial_number),
            subject=issued.subject.rfc4514_string()[:255],
            not_before=issued.not_valid_before_utc,
            not_after=issued.not_valid_after_utc,
            certificate=ca.certificate_pem(issued),
            command=command,
        )
    return SignResult("Accepted", certificate=certificate)


def certificate_signed_answer_record(*, command: Command) -> None:
    """Store the station's answer to a CertificateSigned command on the certificate it carried
    (called by command_complete inside its transaction)."""
    answer = str((command.response or {}).get("status") or command.status)[:20]
    IssuedCertificate.objects.filter(command_id=command.pk).update(station_answer=answer)


def _certificate_type(station: Station, certificate_type: str, allowed: dict[str, tuple[str, ...]]) -> str:
    version = station.ocpp_version
    spelled = _SPELLING.get(version, {}).get(certificate_type, certificate_type)
    if spelled not in allowed[version]:
        raise CommandError(
            f"certificate type must be one of {', '.join(allowed[version])} for OCPP {version} stations"
        )
    return spelled


def certificate_install(
    *, station: Station, certificate_type: str, certificate: str, requested_by: Any = None
) -> Command:
    """Queue InstallCertificate: a root certificate (PEM) of `certificate_type` for the station to
    trust. Raises CommandError for a type the station's version lacks or text that is no certificate."""
    spelled = _certificate_type(station, certificate_type, INSTALL_TYPES)
    try:
        x509.load_pem_x509_certificate((certificate or "").strip().encode())
    except ValueError:
        raise CommandError("the certificate must be one PEM-encoded X.509 certificate") from None
    return command_create(
        station=station,
        action="InstallCertificate",
        payload={"certificateType": spelled, "certificate": certificate.strip()},
        requested_by=requested_by,
    )


def certificate_ids_get(
    *, station: Station, certificate_types: list[str] | None = None, requested_by: Any = None
) -> Command:
    """Queue GetInstalledCertificateIds; the answer replaces the station's certificate inventory
    of those types. OCPP 1.6 asks for exactly one type; 2.0.1 for several or (none given) all."""
    types = [_certificate_type(station, t, QUERY_TYPES) for t in certificate_types or []]
    if station.ocpp_version == V16:
        if len(types) != 1:
            raise CommandError("OCPP 1.6 stations are asked for exactly one certificate type")
        payload: dict[str, Any] = {"certificateType": types[0]}
    else:
        payload = {"certificateType": types} if types else {}
    return command_create(
        station=station, action="GetInstalledCertificateIds", payload=payload, requested_by=requested_by
    )


def certificate_renew_request(
    *,
    station: Station,
    certificate_type: str = IssuedCertificate.Type.CHARGING_STATION,
    requested_by: Any = None,
) -> Command:
    """Ask the station to send a new CSR (then signed as any SignCertificate): 1.6
    ExtendedTriggerMessage SignChargePointCertificate, 2.0.1 TriggerMessage
    SignChargingStationCertificate, SignV2GCertificate or (COMBINED) SignCombinedCertificate.
    Raises CommandError for another type."""
    if station.ocpp_version == V16:
        if certificate_type != IssuedCertificate.Type.CHARGING_STATION:
            raise CommandError("OCPP 1.6 stations have only a charge point certificate")
        action, payload = "ExtendedTriggerMessage", {"requestedMessage": "SignChargePointCertificate"}
    else:
        messages: dict[str, str] = {
            IssuedCertificate.Type.CHARGING_STATION: "SignChargingStationCertificate",
            IssuedCertificate.Type.V2G: "SignV2GCertificate",
            # A02/TC_A_13: one certificate for both uses; the CSR then comes without certificateType
            # and is signed for both (certificate_sign_request).
            COMBINED: "SignCombinedCertificate",
        }
        if certificate_type not in messages:
            raise CommandError(f"certificate type must be one of {', '.join(messages)}")
        action, payload = "TriggerMessage", {"requestedMessage": messages[certificate_type]}
    return command_create(station=station, action=action, payload=payload, requested_by=requested_by)


def certificate_delete(*, station: Station, hash_data: dict[str, str], requested_by: Any = None) -> Command:
    """Queue DeleteCertificate for the certificate named by its hash data (hashAlgorithm,
    issuerNameHash, issuerKeyHash, serialNumber), as GetInstalledCertificateIds reported it."""
    fields = ("hashAlgorithm", "issuerNameHash", "issuerKeyHash", "serialNumber")
    missing = [name for name in fields if not str(hash_data.get(name) or "").strip()]
    if missing:
        raise CommandError(f"the certificate hash data lacks {', '.join(missing)}")
    if hash_data["hashAlgorithm"] not in HASH_ALGORITHMS:
        raise CommandError(f"hashAlgorithm must be one of {', '.join(HASH_ALGORITHMS)}")
    payload = {"certificateHashData": {name: str(hash_data[name]).strip() for name in fields}}
    return command_create(
        station=station, action="DeleteCertificate", payload=payload, requested_by=requested_by
    )


def certificate_hash_data(
    certificate: x509.Certificate, *, issuer_key_der: bytes | None = None
) -> dict[str, str]:
    """The SHA256 certificateHashData of a certificate (OCPP's way of naming one): hashes of the
    issuer's DER name and public key, and the serial number. The issuer key is the certificate's own
    when it is self-signed."""
    issuer_name = certificate.issuer.public_bytes()
    key_der = issuer_key_der or _public_key_bits(certificate.public_key())
    return {
        "hashAlgorithm": "SHA256",
        "issuerNameHash": hashlib.sha256(issuer_name).hexdigest(),
        "issuerKeyHash": hashlib.sha256(key_der).hexdigest(),
        "serialNumber": ca.serial_hex(certificate.serial_number),
    }


def _public_key_bits(key: Any) -> bytes:
    """The subjectPublicKey bits (what OCSP's issuerKeyHash hashes): PKCS#1 for RSA, the point for EC."""
    if isinstance(key, ec.EllipticCurvePublicKey):
        return key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    bits: bytes = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
    return bits


def certificate_expiry_check() -> int:
    """Warn once about each issued certificate that expires within
    OCPP_CERTIFICATE_EXPIRY_WARNING_DAYS and has no later successor the station accepted: a security
    event (so an alert on the dashboard, and a mail to who opted in). Returns how many were warned."""
    now = timezone.now()
    soon = now + timedelta(days=settings.OCPP_CERTIFICATE_EXPIRY_WARNING_DAYS)
    warned = 0
    due = IssuedCertificate.objects.filter(not_after__lte=soon, expiry_warned_at__isnull=True).select_related(
        "station"
    )
    for certificate in due:
        renewed = (
            IssuedCertificate.objects.filter(
                station_id=certificate.station_id,
                certificate_type=certificate.certificate_type,
                not_after__gt=soon,
            )
            .exclude(station_answer__in=("Rejected", Command.Status.ERROR))
            .exists()
        )
        with transaction.atomic():
            if not IssuedCertificate.objects.filter(pk=certificate.pk, expiry_warned_at__isnull=True).update(
                expiry_warned_at=now
            ):
                continue  # another run warned first
            if renewed:
                continue
            verb = "expired" if certificate.not_after <= now else "expires"
            security_event_record(
                identity=certificate.station.identity,
                station=certificate.station,
                type="CertificateExpiring",
                tech_info=(
                    f"{certificate.certificate_type} {certificate.serial_number} {verb} "
                    f"{certificate.not_after:%Y-%m-%d %H:%M} UTC"
                ),
            )
            warned += 1
    return warned


# --- ISO 15118: Get15118EVCertificate and GetCertificateStatus ----------------------------------


class CertificateProvider:
    """What answers ISO 15118 certificate requests for ChargeNet: a contract-certificate pool
    (Get15118EVCertificate) and an OCSP responder (GetCertificateStatus). Name a subclass in
    OCPP_CERTIFICATE_PROVIDER. Each method returns the response payload in OCPP's camelCase."""

    def ev_certificate(
        self, *, station: Station, schema_version: str, action: str, exi_request: str
    ) -> dict[str, Any]:
        raise NotImplementedError

    def certificate_status(self, *, station: Station, ocsp_request: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError


def _failed(reason: str, code: str = "NotConfigured") -> dict[str, Any]:
    return {"status": "Failed", "statusInfo": {"reasonCode": code[:20], "additionalInfo": reason[:512]}}


def _provider() -> CertificateProvider | None:
    path = settings.OCPP_CERTIFICATE_PROVIDER
    return import_string(path)() if path else None


def ev_certificate_get(
    *, station_id: int, schema_version: str, action: str, exi_request: str
) -> dict[str, Any]:
    """Answer a 2.0.1 Get15118EVCertificate through the configured provider: its answer, or Failed
    with a reason ("not configured" when OCPP_CERTIFICATE_PROVIDER is empty, or the provider failed)."""
    provider = _provider()
    if provider is None:
        return {
            **_failed("not configured: no ISO 15118 certificate provider (OCPP_CERTIFICATE_PROVIDER)"),
            "exiResponse": "",
        }
    station = Station.objects.get(pk=station_id)
    try:
        answer = provider.ev_certificate(
            station=station, schema_version=schema_version, action=action, exi_request=exi_request
        )
    except Exception as exc:
        logger.warning("the certificate provider failed for %s: %s", station.identity, exc, exc_info=True)
        return {**_failed(f"the certificate provider failed: {exc}", "ProviderError"), "exiResponse": ""}
    return answer


REVOCATION_REASONS = frozenset(
    {"unspecified", "key_compromise", "affiliation_changed", "superseded", "cessation_of_operation"}
)


def certificate_revoke(*, certificate: IssuedCertificate, reason: str = "unspecified") -> IssuedCertificate:
    """Revoke a certificate ChargeNet's CA issued: from now on the CRL lists it and GetCertificateStatus
    answers it revoked. Revoking twice keeps the first time and reason. Raises StationError for an
    unknown reason."""
    if reason not in REVOCATION_REASONS:
        raise StationError(f"the reason must be one of {', '.join(sorted(REVOCATION_REASONS))}")
    now = timezone.now()
    # A conditional update: two operators revoking at once keep the first time and reason.
    IssuedCertificate.objects.filter(pk=certificate.pk, revoked_at__isnull=True).update(
        revoked_at=now, revocation_reason=reason
    )
    certificate.refresh_from_db()
    return certificate


def crl_url() -> str:
    """The absolute URL of the CA's CRL (GET /pki/crl) under SITE_URL, as issued certificates name it
    in their CRL distribution point."""
    return settings.SITE_URL + reverse("certificate-revocation-list")


def crl_get() -> bytes:
    """The CRL of ChargeNet's CA (DER) with every certificate revoked so far. Raises ca.CaError
    when no CA is configured."""
    revoked = IssuedCertificate.objects.filter(revoked_at__isnull=False).order_by("revoked_at")
    rows = [(int(c.serial_number, 16), c.revoked_at, c.revocation_reason) for c in revoked if c.revoked_at]
    return ca.crl_build(ca.ca_load(), rows)


def _own_certificate_status(ocsp_request: dict[str, Any]) -> dict[str, Any] | None:
    """GetCertificateStatus about a certificate ChargeNet's CA issued, answered from its records with
    an OCSP response the CA signs; None when the request names another issuer (or there is no CA)."""
    algorithm = str(ocsp_request.get("hashAlgorithm") or "")
    if algorithm not in ca.HASH_ALGORITHMS:
        return None
    try:
        authority = ca.ca_load()
    except ca.CaError:
        return None
    name_hash, key_hash = ca.issuer_hashes(authority, algorithm)
    if (
        str(ocsp_request.get("issuerNameHash", "")).lower(),
        str(ocsp_request.get("issuerKeyHash", "")).lower(),
    ) != (
        name_hash,
        key_hash,
    ):
        return None
    try:
        serial = int(str(ocsp_request.get("serialNumber", "")), 16)
    except ValueError:
        return _failed("the serial number is not hexadecimal", "InvalidRequest")
    issued = IssuedCertificate.objects.filter(serial_number=ca.serial_hex(serial)).first()
    revoked = (issued.revoked_at, issued.revocation_reason) if issued and issued.revoked_at else None
    der = ca.ocsp_response_build(
        authority, algorithm=algorithm, serial=serial, revoked=revoked, known=issued is not None
    )
    return {"status": "Accepted", "ocspResult": base64.b64encode(der).decode()}


def certificate_status_get(*, station_id: int, ocsp_request: dict[str, Any]) -> dict[str, Any]:
    """Answer a 2.0.1 GetCertificateStatus: about a certificate of ChargeNet's own CA from its records
    (a signed OCSP response: good, revoked or unknown); about any other through the configured
    provider (OCSP), or Failed with a reason, as ev_certificate_get."""
    own = _own_certificate_status(ocsp_request)
    if own is not None:
        return own
    provider = _provider()
    if provider is None:
        return _failed("not configured: no OCSP provider (OCPP_CERTIFICATE_PROVIDER)")
    station = Station.objects.get(pk=station_id)
    try:
        return provider.certificate_status(station=station, ocsp_request=ocsp_request)
    except Exception as exc:
        logger.warning("the OCSP provider failed for %s: %s", station.identity, exc, exc_info=True)
        return _failed(f"the OCSP provider failed: {exc}", "ProviderError")


# --- ISO 15118: the contract certificate of an Authorize (2.0.1 C07) -----------------------------


def _ocsp_verdict(ocsp_request: dict[str, Any], *, station_id: int) -> str | None:
    """What the OCSP data of one certificate says: Accepted (good), CertificateRevoked, or None when
    nobody ChargeNet trusts can tell (another issuer and no provider, an unknown serial, a failure)."""
    answer = _own_certificate_status(ocsp_request)
    if answer is None:
        provider = _provider()
        if provider is None:
            return None
        try:
            answer = provider.certificate_status(
                station=Station.objects.get(pk=station_id), ocsp_request=ocsp_request
            )
        except Exception as exc:
            logger.warning("the OCSP provider failed on a contract certificate: %s", exc, exc_info=True)
            return None
    if answer.get("status") != "Accepted":
        return None
    try:
        response = ocsp.load_der_ocsp_response(base64.b64decode(str(answer.get("ocspResult") or "")))
        # The answer comes from ChargeNet's own CA or its configured provider, both trusted.
        cert_status = response.certificate_status
    except ValueError:
        return None
    if cert_status == ocsp.OCSPCertStatus.REVOKED:
        return "CertificateRevoked"
    return "Accepted" if cert_status == ocsp.OCSPCertStatus.GOOD else None


def _chain_hash_data(certificate: str) -> tuple[str | None, dict[str, str] | None]:
    """Central validation (C07, certificate sent): (a failing certificateStatus, or None; the OCSP
    data of the leaf). The leaf must be in its validity period and signed by ChargeNet's CA or by
    the next certificate of the chain sent with it."""
    try:
        chain = x509.load_pem_x509_certificates(certificate.encode())
    except ValueError:
        return "CertChainError", None
    leaf, now = chain[0], timezone.now()
    if not leaf.not_valid_before_utc <= now <= leaf.not_valid_after_utc:
        return "CertificateExpired", None
    issuers = list(chain[1:])
    try:
        issuers.insert(0, ca.ca_load().certificate)
    except ca.CaError:
        pass
    for issuer in issuers:
        if issuer.subject != leaf.issuer:
            continue
        try:
            leaf.verify_directly_issued_by(issuer)
        except (ValueError, TypeError, InvalidSignature):
            continue
        return None, certificate_hash_data(leaf, issuer_key_der=_public_key_bits(issuer.public_key()))
    return "CertChainError", None


@transaction.atomic
def contract_authorize(
    *, station_id: int, uid: str, certificate: str = "", hash_data: list[dict[str, Any]] | None = None
) -> tuple[AuthorizationDecision, str | None]:
    """Authorize an eMAID presented with its ISO 15118 contract certificate (C07): the certificate
    (the chain, checked here: central validation) or its OCSP data (the station checked the chain:
    local validation) is checked for revocation with ChargeNet's CA records or the OCSP provider.
    Returns (the decision, certificateStatus or None when ChargeNet cannot tell); a certificate
    found bad makes the decision Invalid whatever the card's own status."""
    failure, leaf_data = _chain_hash_data(certificate) if certificate else (None, None)
    requests = [leaf_data] if leaf_data else [dict(item) for item in hash_data or []]
    verdicts = [] if failure else [_ocsp_verdict(request, station_id=station_id) for request in requests]
    status = failure or next((v for v in verdicts if v and v != "Accepted"), None)
    if status is None and verdicts and all(v == "Accepted" for v in verdicts):
        status = "Accepted"
    if status is not None and status != "Accepted":
        return AuthorizationDecision(status="Invalid", reason=f"contract certificate: {status}"), status
    decision = station_id_tag_authorize(station_id=station_id, uid=uid, concurrency="other_stations")
    return decision, status
