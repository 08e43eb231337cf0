"""Domain events: what happened, published by services after their transaction commits.

Services call `event_publish("session.stopped", {...})` inside their atomic block. After commit the
event goes to the in-process subscribers (other apps react without the publisher importing them:
billing prices a stopped session, webhooks deliver to integrators) and to the channel-layer group
`events` that the dashboard's live feed listens to.

Subscribers must be quick and must not raise; real work goes to a Celery task they enqueue.
"""

import asyncio
import concurrent.futures
import logging
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from asgiref.sync import SyncToAsync, async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)

EVENTS_GROUP = "events"

Subscriber = Callable[[str, dict[str, Any]], None]
_subscribers: dict[str, list[Subscriber]] = defaultdict(list)


def event_subscribe(event_type: str, subscriber: Subscriber) -> None:
    """Call `subscriber(event_type, data)` after every committed event of that type ("*" for all)."""
    if subscriber not in _subscribers[event_type]:
        _subscribers[event_type].append(subscriber)


def event_publish(event_type: str, data: dict[str, Any]) -> None:
    """Publish `event_type` with JSON-serialisable `data` once the current transaction commits."""
    transaction.on_commit(lambda: _deliver(event_type, data))


def live_feed_notify(event_type: str, data: dict[str, Any]) -> None:
    """Tell open pages about `event_type` once the current transaction commits, without the
    in-process subscribers (webhooks, billing): for frequent, page-only news such as logged frames."""
    transaction.on_commit(lambda: _live_feed_deliver(event_type, data))


def _live_feed_deliver(event_type: str, data: dict[str, Any]) -> None:
    try:
        layer = get_channel_layer()
        if layer is not None:
            _live_feed_send(layer, {"type": "event.message", "event": event_type, "data": data})
    except Exception:
        # The live feed is best effort: a dashboard misses an update, nothing is lost.
        logger.warning("could not send %s to the live feed", event_type, exc_info=True)


def _deliver(event_type: str, data: dict[str, Any]) -> None:
    for subscriber in [*_subscribers.get(event_type, []), *_subscribers.get("*", [])]:
        try:
            subscriber(event_type, data)
        except Exception:
            logger.exception("event subscriber %r failed for %s", subscriber, event_type)
    _live_feed_deliver(event_type, data)


def _live_feed_send(layer: Any, message: dict[str, Any]) -> None:
    # Inside the ASGI server this runs on the database thread of a sync_to_async call: hand the send
    # to the server's event loop and do not wait for Redis, so the thread serving the chargers moves
    # on (the send costs a loop hop and a Redis round trip). Elsewhere (Celery, commands) send inline.
    loop = getattr(SyncToAsync.threadlocal, "main_event_loop", None)
    if loop is not None and loop.is_running():
        future = asyncio.run_coroutine_threadsafe(layer.group_send(EVENTS_GROUP, message), loop)
        future.add_done_callback(_log_failed_send)
        return
    async_to_sync(layer.group_send)(EVENTS_GROUP, message)


def _log_failed_send(future: concurrent.futures.Future) -> None:
    if not future.cancelled() and future.exception() is not None:
        logger.warning("could not send an event to the live feed: %s", future.exception())
