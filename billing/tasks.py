"""Billing's Celery tasks: they take ids and call one service."""

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from billing import services


@shared_task(name="billing.cdr_create_task", acks_late=True, reject_on_worker_lost=True)
def cdr_create_task(session_id: int) -> int | None:
    """Price a stopped session into its CDR (idempotent). Returns the CDR's id."""
    try:
        return services.cdr_create_for_session(session_id=session_id).pk
    except services.BillingError:
        return None


# acks_late + reject_on_worker_lost: a run whose worker is killed goes back to the queue (within the
# broker's visibility timeout) and the next run issues only what is still uninvoiced, gaplessly.
@shared_task(name="billing.invoice_run_task", acks_late=True, reject_on_worker_lost=True)
def invoice_run_task() -> list[str]:
    """Invoice the last complete period (BILLING_INVOICE_PERIOD). Returns the invoice numbers.
    Resumable: each invoice commits on its own and a rerun skips what is invoiced."""
    period = services.invoice_period_previous(
        today=timezone.localdate(), length=settings.BILLING_INVOICE_PERIOD
    )
    return [invoice.number for invoice in services.invoice_run(period=period)]


@shared_task(name="billing.invoice_email_task", autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def invoice_email_task(invoice_id: int) -> bool:
    """E-mail an issued invoice with its PDF to the driver, once."""
    return services.invoice_email_send(invoice_id=invoice_id)


@shared_task(
    name="billing.credit_note_email_task", autoretry_for=(OSError,), retry_backoff=True, max_retries=5
)
def credit_note_email_task(refund_id: int) -> bool:
    """E-mail a refund's credit note with its PDF to the driver, once."""
    return services.credit_note_email_send(refund_id=refund_id)


@shared_task(name="billing.cdrs_create_missing_task", ignore_result=True)
def cdrs_create_missing_task() -> int:
    """Sweep: price sessions of the last week that stopped over a minute ago and have no CDR."""
    now = timezone.now()
    return len(
        services.cdrs_create_missing(
            stopped_before=now - timedelta(minutes=1), stopped_after=now - timedelta(days=7)
        )
    )


@shared_task(name="billing.invoice_emails_resend_task", ignore_result=True)
def invoice_emails_resend_task() -> int:
    """Sweep: queue again the e-mails of invoices issued in the last two days and not sent after
    ten minutes."""
    now = timezone.now()
    return services.invoice_emails_resend(
        issued_before=now - timedelta(minutes=10), issued_after=now - timedelta(days=2)
    )


@shared_task(name="billing.guest_limits_enforce_task", ignore_result=True)
def guest_limits_enforce_task() -> int:
    """Stop guest sessions whose cost reached their limit (GUEST_STOP_AT_PERCENT of the hold)."""
    from billing.guest.services import guest_limits_enforce

    return len(guest_limits_enforce())


@shared_task(name="billing.guest_charges_sweep_task", ignore_result=True)
def guest_charges_sweep_task() -> int:
    """Fail abandoned guest checkouts and release holds whose session never started."""
    from billing.guest.services import guest_charges_sweep

    return guest_charges_sweep()


@shared_task(name="billing.guest_receipt_task", autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def guest_receipt_task(guest_charge_id: int) -> bool:
    """E-mail a settled guest charge's receipt, once."""
    from billing.guest.services import guest_receipt_send

    return guest_receipt_send(charge_id=guest_charge_id)


@shared_task(name="billing.invoice_autopay_task", acks_late=True, reject_on_worker_lost=True)
def invoice_autopay_task(invoice_id: int) -> int | None:
    """Charge an issued invoice to the driver's default card (one attempt). Returns the payment id."""
    from billing.cards.services import invoice_autopay

    payment = invoice_autopay(invoice_id=invoice_id)
    return payment.pk if payment is not None else None


@shared_task(name="billing.invoice_autopay_retry_task", ignore_result=True)
def invoice_autopay_retry_task() -> int:
    """Sweep: automatic card payments whose answer was lost, and failed ones due for a retry."""
    from billing.cards.services import invoice_autopay_retry

    return invoice_autopay_retry()


@shared_task(
    name="billing.autopay_failure_mail_task", autoretry_for=(OSError,), retry_backoff=True, max_retries=5
)
def autopay_failure_mail_task(payment_id: int) -> bool:
    """Tell the driver an automatic card payment failed."""
    from billing.cards.services import autopay_failure_mail

    return autopay_failure_mail(payment_id=payment_id)


@shared_task(
    name="billing.autopay_receipt_mail_task", autoretry_for=(OSError,), retry_backoff=True, max_retries=5
)
def autopay_receipt_mail_task(payment_id: int) -> bool:
    """Mail the driver the receipt of an automatic card payment."""
    from billing.cards.services import autopay_receipt_mail

    return autopay_receipt_mail(payment_id=payment_id)


@shared_task(name="billing.payments_reconcile_task", ignore_result=True)
def payments_reconcile_task() -> bool:
    """Daily: mail the operators yesterday's reconciliation report when something does not add up."""
    from billing.reconciliation import reconciliation_report_send

    return reconciliation_report_send(day=timezone.localdate() - timedelta(days=1))
