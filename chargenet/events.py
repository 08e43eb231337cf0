"""Domain events: what happened, written in the same transaction as the change (an outbox).

Services call `event_publish("session.stopped", {...})` inside their atomic block. That is one INSERT
of an `Event` row, so the event exists exactly when the change does: a crash before the commit loses
both, a crash after it loses neither. A dispatcher then hands the event to every subscriber
(`event_subscribe`: billing prices a stopped session, webhooks fan out, local lists follow card
changes) until each has taken it:

- each subscriber runs in the dispatcher's transaction together with the row that records it as
  done, so its database work happens once even when a worker dies half way (exactly once in effect);
  subscribers get `data` plus `event_id` (the event's UUID) and must stay idempotent for what lies
  outside the database (a Celery task they queue, an e-mail);
- a subscriber that raises is retried with back-off (10 s, 20 s, 40 s … at most an hour), the others
  are not called again;
- who dispatches: in the ASGI server the commit only nudges a Celery worker (sent from the event
  loop, at most one nudge per DISPATCH_NUDGE_DELAY), so the thread that serves chargers never waits
  for subscribers or Redis; in a worker, a management command or a test, the committed events are
  dispatched in place right after the commit; and the beat schedule sweeps for anything still due
  (a lost nudge, a dead worker, a subscriber that failed).

After commit the event also goes to the channel-layer group `events` that the dashboard's live feed
listens to; that part is best effort (a dashboard misses an update, nothing is lost).
"""

import asyncio
import concurrent.futures
import functools
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from asgiref.sync import SyncToAsync, async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from django.utils import timezone

from chargenet import sql
from chargenet.transactions import SavepointsNeeded, call_without_savepoints

if TYPE_CHECKING:
    from chargenet.models import Event

logger = logging.getLogger(__name__)

EVENTS_GROUP = "events"
DISPATCH_NUDGE_DELAY = 1.0  # seconds: the ASGI server nudges the dispatcher at most this often
# A nudge still queued after this long is dropped unrun (a worker coming back finds many; one does).
DISPATCH_NUDGE_EXPIRES = 10.0
DISPATCH_BATCH = 500
DISPATCH_CHUNK = 50  # events per dispatch transaction at most
DISPATCH_HOLD_SECONDS = 0.02  # on SQLite: about this much work per dispatch transaction
DISPATCH_CHUNK_FIRST = 4  # on SQLite: the first chunk's events, before their cost is known
RETRY_MAX_SECONDS = 3600

Subscriber = Callable[[str, dict[str, Any]], None]
T = TypeVar("T")
_subscribers: dict[str, list[Subscriber]] = defaultdict(list)
_nudge_pending = threading.Event()
_nudge_pending_since = [0.0]  # when the pending nudge was scheduled (time.monotonic())
_batch = threading.local()  # the reads shared by one dispatch transaction (event_batch_memo)
_group = threading.local()  # whether event_publish defers its INSERT (events_grouped)


def event_subscribe(event_type: str, subscriber: Subscriber) -> None:
    """Deliver every committed event of `event_type` ("*" for all) as `subscriber(event_type, data)`,
    with `data["event_id"]` set, until it returns without raising (see the module docstring)."""
    if subscriber not in _subscribers[event_type]:
        _subscribers[event_type].append(subscriber)


def event_publish(event_type: str, data: dict[str, Any]) -> None:
    """Record `event_type` with JSON-serialisable `data` in the current transaction (one INSERT) and
    dispatch it once the transaction commits. Outside a transaction it is stored at once. Inside
    `events_grouped()` the INSERT waits for `events_group_store()`, still before the commit."""
    from chargenet.models import Event

    if getattr(_group, "active", False) and transaction.get_connection().in_atomic_block:
        transaction.on_commit(_Grouped(event_type, data))
        return
    event = Event.objects.create(type=event_type, data=data)
    transaction.on_commit(lambda: _committed(event.pk, event_type, data))


