"""A reconnect storm is paced, never refused: while the writer is behind, a BootNotification is
answered Pending with a randomised interval (OCPP 1.6 §4.2, 2.0.1 B02)."""

import asyncio
import threading

import pytest
from asgiref.sync import sync_to_async

from stations.models import Station
from stations.protocol.batch import Batcher
from tests.stations.connection.helpers import station_make


def test_while_the_writer_is_behind_a_booting_station_is_told_to_come_back_at_a_random_time(settings):
    settings.OCPP_BOOT_PACING_BACKLOG = 3
    batcher = Batcher()

    # a writer with room records boots at once
    batcher.lanes[0].items = [object()] * 2  # type: ignore[list-item]
    assert batcher.boot_pacing_interval() == 0

    # a writer with the backlog full paces them, each station to its own time
    batcher.lanes[0].items = [object()] * 3  # type: ignore[list-item]
    intervals = [batcher.boot_pacing_interval() for _ in range(50)]
    assert all(5 <= interval <= 30 for interval in intervals)
    assert len(set(intervals)) > 1


class Connection:
    """What the batcher reads of a connection: whether its station's boot was accepted."""

    def __init__(self, registration: str | None) -> None:
        self.registration = registration


def test_a_storm_of_unbooted_stations_is_spread_over_longer_than_thirty_seconds(settings):
    # given 6,000 connected stations of this process waiting to boot, and the writer behind
    settings.OCPP_BOOT_PACING_BACKLOG = 3
    batcher = Batcher()
    batcher.lanes[0].items = [object()] * 3  # type: ignore[list-item]
    waiting = [Connection(None) for _ in range(6000)]
    booted = [Connection("Accepted") for _ in range(1000)]
    batcher.connections = {*waiting, *booted}  # type: ignore[arg-type]

    # when they are paced
    intervals = [batcher.boot_pacing_interval() for _ in range(500)]

    # then they come back over two minutes (6,000 at 50 boots a second), not all within 30 s
    assert min(intervals) >= 5 and max(intervals) <= 6000 // 50
    assert sum(1 for interval in intervals if interval > 30) > 250


@pytest.mark.django_db(transaction=True)
async def test_with_four_writers_each_stations_messages_are_stored_in_the_order_they_arrived(settings):
    # given four group-commit writers (PostgreSQL's default) and eight stations sending at once
    settings.OCPP_WRITER_LANES = 4
    batcher = Batcher()
    stations = [await sync_to_async(station_make)() for _ in range(8)]
    applied: list[tuple[int, int, str]] = []

    def firmware_report(*, station_id: int, n: int) -> int:
        applied.append((station_id, n, threading.current_thread().name))
        Station.objects.filter(pk=station_id).update(firmware_version=f"v{n}")
        return n

    # when each sends twenty messages, interleaved with the others'
    answers = await asyncio.gather(
        *(batcher.run(firmware_report, station_id=s.pk, n=n) for n in range(20) for s in stations)
    )
    for lane in batcher.lanes:
        assert lane.task is not None
        lane.task.cancel()

    # then every message is answered, each station's in the order sent, by its own writer
    assert answers == [n for n in range(20) for _ in stations]
    for station in stations:
        mine = [(n, thread) for station_id, n, thread in applied if station_id == station.pk]
        assert [n for n, _ in mine] == list(range(20))
        assert len({thread for _, thread in mine}) == 1
        assert (await Station.objects.aget(pk=station.pk)).firmware_version == "v19"
    # and the four writers all took part
    assert len({thread for _, _, thread in applied}) == 4
