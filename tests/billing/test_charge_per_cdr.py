"""Charging each CDR to the saved card when it is made (BILLING_CHARGE_PER_CDR): an invoice of that
one session, charged off-session at once through the outbox, with a receipt; a decline is retried,
mailed and counted by the blocking rule like any automatic payment; the invoice run leaves it alone."""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.utils import timezone

from billing import services
from billing.cards import services as cards
from billing.models import Invoice, PaymentMethod
from tests.billing.conftest import make_session, stop_session

OCTOBER = services.InvoicePeriod(date(2026, 10, 1), date(2026, 10, 31))


@pytest.fixture
def per_cdr(settings):
    settings.BILLING_CHARGE_PER_CDR = True


def end_session(station, card, capture, *, day=12):
    session = make_session(station, card, started_at=datetime(2026, 10, day, 8, 0, tzinfo=UTC))
    with capture(execute=True):
        stop_session(session)
    return session


def intents(fake):
    return [r for r in fake.requests if r[1] == "/v1/payment_intents"]


def test_each_session_is_charged_to_the_saved_card_when_it_ends_with_a_receipt(
    per_cdr, dana_with_card, station, card, done_when_tariff, fake_stripe, mailoutbox,
    django_capture_on_commit_callbacks,
):  # fmt: skip
    # when two of Dana's sessions end
    first = end_session(station, card, django_capture_on_commit_callbacks, day=12)
    second = end_session(station, card, django_capture_on_commit_callbacks, day=13)

    # then each is an invoice of its own, paid by her card at once (5.00 incl. VAT each)
    invoices = list(Invoice.objects.order_by("id"))
    assert [i.lines.get().cdr.session for i in invoices] == [first, second]
    assert [(i.status, str(i.total_incl_vat)) for i in invoices] == [("paid", "5.00"), ("paid", "5.00")]
    assert [(i.period_start, i.period_end) for i in invoices] == [
        (date(2026, 10, 12),) * 2,
        (date(2026, 10, 13),) * 2,
    ]
    assert [r[3]["amount"] for r in intents(fake_stripe)] == ["500", "500"]
    # and she has each invoice (with its PDF) and a receipt naming her card
    receipts = [m for m in mailoutbox if m.subject.startswith("Receipt")]
    assert [m.subject for m in receipts] == [f"Receipt: invoice {i.number} paid" for i in invoices]
    assert "Visa •••• 4242" in receipts[0].body and receipts[0].to == ["dana@example.com"]
    assert len([m for m in mailoutbox if m.attachments]) == 2

    # and the month's invoice run charges nothing again
    assert services.invoice_run(period=OCTOBER) == []
    assert len(intents(fake_stripe)) == 2


def test_a_declined_session_charge_is_mailed_retried_and_blocks_by_rule(
    per_cdr, dana_with_card, station, card, done_when_tariff, fake_stripe, settings, mailoutbox,
    django_capture_on_commit_callbacks,
):  # fmt: skip
    from rfid.services import id_token_authorize

    settings.BILLING_BLOCK_AFTER_FAILED_PAYMENTS = 1
    fake_stripe.declining.add(PaymentMethod.objects.get().reference)

    end_session(station, card, django_capture_on_commit_callbacks)

    invoice = Invoice.objects.get()
    assert invoice.status == Invoice.Status.FAILED
    assert [m.subject for m in mailoutbox if "failed" in m.subject] == [
        f"Your card payment for invoice {invoice.number} failed"
    ]
    assert id_token_authorize(uid=card.uid).status == "Blocked"
    # the schedule tries again; this time the card works and the block is lifted
    fake_stripe.declining.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert cards.invoice_autopay_retry(now=timezone.now() + timedelta(hours=25)) == 1
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID
    assert id_token_authorize(uid=card.uid).status == "Accepted"


def test_without_a_card_or_with_the_setting_off_sessions_wait_for_the_invoice_run(
    driver, station, card, done_when_tariff, fake_stripe, settings, django_capture_on_commit_callbacks
):
    # a driver without a saved card, with per-CDR charging on
    settings.BILLING_CHARGE_PER_CDR = True
    end_session(station, card, django_capture_on_commit_callbacks, day=12)
    assert not Invoice.objects.exists()

    # the setting off: a driver with a card is not charged per session either
    settings.BILLING_CHARGE_PER_CDR = False
    PaymentMethod.objects.create(
        driver=driver, provider="stripe", reference="pm_x", customer_reference="cus_x", is_default=True
    )
    end_session(station, card, django_capture_on_commit_callbacks, day=13)
    assert not Invoice.objects.exists() and not intents(fake_stripe)

    (invoice,) = services.invoice_run(period=OCTOBER)
    assert invoice.lines.count() == 2


def test_a_cdr_is_invoiced_once_however_often_its_event_is_handled(
    per_cdr, dana_with_card, station, card, done_when_tariff, fake_stripe, django_capture_on_commit_callbacks
):
    end_session(station, card, django_capture_on_commit_callbacks)
    cdr_id = Invoice.objects.get().lines.get().cdr_id

    assert cards.cdr_charge_now(cdr_id=cdr_id) is None
    assert Invoice.objects.count() == 1 and len(intents(fake_stripe)) == 1
