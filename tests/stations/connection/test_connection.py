"""The handshake: subprotocol negotiation, HTTP Basic auth, presence, replacement (TC_085, TC_088)."""

import asyncio

import pytest
import websockets
from websockets.asyncio.client import connect

from stations.models import SecurityEvent, Station
from stations.services import station_create, station_update
from tests.stations.connection.client import basic_auth, eventually, station_connection
from tests.stations.connection.helpers import PASSWORD, station_make

pytestmark = pytest.mark.django_db(transaction=True)


async def handshake_status(url: str, **kwargs) -> int:
    try:
        async with connect(url, open_timeout=10, **kwargs):
            return 101
    except websockets.InvalidStatus as exc:
        return exc.response.status_code


def test_TC_085_basic_authentication_valid_username_password(ocpp_server, run):
    station = station_make()

    async def scenario():
        async with station_connection(ocpp_server.url, station.identity, PASSWORD) as cp:
            assert cp.ws.subprotocol == "ocpp1.6"
            assert (await cp.boot())["status"] == "Accepted"
            online = await asyncio.to_thread(lambda: Station.objects.get(pk=station.pk))
            assert online.is_online and online.channel_name and online.connected_since

    run(scenario())
    # disconnecting clears presence
    eventually(lambda: Station.objects.filter(pk=station.pk, is_online=False, channel_name="").exists())


def test_a_wrong_password_is_refused_and_recorded_as_a_security_event(ocpp_server, run):
    station = station_make()
    status = run(
        handshake_status(
            ocpp_server.url + station.identity,
            subprotocols=["ocpp1.6"],
            additional_headers={"Authorization": basic_auth(station.identity, "not-the-password-1")},
        )
    )
    assert status == 401
    event = SecurityEvent.objects.get(station=station)
    assert event.type == "InvalidPassword" and event.source == "csms"
    station.refresh_from_db()
    assert not station.is_online


def test_missing_credentials_and_a_username_that_is_not_the_identity_are_refused(ocpp_server, run):
    station = station_make()
    url = ocpp_server.url + station.identity
    assert run(handshake_status(url, subprotocols=["ocpp1.6"])) == 401
    other = {"Authorization": basic_auth("someone-else", PASSWORD)}
    assert run(handshake_status(url, subprotocols=["ocpp1.6"], additional_headers=other)) == 401
    assert set(SecurityEvent.objects.values_list("type", flat=True)) == {
        "MissingCredentials",
        "UsernameMismatch",
    }


def test_an_unknown_identity_is_refused_and_nothing_is_created(ocpp_server, run):
    status = run(
        handshake_status(
            ocpp_server.url + "NOBODY-1",
            subprotocols=["ocpp1.6"],
            additional_headers={"Authorization": basic_auth("NOBODY-1", PASSWORD)},
        )
    )
    assert status == 401
    assert not Station.objects.filter(identity="NOBODY-1").exists()


def test_a_binary_authorization_key_is_accepted_as_the_password(ocpp_server, run):
    # OCPP-J 1.6 §6.2.2: the AuthorizationKey is bytes; the station sends them undecoded.
    from stations.models import StationProtocolState
    from stations.network.passwords import password_hash

    station = station_make()
    key = bytes(range(0x80, 0x94))  # 20 bytes, not valid UTF-8
    Station.objects.filter(pk=station.pk).update(password_hash=password_hash(key))
    StationProtocolState.objects.get_or_create(station=station)

    async def scenario():
        async with station_connection(ocpp_server.url, station.identity, key) as cp:
            assert (await cp.boot())["status"] == "Accepted"

    run(scenario())


def test_TC_088_websocket_subprotocol_negotiation(ocpp_server, run):
    station = station_make()
    headers = {"Authorization": basic_auth(station.identity, PASSWORD)}

    async def scenario():
        # the station's preference order is honoured among what we speak
        async with connect(
            ocpp_server.url + station.identity,
            subprotocols=["ocpp2.1", "ocpp1.6"],
            additional_headers=headers,
        ) as ws:
            assert ws.subprotocol == "ocpp1.6"
        # nothing agreeable: the handshake completes without a subprotocol, then the CSMS closes
        async with connect(
            ocpp_server.url + station.identity, subprotocols=["ocpp1.5"], additional_headers=headers
        ) as ws:
            assert ws.subprotocol is None
            with pytest.raises(websockets.ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 10)

    run(scenario())


