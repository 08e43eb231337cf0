"""Saved cards and automatic payment of invoices (off-session), with retries and the driver told.

A driver saves a card through the provider's setup checkout (a SetupIntent); we keep only the
provider's ids and the masked card. Every issued invoice of a driver with a default card is charged
off-session (`invoice.issued`, through the outbox); with BILLING_CHARGE_PER_CDR each new CDR of such a
driver is invoiced on its own at once (`cdr.created`), so each session is charged when it ends. A
charge that goes through mails a receipt. A declined charge fails that attempt, mails the
driver (who can pay by hand on the invoice page) and is tried again after each of
BILLING_AUTOPAY_RETRY_HOURS; an attempt whose answer was lost is asked again with the same
idempotency key, so the card is never charged twice for one attempt.
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext

from billing.models import Cdr, Invoice, Payment, PaymentBlock, PaymentMethod
from billing.providers import CardDeclined, PaymentProvider, ProviderError, provider_get
from billing.services import BillingError, invoice_issue_for_cdr, payment_status_set
from chargenet.events import event_publish
from chargenet.services import user_language
from rfid.models import Driver, IdToken
from rfid.services import id_token_block, id_token_unblock

logger = logging.getLogger(__name__)

CARD_PROVIDER = "stripe"
AUTOMATIC_NOTE = "Automatic card payment"


def _provider() -> PaymentProvider:
    return provider_get(CARD_PROVIDER)


def payment_method_setup_start(*, driver: Driver, success_url: str, cancel_url: str) -> str:
    """Open the provider's page where the driver saves a card; returns its URL. The driver's
    customer at the provider is made once and reused. Raises BillingError when the provider refuses."""
    if not settings.STRIPE_SECRET_KEY:
        raise BillingError("saving a card is not available: card payments are not configured")
    provider = _provider()
    customer = (
        PaymentMethod.objects.filter(driver=driver, provider=provider.name)
        .values_list("customer_reference", flat=True)
        .first()
    )
    try:
        if not customer:
            customer = provider.customer_create(
                driver_id=driver.pk, email=driver.email or driver.user.email, name=driver.name
            )
        checkout = provider.setup_checkout_create(
            customer=customer, driver_id=driver.pk, success_url=success_url, cancel_url=cancel_url
        )
    except ProviderError as exc:
        raise BillingError(f"the card could not be saved: {exc}") from None
    return checkout.url


def payment_method_setup_complete(
    *, checkout_reference: str, driver: Driver | None = None
) -> PaymentMethod | None:
    """Record the card a setup checkout saved (once; the first card becomes the default). None while
    the provider has not confirmed it. Raises BillingError when the checkout belongs to another
    driver than `driver` (a forged return link)."""
    card = _provider().setup_checkout_retrieve(checkout_reference=checkout_reference)
    if card is None:
        return None
    if card.driver_id is None or (driver is not None and card.driver_id != driver.pk):
        raise BillingError("this card was saved for another account")
    with transaction.atomic():
        owner = Driver.objects.select_for_update().get(pk=card.driver_id)
        existing = PaymentMethod.objects.filter(provider=CARD_PROVIDER, reference=card.reference).first()
        if existing is not None:
            return existing
        method = PaymentMethod.objects.create(
            driver=owner,
            provider=CARD_PROVIDER,
            reference=card.reference,
            customer_reference=card.customer,
            brand=card.brand,
            last4=card.last4,
            exp_month=card.exp_month,
            exp_year=card.exp_year,
            is_default=not PaymentMethod.objects.filter(driver=owner, is_default=True).exists(),
        )
        event_publish("payment_method.added", {"payment_method_id": method.pk, "driver_id": owner.pk})
    return method


def _method_of(driver: Driver, method_id: int) -> PaymentMethod:
    method = PaymentMethod.objects.select_for_update().filter(driver=driver, pk=method_id).first()
    if method is None:
        raise BillingError("no such card on your account")
    return method


@transaction.atomic
def payment_method_remove(*, driver: Driver, method_id: int) -> None:
    """Remove a saved card (detached at the provider); the newest other card becomes the default."""
    method = _method_of(driver, method_id)
    try:
        provider_get(method.provider).payment_method_detach(reference=method.reference)
    except ProviderError as exc:
        raise BillingError(f"the card could not be removed: {exc}") from None
    was_default = method.is_default
    method.delete()
    if was_default:
        successor = PaymentMethod.objects.filter(driver=driver).order_by("-created_at", "-id").first()
        if successor is not None:
            PaymentMethod.objects.filter(pk=successor.pk).update(is_default=True)
    event_publish("payment_method.removed", {"payment_method_id": method_id, "driver_id": driver.pk})


@transaction.atomic
def payment_method_default_set(*, driver: Driver, method_id: int) -> PaymentMethod:
    """Make a saved card the one invoices are charged to."""
    Driver.objects.select_for_update().get(pk=driver.pk)
    method = _method_of(driver, method_id)
    PaymentMethod.objects.filter(driver=driver, is_default=True).exclude(pk=method.pk).update(
        is_default=False
    )
    if not method.is_default:
        method.is_default = True
        method.save(update_fields=["is_default"])
    return method


def _automatic(invoice: Invoice) -> list[Payment]:
    return list(
        Payment.objects.filter(invoice=invoice, note__startswith=AUTOMATIC_NOTE).order_by("created_at", "id")
    )


def cdr_charge_now(*, cdr_id: int) -> Invoice | None:
    """With BILLING_CHARGE_PER_CDR on, a new CDR of a driver with a default card is invoiced on its
    own at once; the invoice's `invoice.issued` subscribers mail it and charge the card, with the
    retries, failure mails and blocking rule of every automatic payment. Corrections (credit and
    superseding CDRs), free sessions and drivers without a card wait for the period's invoice.
    Returns the invoice, or None when the CDR is left to the invoice run."""
    if not settings.BILLING_CHARGE_PER_CDR:
        return None
    cdr = Cdr.objects.filter(pk=cdr_id).first()
    if (
        cdr is None
        or cdr.driver_id is None
        or cdr.kind != Cdr.Kind.NORMAL
        or cdr.supersedes_id is not None
        or cdr.total_incl_vat <= 0
        or not PaymentMethod.objects.filter(driver_id=cdr.driver_id, is_default=True).exists()
    ):
        return None
    return invoice_issue_for_cdr(cdr_id=cdr.pk)


def invoice_autopay(*, invoice_id: int) -> Payment | None:
    """Charge an issued invoice to its driver's default card, off-session: one new attempt (a
    Payment), unless the invoice is settled, costs nothing, has an attempt in flight, or the driver
    has no card. A declined card fails the attempt and mails the driver (event
    `payment.autopay_failed`); an unreachable provider leaves it open for `invoice_autopay_retry`."""
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().select_related("driver").get(pk=invoice_id)
        if invoice.status in (Invoice.Status.PAID, Invoice.Status.REFUNDED) or invoice.total_incl_vat <= 0:
            return None
        if any(p.status == Payment.Status.OPEN for p in _automatic(invoice)):
            return None
        method = PaymentMethod.objects.filter(driver=invoice.driver, is_default=True).first()
        if method is None:
            return None
        payment = Payment.objects.create(
            invoice=invoice,
            provider=method.provider,
            amount=invoice.total_incl_vat,
            currency=invoice.currency,
            payment_method=method,
            note=f"{AUTOMATIC_NOTE} ({method})",
        )
    # The attempt is committed before the provider is asked: a lost answer is asked again with the
    # same idempotency key (chargenet-payment-<id>) and cannot charge twice.
    return _attempt(payment)


def _attempt(payment: Payment) -> Payment:
    method = payment.payment_method
    if method is None:
        with transaction.atomic():
            Payment.objects.filter(pk=payment.pk).update(note=f"{AUTOMATIC_NOTE}: the card was removed")
            return payment_status_set(payment=payment, status=Payment.Status.FAILED)
    invoice = payment.invoice
    try:
        intent = provider_get(payment.provider).charge_off_session(
            payment=payment,
            customer=method.customer_reference,
            method=method.reference,
            description=f"Invoice {invoice.number}",
        )
    except CardDeclined as exc:
        with transaction.atomic():
            Payment.objects.filter(pk=payment.pk).update(note=f"{AUTOMATIC_NOTE}: {exc}"[:300])
            payment = payment_status_set(payment=payment, status=Payment.Status.FAILED)
            event_publish(
                "payment.autopay_failed",
                {"payment_id": payment.pk, "invoice_id": invoice.pk, "reason": str(exc)[:200]},
            )
        return payment
    except ProviderError:
        logger.warning("automatic payment %s: no answer; retried later", payment.pk, exc_info=True)
        return payment
    with transaction.atomic():
        Payment.objects.filter(pk=payment.pk).update(reference=intent)
        payment = payment_status_set(payment=payment, status=Payment.Status.PAID)
        event_publish("payment.autopay_succeeded", {"payment_id": payment.pk, "invoice_id": invoice.pk})
        return payment


def autopay_next_attempt(*, invoice: Invoice) -> datetime | None:
    """When the next automatic attempt for a failed invoice is due (None: no more attempts)."""
    failed = [p for p in _automatic(invoice) if p.status == Payment.Status.FAILED]
    schedule = [int(hours) for hours in settings.BILLING_AUTOPAY_RETRY_HOURS]
    if not failed or len(failed) > len(schedule):
        return None
    return failed[-1].updated_at + timedelta(hours=schedule[len(failed) - 1])


def invoice_autopay_retry(*, now: datetime | None = None) -> int:
    """Sweep: ask again about automatic attempts whose answer was lost (same idempotency key), and try
    failed invoices again on the schedule. Returns how many attempts were made."""
    now = now or timezone.now()
    made = 0
    lost = Payment.objects.filter(
        status=Payment.Status.OPEN, note__startswith=AUTOMATIC_NOTE, created_at__lt=now - timedelta(minutes=5)
    ).select_related("invoice", "payment_method")
    for payment in lost:
        _attempt(payment)
        made += 1
    for invoice in Invoice.objects.filter(
        status=Invoice.Status.FAILED, payments__note__startswith=AUTOMATIC_NOTE
    ).distinct():
        due = autopay_next_attempt(invoice=invoice)
        if due is not None and due <= now and invoice_autopay(invoice_id=invoice.pk) is not None:
            made += 1
    return made


def autopay_failure_mail(*, payment_id: int) -> bool:
    """Tell the driver, in their language, that the automatic payment failed, when it is tried again
    and how to pay now."""
    payment = Payment.objects.select_related("invoice__driver__user").get(pk=payment_id)
    invoice = payment.invoice
    address = invoice.email or invoice.driver.email or invoice.driver.user.email
    if not address:
        return False
    due = autopay_next_attempt(invoice=invoice)
    reason = payment.note.removeprefix(f"{AUTOMATIC_NOTE}: ")
    with translation.override(user_language(invoice.driver.user)):
        again = (
            gettext("We will try your card again on %(when)s UTC.") % {"when": f"{due:%Y-%m-%d %H:%M}"}
            if due
            else gettext("We will not try your card again.")
        )
        subject = gettext("Your card payment for invoice %(number)s failed") % {"number": invoice.number}
        body = gettext(
            "Hello %(name)s,\n\nwe could not charge %(amount)s %(currency)s for invoice %(number)s to your "
            "card: %(reason)s\n%(again)s\n\nYou can pay now at %(invoice_url)s or change your card at "
            "%(cards_url)s\n"
        ) % {
            "name": invoice.billing_name,
            "amount": payment.amount,
            "currency": payment.currency,
            "number": invoice.number,
            "reason": reason,
            "again": again,
            "invoice_url": f"{settings.SITE_URL}/billing/invoices/{invoice.pk}/",
            "cards_url": f"{settings.SITE_URL}/billing/cards/",
        }
    EmailMessage(subject=subject, body=body, to=[address]).send()
    return True


def autopay_receipt_mail(*, payment_id: int) -> bool:
    """The driver's receipt, in their language, for an automatic card payment that went through."""
    payment = Payment.objects.select_related("invoice__driver__user", "payment_method").get(pk=payment_id)
    invoice = payment.invoice
    address = invoice.email or invoice.driver.email or invoice.driver.user.email
    if not address:
        return False
    with translation.override(user_language(invoice.driver.user)):
        subject = gettext("Receipt: invoice %(number)s paid") % {"number": invoice.number}
        body = gettext(
            "Hello %(name)s,\n\nwe charged %(amount)s %(currency)s for invoice %(number)s to your card "
            "%(card)s. Thank you.\n\nThe invoice: %(invoice_url)s\n"
        ) % {
            "name": invoice.billing_name,
            "amount": payment.amount,
            "currency": payment.currency,
            "number": invoice.number,
            "card": str(payment.payment_method or "").capitalize(),
            "invoice_url": f"{settings.SITE_URL}/billing/invoices/{invoice.pk}/",
        }
    EmailMessage(subject=subject, body=body, to=[address]).send()
    return True


