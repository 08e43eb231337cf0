"""Security profiles 2 and 3 end to end: a station on wss:// with HTTP Basic auth (profile 2, OCTT
TC_086) or a TLS client certificate (profile 3, TC_087 / TC_A_07 / TC_A_08) through nginx running
the shipped `docs/deploy/nginx.conf`, to the real ASGI server."""

import asyncio
import socket
import ssl

import pytest
import websockets
from websockets.asyncio.client import connect

from stations.models import Command, SecurityEvent, Station
from tests.stations.certificates.pki import ca_make, client_certificate_make
from tests.stations.connection.client import BOOT, basic_auth, station_connection
from tests.stations.connection.helpers import PASSWORD, command_send, station_make
from tests.stations.connection.tls import nginx_binary, nginx_start, nginx_stop

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def station_ca(tmp_path_factory):
    """The throw-away CA that issues the stations' client certificates (profile 3)."""
    return ca_make(tmp_path_factory.mktemp("station-ca"))


@pytest.fixture(scope="module")
def tls_proxy(ocpp_server, tmp_path_factory, station_ca):
    binary = nginx_binary()
    if binary is None:
        pytest.skip("nginx is not installed (apt-get install -y nginx); the TLS tests need it")
    upstream_port = int(ocpp_server.base_url.rsplit(":", 1)[1])
    proxy = nginx_start(
        binary=binary,
        directory=tmp_path_factory.mktemp("nginx"),
        upstream_port=upstream_port,
        station_ca=station_ca.cert_file,
    )
    yield proxy
    nginx_stop(proxy)


