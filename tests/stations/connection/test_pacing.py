"""A reconnect storm is paced, never refused: while the writer is behind, a BootNotification is
answered Pending with a randomised interval (OCPP 1.6 §4.2, 2.0.1 B02)."""

from stations.protocol.batch import Batcher


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
