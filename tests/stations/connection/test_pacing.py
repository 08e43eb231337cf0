"""A reconnect storm is paced, never refused: while the writer is behind, a BootNotification is
answered Pending with a randomised interval (OCPP 1.6 §4.2, 2.0.1 B02)."""

from stations.protocol.batch import Batcher


def test_while_the_writer_is_behind_a_booting_station_is_told_to_come_back_at_a_random_time(settings):
    settings.OCPP_BOOT_PACING_BACKLOG = 3
    batcher = Batcher()

    # a writer with room records boots at once
    batcher.items = [object()] * 2  # type: ignore[list-item]
    assert batcher.boot_pacing_interval() == 0

    # a writer with the backlog full paces them, each station to its own time
    batcher.items = [object()] * 3  # type: ignore[list-item]
    intervals = [batcher.boot_pacing_interval() for _ in range(50)]
    assert all(5 <= interval <= 30 for interval in intervals)
    assert len(set(intervals)) > 1
