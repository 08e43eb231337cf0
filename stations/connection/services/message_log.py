"""The OCPP message log: batched writes of logged frames and their pruning."""

import logging
from datetime import timedelta
from typing import Any

from django.db import DatabaseError, transaction
from django.utils import timezone

from chargenet import sql
from chargenet.events import live_feed_notify
from stations.models import OcppMessage, Station

logger = logging.getLogger(__name__)


def _text_clean(value: Any) -> Any:
    # PostgreSQL text refuses NUL; the JSON escape keeps the frame readable and unambiguous.
    return value.replace("\x00", "\\u0000") if isinstance(value, str) and "\x00" in value else value


# Every group commit's log rows, one INSERT compiled once (see chargenet/sql.py), and the check that
# their stations still exist (through the ORM, compiling that query at every commit was half the
# cost of storing a small batch).
_messages_insert = sql.Insert(OcppMessage)
_stations_existing = sql.Select(Station, where=["id__in"], only={"": ["id"]})


def ocpp_messages_store(*, entries: list[dict[str, Any]]) -> int:
    """Write a batch of logged frames, of any number of stations (one INSERT); returns how many were
    stored. Never fails the caller's transaction: text the database refuses (NUL) is escaped, frames of
    stations deleted meanwhile are dropped, and if the database still refuses the batch each frame is
    tried alone (in its own savepoint) so one bad frame costs no other station its log. Called
    without savepoints (chargenet/transactions.py), a refused batch raises instead: the caller runs
    its transaction again with them."""
    station_ids = {e["station_id"] for e in entries if e.get("station_id") is not None}
    existing = {station.pk for station in _stations_existing.many(sorted(station_ids))}
    rows = [
        {key: _text_clean(value) for key, value in entry.items()}
        for entry in entries
        if entry.get("station_id") is None or entry["station_id"] in existing
    ]
    if len(rows) < len(entries):
        logger.warning("dropped %d logged frames of deleted stations", len(entries) - len(rows))
    # One notice per station and batch, after commit: an open message log fetches its newest frames.
    for station_id in {row["station_id"] for row in rows if row.get("station_id") is not None}:
        live_feed_notify("station.messages_logged", {"station_id": station_id})
    try:
        with transaction.atomic():
            _messages_insert.values(rows)
        return len(rows)
    except DatabaseError:
        if transaction.get_connection().needs_rollback:
            raise  # run without savepoints (the group commit's first attempt): nothing more can run
        logger.exception("the message log batch was refused; storing its %d frames one by one", len(rows))
    stored = 0
    for row in rows:
        try:
            with transaction.atomic():
                OcppMessage(**row).save(force_insert=True)
            stored += 1
        except DatabaseError:
            logger.exception("could not log a frame of %s", row.get("identity"))
    return stored


def ocpp_messages_prune(*, older_than_days: int) -> int:
    """Delete logged frames older than `older_than_days`; returns how many."""
    cutoff = timezone.now() - timedelta(days=older_than_days)
    deleted, _ = OcppMessage.objects.filter(created_at__lt=cutoff).delete()
    return deleted
