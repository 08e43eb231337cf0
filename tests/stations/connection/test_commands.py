"""Durable commands on the wire: drained on connect, one outstanding CALL, every final status, and
delivery from another node."""

import asyncio
import contextlib
import json
import subprocess
from datetime import timedelta

import pytest
from django.utils import timezone

from stations.models import Command, Station
from stations.services import (
    command_claim_next,
    command_create,
    command_expire,
    command_release,
    commands_nudge_stale,
)
from tests.stations.connection.client import eventually, station_connection
from tests.stations.connection.conftest import server_start, server_stop
from tests.stations.connection.helpers import PASSWORD, booted, command_send, station_make
from tests.support import manage_py

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_command_queued_while_offline_is_sent_when_the_station_connects(ocpp_server, run):
    station = station_make()
    station_booted_before = timezone.now()
    Station.objects.filter(pk=station.pk).update(last_boot_at=station_booted_before)
    command = command_create(station=station, action="ClearCache", payload={})

    async def scenario():
        async with station_connection(ocpp_server.url, station.identity, PASSWORD) as cp:
            assert await cp.wait_call("ClearCache") == {}

    run(scenario())
    assert eventually(lambda: Command.objects.get(pk=command.pk).status == Command.Status.ACCEPTED)


def test_no_answer_is_timed_out_a_call_error_is_an_error_and_one_call_is_outstanding_at_a_time(
    ocpp_server, run
):
    station = station_make()

    async def scenario():
        async with booted(ocpp_server, station) as cp:
            cp.silent.add("ClearCache")
            cp.responders["GetLocalListVersion"] = ("InternalError", "broken")
            silent = await asyncio.to_thread(command_create, station=station, action="ClearCache", payload={})
            failing = await asyncio.to_thread(
                command_create, station=station, action="GetLocalListVersion", payload={}
            )
            await cp.wait_call("ClearCache")
            # the second CALL waits for the first to end (here: its 3 s timeout)
            await asyncio.sleep(0.5)
            assert [a for a, _ in cp.received] == []
            await cp.wait_call("GetLocalListVersion", timeout=10)
            # (stay connected until the answer is stored)
            await asyncio.to_thread(
                eventually,
                lambda: Command.objects.filter(pk=failing.pk, status=Command.Status.ERROR).exists(),
            )
            return silent, failing

    silent, failing = run(scenario())
    silent.refresh_from_db()
    assert silent.status == Command.Status.TIMED_OUT
    failing.refresh_from_db()
    assert failing.error == "InternalError: broken"


def test_an_expired_command_is_never_sent(ocpp_server, run):
    station = station_make()
    command = command_create(station=station, action="ClearCache", payload={}, expires_in=0)
    Command.objects.filter(pk=command.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert command_expire() == 1
    command.refresh_from_db()
    assert command.status == Command.Status.EXPIRED and command.sent_at is None


def test_TC_073_update_charge_point_password_for_http_basic_authentication(ocpp_server, run):
    station = station_make()
    new_key = "00112233445566778899aabbccddeeff00112233"  # 20 bytes as 40 hex digits

    async def scenario():
        async with booted(ocpp_server, station) as cp:
            command = await command_send(
                station, "ChangeConfiguration", {"key": "AuthorizationKey", "value": new_key}
            )
            assert command.status == Command.Status.ACCEPTED
            assert await cp.wait_call("ChangeConfiguration") == {"key": "AuthorizationKey", "value": new_key}
        # the old password no longer opens the door; the new key (as bytes) does
        with pytest.raises(Exception, match="401"):
            async with station_connection(ocpp_server.url, station.identity, PASSWORD):
                pass
        async with station_connection(ocpp_server.url, station.identity, bytes.fromhex(new_key)) as cp:
            assert (await cp.call("Heartbeat", {}))[0] == 3
        return command

    command = run(scenario())
    command.refresh_from_db()
    assert command.payload["value"] == "********"  # the secret is not kept


def test_a_rejected_password_change_keeps_the_old_password(ocpp_server, run):
    station = station_make()

    async def scenario():
        async with booted(ocpp_server, station) as cp:
            cp.responders["ChangeConfiguration"] = {"status": "Rejected"}
            command = await command_send(
                station,
                "ChangeConfiguration",
                {"key": "AuthorizationKey", "value": "ffeeddccbbaa99887766554433221100"},
            )
            assert command.status == Command.Status.REJECTED
        async with station_connection(ocpp_server.url, station.identity, PASSWORD) as cp:
            assert (await cp.call("Heartbeat", {}))[0] == 3

    run(scenario())


def test_a_pending_station_may_be_configured_and_triggered_but_not_remote_started(ocpp_server, run):
    station = station_make(registration_status="Pending")

    async def scenario():
        async with station_connection(ocpp_server.url, station.identity, PASSWORD) as cp:
            assert (await cp.boot())["status"] == "Pending"
            remote = await asyncio.to_thread(
                command_create, station=station, action="RemoteStartTransaction", payload={"idTag": "X"}
            )
            command = await command_send(
                station, "TriggerMessage", {"requestedMessage": "StatusNotification"}
            )
            assert command.status == Command.Status.ACCEPTED
            # the triggered message is served while Pending (B02.FR.02) …
            status = await cp.call(
                "StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Available"}
            )
            assert status[0] == 3
            # … anything else is still refused
            assert (await cp.call("Heartbeat", {}))[2] == "SecurityError"
            return remote

    remote = run(scenario())
    remote.refresh_from_db()
    assert remote.status == Command.Status.QUEUED