def driver_failed_invoices(*, driver_id: int) -> list[Invoice]:
    """The driver's invoices whose latest payment attempt failed (not paid since)."""
    return list(Invoice.objects.defer("pdf").filter(driver_id=driver_id, status=Invoice.Status.FAILED))


@transaction.atomic
def driver_payment_block_apply(*, driver_id: int) -> list[PaymentBlock]:
    """The rule BILLING_BLOCK_AFTER_FAILED_PAYMENTS (0: off): a driver with that many failed invoices
    has their valid cards blocked (stations refuse them; "My cards" says why). Returns new blocks."""
    limit = settings.BILLING_BLOCK_AFTER_FAILED_PAYMENTS
    failed = driver_failed_invoices(driver_id=driver_id)
    if not limit or len(failed) < limit:
        return []
    blocks = []
    for token in IdToken.objects.select_for_update().filter(
        driver_id=driver_id, status=IdToken.Status.ACCEPTED
    ):
        if PaymentBlock.objects.filter(id_token=token, lifted_at__isnull=True).exists():
            continue
        id_token_block(id_token=token)
        blocks.append(
            PaymentBlock.objects.create(driver_id=driver_id, id_token=token, failed_invoices=len(failed))
        )
    return blocks


@transaction.atomic
def driver_payment_block_lift(*, driver_id: int) -> int:
    """Unblock the cards billing blocked once the driver is below the rule's limit again (an invoice
    paid); cards blocked for other reasons since stay blocked. Returns how many were unblocked."""
    limit = settings.BILLING_BLOCK_AFTER_FAILED_PAYMENTS
    if limit and len(driver_failed_invoices(driver_id=driver_id)) >= limit:
        return 0
    lifted = 0
    for block in PaymentBlock.objects.select_for_update().filter(driver_id=driver_id, lifted_at__isnull=True):
        token = IdToken.objects.get(pk=block.id_token_id)
        if token.status == IdToken.Status.BLOCKED and not token.blocked_by_owner:
            id_token_unblock(id_token=token)
            lifted += 1
        block.lifted_at = timezone.now()
        block.save(update_fields=["lifted_at"])
    return lifted
