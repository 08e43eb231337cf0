"""Group commit: the database work of every OCPP connection of this process, a few milliseconds at a
time, in one transaction.

Each station → CSMS message's service call, the message log and the last-seen times of every
connection of the process are collected for OCPP_GROUP_COMMIT_MS (or while the previous commit runs)
and committed together on one writer thread: one transaction instead of one per message, which
SQLite (one writer) and PostgreSQL (one fsync per commit) both reward. Each service call runs in its
own savepoint, so one that raises is rolled back alone and gets its exception back; the others commit.

Guarantees (docs/performance.md):

- **Nothing is acknowledged before it is durable.** A service's result is handed back only after the
  transaction that holds it has committed, and an answer to a station's CALL is sent only after the
  log rows of every frame received before it are committed (`durable()`), so a kill -9 can lose
  neither a stored message nor its log entry.
- **Events after commit, off the commit path.** The `on_commit` work of a batch (domain events:
  billing, webhooks, the live feed) runs on its own thread, in commit order, after the answers.
- **One bad frame never costs the others their log**: text the database refuses (NUL) is escaped,
  frames of deleted stations are dropped, and a batch the database still refuses is stored row by row.

Work that is not part of a station message's commit (checking a handshake's credentials) runs on a
small pool of database threads (OCPP_DB_THREADS, one connection each) via `db_call`, never on the
single thread Channels shares for `database_sync_to_async`.
"""

import asyncio
import concurrent.futures
import contextlib
import fcntl
import logging
import os
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from asgiref.sync import SyncToAsync
from django.conf import settings
from django.db import close_old_connections, connections, transaction

from chargenet.events import events_group_store, events_grouped
from stations import services

logger = logging.getLogger(__name__)

FLUSH_SECONDS = 1.0  # the log and last-seen times are written at least this often
MAX_ITEMS = 200  # service calls per transaction at most
BOOT_PACING_SECONDS = (5, 30)  # BootNotification Pending interval while the writer is behind
# Boots a process's writer records comfortably per second while it also serves the rest: a storm's
# Pending intervals are spread so that the unbooted stations come back at about this rate.
BOOT_PACING_RATE = 50


class Seen(Protocol):
    """What the batcher reads from a connection to decide whether its last-seen time is due."""

    station_id: int | None
    last_seen: Any
    last_flushed_seen: Any
    seen_every: float
    seen_flushed_at: float


@dataclass
class Item:
    """One service call waiting for the next commit."""

    fn: Callable[..., Any]
    args: tuple
    kwargs: dict[str, Any]
    future: asyncio.Future = field(repr=False)


def _thread_init(loop: asyncio.AbstractEventLoop) -> None:
    # What asgiref's SyncToAsync sets in its threads: code that runs here (domain events' live-feed
    # send, async_to_sync) hands its coroutines to the server's event loop instead of a new loop.
    SyncToAsync.threadlocal.main_event_loop = loop
    SyncToAsync.threadlocal.main_event_loop_pid = os.getpid()
    # These threads serve no request, so nobody reads DEBUG's query log; keeping it would cost every
    # statement a formatted copy (and on SQLite an extra QUOTE() query each), doubling the database
    # work of the embedded mode, where DEBUG is on by default.
    for connection in connections.all():
        connection.make_debug_cursor = connection.make_cursor  # type: ignore[method-assign,assignment]


def _hooks_run(hooks: list[Callable[[], Any]]) -> None:
    for hook in hooks:
        try:
            hook()
        except Exception:
            logger.exception("an on-commit action of the OCPP batch failed")
    close_old_connections()