def tls_handshake(port: int, context: ssl.SSLContext) -> tuple[str | None, str | None]:
    """(protocol version, cipher) the server agrees to with this client context."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname="localhost") as tls:
            cipher = tls.cipher()
            return tls.version(), cipher[0] if cipher else None


def test_TC_086_a_station_on_wss_with_basic_auth_boots_talks_and_receives_a_command(tls_proxy, run):
    station = station_make()

    async def scenario():
        async with station_connection(
            tls_proxy.wss_url, station.identity, PASSWORD, ssl=tls_proxy.client_context()
        ) as cp:
            # the station verified the server certificate and negotiated OCPP 1.6 through the proxy
            assert cp.ws.subprotocol == "ocpp1.6"
            assert (await cp.boot())["status"] == "Accepted"
            assert (await cp.call("Heartbeat", {}))[0] == 3
            status = {"connectorId": 1, "errorCode": "NoError", "status": "Available"}
            assert (await cp.call("StatusNotification", status))[0] == 3
            authorize = await cp.ok("Authorize", {"idTag": "UNKNOWN-TAG"})
            assert authorize["idTagInfo"]["status"] == "Invalid"
            # a command from the CSMS reaches the station through nginx and its answer comes back
            cp.responders["GetConfiguration"] = {"configurationKey": [], "unknownKey": ["Foo"]}
            command = await command_send(station, "GetConfiguration", {"key": ["Foo"]})
            assert await cp.wait_call("GetConfiguration") == {"key": ["Foo"]}
            return command

    command = run(scenario())
    assert command.status == Command.Status.ACCEPTED
    assert command.response == {"configurationKey": [], "unknownKey": ["Foo"]}


def test_a_wrong_password_is_refused_through_the_proxy(tls_proxy, run):
    station = station_make()

    async def attempt(password: str) -> int:
        try:
            async with connect(
                tls_proxy.wss_url + station.identity,
                subprotocols=["ocpp1.6"],
                additional_headers={"Authorization": basic_auth(station.identity, password)},
                ssl=tls_proxy.client_context(),
                open_timeout=10,
            ):
                return 101
        except websockets.InvalidStatus as exc:
            return exc.response.status_code

    assert run(attempt("not-the-password-1")) in (401, 403)
    assert run(attempt(PASSWORD)) == 101  # the same request with the right password gets in


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion:DeprecationWarning")
def test_the_proxy_refuses_tls_1_1_and_serves_tls_1_2_with_an_ocpp_cipher(tls_proxy):
    # a client that would accept TLS 1.1 and any cipher (security level 0), capped at 1.1 …
    old = tls_proxy.client_context()
    old.minimum_version = ssl.TLSVersion.TLSv1
    old.maximum_version = ssl.TLSVersion.TLSv1_1
    old.set_ciphers("ALL:@SECLEVEL=0")
    with pytest.raises(ssl.SSLError):
        tls_handshake(tls_proxy.https_port, old)
    # … and the same client allowed TLS 1.2 gets one of the suites OCPP requires (A00.FR.318)
    tls12 = tls_proxy.client_context()
    tls12.minimum_version = ssl.TLSVersion.TLSv1
    tls12.maximum_version = ssl.TLSVersion.TLSv1_2
    tls12.set_ciphers("ALL:@SECLEVEL=0")
    version, cipher = tls_handshake(tls_proxy.https_port, tls12)
    assert version == "TLSv1.2"
    assert cipher in {
        "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDHE-RSA-AES256-GCM-SHA384",
        "AES128-GCM-SHA256",
        "AES256-GCM-SHA384",
    }


def test_a_station_that_does_not_trust_the_certificate_does_not_connect(tls_proxy, run):
    station = station_make()

    async def scenario():
        with pytest.raises(ssl.SSLCertVerificationError):
            async with station_connection(
                tls_proxy.wss_url, station.identity, PASSWORD, ssl=ssl.create_default_context()
            ):
                pass

    run(scenario())


def test_the_plain_http_port_redirects_to_https(tls_proxy, run):
    async def scenario():
        reader, writer = await asyncio.open_connection("127.0.0.1", tls_proxy.http_port)
        writer.write(b"GET /ocpp/CP-1 HTTP/1.1\r\nHost: csms.example.com\r\nConnection: close\r\n\r\n")
        await writer.drain()
        head = (await reader.read(4096)).decode()
        writer.close()
        return head

    head = run(scenario())
    assert head.startswith("HTTP/1.1 301")
    assert "Location: https://csms.example.com/ocpp/CP-1" in head


# --- Security profile 3: TLS client certificates -------------------------------------------------

BOOT_201 = {"chargingStation": {"vendorName": "ChargeNet Test", "model": "TS-2"}, "reason": "PowerUp"}
SUBPROTOCOL = {"1.6": "ocpp1.6", "2.0.1": "ocpp2.0.1"}


def profile3_context(proxy, certificate: tuple | None) -> ssl.SSLContext:
    """A station's TLS context: trusts the server's CA and, if given, presents its certificate."""
    context = proxy.client_context()
    if certificate is not None:
        context.load_cert_chain(certfile=str(certificate[0]), keyfile=str(certificate[1]))
    return context


async def handshake_status(
    proxy, identity: str, version: str, context: ssl.SSLContext, **headers: str
) -> int:
    """101 when the station got in (and was answered at boot), else the HTTP status it was refused with."""
    try:
        async with connect(
            proxy.wss_url + identity,
            subprotocols=[SUBPROTOCOL[version]],
            additional_headers=headers,
            ssl=context,
            open_timeout=10,
        ):
            return 101
    except websockets.InvalidStatus as exc:
        return exc.response.status_code


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
def test_TC_087_TC_A_07_a_profile_3_station_connects_with_its_client_certificate_and_no_password(
    tls_proxy, station_ca, tmp_path, run, version
):
    # given a profile-3 station whose certificate (CN = its identity) our station CA issued
    station = station_make(ocpp_version=version, security_profile=Station.SecurityProfile.TLS_CLIENT_CERT)
    certificate = client_certificate_make(station_ca, tmp_path, station.identity)

    async def scenario():
        async with station_connection(
            tls_proxy.wss_url,
            station.identity,
            None,  # profile 3 sends no Basic-auth header
            subprotocols=(SUBPROTOCOL[version],),
            ssl=profile3_context(tls_proxy, certificate),
        ) as cp:
            boot = await cp.ok("BootNotification", BOOT if version == "1.6" else BOOT_201)
            return cp.ws.subprotocol, boot["status"]

    # then it is let in, speaks its version and boots
    assert run(scenario()) == (SUBPROTOCOL[version], "Accepted")


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
def test_a_profile_3_station_without_a_client_certificate_is_refused_even_with_the_right_password(
    tls_proxy, run, version
):
    station = station_make(ocpp_version=version, security_profile=Station.SecurityProfile.TLS_CLIENT_CERT)
    status = run(
        handshake_status(
            tls_proxy,
            station.identity,
            version,
            profile3_context(tls_proxy, None),
            Authorization=basic_auth(station.identity, PASSWORD),
        )
    )
    assert status == 401
    event = SecurityEvent.objects.get(station=station)
    assert event.type == "MissingClientCertificate"


def test_a_client_certificate_naming_another_station_is_refused(tls_proxy, station_ca, tmp_path, run):
    station = station_make(security_profile=Station.SecurityProfile.TLS_CLIENT_CERT)
    neighbour = client_certificate_make(station_ca, tmp_path, "SOMEONE-ELSE")
    status = run(handshake_status(tls_proxy, station.identity, "1.6", profile3_context(tls_proxy, neighbour)))
    assert status == 401
    event = SecurityEvent.objects.get(station=station)
    assert (event.type, "SOMEONE-ELSE" in event.tech_info) == ("InvalidClientCertificate", True)


def test_TC_A_08_a_client_certificate_from_an_unknown_ca_is_refused_by_the_proxy(tls_proxy, tmp_path, run):
    station = station_make(security_profile=Station.SecurityProfile.TLS_CLIENT_CERT)
    stranger = ca_make(tmp_path / "stranger")
    forged = client_certificate_make(stranger, tmp_path / "forged", station.identity)

    async def attempt():
        try:
            return await handshake_status(
                tls_proxy, station.identity, "1.6", profile3_context(tls_proxy, forged)
            )
        except (ssl.SSLError, ConnectionError, websockets.InvalidHandshake):
            return "refused in TLS"

    result = run(attempt())
    assert result in (400, "refused in TLS")  # nginx: "The SSL certificate error"
    assert not Station.objects.get(pk=station.pk).is_online


def test_headers_a_station_sends_itself_are_overwritten_by_the_proxy(tls_proxy, run):
    # a station without a certificate claims a verified one in the proxy's own headers
    station = station_make(security_profile=Station.SecurityProfile.TLS_CLIENT_CERT)
    forged = {"X-SSL-Client-Verify": "SUCCESS", "X-SSL-Client-S-DN": f"CN={station.identity}"}
    status = run(
        handshake_status(tls_proxy, station.identity, "1.6", profile3_context(tls_proxy, None), **forged)
    )
    assert status == 401


def test_a_profile_2_station_is_unaffected_by_a_client_certificate_it_presents(
    tls_proxy, station_ca, tmp_path, run
):
    station = station_make()  # profile 1/2: Basic auth decides
    certificate = client_certificate_make(station_ca, tmp_path, station.identity)
    context = profile3_context(tls_proxy, certificate)
    assert run(handshake_status(tls_proxy, station.identity, "1.6", context)) == 401
    authorization = basic_auth(station.identity, PASSWORD)
    assert (
        run(handshake_status(tls_proxy, station.identity, "1.6", context, Authorization=authorization)) == 101
    )
