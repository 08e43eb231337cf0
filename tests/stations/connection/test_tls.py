"""Security profile 2 end to end: a station on wss:// with HTTP Basic auth through nginx running the
shipped `docs/deploy/nginx.conf`, to the real daphne (OCTT TC_086)."""

import asyncio
import socket
import ssl

import pytest
import websockets
from websockets.asyncio.client import connect

from stations.models import Command
from tests.stations.connection.client import basic_auth, station_connection
from tests.stations.connection.helpers import PASSWORD, command_send, station_make
from tests.stations.connection.tls import nginx_binary, nginx_start, nginx_stop

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def tls_proxy(ocpp_server, tmp_path_factory):
    binary = nginx_binary()
    if binary is None:
        pytest.skip("nginx is not installed (apt-get install -y nginx); the TLS tests need it")
    upstream_port = int(ocpp_server.base_url.rsplit(":", 1)[1])
    proxy = nginx_start(
        binary=binary, directory=tmp_path_factory.mktemp("nginx"), upstream_port=upstream_port
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