def test_a_command_created_on_another_node_reaches_the_station(ocpp_server, test_db_name, run):
    # given a second server process on the same Redis and database
    station = station_make()
    other = server_start(test_db_name)
    try:

        async def scenario():
            async with station_connection(other.url, station.identity, PASSWORD) as cp:
                await cp.boot()
                # when a command is created by a management command (a third process)
                process = await asyncio.to_thread(
                    lambda: manage_py(
                        "send_command",
                        station.identity,
                        "TriggerMessage",
                        json.dumps({"requestedMessage": "Heartbeat"}),
                        "--wait",
                        "15",
                        env={
                            "DJANGO_SETTINGS_MODULE": "tests.stations.connection.server_settings",
                            "CHARGENET_TEST_DB_NAME": test_db_name,
                        },
                        stdout=subprocess.PIPE,
                        text=True,
                    ).communicate(timeout=60)
                )
                # then the station on the other node received it and its answer came back
                assert await cp.wait_call("TriggerMessage") == {"requestedMessage": "Heartbeat"}
                return json.loads(process[0])

        result = run(scenario())
    finally:
        server_stop(other)
    assert result["status"] == "accepted" and result["response"] == {"status": "Accepted"}


def test_a_command_in_flight_ends_as_an_error_when_the_station_disconnects(ocpp_server, run):
    # given a command the station received but never answers
    station = station_make()

    async def scenario():
        async with booted(ocpp_server, station) as cp:
            cp.silent.add("ClearCache")
            command = await asyncio.to_thread(
                command_create, station=station, action="ClearCache", payload={}
            )
            await cp.wait_call("ClearCache")
        return command

    # when the station goes away
    command = run(scenario())
    # then the command is final at once: an error saying why, not "sent" until a timeout
    command = eventually(lambda: Command.objects.filter(pk=command.pk, status=Command.Status.ERROR).first())
    assert "station disconnected" in command.error


def test_a_command_in_flight_on_a_replaced_connection_ends_and_the_new_connection_serves_the_next(
    ocpp_server, run
):
    station = station_make()

    async def scenario():
        async with booted(ocpp_server, station) as first:
            first.silent.add("ClearCache")
            stuck = await asyncio.to_thread(command_create, station=station, action="ClearCache", payload={})
            await first.wait_call("ClearCache")
            # when the station reconnects (the old socket half-open) while the call is in flight
            async with station_connection(ocpp_server.url, station.identity, PASSWORD) as second:
                await asyncio.to_thread(
                    eventually,
                    lambda: Command.objects.filter(pk=stuck.pk, status=Command.Status.ERROR).exists(),
                )
                # then the new connection carries the next command
                command = await command_send(station, "GetLocalListVersion", {})
                assert await second.wait_call("GetLocalListVersion") == {}
                return stuck, command

    stuck, command = run(scenario())
    stuck.refresh_from_db()
    assert stuck.error == "station disconnected before answering"
    assert command.status == Command.Status.ACCEPTED


