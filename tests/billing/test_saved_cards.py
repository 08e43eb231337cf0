"""Saved cards: added through the provider's setup page, shown masked, removed, default; invoices
(CDRs and plan fees on one invoice) charged off-session; declines retried on the schedule, the
driver mailed and able to pay by hand; a lost answer never charges twice."""

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from billing import services
from billing.cards import services as cards
from billing.models import Invoice, Payment, PaymentMethod
from tests.billing.conftest import add_card, make_session
from tests.billing.fake_stripe import sign

OCTOBER = services.InvoicePeriod(date(2026, 10, 1), date(2026, 10, 31))


@pytest.fixture
def charged_month(station, card, done_when_tariff, driver):
    """Dana charged 10 kWh (5.00 incl. VAT) in October and is on a 10.00 + 25 % VAT plan."""
    plan = services.subscription_plan_create(
        name="Plus", monthly_fee=Decimal("10"), vat_percent=Decimal("25"), tariff=None
    )
    services.subscription_start(driver=driver, plan=plan, started_on=date(2026, 10, 1))
    session = make_session(station, card, started_at=datetime(2026, 10, 12, 8, 0, tzinfo=UTC))
    services.cdr_create_for_session(session_id=session.pk)


def invoice_run(capture):
    with capture(execute=True):
        (invoice,) = services.invoice_run(period=OCTOBER)
    invoice.refresh_from_db()
    return invoice


def test_a_driver_saves_a_card_and_sees_it_masked_as_the_default(client, driver, fake_stripe):
    client.force_login(driver.user)

    page = add_card(client, fake_stripe).content.decode()

    assert "Saved Visa •••• 4242, expires 12/2030" in page
    method = PaymentMethod.objects.get()
    assert (method.driver, method.is_default, method.last4) == (driver, True, "4242")
    assert method.customer_reference in fake_stripe.customers
    customer = fake_stripe.customers[method.customer_reference]
    assert customer["email"] == "dana@example.com"
    setup = [r for r in fake_stripe.requests if r[1] == "/v1/checkout/sessions"][0][3]
    assert setup["mode"] == "setup" and "{CHECKOUT_SESSION_ID}" in setup["success_url"]


def test_a_second_card_reuses_the_customer_can_be_default_and_removing_the_default_promotes_the_other(
    client, dana_with_card, fake_stripe
):
    first = PaymentMethod.objects.get()
    add_card(client, fake_stripe, brand="mastercard", last4="4444")
    second = PaymentMethod.objects.exclude(pk=first.pk).get()
    assert second.customer_reference == first.customer_reference and not second.is_default

    client.post("/billing/cards/default/", {"card": second.pk})
    page = client.post("/billing/cards/remove/", {"card": second.pk}, follow=True).content.decode()

    assert "The card was removed." in page
    first.refresh_from_db()
    assert first.is_default and not PaymentMethod.objects.filter(pk=second.pk).exists()
    assert fake_stripe.payment_methods[second.reference]["customer"] is None  # detached


def test_a_driver_cannot_remove_another_drivers_card_or_claim_their_setup(
    client, dana_with_card, other_driver, fake_stripe
):
    method = PaymentMethod.objects.get()
    checkout = next(cs for cs in fake_stripe.sessions.values() if cs["mode"] == "setup")
    client.force_login(other_driver.user)

    removed = client.post("/billing/cards/remove/", {"card": method.pk}, follow=True).content.decode()
    claimed = client.get(f"/billing/cards/added/?session_id={checkout['id']}", follow=True).content.decode()

    assert "no such card on your account" in removed
    assert "this card was saved for another account" in claimed
    assert PaymentMethod.objects.get().driver.user.username == "dana"


def test_the_invoice_run_charges_cdrs_and_the_plan_fee_to_the_saved_card_off_session(
    dana_with_card, charged_month, fake_stripe, django_capture_on_commit_callbacks
):
    invoice = invoice_run(django_capture_on_commit_callbacks)

    assert invoice.total_incl_vat == Decimal("17.50")  # 12.50 fee + 5.00 charging
    assert invoice.status == Invoice.Status.PAID
    payment = Payment.objects.get(invoice=invoice)
    assert payment.status == Payment.Status.PAID and payment.reference.startswith("pi_test_")
    (charge,) = [r for r in fake_stripe.requests if r[1] == "/v1/payment_intents"]
    assert charge[3]["amount"] == "1750" and charge[3]["off_session"] == "true"
    assert charge[2]["Idempotency-Key"] == f"chargenet-payment-{payment.pk}"


