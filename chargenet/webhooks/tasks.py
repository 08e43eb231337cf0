"""Celery tasks of the webhooks: one delivery per task, retried with back-off."""

from celery import shared_task

from chargenet.webhooks.models import WebhookDelivery
from chargenet.webhooks.services import webhook_backoff, webhook_deliveries_due, webhook_delivery_attempt

RETRY_IN_TASK_MAX = 60  # seconds


@shared_task(bind=True, name="chargenet.webhook_deliver_task", max_retries=None)
def webhook_deliver_task(self, delivery_id: int) -> str:
    """Attempt a delivery; retry later while it is pending and attempts remain. Idempotent."""
    delivery = webhook_delivery_attempt(delivery_id=delivery_id)
    if delivery is None:
        return "skipped"
    if delivery.status == WebhookDelivery.Status.PENDING:
        countdown = webhook_backoff(attempts=delivery.attempts)
        # A short wait stays a Celery retry; a long one is left to the sweep, since the broker hands
        # a task that waits longer than its visibility timeout to a second worker.
        if countdown <= RETRY_IN_TASK_MAX:
            raise self.retry(countdown=countdown)
    return delivery.status


@shared_task(name="chargenet.webhook_deliveries_due_task", ignore_result=True)
def webhook_deliveries_due_task() -> int:
    """Sweep: queue the pending deliveries whose next attempt is due. Returns how many."""
    return webhook_deliveries_due()