class _Grouped:
    """An event published inside `events_grouped()`: its on-commit action, which also carries the row
    to insert. Django drops the action of a savepoint that rolls back, so the actions left when the
    transaction ends are exactly the events to store."""

    __slots__ = ("type", "data", "pk")

    def __init__(self, event_type: str, data: dict[str, Any]) -> None:
        self.type, self.data, self.pk = event_type, data, 0

    def __call__(self) -> None:
        _committed(self.pk, self.type, self.data)


@contextmanager
def events_grouped() -> Iterator[None]:
    """Within it, on this thread, `event_publish` defers its INSERT; the caller must call
    `events_group_store()` inside the same transaction before it commits. For the OCPP group commit
    (one multi-row INSERT for the events of a hundred messages instead of a hundred) and for a
    dispatch transaction (the events its subscribers publish)."""
    outer = getattr(_group, "active", False)
    _group.active = True
    try:
        yield
    finally:
        _group.active = outer


def events_group_store() -> int:
    """Insert, in publishing order and in one statement, the events deferred by `events_grouped()`
    that survived their savepoints; returns how many."""
    pending = [
        func for _, func, _ in transaction.get_connection().run_on_commit if isinstance(func, _Grouped)
    ]
    pending = [func for func in pending if not func.pk]
    pks = _events_insert([{"type": func.type, "data": func.data} for func in pending])
    for func, pk in zip(pending, pks, strict=True):
        func.pk = pk
    return len(pending)


def _events_store(events: list["Event"]) -> None:
    """Write what a dispatch changed on `events`: the ones delivered (who took them, their end) in
    one UPDATE per list of subscribers that took them (nearly always one per event type: a chunk's
    events end at one time), the others (who took them, their attempts, when next) in one statement
    executed for each."""
    from chargenet.models import Event

    global _events_update_sql, _events_ended_sql
    if _events_update_sql is None or _events_ended_sql is None:
        _events_update_sql = sql.Update(
            Event, ["done", "attempts", "next_attempt_at", "last_error", "dispatched_at"]
        )
        _events_ended_sql = sql.Update(Event, ["done", "dispatched_at"])
    ended: dict[tuple[tuple[str, ...], datetime], list[int]] = defaultdict(list)
    for event in events:
        if event.dispatched_at is not None:
            ended[(tuple(event.done), event.dispatched_at)].append(event.pk)
    for (done, at), pks in ended.items():
        _events_ended_sql.all(pks, list(done), at)
    rest = [
        (e.pk, e.done, e.attempts, e.next_attempt_at, e.last_error, None)
        for e in events
        if e.dispatched_at is None
    ]
    if rest:
        _events_update_sql.many(rest)


def _events_insert(rows: list[dict[str, Any]]) -> list[int]:
    """Insert events given as {"type": …, "data": …}; returns their primary keys, in order."""
    from chargenet.models import Event

    global _events_insert_sql
    if _events_insert_sql is None:
        _events_insert_sql = sql.Insert(Event, returning_pks=True)
    return _events_insert_sql.values(rows)


_events_update_sql: sql.Update | None = None
_events_ended_sql: sql.Update | None = None
_events_insert_sql: sql.Insert | None = None


def _subscriber_name(subscriber: Subscriber) -> str:
    return f"{subscriber.__module__}.{subscriber.__qualname__}"


def _subscribers_of(event_type: str) -> list[Subscriber]:
    return [*_subscribers.get(event_type, []), *_subscribers.get("*", [])]


def event_batch_memo(key: str, compute: Callable[[], T]) -> T:
    """`compute()`, read once per dispatch transaction (in a run of them, once per phase of the run:
    `events_dispatch_due`) and shared by the subscribers of every event in it. For settings-like
    reads that no subscriber writes (webhook subscriptions, registered roaming partners, managed
    sites), and for the stations that can concern a subscriber at all (under a firmware update,
    with profiles to install again), used only to skip the ones that cannot: a subscriber may take
    a station out of such a set meanwhile (it then asks as before and finds nothing), never put one
    in. Most events need none of them, and asking each time was most of the dispatcher's work.
    Outside a dispatch it is computed on every call."""
    memo = getattr(_batch, "memo", None)
    if memo is None:
        return compute()
    if key not in memo:
        memo[key] = compute()
    return memo[key]


