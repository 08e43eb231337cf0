"""Celery tasks of the webhooks: one delivery per task, retried with back-off."""

from celery import shared_task
from django.conf import settings

from chargenet.webhooks.models import WebhookDelivery
from chargenet.webhooks.services import webhook_backoff, webhook_delivery_attempt


@shared_task(bind=True, name="chargenet.webhook_deliver_task", max_retries=None)
def webhook_deliver_task(self, delivery_id: int) -> str:
    """Attempt a delivery; retry later while it is pending and attempts remain. Idempotent."""
    delivery = webhook_delivery_attempt(delivery_id=delivery_id)
    if delivery is None:
        return "skipped"
    if (
        delivery.status == WebhookDelivery.Status.PENDING
        and delivery.attempts < settings.WEBHOOK_MAX_ATTEMPTS
    ):
        raise self.retry(countdown=webhook_backoff(attempts=delivery.attempts))
    return delivery.status
