"""The certificate authority ChargeNet runs for its stations (pure cryptography, no database).

The CA key and certificate come from OCPP_CA_KEY_FILE / OCPP_CA_CERT_FILE. In the embedded mode,
with neither set, a CA is generated on first use in DATA_DIR/ca (the key readable by its owner only);
several processes may race to create it: the first rename wins and the others read its files.
"""

import base64
import datetime
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.conf import settings

# 1.6 security whitepaper / 2.0.1 A00.FR.3xx: RSA/DSA keys of at least 2048 bits, EC of at least 224.
MIN_RSA_BITS = 2048
MIN_EC_BITS = 224
CA_DAYS = 3650


class CaError(Exception):
    """The CA is not configured or its files cannot be read; the message says which."""


class CsrError(ValueError):
    """A certificate signing request is refused; the message names the problem."""


@dataclass(frozen=True)
class Authority:
    certificate: x509.Certificate
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

    @property
    def pem(self) -> str:
        return self.certificate.public_bytes(serialization.Encoding.PEM).decode()


def _embedded_paths() -> tuple[Path, Path]:
    directory = Path(settings.DATA_DIR) / "ca"
    return directory / "ca.pem", directory / "ca-key.pem"


def _generate(directory: Path) -> None:
    """Write a new CA into `directory` unless another process did so first."""
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".ca-", dir=directory.parent))
    key = ec.generate_private_key(ec.SECP256R1())
    organization = settings.OCPP_CA_ORGANIZATION or "ChargeNet"
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
            x509.NameAttribute(NameOID.COMMON_NAME, f"{organization} station CA"),
        ]
    )
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(ca=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_path = staging / "ca-key.pem"
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    (staging / "ca.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    try:
        staging.rename(directory)  # atomic; fails when another process created the CA first
    except OSError:
        for path in staging.iterdir():
            path.unlink()
        staging.rmdir()


@lru_cache(maxsize=1)
def ca_load() -> Authority:
    """The CA that signs station certificates. Raises CaError when none is configured (production
    without OCPP_CA_CERT_FILE / OCPP_CA_KEY_FILE) or its files are unreadable or do not match."""
    cert_file, key_file = settings.OCPP_CA_CERT_FILE, settings.OCPP_CA_KEY_FILE
    if bool(cert_file) != bool(key_file):
        raise CaError("set both OCPP_CA_CERT_FILE and OCPP_CA_KEY_FILE, or neither")
    if not cert_file:
        if not settings.EMBEDDED:
            raise CaError("no certificate authority configured (OCPP_CA_CERT_FILE, OCPP_CA_KEY_FILE)")
        cert_path, key_path = _embedded_paths()
        if not cert_path.exists():
            _generate(cert_path.parent)
    else:
        cert_path, key_path = Path(cert_file), Path(key_file)
    try:
        certificate = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (OSError, ValueError) as exc:
        raise CaError(f"cannot read the CA files: {exc}") from None
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise CaError("the CA key must be RSA or EC")
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    if key.public_key().public_bytes(
        serialization.Encoding.DER, public
    ) != certificate.public_key().public_bytes(serialization.Encoding.DER, public):
        raise CaError("the CA key does not belong to the CA certificate")
    return Authority(certificate=certificate, key=key)


def _key_usage(*, ca: bool, key_agreement: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=not ca and not key_agreement,
        data_encipherment=False,
        key_agreement=key_agreement,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


PEM_CSR = re.compile(r"-----BEGIN (NEW )?CERTIFICATE REQUEST-----")


def csr_parse(text: str) -> x509.CertificateSigningRequest:
    """A CSR from a station: PEM (RFC 2986, as OCPP asks), or bare base64 DER as some chargers send
    it. Raises CsrError when it is not a CSR or its signature is wrong."""
    raw = (text or "").strip().replace("\\n", "\n")
    try:
        if PEM_CSR.search(raw):
            csr = x509.load_pem_x509_csr(raw.encode())
        else:
            csr = x509.load_der_x509_csr(base64.b64decode("".join(raw.split()), validate=True))
    except (ValueError, TypeError):
        raise CsrError("the CSR is not a PEM-encoded PKCS#10 certificate signing request") from None
    if not csr.is_signature_valid:
        raise CsrError("the CSR's signature does not match its public key")
    return csr


def name_attribute(name: x509.Name, oid: x509.ObjectIdentifier) -> str:
    values = name.get_attributes_for_oid(oid)
    return str(values[0].value) if values else ""


def csr_check(csr: x509.CertificateSigningRequest, *, names: set[str]) -> None:
    """Refuse a CSR whose key is too weak or whose subject does not name the station: its CN must be
    one of `names` (the station's identity or serial number) and, when OCPP_CA_ORGANIZATION is set,
    its O must equal it (2.0.1 A02.FR.06 / A00.FR.404-405; 1.6 security whitepaper A02)."""
    key = csr.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < MIN_RSA_BITS:
            raise CsrError(f"the RSA key has {key.key_size} bits; at least {MIN_RSA_BITS} are required")
    elif isinstance(key, ec.EllipticCurvePublicKey):
        if key.curve.key_size < MIN_EC_BITS:
            raise CsrError(f"the EC key has {key.curve.key_size} bits; at least {MIN_EC_BITS} are required")
    else:
        raise CsrError("the CSR's key must be RSA or EC")
    common_name = name_attribute(csr.subject, NameOID.COMMON_NAME)
    if common_name not in names:
        raise CsrError(f"the CSR's CN {common_name!r} does not name the station")
    organization = name_attribute(csr.subject, NameOID.ORGANIZATION_NAME)
    if settings.OCPP_CA_ORGANIZATION and organization != settings.OCPP_CA_ORGANIZATION:
        raise CsrError(f"the CSR's O {organization!r} is not {settings.OCPP_CA_ORGANIZATION!r}")


def certificate_issue(
    csr: x509.CertificateSigningRequest, *, authority: Authority, v2g: bool = False, crl_url: str = ""
) -> x509.Certificate:
    """Sign `csr` (already checked) with the CA: a leaf for TLS client authentication (and, for a
    V2G certificate, server authentication towards the EV), valid OCPP_CERTIFICATE_DAYS, naming
    `crl_url` (when given) as its CRL distribution point (RFC 5280 4.2.1.13)."""
    now = datetime.datetime.now(datetime.UTC)
    key = csr.public_key()
    usages = [ExtendedKeyUsageOID.CLIENT_AUTH] + ([ExtendedKeyUsageOID.SERVER_AUTH] if v2g else [])
    not_after = min(
        now + datetime.timedelta(days=settings.OCPP_CERTIFICATE_DAYS),
        authority.certificate.not_valid_after_utc,
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(csr.subject)
        .issuer_name(authority.certificate.subject)
        .public_key(key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            _key_usage(ca=False, key_agreement=isinstance(key, ec.EllipticCurvePublicKey)), critical=True
        )
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(authority.key.public_key()), critical=False
        )
    )
    if crl_url:
        point = x509.DistributionPoint(
            full_name=[x509.UniformResourceIdentifier(crl_url)],
            relative_name=None,
            reasons=None,
            crl_issuer=None,
        )
        builder = builder.add_extension(x509.CRLDistributionPoints([point]), critical=False)
    return builder.sign(authority.key, hashes.SHA256())


def certificate_pem(certificate: x509.Certificate) -> str:
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def serial_hex(serial: int) -> str:
    """A serial number as OCPP's certificateHashData spells it: hex, lower case, no leading zeros."""
    return format(serial, "x")


def subject_parse(dn: str) -> x509.Name | None:
    """The subject a TLS proxy passed (RFC 2253 / 4514, as nginx's $ssl_client_s_dn), or None."""
    try:
        return x509.Name.from_rfc4514_string(dn)
    except ValueError:
        return None


# The CRL and OCSP answers are good for a day; a station asks again after `nextUpdate`.
REVOCATION_VALIDITY = datetime.timedelta(days=1)
HASH_ALGORITHMS: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    "SHA256": hashes.SHA256,
    "SHA384": hashes.SHA384,
    "SHA512": hashes.SHA512,
}


def crl_build(authority: Authority, revoked: list[tuple[int, datetime.datetime, str]]) -> bytes:
    """The CA's certificate revocation list (DER, RFC 5280) of (serial, revoked at, reason name)."""
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(authority.certificate.subject)
        .last_update(now)
        .next_update(now + REVOCATION_VALIDITY)
    )
    for serial, revoked_at, reason in revoked:
        entry = x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(revoked_at)
        if reason and reason != x509.ReasonFlags.unspecified.name:
            entry = entry.add_extension(x509.CRLReason(x509.ReasonFlags[reason]), critical=False)
        builder = builder.add_revoked_certificate(entry.build())
    return builder.sign(authority.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def issuer_hashes(authority: Authority, algorithm: str) -> tuple[str, str]:
    """(issuerNameHash, issuerKeyHash) in hex of the CA as the issuer, with `algorithm` (SHA256 …)."""
    name = authority.certificate.subject.public_bytes()
    key = authority.certificate.public_key()
    if isinstance(key, ec.EllipticCurvePublicKey):
        bits = key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    else:
        bits = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)

    def digest(data: bytes) -> str:
        h = hashes.Hash(HASH_ALGORITHMS[algorithm]())
        h.update(data)
        return h.finalize().hex()

    return digest(name), digest(bits)


