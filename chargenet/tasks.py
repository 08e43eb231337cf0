"""Framework-level Celery tasks."""

from celery import shared_task


@shared_task(name="chargenet.worker_ping_task")
def worker_ping_task(token: str) -> str:
    """Echo `token` back: proves a worker took a task from the broker and answered."""
    return token