@contextmanager
def _dispatch_transaction() -> Iterator[None]:
    outer = getattr(_batch, "memo", None)
    with transaction.atomic():
        _batch.memo = {} if outer is None else outer
        try:
            yield
        finally:
            _batch.memo = outer


def event_retry_delay(*, attempts: int) -> timedelta:
    """How long a failed event waits before its next dispatch: 10 s doubling, at most an hour."""
    return timedelta(seconds=min(10 * 2 ** max(0, attempts - 1), RETRY_MAX_SECONDS))


def event_dispatch(*, event_id: int) -> bool:
    """Give one event to each subscriber that has not taken it yet; True when every one has.

    Each subscriber's work commits together with the record that it is done, so the event reaches
    it once; a failing subscriber is retried later (event_retry_delay). An event already dispatched,
    or held by another dispatcher, is left alone (returns False).
    """
    delivered = _events_deliver(functools.partial(_events_claim, [event_id]))
    return bool(delivered) and delivered[0]


def events_dispatch_due(*, limit: int = DISPATCH_BATCH) -> int:
    """Dispatch the oldest events that are due (new ones and failed ones whose back-off is over), then
    the events their subscribers publish (a priced session's cdr.created), until `limit` were looked
    at or none is due; returns how many were looked at, so a caller can go on while it reaches
    `limit`.

    Each chunk is claimed by the transaction that delivers it (the oldest due events no other
    dispatcher holds), so dispatchers running at once take different events: two Celery workers that
    each listed the same due events first spent nearly half their work finding them taken."""
    # Many events per transaction (one commit for them all), but on SQLite, whose one write lock
    # the stations' writers wait for meanwhile, about DISPATCH_HOLD_SECONDS of work per
    # transaction: a few events first, then each chunk sized by how long the last one took an
    # event. 50 priced sessions in one transaction held the lock for half a second.
    budget = DISPATCH_HOLD_SECONDS if transaction.get_connection().vendor == "sqlite" else None
    size = DISPATCH_CHUNK if budget is None else DISPATCH_CHUNK_FIRST
    # The live-feed news of the run goes to the pages in one message at the end instead of one each.
    outer = getattr(_batch, "running", False), getattr(_batch, "feed", None), getattr(_batch, "memo", None)
    _batch.running, _batch.feed = True, []
    looked, upto = 0, 0
    try:
        while looked < limit:
            # A phase: the due events up to the newest one now; what their subscribers publish is
            # the next phase's. The settings-like reads (event_batch_memo) are made once per phase,
            # not once per transaction: every event of a phase was stored before the phase began,
            # so a setting changed since is one the event preceded. (On SQLite, where one writer
            # at a time takes the next ids, exactly; on PostgreSQL an event whose transaction was
            # still open when the phase began may get the phase's reads.)
            newest = _events_newest_id()
            if newest <= upto:
                break  # nothing stored since the last phase began
            _batch.memo, _batch.published, upto, more = {}, 0, newest, [True]
            while more[0] and looked < limit:
                began = time.monotonic()
                claim = functools.partial(_events_claim_due, min(size, limit - looked), upto, more)
                count = len(_events_deliver(claim))
                if not count:
                    break
                looked += count
                if budget is not None:
                    took = max(time.monotonic() - began, 1e-6) / count
                    size = max(1, min(DISPATCH_CHUNK, int(budget / took)))
            if not _batch.published:
                # Nothing for a next phase but what stations stored meanwhile: the next run (a
                # nudge, at most one a second) takes it with the rest of that second's. Taking it
                # now, a few events a phase, cost a settings read and a transaction each.
                break
    finally:
        feed, (_batch.running, _batch.feed, _batch.memo) = _batch.feed, outer
        if feed:
            _live_feed_deliver_many(feed)
    return looked


