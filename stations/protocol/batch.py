"""Group commit: the database work of every OCPP connection of this process, a few milliseconds at a
time, in one transaction.

Each station → CSMS message's service call, the message log and the last-seen times of every
connection of the process are collected for OCPP_GROUP_COMMIT_MS (or while the previous commit runs)
and committed together on a writer thread: one transaction instead of one per message, which SQLite
(one writer) and PostgreSQL (one fsync per commit) both reward. A service call that raises is
rolled back alone and gets its exception back; the others commit (with a savepoint per call, taken
only when a call of the batch has raised: see `_commit`).

A process has OCPP_WRITER_LANES writers (one by default), each with its own thread and database
connection; a station's calls and frames always go to the same one, so they are committed in the
order they arrived. Several overlap their statements' round trips to PostgreSQL, but each commits
fewer messages at a time, and their threads contend for the process's GIL: on PostgreSQL one writer
answered the session mix at less CPU per message and lower latency than two or four
(docs/performance.md, 2026-12-07, day). On SQLite more would only take turns on its one write lock.

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
import logging
import os
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from asgiref.sync import SyncToAsync
from django.conf import settings
from django.db import InterfaceError, OperationalError, close_old_connections, connections, transaction

from chargenet import sql
from chargenet.events import events_group_store, events_grouped
from chargenet.transactions import SavepointsNeeded, call_without_savepoints
from stations import services

logger = logging.getLogger(__name__)

FLUSH_SECONDS = 1.0  # the log and last-seen times are written at least this often
MAX_ITEMS = 200  # service calls per transaction at most
BOOT_PACING_SECONDS = (5, 10)  # BootNotification Pending interval while the writer is behind


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


class Lane:
    """One writer: its own thread and database connection, the service calls and log rows of the
    stations routed to it, committed a group at a time in their order of arrival.

    The event loop hands work in under `lock`; the writer takes all there is after each commit, and
    waits on `ready` only when there is nothing, so a busy writer is never woken: handing each commit
    to a thread pool woke the writer at every commit, a cross-CPU wake-up that cost the event loop
    more than the call it carried (docs/performance.md)."""

    def __init__(self, index: int = 0) -> None:
        self.index = index
        self.lock = threading.Lock()
        self.ready = threading.Condition(self.lock)
        # Under `lock`: handed in by the event loop, taken by the writer.
        self.items: list[Item] = []
        self.log: list[dict[str, Any]] = []
        self.appended = 0  # log entries appended so far
        self.seen: dict[int, Any] = {}  # station id → last-seen time to write
        self.wanted = False  # an answer waits for the log: commit even without a service call
        self.idle = False  # the writer waits on `ready`
        self.stopped = False
        # The event loop's alone.
        self.committed = 0  # log entries committed so far
        self.waiters: list[tuple[int, asyncio.Future]] = []
        self.thread: threading.Thread | None = None

    def wake(self) -> None:
        """With `lock` held: there is work; wake the writer if it waits for some."""
        if self.idle:
            self.idle = False
            self.ready.notify()


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _hand_back(loop: asyncio.AbstractEventLoop, fn: Callable[..., Any], *args: Any) -> None:
    """From a writer: `fn(*args)` on the event loop, unless the loop has ended (nobody waits for
    these answers any more)."""
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(fn, *args)


class Batcher:
    """The process-wide group commit (one per event loop): a writer per lane, a station always on
    the same lane, so its messages are committed in the order they arrived."""

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.connections: set[Seen] = set()
        self.lanes: list[Lane] = [Lane()]
        self.unbooted = 0  # attached connections whose BootNotification is not accepted yet
        self.unbooted_counted_at = -1.0
        self.seen_timer: asyncio.TimerHandle | None = None
        # The loop the writers serve, while they all run.
        self.running: asyncio.AbstractEventLoop | None = None

    # --- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> None:
        """Start (or restart, on a new event loop) the writers and their threads."""
        loop = asyncio.get_running_loop()
        if self.running is loop:
            return
        self.stop()
        self.loop = loop
        previous, self.lanes = self.lanes, [Lane(index) for index in range(settings.OCPP_WRITER_LANES)]
        for lane in previous:
            with lane.lock:
                entries, lane.log = lane.log, []
            for entry in entries:
                self.append(entry)  # frames logged but not yet stored are kept (calls die with their loop)
        for lane in self.lanes:
            lane.thread = threading.Thread(
                target=self.write_forever, args=(lane, loop), name=f"ocpp-writer-{lane.index}", daemon=True
            )
            lane.thread.start()
        self.events = concurrent.futures.ThreadPoolExecutor(
            1, thread_name_prefix="ocpp-events", initializer=_thread_init, initargs=(loop,)
        )
        self.pool = concurrent.futures.ThreadPoolExecutor(
            settings.OCPP_DB_THREADS, thread_name_prefix="ocpp-db", initializer=_thread_init, initargs=(loop,)
        )
        self.seen_timer = loop.call_later(FLUSH_SECONDS, self.seen_scan)
        self.running = loop

    def stop(self) -> None:
        """Stop the writers once they have finished the commit they are in (if any)."""
        self.running = None
        for lane in self.lanes:
            with lane.lock:
                lane.stopped = True
                lane.ready.notify()
        if self.seen_timer is not None and self.loop is _running_loop():
            self.seen_timer.cancel()  # (a timer of an ended loop never fires again)

    def lane(self, station_id: int | None) -> Lane:
        return self.lanes[(station_id or 0) % len(self.lanes)]

    def attach(self, connection: Seen) -> None:
        """Watch this connection's liveness (written at most every `seen_every` seconds)."""
        self.start()
        self.connections.add(connection)

    def detach(self, connection: Seen) -> None:
        self.connections.discard(connection)

    # --- what connections hand in ------------------------------------------------------------------

    def append(self, entry: dict[str, Any]) -> None:
        """Log one frame (of entry["station_id"]); it is stored with its lane's next commit."""
        lane = self.lane(entry.get("station_id"))
        with lane.lock:
            lane.log.append(entry)
            lane.appended += 1

    async def run(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """`fn(*args, **kwargs)` in the next group commit of the lane of kwargs["station_id"]; its
        result (or exception) once committed."""
        return await self.run_for(kwargs.get("station_id"), fn, *args, **kwargs)

    async def run_for(
        self, station_id: int | None, fn: Callable[..., Any], /, *args: Any, **kwargs: Any
    ) -> Any:
        """`fn(*args, **kwargs)` in the next group commit of `station_id`'s lane (after everything that
        station handed in before); its result (or exception) once committed."""
        self.start()
        assert self.loop is not None
        lane = self.lane(station_id)
        future = self.loop.create_future()
        with lane.lock:
            lane.items.append(Item(fn, args, kwargs, future))
            lane.wake()
        return await future

    async def durable(self, station_id: int | None = None) -> None:
        """Return once every frame `station_id` logged so far (every frame, without one) is committed:
        before answering a station's CALL."""
        self.start()
        assert self.loop is not None
        lanes = self.lanes if station_id is None else [self.lane(station_id)]
        for lane in lanes:
            if lane.committed >= lane.appended:
                continue
            future = self.loop.create_future()
            lane.waiters.append((lane.appended, future))
            with lane.lock:
                lane.wanted = True
                lane.wake()
            await future

    async def flush(self) -> None:
        """Every frame logged so far committed (when a connection closes, its frames are stored first)."""
        await self.durable()

    def boot_pacing_interval(self) -> int:
        """0 while a BootNotification can be recorded at once; otherwise (more than
        OCPP_BOOT_PACING_BACKLOG calls wait for a writer) the seconds a booting station is told to
        wait, randomised so the stations that were paced together come back apart: 5 to 10 s (a
        backlog of a few hundred calls is gone in well under a second), or longer while more
        stations wait to boot than the writers record in 10 s."""
        if max(len(lane.items) for lane in self.lanes) < settings.OCPP_BOOT_PACING_BACKLOG:
            return 0
        now = time.monotonic()
        if now - self.unbooted_counted_at >= 1.0:
            self.unbooted_counted_at = now
            self.unbooted = sum(1 for c in self.connections if getattr(c, "registration", "") is None)
        # Thousands of stations told "10 s" would all come back within 10 s, find the writer still
        # behind and be paced again, each Pending costing its log rows: spread them out instead.
        # OCPP_BOOT_PACING_RATE: the boots a process records comfortably per second while it serves
        # the rest; the unbooted stations are spread to come back at about that rate.
        latest = max(BOOT_PACING_SECONDS[1], self.unbooted // settings.OCPP_BOOT_PACING_RATE)
        return random.randint(BOOT_PACING_SECONDS[0], latest)

    async def db_call(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """`fn(*args, **kwargs)` on the database thread pool, outside the group commit (it commits, or
        not, on its own: e.g. a refused login's security event)."""
        self.start()
        assert self.loop is not None
        return await self.loop.run_in_executor(self.pool, _pool_call, fn, args, kwargs)

    # --- the writers (each on its own thread) ------------------------------------------------------

    def write_forever(self, lane: Lane, loop: asyncio.AbstractEventLoop) -> None:
        try:
            self._write_forever(lane, loop)
        finally:
            if not lane.stopped:  # ended by something worse than an exception: start anew at next use
                self.running = None

    def _write_forever(self, lane: Lane, loop: asyncio.AbstractEventLoop) -> None:
        _thread_init(loop)
        window = settings.OCPP_GROUP_COMMIT_MS / 1000
        while True:
            with lane.lock:
                waited = not (lane.items or lane.wanted or lane.seen or lane.stopped)
                if waited:
                    lane.idle = True
                    lane.ready.wait(FLUSH_SECONDS)  # the log is written at least this often
                    lane.idle = False
                if lane.stopped:
                    return
            # Woken by the first call after a pause: wait the window for the others to join it. Work
            # that arrived during the last commit goes at once: that commit was its window.
            if window and waited:
                time.sleep(window)
            try:
                self.write(lane, loop)
            except Exception:  # never let one bad batch stop the writer
                logger.exception("could not commit the OCPP batch")
                time.sleep(0.5)

    def write(self, lane: Lane, loop: asyncio.AbstractEventLoop) -> None:
        """One commit of what `lane` holds; the results handed back to the event loop."""
        with lane.lock:
            items = lane.items[:MAX_ITEMS]
            del lane.items[:MAX_ITEMS]
            entries, lane.log = lane.log, []
            seen, lane.seen = lane.seen, {}
            upto, wanted, lane.wanted = lane.appended, lane.wanted, False
        if not (items or entries or seen):
            if wanted:
                _hand_back(loop, self.written, lane, upto, [], [], [])
            return
        try:
            results, hooks = _commit(items, entries, seen)
        except BaseException as exc:
            with lane.lock:
                lane.log[:0] = entries  # logged again with the next batch; nothing is answered meanwhile
                lane.seen = {**seen, **lane.seen}
                lane.wanted = lane.wanted or wanted
            failure = exc if isinstance(exc, Exception) else RuntimeError(exc)
            _hand_back(loop, self.failed, items, failure)
            raise
        _hand_back(loop, self.written, lane, upto, items, results, hooks)

    def written(
        self,
        lane: Lane,
        upto: int,
        items: list[Item],
        results: list[tuple[bool, Any]],
        hooks: list[Callable[[], Any]],
    ) -> None:
        """On the event loop: a commit's answers, and its on-commit actions handed to the events thread."""
        lane.committed = max(lane.committed, upto)
        self.waiters_wake(lane)
        for item, (ok, value) in zip(items, results, strict=True):
            if item.future.done():
                continue
            if ok:
                item.future.set_result(value)
            else:
                item.future.set_exception(value)
        if hooks:
            assert self.loop is not None
            self.loop.run_in_executor(self.events, _hooks_run, hooks)

    @staticmethod
    def failed(items: list[Item], exc: Exception) -> None:
        for item in items:
            if not item.future.done():
                item.future.set_exception(exc)

    def waiters_wake(self, lane: Lane) -> None:
        waiting = []
        for upto, future in lane.waiters:
            if upto <= lane.committed:
                if not future.done():
                    future.set_result(None)
            else:
                waiting.append((upto, future))
        lane.waiters = waiting

    def seen_scan(self) -> None:
        """Every FLUSH_SECONDS, on the event loop: the last-seen times of connections whose own
        cadence (min(30 s, interval / 2)) has come, handed to their lanes' writers (walking 10,000
        connections at every commit cost the event loop milliseconds)."""
        if self.loop is not _running_loop():
            return  # a timer of the loop before a restart
        assert self.loop is not None
        self.seen_timer = self.loop.call_later(FLUSH_SECONDS, self.seen_scan)
        now = time.monotonic()
        due: dict[int, dict[int, Any]] = {}
        for connection in self.connections:
            if (
                connection.station_id is not None
                and now - connection.seen_flushed_at >= connection.seen_every
                and connection.last_seen != connection.last_flushed_seen
            ):
                connection.seen_flushed_at = now
                connection.last_flushed_seen = connection.last_seen
                index = self.lane(connection.station_id).index
                due.setdefault(index, {})[connection.station_id] = connection.last_seen
        for index, seen in due.items():
            lane = self.lanes[index]
            with lane.lock:
                lane.seen.update(seen)
                lane.wake()


HEALTH_CHECK_IDLE_SECONDS = 5.0


def _connections_ready() -> None:
    """Django's close_old_connections() (a connection that saw an error and fails its check, or one
    past CONN_MAX_AGE, is closed), but the health check it arms (CONN_HEALTH_CHECKS: a `SELECT 1`
    round trip before the next statement) only for a connection this thread has not used without an
    error in the last HEALTH_CHECK_IDLE_SECONDS. A writer commits up to hundreds of times a second,
    and on PostgreSQL the check before each commit was one round trip of the four of a Heartbeat's.
    A connection that broke since its last use fails its next transaction, which `_commit` runs
    again (Django has connected anew by then)."""
    close_old_connections()
    now = time.monotonic()
    for connection in connections.all(initialized_only=True):
        used_at = getattr(connection, "chargenet_used_at", None)
        if (
            connection.connection is not None
            and used_at is not None
            and now - used_at < HEALTH_CHECK_IDLE_SECONDS
        ):
            connection.health_check_done = True  # type: ignore[attr-defined]


def _connections_used() -> None:
    """Remember when this thread's connections last worked (see `_connections_ready`)."""
    now = time.monotonic()
    for connection in connections.all(initialized_only=True):
        if connection.connection is not None and not connection.errors_occurred:
            connection.chargenet_used_at = now  # type: ignore[attr-defined]


def _pool_call(fn: Callable[..., Any], args: tuple, kwargs: dict[str, Any]) -> Any:
    # With its health check (see `_connections_ready`): these calls are not retried.
    close_old_connections()
    return fn(*args, **kwargs)


def _atomic(fn: Callable[..., Any]) -> bool:
    """Whether `fn` is decorated with `@transaction.atomic` (the house style of every service)."""
    cells = getattr(fn, "__closure__", None) or ()
    return any(isinstance(cell.cell_contents, transaction.Atomic) for cell in cells)


# Services whose call raised lately (fn → time.monotonic()): a batch holding one runs with savepoints
# straight away instead of being tried without them first and run twice.
_raised_lately: dict[Any, float] = {}
RAISED_LATELY_SECONDS = 60.0


def _commit(
    items: list[Item], entries: list[dict[str, Any]], seen: dict[int, Any]
) -> tuple[list[tuple[bool, Any]], list[Callable[[], Any]]]:
    """One transaction: the items, then the log and last-seen times. Returns each item's (ok, result
    or exception) and the on-commit actions, which the caller runs later.

    A connection that broke since its last use (the database restarted, or dropped an idle
    connection) fails the transaction at its first statement, and nothing of it is stored: it is run
    once more, on a new connection. (Were the connection lost during COMMIT itself, whose outcome is
    then unknown, the second run is what the stations' own retry would be: the services recognise a
    retried message.)"""
    _connections_ready()
    try:
        results, hooks = _commit_once(items, entries, seen)
    except (OperationalError, InterfaceError):
        if connections["default"].vendor == "sqlite":
            raise  # SQLite's are about the work itself (busy, locked): the callers get them
        # PostgreSQL's: a lost connection (Django connects anew when the block ends), a transaction
        # that lost a serialisation conflict: nothing of it is stored; once more.
        results, hooks = _commit_once(items, entries, seen)
    _connections_used()
    return results, hooks


def _commit_once(
    items: list[Item], entries: list[dict[str, Any]], seen: dict[int, Any]
) -> tuple[list[tuple[bool, Any]], list[Callable[[], Any]]]:
    """An item must be rolled back alone if it raises, which takes a savepoint around each: two more
    statements per message (on PostgreSQL, two more round trips), although items almost never raise.
    So a batch is first run without them (the message log's insert too); if an item raises, that
    attempt is rolled back whole and the batch runs again with a savepoint per item, where the
    failing item gets its exception back and the others commit. Nothing is committed twice: the
    first attempt commits nothing or all."""
    connection = transaction.get_connection()
    now = time.monotonic()
    if not any(
        now - _raised_lately.get(item.fn, -RAISED_LATELY_SECONDS) < RAISED_LATELY_SECONDS for item in items
    ):
        try:
            return _commit_attempt(connection, items, entries, seen, savepoints=False)
        except SavepointsNeeded:
            pass
    results, hooks = _commit_attempt(connection, items, entries, seen, savepoints=True)
    for item, (ok, _) in zip(items, results, strict=True):
        if not ok:
            _raised_lately[item.fn] = now
    return results, hooks


def _commit_attempt(
    connection: Any,
    items: list[Item],
    entries: list[dict[str, Any]],
    seen: dict[int, Any],
    *,
    savepoints: bool,
) -> tuple[list[tuple[bool, Any]], list[Callable[[], Any]]]:
    results: list[tuple[bool, Any]] = []
    # The rows nothing reads back before the commit wait for its end in the first attempt only: in
    # the second, each call's rows are written inside its own savepoint, so a row the database
    # refuses is its call's error alone.
    deferred = contextlib.nullcontext() if savepoints else sql.writes_grouped()
    with transaction.atomic(), events_grouped(), deferred:
        for item in items:
            if not savepoints:
                results.append((True, call_without_savepoints(item.fn, *item.args, **item.kwargs)))
                continue
            try:
                if _atomic(item.fn):  # its own savepoint already isolates it
                    results.append((True, item.fn(*item.args, **item.kwargs)))
                else:
                    with transaction.atomic():
                        results.append((True, item.fn(*item.args, **item.kwargs)))
            except Exception as exc:
                results.append((False, exc))
        if not savepoints:
            call_without_savepoints(sql.writes_group_store)
        events_group_store()
        if entries:
            # Without its savepoint too: a log batch the database refuses (never seen, but a frame
            # can be anything) ends this attempt like an item that raises, and the next one stores
            # it with savepoints, row by row if need be.
            if savepoints:
                services.ocpp_messages_store(entries=entries)
            else:
                call_without_savepoints(services.ocpp_messages_store, entries=entries)
        if seen:
            services.station_seen_flush(seen=seen)
        # Take the on-commit actions out of the transaction: they run after the answers, on the
        # events thread, and only if this commit succeeds (an exception below discards them).
        hooks, connection.run_on_commit = connection.run_on_commit, []
    return results, [func for _, func, _ in hooks]


BATCH = Batcher()