class Batcher:
    """The process-wide group commit (one per event loop)."""

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.task: asyncio.Task | None = None
        self.connections: set[Seen] = set()
        self.items: list[Item] = []
        self.log: list[dict[str, Any]] = []
        self.appended = 0  # log entries appended so far
        self.committed = 0  # log entries committed so far
        self.waiters: list[tuple[int, asyncio.Future]] = []
        self.wakeup: asyncio.Event | None = None
        self.unbooted = 0  # attached connections whose BootNotification is not accepted yet
        self.unbooted_counted_at = -1.0
        self.seen_scanned_at = -1.0

    # --- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> None:
        """Start (or restart, on a new event loop) the writer and its threads."""
        loop = asyncio.get_running_loop()
        if self.task is not None and not self.task.done() and self.loop is loop:
            return
        self.loop = loop
        self.wakeup = asyncio.Event()
        self.writer = concurrent.futures.ThreadPoolExecutor(
            1, thread_name_prefix="ocpp-writer", initializer=_thread_init, initargs=(loop,)
        )
        self.events = concurrent.futures.ThreadPoolExecutor(
            1, thread_name_prefix="ocpp-events", initializer=_thread_init, initargs=(loop,)
        )
        self.pool = concurrent.futures.ThreadPoolExecutor(
            settings.OCPP_DB_THREADS, thread_name_prefix="ocpp-db", initializer=_thread_init, initargs=(loop,)
        )
        self.items, self.waiters = [], []
        self.task = loop.create_task(self.run_forever())

    def attach(self, connection: Seen) -> None:
        """Watch this connection's liveness (written at most every `seen_every` seconds)."""
        self.start()
        self.connections.add(connection)

    def detach(self, connection: Seen) -> None:
        self.connections.discard(connection)

    # --- what connections hand in ------------------------------------------------------------------

    def append(self, entry: dict[str, Any]) -> None:
        """Log one frame; it is stored with the next commit."""
        self.log.append(entry)
        self.appended += 1

    async def run(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """`fn(*args, **kwargs)` in the next group commit; its result (or exception) once committed."""
        self.start()
        assert self.loop is not None and self.wakeup is not None
        future = self.loop.create_future()
        self.items.append(Item(fn, args, kwargs, future))
        self.wakeup.set()
        return await future

    async def durable(self) -> None:
        """Return once every frame logged so far is committed (before answering a station's CALL)."""
        self.start()
        assert self.loop is not None and self.wakeup is not None
        if self.committed >= self.appended:
            return
        future = self.loop.create_future()
        self.waiters.append((self.appended, future))
        self.wakeup.set()
        await future

    async def flush(self) -> None:
        """Same as durable(): used when a connection closes, so its frames are stored first."""
        await self.durable()

    def boot_pacing_interval(self) -> int:
        """0 while a BootNotification can be recorded at once; otherwise (more than
        OCPP_BOOT_PACING_BACKLOG calls wait for the writer) the seconds a booting station is told to
        wait, randomised so the stations that were paced together come back apart: 5 to 30 s, or
        longer while more stations wait to boot than the writer records in 30 s."""
        if len(self.items) < settings.OCPP_BOOT_PACING_BACKLOG:
            return 0
        now = time.monotonic()
        if now - self.unbooted_counted_at >= 1.0:
            self.unbooted_counted_at = now
            self.unbooted = sum(1 for c in self.connections if getattr(c, "registration", "") is None)
        # Thousands of stations told "30 s" would all come back within 30 s, find the writer still
        # behind and be paced again, each Pending costing its log rows: spread them out instead.
        latest = max(BOOT_PACING_SECONDS[1], self.unbooted // BOOT_PACING_RATE)
        return random.randint(BOOT_PACING_SECONDS[0], latest)

    async def db_call(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """`fn(*args, **kwargs)` on the database thread pool, outside the group commit (it commits, or
        not, on its own: e.g. a refused login's security event)."""
        self.start()
        assert self.loop is not None
        return await self.loop.run_in_executor(self.pool, _pool_call, fn, args, kwargs)

    # --- the writer --------------------------------------------------------------------------------

    async def run_forever(self) -> None:
        assert self.loop is not None and self.wakeup is not None
        window = settings.OCPP_GROUP_COMMIT_MS / 1000
        while True:
            if not self.items and not self.waiters:
                try:
                    await asyncio.wait_for(self.wakeup.wait(), FLUSH_SECONDS)
                except TimeoutError:
                    pass
            self.wakeup.clear()
            if window:
                await asyncio.sleep(window)
            try:
                await self.commit()
            except Exception:  # never let one bad batch stop the writer
                logger.exception("could not commit the OCPP batch")
                await asyncio.sleep(0.5)

    async def commit(self) -> None:
        assert self.loop is not None
        items, self.items = self.items[:MAX_ITEMS], self.items[MAX_ITEMS:]
        entries, self.log = self.log, []
        upto = self.appended
        seen = self.seen_due()
        if not (items or entries or seen):
            self.committed = upto
            self.waiters_wake()
            return
        try:
            results, hooks = await self.loop.run_in_executor(self.writer, _commit, items, entries, seen)
        except BaseException as exc:
            self.log[:0] = entries  # logged again with the next batch; nothing is answered meanwhile
            for item in items:
                if not item.future.done():
                    item.future.set_exception(exc if isinstance(exc, Exception) else RuntimeError(exc))
            raise
        self.committed = upto
        self.waiters_wake()
        for item, (ok, value) in zip(items, results, strict=True):
            if item.future.done():
                continue
            if ok:
                item.future.set_result(value)
            else:
                item.future.set_exception(value)
        if hooks:
            self.loop.run_in_executor(self.events, _hooks_run, hooks)

    def waiters_wake(self) -> None:
        waiting = []
        for upto, future in self.waiters:
            if upto <= self.committed:
                if not future.done():
                    future.set_result(None)
            else:
                waiting.append((upto, future))
        self.waiters = waiting

    def seen_due(self) -> dict[int, Any]:
        """Last-seen times of connections whose own cadence (min(30 s, interval / 2)) has come.
        Looked for at most once every FLUSH_SECONDS: a busy writer commits hundreds of times a
        second, and walking 10,000 connections at each commit cost the event loop milliseconds."""
        now = time.monotonic()
        if now - self.seen_scanned_at < FLUSH_SECONDS:
            return {}
        self.seen_scanned_at = now
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


def _pool_call(fn: Callable[..., Any], args: tuple, kwargs: dict[str, Any]) -> Any:
    close_old_connections()
    return fn(*args, **kwargs)


@contextlib.contextmanager
def _writer_turn(connection: Any) -> Iterator[None]:
    """SQLite has one writer across all processes. Its busy handler polls with sleeps of up to
    100 ms, so ASGI processes committing by turns would mostly sleep; an exclusive file lock beside the
    database hands the turn over the moment the previous commit ends. PostgreSQL needs nothing."""
    if connection.vendor != "sqlite":
        yield
        return
    global _lock_file
    if _lock_file is None:
        _lock_file = open(f"{connection.settings_dict['NAME']}.writer-lock", "a+b")  # noqa: SIM115
    fcntl.flock(_lock_file, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(_lock_file, fcntl.LOCK_UN)


_lock_file: Any = None


def _atomic(fn: Callable[..., Any]) -> bool:
    """Whether `fn` is decorated with `@transaction.atomic` (the house style of every service)."""
    cells = getattr(fn, "__closure__", None) or ()
    return any(isinstance(cell.cell_contents, transaction.Atomic) for cell in cells)


def _commit(
    items: list[Item], entries: list[dict[str, Any]], seen: dict[int, Any]
) -> tuple[list[tuple[bool, Any]], list[Callable[[], Any]]]:
    """One transaction: every item in its own savepoint, then the log and last-seen times. Returns
    each item's (ok, result or exception) and the on-commit actions, which the caller runs later."""
    close_old_connections()
    connection = transaction.get_connection()
    results: list[tuple[bool, Any]] = []
    with _writer_turn(connection), transaction.atomic(), events_grouped():
        for item in items:
            try:
                if _atomic(item.fn):  # its own savepoint already isolates it
                    results.append((True, item.fn(*item.args, **item.kwargs)))
                else:
                    with transaction.atomic():
                        results.append((True, item.fn(*item.args, **item.kwargs)))
            except Exception as exc:
                results.append((False, exc))
        events_group_store()
        if entries:
            services.ocpp_messages_store(entries=entries)
        if seen:
            services.station_seen_flush(seen=seen)
        # Take the on-commit actions out of the transaction: they run after the answers, on the
        # events thread, and only if this commit succeeds (an exception below discards them).
        hooks, connection.run_on_commit = connection.run_on_commit, []
    return results, [func for _, func, _ in hooks]


BATCH = Batcher()