def _events_newest_id() -> int:
    from chargenet.models import Event

    global _events_newest_sql
    if _events_newest_sql is None:
        _events_newest_sql = sql.Raw(
            Event, lambda qn: f"SELECT MAX({qn('id')}) FROM {qn(Event._meta.db_table)}"
        )
    [(newest,)] = _events_newest_sql()
    return newest or 0


_events_newest_sql: sql.Raw | None = None


def _events_claim_due(size: int, upto: int, more: list[bool]) -> list["Event"]:
    """Claim the `size` oldest due events up to id `upto` that no other dispatcher holds; `more[0]`
    tells whether any is left after them (one more is looked for), so that the last chunk of a
    phase is known without a transaction that finds nothing."""
    from chargenet.models import Event

    global _events_due_sql
    if _events_due_sql is None:
        # In id order through the pending events' partial index on id (event_pending_id_idx),
        # stopping at the chunk: dispatched events leave it (on PostgreSQL an index scan passes
        # over a dispatched event's entry once and marks it dead until the vacuum removes it).
        _events_due_sql = sql.Select(
            Event, where=["dispatched_at__isnull", "id__lte", "next_attempt_at__lte"], lock=True
        )
    due = _events_due_sql.many(upto, timezone.now(), limit=size + 1)
    more[0] = len(due) > size
    return due[:size]


_events_due_sql: "sql.Select[Event] | None" = None


def _events_claim(event_ids: list[int]) -> list["Event"]:
    from chargenet.models import Event

    global _events_claim_sql
    if _events_claim_sql is None:
        # skip_locked: two dispatchers never hold the same event (SQLite serialises writers anyway).
        _events_claim_sql = sql.Select(Event, where=["id__in", "dispatched_at__isnull"], lock=True)
    return _events_claim_sql.many(event_ids)


_events_claim_sql: "sql.Select[Event] | None" = None


def _events_deliver(claim: Callable[[], list["Event"]]) -> list[bool]:
    """Claim events (`claim()`) and give each to its subscribers, in one transaction; returns, for
    each event claimed, whether every subscriber took it.

    A savepoint around every subscriber call would cost more than most subscribers' own work, and
    they almost never raise. So the calls first run without savepoints, under one savepoint for the
    whole chunk; if one raises, that attempt is rolled back and the chunk runs again with a savepoint
    per call (chargenet/transactions.py), where the subscriber that raised is not called a second
    time but has its failure recorded. A chunk holding an event that failed before goes straight to
    the second way."""
    failed: dict[tuple[int, str], BaseException] = {}
    # The events the subscribers publish (a priced session's cdr.created) go in with one INSERT.
    with _dispatch_transaction(), events_grouped():
        events, now = claim(), timezone.now()
        if not any(event.attempts for event in events):
            try:
                with transaction.atomic():
                    delivered = [
                        _event_deliver(event, now, savepoints=False, failed=failed) for event in events
                    ]
                    events_group_store()
                    _events_store(events)
                    return delivered
            except SavepointsNeeded:
                claimed = [event.pk for event in events]
                events = _events_claim(claimed)  # as they were: the attempt changed them
        delivered = [_event_deliver(event, now, savepoints=True, failed=failed) for event in events]
        events_group_store()
        _events_store(events)
        return delivered


