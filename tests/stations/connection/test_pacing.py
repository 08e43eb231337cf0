"""A reconnect storm is paced, never refused: while the writer is behind, a BootNotification is
answered Pending with a randomised interval (OCPP 1.6 §4.2, 2.0.1 B02)."""

import asyncio
import threading

import pytest
from django.db import connection, transaction

from stations.models import Connector, Station
from stations.protocol.batch import Batcher
from tests.stations.connection.client import station_connection
from tests.stations.connection.conftest import server_start, server_stop
from tests.stations.connection.helpers import PASSWORD, station_make


def test_while_the_writer_is_behind_a_booting_station_is_told_to_come_back_at_a_random_time(settings):
    settings.OCPP_BOOT_PACING_BACKLOG = 3
    batcher = Batcher()

    # a writer with room records boots at once
    batcher.lanes[0].items = [object()] * 2  # type: ignore[list-item]
    assert batcher.boot_pacing_interval() == 0

    # a writer with the backlog full paces them, each station to its own time, soon: a backlog of a
    # few hundred calls is gone within a second
    batcher.lanes[0].items = [object()] * 3  # type: ignore[list-item]
    intervals = [batcher.boot_pacing_interval() for _ in range(50)]
    assert all(5 <= interval <= 10 for interval in intervals)
    assert len(set(intervals)) > 1


class Connection:
    """What the batcher reads of a connection: whether its station's boot was accepted."""

    def __init__(self, registration: str | None) -> None:
        self.registration = registration


def test_a_storm_of_unbooted_stations_is_spread_over_longer_than_ten_seconds(settings):
    # given 6,000 connected stations of this process waiting to boot, and the writer behind
    settings.OCPP_BOOT_PACING_BACKLOG = 3
    batcher = Batcher()
    batcher.lanes[0].items = [object()] * 3  # type: ignore[list-item]
    waiting = [Connection(None) for _ in range(6000)]
    booted = [Connection("Accepted") for _ in range(1000)]
    batcher.connections = {*waiting, *booted}  # type: ignore[arg-type]

    # when they are paced
    intervals = [batcher.boot_pacing_interval() for _ in range(500)]

    # then they come back over two minutes (6,000 at 50 boots a second), not all within 10 s
    assert min(intervals) >= 5 and max(intervals) <= 6000 // 50
    assert sum(1 for interval in intervals if interval > 30) > 250


def test_an_operator_who_raises_the_pacing_rate_gets_the_storm_back_sooner(settings):
    # given the same 6,000 stations waiting to boot, on a server set to take 200 boots a second
    settings.OCPP_BOOT_PACING_BACKLOG = 3
    settings.OCPP_BOOT_PACING_RATE = 200
    batcher = Batcher()
    batcher.lanes[0].items = [object()] * 3  # type: ignore[list-item]
    batcher.connections = {Connection(None) for _ in range(6000)}  # type: ignore[arg-type]

    # when they are paced, then none is told to wait longer than 6,000 / 200 = 30 s
    intervals = [batcher.boot_pacing_interval() for _ in range(500)]
    assert min(intervals) >= 5 and max(intervals) <= 30


class WriterHeld:
    """The server's writer held up by another transaction that updated `station`'s connector (on
    SQLite the database's one write lock, on PostgreSQL the row its StatusNotification locks)."""

    def __init__(self, station: Station) -> None:
        self.station, self.held, self.release = station, threading.Event(), threading.Event()
        self.thread = threading.Thread(target=self.hold)

    def hold(self) -> None:
        try:
            with transaction.atomic():
                Connector.objects.filter(evse__station=self.station).update(status="Unavailable")
                self.held.set()
                self.release.wait(30)
        finally:
            connection.close()

    async def __aenter__(self) -> "WriterHeld":
        self.thread.start()
        assert await asyncio.to_thread(self.held.wait, 10)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.release.set()
        await asyncio.to_thread(self.thread.join, 10)


STATUS = {"connectorId": 1, "errorCode": "NoError", "status": "Available"}
BOOT = {"chargePointVendor": "ChargeNet", "chargePointModel": "Test"}


@pytest.mark.django_db(transaction=True)
def test_a_station_booting_while_the_writer_is_behind_is_paced_over_the_wire_and_boots_once_it_caught_up(
    test_db_name, redis_server, run
):
    # given a server whose one writer is behind once two calls wait for it
    server = server_start(test_db_name, OCPP_BOOT_PACING_BACKLOG="2")
    first, *others, booting = [station_make() for _ in range(5)]

    async def writer_behind(cps, cp_booting) -> list:
        """The answer to `cp_booting`'s BootNotification sent while three stations' calls wait behind
        a held writer; every call answered once the writer goes on."""
        async with WriterHeld(first):
            held = asyncio.ensure_future(cps[0].call("StatusNotification", STATUS))
            await asyncio.sleep(0.5)  # the writer took the first station's call, and waits
            waiting = [asyncio.ensure_future(cp.call("StatusNotification", STATUS)) for cp in cps[1:]]
            await asyncio.sleep(0.5)
            boot = asyncio.ensure_future(cp_booting.call("BootNotification", BOOT, timeout=20))
            await asyncio.sleep(0.5)
        answers = await asyncio.gather(held, *waiting, boot)
        assert all(answer[0] == 3 for answer in answers), answers
        return answers[-1][2]

    async def scenario():
        async with (
            station_connection(server.url, first.identity, PASSWORD) as cp1,
            station_connection(server.url, others[0].identity, PASSWORD) as cp2,
            station_connection(server.url, others[1].identity, PASSWORD) as cp3,
            station_connection(server.url, others[2].identity, PASSWORD) as cp4,
            station_connection(server.url, booting.identity, PASSWORD) as cp5,
        ):
            cps = [cp1, cp2, cp3, cp4]
            for cp in cps:  # (paced at first, if the five connections kept the writer busy)
                while (boot := await cp.ok("BootNotification", BOOT))["status"] == "Pending":
                    await asyncio.sleep(0.2)
                assert boot["status"] == "Accepted"

            # when a station boots while the writer is behind, it is told to come back in 5 to 10 s,
            # and the calls that waited are all answered
            paced = await writer_behind(cps, cp5)
            assert paced["status"] == "Pending" and 5 <= paced["interval"] <= 10

            # and when it comes back with the writer caught up, it is recorded
            assert (await cp5.ok("BootNotification", BOOT))["status"] == "Accepted"

    try:
        run(scenario())
    finally:
        server_stop(server)
    booting.refresh_from_db()
    assert booting.registration_status == Station.RegistrationStatus.ACCEPTED
    assert booting.last_boot_at is not None