def test_the_endpoint_tolerates_a_trailing_slash(ocpp_server, run):
    station = station_make()

    async def scenario():
        async with station_connection(ocpp_server.url, station.identity + "/", None) as _:
            pass

    # the identity is the path segment without the slash, so the password is checked against it
    with pytest.raises(websockets.InvalidStatus):
        run(scenario())

    async def with_auth():
        headers = {"Authorization": basic_auth(station.identity, PASSWORD)}
        async with connect(
            ocpp_server.url + station.identity + "/", subprotocols=["ocpp1.6"], additional_headers=headers
        ) as ws:
            assert ws.subprotocol == "ocpp1.6"

    run(with_auth())


def test_a_second_connection_replaces_the_first_but_a_failed_one_does_not_disturb_it(ocpp_server, run):
    station = station_make()

    async def scenario():
        async with station_connection(ocpp_server.url, station.identity, PASSWORD) as first:
            await first.boot()
            channel = await asyncio.to_thread(lambda: Station.objects.get(pk=station.pk).channel_name)
            # a connection with a wrong password is refused and leaves the live one alone
            bad = {"Authorization": basic_auth(station.identity, "wrong-password-12345")}
            assert (
                await handshake_status(
                    ocpp_server.url + station.identity, subprotocols=["ocpp1.6"], additional_headers=bad
                )
                == 401
            )
            assert (await first.call("Heartbeat", {}))[0] == 3
            assert await asyncio.to_thread(lambda: Station.objects.get(pk=station.pk).channel_name) == channel
            # a valid second connection takes over; the first is closed
            async with station_connection(ocpp_server.url, station.identity, PASSWORD) as second:
                await asyncio.wait_for(first.ws.wait_closed(), 10)
                assert first.ws.close_code == 4000
                assert (await second.call("Heartbeat", {}))[0] == 3
                now = await asyncio.to_thread(lambda: Station.objects.get(pk=station.pk))
                assert now.is_online and now.channel_name != channel

    run(scenario())
    eventually(lambda: not Station.objects.get(pk=station.pk).is_online)


def test_unknown_stations_are_created_pending_when_allowed(settings, db):
    from stations.services import station_connect_authenticate

    settings.OCPP_ALLOW_UNKNOWN_STATIONS = True
    station = station_connect_authenticate(identity="NEW-1", username=None, password=None)
    assert station.registration_status == Station.RegistrationStatus.PENDING
    assert station.password_hash == ""


def test_a_rejected_registration_is_answered_and_further_calls_get_security_error(ocpp_server, run):
    station = station_make()
    station_update(station=station, registration_status="Rejected", heartbeat_interval=60)

    async def scenario():
        async with station_connection(ocpp_server.url, station.identity, PASSWORD) as cp:
            boot = await cp.boot()
            assert boot["status"] == "Rejected" and boot["interval"] == 60
            answer = await cp.call("Heartbeat", {})
            assert answer[:3] == [4, answer[1], "SecurityError"]

    run(scenario())


def test_a_station_on_security_profile_0_connects_without_credentials(ocpp_server, run):
    # given a station registered for a trusted network, with no password
    station, password = station_create(identity="TRUSTED-1", security_profile=0)
    assert password == ""

    async def scenario():
        async with station_connection(ocpp_server.url, station.identity, None) as cp:
            return await cp.boot()

    # then it is served without an Authorization header
    assert run(scenario())["status"] == "Accepted"
    assert not SecurityEvent.objects.filter(identity="TRUSTED-1").exists()


def test_wrong_passwords_lock_the_identity_and_the_right_one_is_refused_at_the_handshake(ocpp_server, run):
    station = station_make()
    url = ocpp_server.url + station.identity

    async def scenario():
        wrong = {"Authorization": basic_auth(station.identity, "not-the-password-1")}
        right = {"Authorization": basic_auth(station.identity, PASSWORD)}
        attempts = [
            await handshake_status(url, subprotocols=["ocpp1.6"], additional_headers=wrong) for _ in range(12)
        ]
        return attempts, await handshake_status(url, subprotocols=["ocpp1.6"], additional_headers=right)

    attempts, right = run(scenario())
    # refused before the upgrade: 401 for the wrong password, 429 from the tenth on, the right one too
    assert attempts == [401] * 9 + [429] * 3 and right == 429
    # ten wrong passwords were checked and recorded; the rest were refused unchecked
    assert SecurityEvent.objects.filter(identity=station.identity, type="InvalidPassword").count() == 10