def _event_deliver(
    event: "Event", now: datetime, *, savepoints: bool, failed: dict[tuple[int, str], BaseException]
) -> bool:
    """Give `event` to its subscribers, with a savepoint each or without (then the first that raises
    is noted in `failed` and ends the attempt: SavepointsNeeded); the caller stores what changed on
    it (_events_store), `now` being the time of the dispatch."""
    data = {**event.data, "event_id": str(event.uuid)}
    errors = []
    for subscriber in _subscribers_of(event.type):
        name = _subscriber_name(subscriber)
        if name in event.done:
            continue
        if not savepoints:
            try:
                call_without_savepoints(subscriber, event.type, dict(data))
            except SavepointsNeeded as exc:
                if exc.__cause__ is not None:  # (else it caught its own error: it runs again)
                    failed[(event.pk, name)] = exc.__cause__
                raise
            event.done = [*event.done, name]
            continue
        try:
            if (event.pk, name) in failed:
                raise failed[(event.pk, name)]
            with transaction.atomic():
                subscriber(event.type, dict(data))
        except Exception as exc:
            logger.exception("event subscriber %s failed for %s %s", name, event.type, event.uuid)
            errors.append(f"{name}: {exc.__class__.__name__}: {exc}")
            continue
        event.done = [*event.done, name]
    if errors:
        event.attempts += 1
        event.next_attempt_at = now + event_retry_delay(attempts=event.attempts)
        event.last_error = "\n".join(errors)[:2000]
    else:
        event.dispatched_at = now
    return not errors


def events_prune(*, older_than: timedelta) -> int:
    """Delete dispatched events older than `older_than`; returns how many. Pending ones are kept."""
    from chargenet.models import Event

    deleted, _ = Event.objects.filter(
        dispatched_at__isnull=False, created_at__lt=timezone.now() - older_than
    ).delete()
    return deleted


def _committed(event_id: int, event_type: str, data: dict[str, Any]) -> None:
    loop = _server_loop()
    if getattr(_batch, "running", False):
        _batch.published += 1  # published by a subscriber: the next phase of events_dispatch_due takes it
    elif loop is None:
        try:
            event_dispatch(event_id=event_id)
        except Exception:
            # The event is stored: the sweep delivers it.
            logger.exception("could not dispatch event %s in place; the sweep will", event_id)
    elif not _nudge_pending.is_set() or time.monotonic() - _nudge_pending_since[0] > DISPATCH_NUDGE_EXPIRES:
        # A nudge scheduled long ago that never ran (its loop stopped or was replaced) must not
        # keep every later event waiting for the sweep.
        _nudge_pending.set()
        _nudge_pending_since[0] = time.monotonic()
        loop.call_soon_threadsafe(loop.call_later, DISPATCH_NUDGE_DELAY, _nudge, loop)
    _live_feed_deliver(event_type, data)


def live_feed_notify(event_type: str, data: dict[str, Any]) -> None:
    """Tell open pages about `event_type` once the current transaction commits, and nothing else: no
    stored event, no subscribers, no webhook. For frequent, page-only news such as logged frames."""
    transaction.on_commit(lambda: _live_feed_deliver(event_type, data))


def _live_feed_deliver(event_type: str, data: dict[str, Any]) -> None:
    message = {"type": "event.message", "event": event_type, "data": data}
    feed = getattr(_batch, "feed", None)
    if feed is not None:
        feed.append(message)  # sent with the rest of the dispatch run's news (events_dispatch_due)
        return
    try:
        layer = get_channel_layer()
        if layer is not None:
            _live_feed_send(layer, message)
    except Exception:
        # The live feed is best effort: a dashboard misses an update, nothing is lost.
        logger.warning("could not send %s to the live feed", event_type, exc_info=True)


def _live_feed_deliver_many(messages: list[dict[str, Any]]) -> None:
    """A dispatch run's news, in publishing order, in as few group messages as FEED_BATCH allows:
    outside the ASGI server each send is a new event loop and Redis connection (async_to_sync)."""
    try:
        layer = get_channel_layer()
        if layer is not None:
            async_to_sync(_feed_send)(layer, list({_feed_key(m): m for m in messages}.values()))
    except Exception:
        logger.warning("could not send %d events to the live feed", len(messages), exc_info=True)


def _server_loop() -> asyncio.AbstractEventLoop | None:
    """The ASGI server's event loop when this runs on one of its sync_to_async threads."""
    loop = getattr(SyncToAsync.threadlocal, "main_event_loop", None)
    return loop if loop is not None and loop.is_running() else None


def _nudge(loop: asyncio.AbstractEventLoop) -> None:
    # On the event loop: queue the Celery task from a thread (a Redis round trip, maybe a broker
    # outage with retries), never on the loop itself nor on the thread that writes to the database.
    _nudge_pending.clear()
    loop.run_in_executor(None, _nudge_send)


