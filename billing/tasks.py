"""Billing's Celery tasks: they take ids and call one service."""

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from billing import services


@shared_task(name="billing.cdr_create_task", acks_late=True)
def cdr_create_task(session_id: int) -> int | None:
    """Price a stopped session into its CDR (idempotent). Returns the CDR's id."""
    try:
        return services.cdr_create_for_session(session_id=session_id).pk
    except services.BillingError:
        return None


@shared_task(name="billing.invoice_run_task")
def invoice_run_task() -> list[str]:
    """Invoice the last complete period (BILLING_INVOICE_PERIOD). Returns the invoice numbers."""
    period = services.invoice_period_previous(
        today=timezone.localdate(), length=settings.BILLING_INVOICE_PERIOD
    )
    return [invoice.number for invoice in services.invoice_run(period=period)]


@shared_task(name="billing.invoice_email_task", autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def invoice_email_task(invoice_id: int) -> bool:
    """E-mail an issued invoice with its PDF to the driver, once."""
    return services.invoice_email_send(invoice_id=invoice_id)
