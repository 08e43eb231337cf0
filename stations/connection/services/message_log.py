"""The OCPP message log: batched writes of logged frames and their pruning."""

import logging
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from stations.models import OcppMessage, Station

logger = logging.getLogger(__name__)


def ocpp_messages_store(*, entries: list[dict[str, Any]]) -> int:
    """Write a batch of logged frames, of any number of stations (one INSERT); frames of a station
    deleted meanwhile are dropped, the others kept. Returns how many were stored."""
    try:
        with transaction.atomic():
            OcppMessage.objects.bulk_create([OcppMessage(**entry) for entry in entries])
        return len(entries)
    except IntegrityError:
        pass
    existing = set(
        Station.objects.filter(pk__in={e["station_id"] for e in entries}).values_list("pk", flat=True)
    )
    kept = [entry for entry in entries if entry["station_id"] in existing]
    logger.warning("dropped %d logged frames of deleted stations", len(entries) - len(kept))
    with transaction.atomic():
        OcppMessage.objects.bulk_create([OcppMessage(**entry) for entry in kept])
    return len(kept)


def ocpp_messages_prune(*, older_than_days: int) -> int:
    """Delete logged frames older than `older_than_days`; returns how many."""
    cutoff = timezone.now() - timedelta(days=older_than_days)
    deleted, _ = OcppMessage.objects.filter(created_at__lt=cutoff).delete()
    return deleted