def test_a_declined_card_is_retried_on_schedule_the_driver_is_mailed_and_pays_by_hand(
    client, dana_with_card, charged_month, fake_stripe, django_capture_on_commit_callbacks, mailoutbox
):
    fake_stripe.declining.add(PaymentMethod.objects.get().reference)

    # when the invoice run charges the card and it is declined
    invoice = invoice_run(django_capture_on_commit_callbacks)

    # then the invoice shows the failure and Dana is told how to pay
    assert invoice.status == Invoice.Status.FAILED
    failure = [m for m in mailoutbox if "failed" in m.subject]
    assert len(failure) == 1 and failure[0].to == ["dana@example.com"]
    assert "Your card was declined." in failure[0].body
    assert f"/billing/invoices/{invoice.pk}/" in failure[0].body and "try your card again" in failure[0].body

    # and the sweep tries again only when the schedule says so
    assert cards.invoice_autopay_retry() == 0
    with django_capture_on_commit_callbacks(execute=True):
        assert cards.invoice_autopay_retry(now=timezone.now() + timedelta(hours=25)) == 1
    assert Payment.objects.filter(invoice=invoice, status="failed").count() == 2

    # when Dana pays by hand from the invoice page
    client.post(f"/billing/invoices/{invoice.pk}/pay/", {"provider": "stripe"})
    manual = Payment.objects.filter(invoice=invoice, status="open").get()
    body = json.dumps(
        {
            "id": "evt_by_hand",
            "type": "checkout.session.completed",
            "data": {"object": {"id": manual.reference, "payment_status": "paid",
                                "metadata": {"payment_id": str(manual.pk)}}},
        }
    ).encode()  # fmt: skip
    client.post(
        "/billing/webhooks/stripe/", body, content_type="application/json", HTTP_STRIPE_SIGNATURE=sign(body)
    )

    # then it is paid, and the schedule tries nothing more
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID
    assert cards.invoice_autopay_retry(now=timezone.now() + timedelta(days=30)) == 0
    assert len([r for r in fake_stripe.requests if r[1] == "/v1/payment_intents"]) == 2


def test_an_attempt_whose_answer_was_lost_is_asked_again_and_charges_once(
    dana_with_card, charged_month, fake_stripe, settings, django_capture_on_commit_callbacks
):
    base = settings.STRIPE_API_BASE
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"  # the provider cannot be reached
    invoice = invoice_run(django_capture_on_commit_callbacks)
    assert invoice.status == Invoice.Status.OPEN
    payment = Payment.objects.get(invoice=invoice)
    assert payment.status == Payment.Status.OPEN

    settings.STRIPE_API_BASE = base
    cards.invoice_autopay_retry(now=timezone.now() + timedelta(minutes=6))
    cards.invoice_autopay_retry(now=timezone.now() + timedelta(minutes=7))

    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID
    assert Payment.objects.filter(invoice=invoice).count() == 1
    assert len([i for i in fake_stripe.intents.values() if i.get("customer")]) == 1


def test_an_invoice_of_a_driver_without_a_card_waits_to_be_paid(
    driver, charged_month, fake_stripe, django_capture_on_commit_callbacks
):
    invoice = invoice_run(django_capture_on_commit_callbacks)

    assert invoice.status == Invoice.Status.OPEN and not Payment.objects.exists()
    assert not [r for r in fake_stripe.requests if r[1] == "/v1/payment_intents"]


def test_a_card_saved_while_the_driver_never_came_back_is_recorded_from_the_webhook(
    client, driver, fake_stripe, django_capture_on_commit_callbacks
):
    client.force_login(driver.user)
    response = client.post("/billing/cards/")
    session_id = response["Location"].rsplit("/", 1)[1]
    fake_stripe.pay(session_id)  # the webhook URL is not set: deliver it by hand
    body = json.dumps(fake_stripe.webhooks_sent[-1]).encode()

    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            "/billing/webhooks/stripe/",
            body,
            content_type="application/json",
            HTTP_STRIPE_SIGNATURE=sign(body),
        )

    assert PaymentMethod.objects.get().driver == driver


def test_by_rule_a_driver_whose_payment_failed_is_blocked_with_a_clear_message_until_paid(
    client, dana_with_card, card, charged_month, fake_stripe, settings, django_capture_on_commit_callbacks
):
    from rfid.services import id_token_authorize

    settings.BILLING_BLOCK_AFTER_FAILED_PAYMENTS = 1
    fake_stripe.declining.add(PaymentMethod.objects.get().reference)

    # when the invoice's card payment fails
    invoice = invoice_run(django_capture_on_commit_callbacks)

    # then her card is refused at every station and "My cards" says why and what to do
    assert id_token_authorize(uid=card.uid).status == "Blocked"
    page = client.get("/billing/cards/").content.decode()
    assert "Your charging cards are blocked because 1 invoice could not be charged" in page
    assert invoice.number in page

    # when she pays it by hand, her card works again
    with django_capture_on_commit_callbacks(execute=True):
        services.payment_record_manual(invoice=invoice, amount=invoice.total_incl_vat, reference="BANK-7")
    assert id_token_authorize(uid=card.uid).status == "Accepted"
    assert "blocked" not in client.get("/billing/cards/").content.decode()
