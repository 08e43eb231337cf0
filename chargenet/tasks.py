"""Framework-level Celery tasks."""

from datetime import timedelta

from celery import shared_task
from django.conf import settings

from chargenet.events import DISPATCH_BATCH, events_dispatch_due, events_prune


@shared_task(name="chargenet.worker_ping_task")
def worker_ping_task(token: str) -> str:
    """Echo `token` back: proves a worker took a task from the broker and answered."""
    return token


@shared_task(name="chargenet.event_dispatch_task", ignore_result=True)
def event_dispatch_task() -> int:
    """Dispatch every outbox event that is due (the nudge after a commit, and the periodic sweep).
    Returns how many were looked at; queues itself again while a full batch was found."""
    count = events_dispatch_due()
    if count >= DISPATCH_BATCH:
        event_dispatch_task.delay()
    return count


@shared_task(name="chargenet.event_prune_task", ignore_result=True)
def event_prune_task() -> int:
    """Delete dispatched outbox events older than EVENT_RETENTION_DAYS; returns how many."""
    return events_prune(older_than=timedelta(days=settings.EVENT_RETENTION_DAYS))
