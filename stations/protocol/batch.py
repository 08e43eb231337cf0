"""Process-wide write batches for every OCPP connection of this process: the message log and the
last-seen times.

One task per process writes everything due once a second (one INSERT for the frames of all
stations, one transaction for their last-seen times) instead of one task and one transaction per
connection: with 1,000 stations that is one database call a second instead of hundreds, all of them
queued on the single thread Channels runs database work on (docs/performance.md).
"""

import asyncio
import logging
import time
from typing import Any, Protocol

from channels.db import database_sync_to_async

from stations import services

logger = logging.getLogger(__name__)

FLUSH_SECONDS = 1.0


class Seen(Protocol):
    """What the batcher reads from a connection to decide whether its last-seen time is due."""

    station_id: int | None
    last_seen: Any
    last_flushed_seen: Any
    seen_every: float
    seen_flushed_at: float


class Batcher:
    """The frames and last-seen times of every connection, written together once a second."""

    def __init__(self) -> None:
        self.log: list[dict[str, Any]] = []
        self.connections: set[Seen] = set()
        self.task: asyncio.Task | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.lock: asyncio.Lock | None = None

    def attach(self, connection: Seen) -> None:
        """Start (or restart, on a new event loop) the writer and watch this connection's liveness."""
        loop = asyncio.get_running_loop()
        if self.task is None or self.task.done() or self.loop is not loop:
            self.loop, self.lock = loop, asyncio.Lock()
            self.task = loop.create_task(self.run())
        self.connections.add(connection)

    def detach(self, connection: Seen) -> None:
        self.connections.discard(connection)

    def append(self, entry: dict[str, Any]) -> None:
        self.log.append(entry)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_SECONDS)
            try:
                await self.flush()
            except Exception:  # never let one bad batch stop the writer
                logger.exception("could not write the OCPP batch")

    def seen_due(self) -> dict[int, Any]:
        """Last-seen times of connections whose own cadence (min(30 s, interval / 2)) has come."""
        now = time.monotonic()
        due = {}
        for connection in list(self.connections):
            if (
                connection.station_id is not None
                and now - connection.seen_flushed_at >= connection.seen_every
                and connection.last_seen != connection.last_flushed_seen
            ):
                connection.seen_flushed_at = now
                connection.last_flushed_seen = connection.last_seen
                due[connection.station_id] = connection.last_seen
        return due

    async def flush(self) -> None:
        """Write what is buffered now (also called when a connection closes, so its frames are
        stored before its disconnect is)."""
        assert self.lock is not None
        async with self.lock:
            entries, self.log = self.log, []
            seen = self.seen_due()
            if entries:
                try:
                    await database_sync_to_async(services.ocpp_messages_store)(entries=entries)
                except Exception:
                    logger.exception("could not write %d logged frames", len(entries))
            if seen:
                await database_sync_to_async(services.station_seen_flush)(seen=seen)


BATCH = Batcher()
