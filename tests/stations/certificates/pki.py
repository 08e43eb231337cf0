"""A throw-away PKI for the certificate tests: a CA (key and certificate files, as an operator
configures OCPP_CA_CERT_FILE / OCPP_CA_KEY_FILE), station keys and CSRs, client certificates."""

import datetime
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PEM = serialization.Encoding.PEM


@dataclass
class TestCa:
    __test__ = False
    cert_file: Path
    key_file: Path
    certificate: x509.Certificate
    key: rsa.RSAPrivateKey

    @property
    def pem(self) -> str:
        return self.certificate.public_bytes(PEM).decode()


def _name(common_name: str, organization: str | None = None) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization:
        attributes.insert(0, x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    return x509.Name(attributes)


def ca_make(directory: Path, common_name: str = "Throw-away station CA") -> TestCa:
    now = datetime.datetime.now(datetime.UTC)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = _name(common_name, "ChargeNet Tests")
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    cert_file, key_file = directory / "ca.pem", directory / "ca-key.pem"
    cert_file.write_bytes(certificate.public_bytes(PEM))
    key_file.write_bytes(
        key.private_bytes(PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    key_file.chmod(0o600)
    return TestCa(cert_file=cert_file, key_file=key_file, certificate=certificate, key=key)


def station_key(kind: str = "ec", bits: int = 2048) -> rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey:
    if kind == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def csr_make(common_name: str, organization: str | None = "ChargeNet Tests", key=None) -> str:
    """A PEM CSR as a station builds one (OCPP: CN = the station, O = the operator)."""
    key = key or station_key()
    csr = x509.CertificateSigningRequestBuilder().subject_name(_name(common_name, organization))
    return csr.sign(key, hashes.SHA256()).public_bytes(PEM).decode()


def client_certificate_make(
    ca: TestCa, directory: Path, common_name: str, organization: str = "ChargeNet Tests"
) -> tuple[Path, Path]:
    """A station's TLS client certificate signed by `ca`: (certificate file, key file)."""
    now = datetime.datetime.now(datetime.UTC)
    key = station_key()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name, organization))
        .issuer_name(ca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca.key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    cert_file, key_file = directory / f"{common_name}.pem", directory / f"{common_name}-key.pem"
    cert_file.write_bytes(certificate.public_bytes(PEM))
    key_file.write_bytes(
        key.private_bytes(PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_file, key_file


def chain_split(chain: str) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(chain.encode())