def ocsp_response_build(
    authority: Authority,
    *,
    algorithm: str,
    serial: int,
    revoked: tuple[datetime.datetime, str] | None,
    known: bool,
) -> bytes:
    """A signed OCSP response (DER, RFC 6960) about certificate `serial` of this CA: good, revoked
    (when, why) or unknown."""
    name_hash, key_hash = issuer_hashes(authority, algorithm)
    now = datetime.datetime.now(datetime.UTC)
    status = (
        ocsp.OCSPCertStatus.REVOKED
        if revoked is not None
        else ocsp.OCSPCertStatus.GOOD
        if known
        else ocsp.OCSPCertStatus.UNKNOWN
    )
    builder = ocsp.OCSPResponseBuilder().add_response_by_hash(
        issuer_name_hash=bytes.fromhex(name_hash),
        issuer_key_hash=bytes.fromhex(key_hash),
        serial_number=serial,
        algorithm=HASH_ALGORITHMS[algorithm](),
        cert_status=status,
        this_update=now,
        next_update=now + REVOCATION_VALIDITY,
        revocation_time=revoked[0] if revoked is not None else None,
        revocation_reason=x509.ReasonFlags[revoked[1]] if revoked is not None and revoked[1] else None,
    )
    builder = builder.responder_id(ocsp.OCSPResponderEncoding.HASH, authority.certificate)
    return builder.sign(authority.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)
