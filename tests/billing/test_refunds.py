"""Refunds: all or part of a paid payment through the provider (a local fake on a socket), with a
numbered credit note, from the invoice page and the API; refunds made at the provider and disputes
reconciled from signed webhooks; nothing refunded twice."""

import json
import re
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from billing import services
from billing.models import Invoice, Payment, Refund
from tests.billing.conftest import make_session
from tests.billing.fake_stripe import sign

OCTOBER = services.InvoicePeriod(date(2026, 10, 1), date(2026, 10, 31))


@pytest.fixture
def paid(station, card, done_when_tariff, fake_stripe):
    """Dana's October invoice (5.00 incl. 25 % VAT), paid by card through Checkout."""
    session = make_session(station, card, started_at=datetime(2026, 10, 12, 8, 0, tzinfo=UTC))
    services.cdr_create_for_session(session_id=session.pk)
    (invoice,) = services.invoice_run(period=OCTOBER)
    payment = services.payment_checkout_start(
        invoice=invoice, provider_name="stripe", success_url="http://x/ok", cancel_url="http://x/no"
    )
    fake_stripe.pay(payment.reference)
    return services.payment_status_set(payment=payment, status="paid")


def intent_of(fake, payment):
    return fake.intents[fake.sessions[payment.reference]["payment_intent"]]


def webhook(client, kind, obj, event_id):
    body = json.dumps({"id": event_id, "type": kind, "data": {"object": obj}}).encode()
    return client.post(
        "/billing/webhooks/stripe/", body, content_type="application/json", HTTP_STRIPE_SIGNATURE=sign(body)
    )


def test_an_operator_refunds_part_of_a_payment_from_the_invoice_page_with_a_credit_note(
    client, operator, paid, fake_stripe
):
    client.force_login(operator)
    invoice = paid.invoice

    page = client.post(
        f"/billing/invoices/{invoice.pk}/refunds/",
        {"payment": paid.pk, "amount": "2.00", "reason": "Charger stopped early"},
        follow=True,
    ).content.decode()

    refund = Refund.objects.get()
    assert refund.credit_note_number == f"CNC{refund.refunded_at:%Y}-000001"
    assert (refund.amount, refund.amount_excl_vat, refund.amount_vat) == (
        Decimal("2.00"), Decimal("1.60"), Decimal("0.40"),
    )  # fmt: skip
    assert f"credit note {refund.credit_note_number}" in page and "Charger stopped early" in page
    (request,) = [r for r in fake_stripe.requests if r[1] == "/v1/refunds"]
    assert request[3]["amount"] == "200" and request[2]["Idempotency-Key"] == f"chargenet-refund-{refund.pk}"
    assert intent_of(fake_stripe, paid)["amount_refunded"] == 200
    paid.refresh_from_db()
    invoice.refresh_from_db()
    assert paid.amount_refunded == Decimal("2.00") and paid.status == "paid" and invoice.status == "paid"


def test_a_refund_larger_than_what_is_left_is_refused_and_the_rest_can_be_refunded(
    client, operator, paid, fake_stripe
):
    services.payment_refund(payment=paid, amount="4.00", reason="Goodwill")

    with pytest.raises(services.BillingError, match="more than the 1.00 EUR left to refund"):
        services.payment_refund(payment=paid, amount="1.01", reason="Too much")
    for bad in ("0", "-1", "abc"):
        with pytest.raises(services.BillingError):
            services.payment_refund(payment=paid, amount=bad, reason="Bad")
    assert Refund.objects.count() == 1
    assert len([r for r in fake_stripe.requests if r[1] == "/v1/refunds"]) == 1

    services.payment_refund(payment=paid, amount="1.00", reason="The rest")

    paid.refresh_from_db()
    assert paid.status == "refunded" and paid.amount_refunded == Decimal("5.00")
    assert Invoice.objects.get().status == Invoice.Status.REFUNDED
    assert [r.credit_note_number[-6:] for r in Refund.objects.order_by("id")] == ["000001", "000002"]