def test_a_claimed_command_that_never_went_out_is_queued_again(ocpp_server, run):
    # given a command claimed for a connection that closed before sending it
    station = station_make()
    Station.objects.filter(pk=station.pk).update(last_boot_at=timezone.now())
    command = command_create(station=station, action="ClearCache", payload={})
    claimed = command_claim_next(station_id=station.pk)
    assert claimed.pk == command.pk
    # when it is released
    assert command_release(command_id=command.pk)
    # then the next connection sends it
    run(_clear_cache_received(ocpp_server, station))
    assert eventually(lambda: Command.objects.get(pk=command.pk).status == Command.Status.ACCEPTED)


async def _clear_cache_received(server, station):
    async with station_connection(server.url, station.identity, PASSWORD) as cp:
        assert await cp.wait_call("ClearCache") == {}


def test_a_command_whose_nudge_was_lost_reaches_the_online_station_at_the_next_sweep(ocpp_server, run):
    # given a booted station online, and a command queued a minute ago whose nudge never arrived (the
    # process that queued it died before its commit hook ran): a bare row
    station = station_make()

    async def scenario():
        async with station_connection(ocpp_server.url, station.identity, PASSWORD) as cp:
            await cp.boot()
            # (what the server sends after a boot has gone out and its sending loop has ended)
            await asyncio.to_thread(
                eventually,
                lambda: not Command.objects.filter(
                    station=station, status__in=[Command.Status.QUEUED, Command.Status.SENT]
                ).exists(),
            )
            await asyncio.sleep(1)
            command = await asyncio.to_thread(
                lambda: Command.objects.create(
                    station=station,
                    action="ClearCache",
                    payload={},
                    expires_at=timezone.now() + timedelta(minutes=10),
                )
            )
            await asyncio.to_thread(
                lambda: Command.objects.filter(pk=command.pk).update(
                    created_at=timezone.now() - timedelta(minutes=1)
                )
            )
            # then nothing reaches the station by itself
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(cp.wait_call("ClearCache"), 2)
            # when the periodic sweep runs, the station gets it
            assert await asyncio.to_thread(commands_nudge_stale) == 1
            assert await cp.wait_call("ClearCache") == {}
            return command

    command = run(scenario())
    assert eventually(lambda: Command.objects.get(pk=command.pk).status == Command.Status.ACCEPTED)


def test_commands_flow_on_a_reconnection_whose_old_process_died_with_its_channel_full(ocpp_server, run):
    # given a station that booted before, last connected through a process that was killed: its old
    # channel is still named on the station and full (every reconnection since told it to go)
    from channels.exceptions import ChannelFull
    from channels.layers import get_channel_layer

    station = station_make()
    dead = "specific.killed-process!old-connection"
    Station.objects.filter(pk=station.pk).update(last_boot_at=timezone.now(), channel_name=dead)

    async def fill() -> None:
        layer = get_channel_layer()
        for _ in range(5000):
            try:
                await layer.send(dead, {"type": "station.replaced"})
            except ChannelFull:
                return
        raise AssertionError("the channel never filled")

    run(fill())
    command = command_create(station=station, action="ClearCache", payload={})

    # when the station reconnects without a new BootNotification (1.6 J §5.4)
    # then the command waiting for it is sent all the same
    run(_clear_cache_received(ocpp_server, station))
    assert eventually(lambda: Command.objects.get(pk=command.pk).status == Command.Status.ACCEPTED)
    assert Station.objects.get(pk=station.pk).channel_name != dead


def test_a_reconnection_tells_nothing_to_a_previous_connection_whose_process_is_gone(ocpp_server, run):
    # given a station whose last connection was held by a process of this machine that has ended
    import socket
    import sys

    from channels.layers import get_channel_layer

    station = station_make()
    ended = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    old = "stations.connection-of-an-ended-process"
    Station.objects.filter(pk=station.pk).update(
        last_boot_at=timezone.now(), channel_name=old, node=f"{socket.gethostname()}:{ended.stdout.strip()}"
    )
    command = command_create(station=station, action="ClearCache", payload={})

    # when the station reconnects
    run(_clear_cache_received(ocpp_server, station))
    assert eventually(lambda: Command.objects.get(pk=command.pk).status == Command.Status.ACCEPTED)

    # then no notice to close waits in the old connection's channel, which no process reads any more
    # (the nudge of the command, queued while the station looked connected there, does)
    async def left_in_channel():
        kinds = []
        with contextlib.suppress(TimeoutError):
            while True:
                kinds.append((await asyncio.wait_for(get_channel_layer().receive(old), 1))["type"])
        return kinds

    assert run(left_in_channel()) == ["station.commands"]
