"""Security profiles 2 and 3 for the tests: a throw-away CA and server certificate, and the shipped
`docs/deploy/nginx.conf` rendered for a test run (only ports, certificate paths, the upstream and
pid/log/temp paths change) and started in the foreground."""

import datetime
import ipaddress
import os
import re
import shutil
import socket
import ssl
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tests.support import REPO, free_port

SHIPPED_CONF = REPO / "docs" / "deploy" / "nginx.conf"


@dataclass
class Certificates:
    ca: Path  # PEM of the CA a station trusts
    cert: Path  # server certificate chain (leaf + CA)
    key: Path


def certificates_make(directory: Path) -> Certificates:
    """A CA and a server certificate for 127.0.0.1 / localhost, RSA 2048 (OCPP-J 1.6 §6.2.1)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ChargeNet test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    paths = Certificates(
        ca=directory / "ca.pem", cert=directory / "fullchain.pem", key=directory / "privkey.pem"
    )
    paths.ca.write_bytes(ca.public_bytes(pem))
    paths.cert.write_bytes(cert.public_bytes(pem) + ca.public_bytes(pem))
    paths.key.write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    paths.key.chmod(0o600)
    return paths


def _substitute(text: str, pattern: str, replacement: str, count: int = 1) -> str:
    """Replace exactly `count` matches, so a change to the shipped file breaks the test loudly
    instead of silently testing something else."""
    new, found = re.subn(pattern, replacement, text, flags=re.MULTILINE)
    if found != count:
        raise AssertionError(
            f"docs/deploy/nginx.conf: expected {count} match(es) of {pattern!r}, found {found}"
        )
    return new


def nginx_conf_render(
    *,
    directory: Path,
    certs: Certificates,
    upstream_port: int,
    http_port: int,
    https_port: int,
    station_ca: Path | None = None,
) -> Path:
    """The shipped server configuration inside a minimal main configuration of our own."""
    site = SHIPPED_CONF.read_text()
    site = _substitute(
        site,
        r"^(\s*)server 127\.0\.0\.1:8001;\n\s*server 127\.0\.0\.1:8002;\n",
        rf"\g<1>server 127.0.0.1:{upstream_port};\n",
    )
    site = _substitute(site, r"listen 80;", f"listen 127.0.0.1:{http_port};")
    site = _substitute(site, r"listen 443 ssl", f"listen 127.0.0.1:{https_port} ssl")
    site = _substitute(site, r"/etc/ssl/chargenet/fullchain\.pem", str(certs.cert))
    site = _substitute(site, r"/etc/ssl/chargenet/privkey\.pem", str(certs.key))
    site = _substitute(site, r"/etc/ssl/chargenet/station-ca\.pem", str(station_ca or certs.ca))
    # Run as whoever runs the tests (as root nginx would switch its workers to `nobody`).
    user = "user root;\n" if os.geteuid() == 0 else ""
    temp = "\n".join(
        f"    {name}_temp_path {directory / name};"
        for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    main = (
        f"{user}daemon off;\nworker_processes 1;\npid {directory / 'nginx.pid'};\n"
        f"error_log {directory / 'error.log'} warn;\n"
        "events { worker_connections 256; }\n"
        f"http {{\n    access_log {directory / 'access.log'};\n{temp}\n\n{site}\n}}\n"
    )
    path = directory / "nginx.conf"
    path.write_text(main)
    return path


@dataclass
class Proxy:
    https_port: int
    http_port: int
    process: subprocess.Popen
    certs: Certificates
    directory: Path

    @property
    def wss_url(self) -> str:
        return f"wss://127.0.0.1:{self.https_port}/ocpp/"

    def client_context(self) -> ssl.SSLContext:
        """What a station configured with our CA uses: verifies the server certificate."""
        context = ssl.create_default_context(cafile=str(self.certs.ca))
        return context


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None
    )


def nginx_start(*, binary: str, directory: Path, upstream_port: int, station_ca: Path | None = None) -> Proxy:
    """nginx with the shipped configuration; `station_ca` is the CA whose client certificates it
    verifies (security profile 3), by default the throw-away server CA."""
    certs = certificates_make(directory)
    http_port, https_port = free_port(), free_port()
    conf = nginx_conf_render(
        directory=directory,
        certs=certs,
        upstream_port=upstream_port,
        http_port=http_port,
        https_port=https_port,
        station_ca=station_ca,
    )
    check = subprocess.run(
        [binary, "-t", "-p", str(directory), "-e", str(directory / "error.log"), "-c", str(conf)],
        capture_output=True,
        text=True,
    )
    if check.returncode != 0:
        raise AssertionError(f"nginx rejected the rendered docs/deploy/nginx.conf:\n{check.stderr}")
    process = subprocess.Popen(
        [binary, "-p", str(directory), "-e", str(directory / "error.log"), "-c", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 15
    while True:
        if process.poll() is not None:
            raise AssertionError(f"nginx exited: {process.stderr.read().decode() if process.stderr else ''}")
        try:
            socket.create_connection(("127.0.0.1", https_port), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                process.kill()
                raise AssertionError("nginx did not start listening") from None
            time.sleep(0.05)
    return Proxy(
        https_port=https_port, http_port=http_port, process=process, certs=certs, directory=directory
    )


def nginx_stop(proxy: Proxy) -> None:
    proxy.process.terminate()
    try:
        proxy.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proxy.process.kill()
        proxy.process.wait()