def test_the_api_refunds_for_operators_and_refuses_drivers_and_excess(
    client, operator, driver, paid, fake_stripe
):
    url = f"/api/v1/invoices/{paid.invoice_id}/refunds/"
    client.force_login(driver.user)
    assert client.post(url, {"payment": paid.pk, "amount": "1.00", "reason": "x"}).status_code == 403

    client.force_login(operator)
    created = client.post(url, {"payment": paid.pk, "amount": "1.50", "reason": "Slow charging"})
    excess = client.post(url, {"payment": paid.pk, "amount": "3.51", "reason": "Too much"})
    listed = client.get(url).json()

    assert created.status_code == 201 and created.json()["credit_note_number"].endswith("-000001")
    assert created.json()["amount"] == "1.50" and created.json()["status"] == "refunded"
    assert excess.status_code == 409 and "left to refund" in json.dumps(excess.json())
    assert [r["amount"] for r in listed["results"]] == ["1.50"]


def pdf_title(pdf: bytes) -> str:
    """The document title reportlab writes into the PDF's (uncompressed) Info dictionary."""
    match = re.search(rb"/Title \((.*?)\)", pdf)
    assert match, "the PDF has no title"
    return match.group(1).decode("latin-1")


def test_a_credit_note_has_a_pdf_linked_from_the_invoice_page_for_the_driver_and_the_operator(
    client, operator, driver, other_driver, paid, fake_stripe
):
    refund = services.payment_refund(payment=paid, amount="2.00", reason="Charger stopped early")
    url = f"/billing/credit-notes/{refund.pk}/pdf/"

    for user in (operator, driver.user):
        client.force_login(user)
        page = client.get(f"/billing/invoices/{paid.invoice_id}/").content.decode()
        pdf = client.get(url)
        assert f'href="{url}"' in page
        assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
        assert pdf.content.startswith(b"%PDF") and refund.credit_note_number in pdf["Content-Disposition"]
        assert pdf_title(pdf.content) == f"Credit note {refund.credit_note_number}"

    client.force_login(other_driver.user)
    assert client.get(url).status_code == 404


def test_the_api_links_each_credit_note_to_its_pdf_in_the_callers_language(
    client, operator, driver, other_driver, paid, fake_stripe
):
    refund = services.payment_refund(payment=paid, amount="1.00", reason="Goodwill")
    client.force_login(driver.user)

    (listed,) = client.get(f"/api/v1/invoices/{paid.invoice_id}/refunds/").json()["results"]
    pdf = client.get(listed["credit_note_pdf_url"], HTTP_ACCEPT_LANGUAGE="sv")

    assert listed["credit_note_pdf_url"] == f"/api/v1/credit-notes/{refund.pk}/pdf/"
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert pdf_title(pdf.content) == f"Kreditnota {refund.credit_note_number}"
    client.force_login(other_driver.user)
    assert client.get(listed["credit_note_pdf_url"]).status_code == 404


def test_a_refund_without_a_credit_note_has_no_pdf(client, operator, paid, fake_stripe):
    intent_of(fake_stripe, paid)["amount_refunded"] = 500  # the provider refuses the refund
    with pytest.raises(services.BillingError):
        services.payment_refund(payment=paid, amount="1.00", reason="Refused")
    refund = Refund.objects.get()
    client.force_login(operator)

    assert client.get(f"/billing/credit-notes/{refund.pk}/pdf/").status_code == 404
    assert client.get(f"/api/v1/credit-notes/{refund.pk}/pdf/").status_code == 404


def test_a_refund_the_provider_refuses_issues_no_credit_note(paid, fake_stripe):
    intent_of(fake_stripe, paid)["amount_refunded"] = 500  # refunded at Stripe behind our back

    with pytest.raises(services.BillingError, match="greater than unrefunded amount"):
        services.payment_refund(payment=paid, amount="1.00", reason="Goodwill")

    refund = Refund.objects.get()
    assert refund.status == Refund.Status.FAILED and not refund.credit_note_number
    paid.refresh_from_db()
    assert paid.amount_refunded == 0


def test_a_refund_made_at_the_provider_is_reconciled_with_a_credit_note_once(client, paid, fake_stripe):
    intent = intent_of(fake_stripe, paid)
    charge = {"id": "ch_1", "payment_intent": intent["id"], "amount_refunded": 300, "currency": "eur",
              "refunded": False, "metadata": {"payment_id": str(paid.pk)}}  # fmt: skip

    for _ in range(2):  # delivered twice
        assert webhook(client, "charge.refunded", charge, "evt_r1").status_code == 200
    assert (
        webhook(client, "charge.refunded", charge, "evt_r1_again").status_code == 200
    )  # a new event, same total

    refund = Refund.objects.get()
    assert refund.amount == Decimal("3.00") and refund.reason == "Refunded at the payment provider"
    assert refund.credit_note_number