def _nudge_send() -> None:
    from chargenet.tasks import event_dispatch_task

    try:
        event_dispatch_task.apply_async(retry=False, expires=DISPATCH_NUDGE_EXPIRES)
    except Exception:
        logger.warning("could not nudge the event dispatcher; the sweep will deliver", exc_info=True)


def _live_feed_send(layer: Any, message: dict[str, Any]) -> None:
    # Inside the ASGI server this runs on the thread that runs a group commit's after-commit actions:
    # the message joins the server loop's next live-feed batch (`_feed_flush`), and the thread moves
    # on. A busy server publishes hundreds of events a second; one group_send (a Redis round trip,
    # and a fan-out to every open page) per event cost the event loop a quarter of its time, one per
    # batch costs next to nothing. Elsewhere (Celery, commands) the message is sent inline.
    loop = _server_loop()
    if loop is not None:
        with _feed_lock:
            if _feed_loop[0] is not loop:
                # A new server loop (in production there is one per process; tests start one each):
                # what the old one never sent is dropped with it, and nothing waits for its flush.
                _feed_loop[0] = loop
                _feed_pending.clear()
                _feed_scheduled_at[0] = -1e9
            _feed_pending.append(message)
            now = time.monotonic()
            # A flush already scheduled takes this one too (unless its loop never ran it).
            if now - _feed_scheduled_at[0] < FEED_FLUSH_EXPIRES:
                return
            _feed_scheduled_at[0] = now
        # A short wait gathers the news of the commits that follow into the same group message: at
        # a few commits a second a flush per commit cost the event loop a fifth of its time.
        loop.call_soon_threadsafe(loop.call_later, FEED_FLUSH_DELAY, _feed_flush, layer)
        return
    async_to_sync(layer.group_send)(EVENTS_GROUP, message)


_feed_lock = threading.Lock()
_feed_pending: list[dict[str, Any]] = []
_feed_loop: list[asyncio.AbstractEventLoop | None] = [None]  # the loop the pending batch is for
_feed_scheduled_at = [-1e9]  # when the pending flush was scheduled (time.monotonic()); far past: none
FEED_BATCH = 200  # events per live-feed group message at most
FEED_FLUSH_EXPIRES = 5.0  # a flush not run after this long (its loop stopped) is scheduled again
FEED_FLUSH_DELAY = 0.1  # seconds from the first unsent news to its flush


def _feed_flush(layer: Any) -> None:
    """On the server loop: send the events published since the last flush to the live-feed group, a
    batch per group message, in publishing order (the same news twice in a batch goes once)."""
    with _feed_lock:
        pending = list(_feed_pending)
        _feed_pending.clear()
        _feed_scheduled_at[0] = -1e9
    messages = list({_feed_key(m): m for m in pending}.values())
    if messages:
        asyncio.ensure_future(_feed_send(layer, messages)).add_done_callback(_log_failed_send)


async def _feed_send(layer: Any, messages: list[dict[str, Any]]) -> None:
    for start in range(0, len(messages), FEED_BATCH):  # one after the other: pages see them in order
        events = [{"event": m["event"], "data": m["data"]} for m in messages[start : start + FEED_BATCH]]
        await layer.group_send(EVENTS_GROUP, {"type": "event.batch", "events": events})


def _feed_key(message: dict[str, Any]) -> Any:
    # Events carry distinct ids or timestamps; page-only news such as "station 7 logged frames" does
    # not, and a page re-fetches the fragment once for any number of them.
    key = (message["event"], tuple(sorted(message["data"].items())))
    try:
        hash(key)
    except TypeError:  # data holding a list or a dict: never merged
        return id(message)
    return key


def _log_failed_send(future: "concurrent.futures.Future | asyncio.Future") -> None:
    if not future.cancelled() and future.exception() is not None:
        logger.warning("could not send an event to the live feed: %s", future.exception())
