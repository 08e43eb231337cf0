"""Prometheus metrics, served at /metrics in the text format.

Counted in this process as things happen: OCPP frames by direction, kind and action (a rate gives
messages per second), and how long the CSMS took to answer a station's CALL (a histogram per
action). Read from the shared state at scrape time, so every node reports the whole network: the
Celery queue's depth here, and what apps register on REGISTRY (stations: connected stations,
commands by status). Each ASGI node counts its own frames; Prometheus scrapes every node.
"""

import functools
import logging
import os
import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)

REGISTRY = CollectorRegistry(auto_describe=False)

OCPP_MESSAGES = Counter(
    "chargenet_ocpp_messages",
    "OCPP frames by direction (in: from the station), kind (call, result, error, invalid) and action.",
    ["direction", "kind", "action"],
    registry=REGISTRY,
)
OCPP_CALL_SECONDS = Histogram(
    "chargenet_ocpp_call_handling_seconds",
    "Seconds from a station's CALL to the CSMS's answer, per action.",
    ["action"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=REGISTRY,
)

_KINDS = {2: "call", 3: "result", 4: "error"}
# CALLs waiting for our answer: (connection, message id) -> (monotonic start, action). Bounded, so a
# station that never gets answers cannot grow it without end.
_waiting: dict[tuple[int, str], tuple[float, str]] = {}
_WAITING_MAX = 100_000


def _known_actions() -> frozenset[str]:
    from ocpp.v16.enums import Action as Action16
    from ocpp.v201.enums import Action as Action201

    return frozenset(a.value for a in Action16) | frozenset(a.value for a in Action201)


KNOWN_ACTIONS = _known_actions()


def ocpp_frame_logged(
    *, connection: object, direction: str, message_type: int | None, message_id: str, action: str
) -> None:
    """Count one frame of a station's connection (the OCPP consumer's hook; never raises)."""
    # A station names its own actions: anything unknown is "other", so labels stay few.
    label = action if action in KNOWN_ACTIONS else ("other" if action else "")
    _messages(direction, _KINDS.get(message_type or 0, "invalid"), label).inc()
    key = (id(connection), message_id)
    if direction == "in" and message_type == 2:
        if len(_waiting) < _WAITING_MAX:
            _waiting[key] = (time.monotonic(), label)
    elif direction == "out" and message_type in (3, 4):
        started = _waiting.pop(key, None)
        if started is not None:
            _call_seconds(started[1]).observe(time.monotonic() - started[0])


# The labelled series, looked up once each: `labels()` validates and locks on every call, which was
# most of counting a frame. The labels are few (known actions, "other"), so the caches stay small.
@functools.lru_cache(maxsize=1024)
def _messages(direction: str, kind: str, action: str) -> Any:
    return OCPP_MESSAGES.labels(direction, kind, action)


@functools.lru_cache(maxsize=1024)
def _call_seconds(action: str) -> Any:
    return OCPP_CALL_SECONDS.labels(action)


class CeleryCollector(Collector):
    """The Celery queue's depth, read from the broker at scrape time."""

    def collect(self) -> Iterator[Metric]:
        queue_name, depth = _celery_queue_depth()
        up = GaugeMetricFamily("chargenet_celery_broker_up", "1 when the Celery broker answered the scrape.")
        up.add_metric([], 1 if depth is not None else 0)
        yield up
        if depth is not None:
            queue = GaugeMetricFamily(
                "chargenet_celery_queue_depth", "Tasks waiting in the Celery queue.", labels=["queue"]
            )
            queue.add_metric([queue_name], depth)
            yield queue


def _celery_queue_depth() -> tuple[str, int | None]:
    from chargenet.celery import app

    queue = app.conf.task_default_queue
    try:
        with app.connection_for_read() as connection:
            return queue, int(connection.default_channel.client.llen(queue))
    except Exception as exc:
        logger.warning("metrics: the Celery broker did not answer (%s)", exc)
        return queue, None


# Read at scrape time; apps add theirs with scrape_collector_register (stations: stations, commands).
_scrape_collectors: list[Collector] = []


def scrape_collector_register(collector: Collector) -> None:
    """Report `collector`'s metrics at every scrape, once however often it is registered."""
    if any(type(existing) is type(collector) for existing in _scrape_collectors):
        return
    _scrape_collectors.append(collector)
    REGISTRY.register(collector)


scrape_collector_register(CeleryCollector())


def metrics_render() -> bytes:
    """Every metric in the Prometheus text format. With PROMETHEUS_MULTIPROC_DIR set (`manage.py
    run` sets it for its server processes) the counters and histograms of every process that shares
    the directory are summed, whichever process answers the scrape."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry(auto_describe=False)
        multiprocess.MultiProcessCollector(registry)
        for collector in _scrape_collectors:
            registry.register(collector)
        return generate_latest(registry)
    return generate_latest(REGISTRY)
