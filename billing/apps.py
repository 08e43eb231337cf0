import logging
from typing import Any

from django.apps import AppConfig
from django.db import transaction

logger = logging.getLogger(__name__)


class BillingConfig(AppConfig):
    name = "billing"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from chargenet.events import event_subscribe
        from stations.sessions.services import session_cost_register, tariff_text_register

        event_subscribe("session.stopped", _on_session_stopped)
        event_subscribe("invoice.issued", _on_invoice_issued)
        event_subscribe("session.started", _on_session_started)
        event_subscribe("cdr.created", _on_cdr_created)
        event_subscribe("guest_charge.provider_event", _on_guest_provider_event)
        event_subscribe("guest_charge.settled", _on_guest_charge_settled)
        event_subscribe("invoice.issued", _on_invoice_issued_autopay)
        event_subscribe("payment.autopay_failed", _on_autopay_failed)
        event_subscribe("checkout.setup_completed", _on_setup_completed)
        event_subscribe("payment.autopay_failed", _on_autopay_failed_block)
        event_subscribe("invoice.status_changed", _on_invoice_status_changed)
        event_subscribe("cdr.created", _on_cdr_created_charge)
        event_subscribe("payment.autopay_succeeded", _on_autopay_succeeded)
        event_subscribe("credit_note.issued", _on_credit_note_issued)
        # A 2.0.1 station shows the driver the session's cost at its end (totalCost, I02).
        session_cost_register(_session_total_cost)
        # An accepted 2.0.1 driver is told the tariff's text (personalMessage, I02).
        tariff_text_register(_tariff_text)


def _on_session_stopped(event_type: str, data: dict) -> None:
    """Price the stopped session into its CDR, in the dispatcher's transaction (once per event)."""
    from billing import services

    try:
        services.cdr_create_for_session(session_id=data["session_id"])
    except services.BillingError:
        # Running again (an offline replay reopened it): its next stop prices it.
        logger.warning("session %s is not priceable yet", data["session_id"], exc_info=True)


def _on_invoice_issued(event_type: str, data: dict) -> None:
    """Mail the invoice from a worker once the dispatcher commits (the sweep resends a lost one)."""
    from billing import services

    services.invoice_email_request(invoice_id=data["invoice_id"])


def _on_session_started(event_type: str, data: dict) -> None:
    """A guest's session started: link it to the guest's charge (one session per hold)."""
    from billing.guest import services

    if services.guest_uid_possible(data.get("id_tag")):
        services.guest_charge_session_link(session_id=data["session_id"])


def _on_cdr_created(event_type: str, data: dict) -> None:
    """A guest's CDR: capture exactly its total or release the hold (retried until the provider
    answers; the provider's idempotency key makes a retry harmless)."""
    from billing.guest import services

    if services.guest_uid_possible(data.get("id_tag")):  # most CDRs are a card's: nothing to ask
        services.guest_charge_settle(cdr_id=data["cdr_id"])


def _on_guest_provider_event(event_type: str, data: dict) -> None:
    """The provider reported on a guest's hold: ask it what is held, and start when it is."""
    from billing.guest import services

    services.guest_charge_confirm(charge_id=data["guest_charge_id"])


def _on_guest_charge_settled(event_type: str, data: dict) -> None:
    """Mail the guest's receipt from a worker once the dispatcher commits (sent once)."""
    from billing.tasks import guest_receipt_task

    def enqueue() -> None:
        try:
            guest_receipt_task.delay(data["guest_charge_id"])
        except Exception:
            logger.exception("could not enqueue the receipt of guest charge %s", data["guest_charge_id"])

    transaction.on_commit(enqueue)


def _enqueue_after_commit(task, *args) -> None:
    def enqueue() -> None:
        try:
            task.delay(*args)
        except Exception:
            logger.exception("could not enqueue %s%r; its sweep will", task.name, args)

    transaction.on_commit(enqueue)


def _on_invoice_issued_autopay(event_type: str, data: dict) -> None:
    """Charge the invoice to a saved card from a worker, outside the dispatcher's transaction (the
    attempt must be committed before the provider is asked); the hourly sweep catches a lost one."""
    from billing.tasks import invoice_autopay_task

    _enqueue_after_commit(invoice_autopay_task, data["invoice_id"])


def _on_autopay_failed(event_type: str, data: dict) -> None:
    from billing.tasks import autopay_failure_mail_task

    _enqueue_after_commit(autopay_failure_mail_task, data["payment_id"])


def _on_cdr_created_charge(event_type: str, data: dict) -> None:
    """BILLING_CHARGE_PER_CDR: invoice the CDR on its own in the dispatcher's transaction (once per
    event); its invoice.issued event then charges the saved card from a worker."""
    from billing.cards.services import cdr_charge_now

    cdr_charge_now(cdr_id=data["cdr_id"])


def _on_autopay_succeeded(event_type: str, data: dict) -> None:
    from billing.tasks import autopay_receipt_mail_task

    _enqueue_after_commit(autopay_receipt_mail_task, data["payment_id"])


def _on_credit_note_issued(event_type: str, data: dict) -> None:
    """Mail the driver the credit note from a worker once the dispatcher commits."""
    from billing.tasks import credit_note_email_task

    _enqueue_after_commit(credit_note_email_task, data["refund_id"])


def _on_setup_completed(event_type: str, data: dict) -> None:
    """The provider confirmed a saved card (webhook): record it even if the driver never came back."""
    from billing.cards.services import payment_method_setup_complete

    payment_method_setup_complete(checkout_reference=data["checkout_reference"])


def _on_autopay_failed_block(event_type: str, data: dict) -> None:
    """Block the driver's cards when their failed invoices reach BILLING_BLOCK_AFTER_FAILED_PAYMENTS."""
    from billing.cards.services import driver_payment_block_apply
    from billing.models import Invoice

    driver_id = Invoice.objects.filter(pk=data["invoice_id"]).values_list("driver_id", flat=True).first()
    if driver_id is not None:
        driver_payment_block_apply(driver_id=driver_id)


def _on_invoice_status_changed(event_type: str, data: dict) -> None:
    """An invoice paid: lift the payment block once the driver is below the limit again."""
    from billing.cards.services import driver_payment_block_lift
    from billing.models import Invoice

    if data.get("status") != Invoice.Status.PAID:
        return
    driver_id = Invoice.objects.filter(pk=data["invoice_id"]).values_list("driver_id", flat=True).first()
    if driver_id is not None:
        driver_payment_block_lift(driver_id=driver_id)


def _tariff_text(station: Any, uid: str, language: str) -> dict[str, str] | None:
    from billing import selectors

    return selectors.tariff_text(station=station, uid=uid, language=language)


def _session_total_cost(session: Any) -> Any:
    """The session's cost incl. VAT as the driver sees it (its CDR, or priced live from its samples)."""
    from billing import selectors

    return selectors.session_cost(session=session).total_incl_vat