def test_a_refund_we_made_is_not_counted_again_when_its_webhook_arrives(client, paid, fake_stripe):
    services.payment_refund(payment=paid, amount="2.00", reason="Goodwill")
    intent = intent_of(fake_stripe, paid)

    webhook(client, "charge.refunded", {"id": "ch_1", "payment_intent": intent["id"], "amount_refunded": 200,
                                        "currency": "eur", "metadata": {"payment_id": str(paid.pk)}}, "evt_r2")  # fmt: skip

    assert Refund.objects.count() == 1
    paid.refresh_from_db()
    assert paid.amount_refunded == Decimal("2.00")


def test_a_dispute_is_recorded_on_the_payment(client, paid, fake_stripe):
    webhook(client, "charge.dispute.created", {"id": "dp_1", "payment_intent": "pi_x", "amount": 500,
                                               "metadata": {"payment_id": str(paid.pk)}}, "evt_d1")  # fmt: skip

    paid.refresh_from_db()
    assert paid.disputed_at is not None


def test_a_forged_refund_webhook_changes_nothing(client, paid, fake_stripe):
    body = json.dumps({"id": "evt_f", "type": "charge.refunded", "data": {"object": {
        "amount_refunded": 500, "currency": "eur", "metadata": {"payment_id": str(paid.pk)}}}}).encode()  # fmt: skip

    response = client.post(
        "/billing/webhooks/stripe/", body, content_type="application/json",
        HTTP_STRIPE_SIGNATURE=sign(body, secret="whsec_forged"),
    )  # fmt: skip

    assert response.status_code == 400
    assert not Refund.objects.exists() and Payment.objects.get().amount_refunded == 0


def test_the_daily_reconciliation_flags_an_invoice_paid_twice_and_a_payment_without_an_invoice(
    client, operator, paid, fake_stripe, mailoutbox
):
    from django.utils import timezone

    from billing.reconciliation import reconciliation_report_send

    # given the driver also paid the invoice by bank transfer, and Stripe reports a payment we never made
    services.payment_record_manual(invoice=paid.invoice, amount=Decimal("5.00"), reference="BANK-1")
    webhook(client, "checkout.session.completed",
            {"id": "cs_stranger", "payment_status": "paid", "amount_total": 900, "metadata": {}}, "evt_u1")  # fmt: skip
    operator.email = "olivia@example.com"
    operator.save()
    today = timezone.localdate()

    # when the report runs
    client.force_login(operator)
    page = client.get(f"/billing/reports/reconciliation/?day={today:%Y-%m-%d}").content.decode()
    sent = reconciliation_report_send(day=today)

    # then both are flagged, on the page and in the mail
    assert f"PAID TWICE: invoice {paid.invoice.number}" in page and "2 paid payments totalling 10.00" in page
    assert "NO INVOICE: provider event evt_u1" in page
    assert sent and mailoutbox[-1].to == ["olivia@example.com"] and "PAID TWICE" in mailoutbox[-1].body
    assert (
        "Everything adds up."
        in client.get("/billing/reports/reconciliation/?day=2020-01-01").content.decode()
    )


def test_the_driver_gets_the_credit_note_by_mail_in_her_language_once(
    driver, paid, fake_stripe, mailoutbox, django_capture_on_commit_callbacks
):
    driver.user.language = "sv"
    driver.user.save()
    mailoutbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        refund = services.payment_refund(payment=paid, amount="2.00", reason="Laddaren stannade")
    services.credit_note_email_send(refund_id=refund.pk)  # a retried task mails nothing more

    (mail,) = mailoutbox
    assert mail.to == ["dana@example.com"]
    assert mail.subject == f"Din ChargeNet-kreditnota {refund.credit_note_number}"
    assert "2.00 EUR" in mail.body and "Laddaren stannade" in mail.body
    (name, pdf, kind) = mail.attachments[0]
    assert (
        name == f"{refund.credit_note_number}.pdf" and kind == "application/pdf" and pdf.startswith(b"%PDF")
    )
