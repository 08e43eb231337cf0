"""Savepoint-free calls: many service calls in one transaction without a savepoint around each.

A savepoint isolates a call that may fail, but costs two statements (on PostgreSQL two round trips)
and Django's bookkeeping, even though calls almost never fail. The OCPP group commit
(stations/protocol/batch.py) and the event dispatcher (chargenet/events.py) therefore run their calls
without savepoints first, every `transaction.atomic` inside them included, and only when one raises
roll the whole attempt back and run it again with a savepoint per call. Nothing is committed twice:
the first attempt commits nothing or everything. What a call does outside the database (a provider
request, a queued task) must be idempotent, as it may happen in both attempts.
"""

from collections.abc import Callable
from typing import Any, TypeVar

from django.db import transaction

T = TypeVar("T")


class SavepointsNeeded(Exception):
    """A call run without savepoints raised, or left the transaction to be rolled back: the caller
    rolls back its attempt and runs it again with a savepoint per call."""


def call_without_savepoints(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`fn(*args, **kwargs)` with every `transaction.atomic` inside it savepoint-free (Django then
    marks the transaction for rollback when such a block raises). Raises SavepointsNeeded if the
    call raised, or caught an error that left the transaction to be rolled back (which would
    otherwise roll back the caller's whole transaction silently at its end)."""
    connection = transaction.get_connection()
    if "_savepoint_allowed" in vars(connection):  # an outer call already turned them off
        return fn(*args, **kwargs)
    connection._savepoint_allowed = _never  # this call only
    try:
        value = fn(*args, **kwargs)
    except Exception as exc:
        raise SavepointsNeeded from exc
    finally:
        del connection._savepoint_allowed
    if connection.needs_rollback:
        raise SavepointsNeeded
    return value


def _never() -> bool:
    return False
