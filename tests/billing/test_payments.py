"""Payments: Stripe Checkout at the HTTP boundary (recorded responses), signed webhooks, statuses."""

import hashlib
import hmac
import json
import threading
import time
import urllib.parse
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from billing import services
from billing.models import Invoice, Payment, PaymentEvent
from tests.billing.conftest import make_session

OCTOBER = services.InvoicePeriod(datetime(2026, 10, 1).date(), datetime(2026, 10, 31).date())
SECRET = "whsec_test_secret"

# Recorded from Stripe's API reference (Checkout Session create), trimmed to what we read.
CHECKOUT_CREATED = {
    "id": "cs_test_a1b2c3",
    "object": "checkout.session",
    "url": "https://checkout.stripe.com/c/pay/cs_test_a1b2c3",
    "payment_status": "unpaid",
    "status": "open",
}
CARD_DECLINED = {"error": {"type": "invalid_request_error", "message": "Amount must be at least 50 cents"}}


class FakeStripe(BaseHTTPRequestHandler):
    """Stands in for api.stripe.com: records the request, answers with a recorded response."""

    requests: list = []
    answer: tuple = (200, CHECKOUT_CREATED)

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        FakeStripe.requests.append((self.path, dict(self.headers), urllib.parse.parse_qs(body.decode())))
        status, payload = FakeStripe.answer
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def stripe(settings):
    server = HTTPServer(("127.0.0.1", 0), FakeStripe)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    FakeStripe.requests = []
    FakeStripe.answer = (200, CHECKOUT_CREATED)
    settings.STRIPE_API_BASE = f"http://127.0.0.1:{server.server_port}"
    settings.STRIPE_SECRET_KEY = "sk_test_123"
    settings.STRIPE_WEBHOOK_SECRET = SECRET
    yield FakeStripe
    server.shutdown()


@pytest.fixture
def invoice(station, card, done_when_tariff):
    session = make_session(station, card, started_at=datetime(2026, 10, 12, 8, 0, tzinfo=UTC))
    services.cdr_create_for_session(session_id=session.pk)
    (invoice,) = services.invoice_run(period=OCTOBER)
    return invoice


def signed(event: dict, *, secret=SECRET, at=None) -> tuple[bytes, str]:
    body = json.dumps(event).encode()
    stamp = str(at if at is not None else int(time.time()))
    signature = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return body, f"t={stamp},v1={signature}"


def event(kind, obj, event_id="evt_1"):
    return {"id": event_id, "object": "event", "type": kind, "data": {"object": obj}}


def test_a_driver_paying_by_card_is_sent_to_a_stripe_checkout_for_the_invoice_total(
    client, driver, invoice, stripe
):
    client.force_login(driver.user)

    response = client.post(f"/billing/invoices/{invoice.pk}/pay/", {"provider": "stripe"})

    assert response.status_code == 302 and response["Location"] == CHECKOUT_CREATED["url"]
    path, headers, form = stripe.requests[0]
    assert path == "/v1/checkout/sessions"
    assert headers["Authorization"] == "Bearer sk_test_123"
    assert form["line_items[0][price_data][unit_amount]"] == ["500"]
    assert form["line_items[0][price_data][currency]"] == ["eur"]
    payment = Payment.objects.get()
    assert form["metadata[payment_id]"] == [str(payment.pk)]
    assert (payment.status, payment.reference) == ("open", "cs_test_a1b2c3")


def test_a_refusal_from_stripe_is_shown_and_recorded_as_a_failed_payment(client, driver, invoice, stripe):
    stripe.answer = (400, CARD_DECLINED)
    client.force_login(driver.user)

    response = client.post(f"/billing/invoices/{invoice.pk}/pay/", {"provider": "stripe"}, follow=True)

    assert "Amount must be at least 50 cents" in response.content.decode()
    assert Payment.objects.get().status == "failed"
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.FAILED


def test_a_signed_completion_webhook_marks_the_invoice_paid_once(client, invoice, stripe):
    payment = services.payment_checkout_start(
        invoice=invoice, provider_name="stripe", success_url="http://x/ok", cancel_url="http://x/no"
    )
    body, header = signed(
        event(
            "checkout.session.completed",
            {"id": "cs_test_a1b2c3", "payment_status": "paid", "metadata": {"payment_id": str(payment.pk)}},
        )
    )

    for _ in range(2):  # Stripe redelivers
        response = client.post(
            "/billing/webhooks/stripe/", body, content_type="application/json", HTTP_STRIPE_SIGNATURE=header
        )
        assert response.status_code == 200

    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID
    assert PaymentEvent.objects.count() == 1


def test_a_refund_webhook_marks_the_invoice_refunded(client, invoice, stripe):
    payment = services.payment_checkout_start(
        invoice=invoice, provider_name="stripe", success_url="http://x/ok", cancel_url="http://x/no"
    )
    services.payment_status_set(payment=payment, status="paid")
    body, header = signed(
        event(
            "charge.refunded",
            {"id": "ch_1", "refunded": True, "metadata": {"payment_id": str(payment.pk)}},
            "evt_2",
        )
    )

    client.post(
        "/billing/webhooks/stripe/", body, content_type="application/json", HTTP_STRIPE_SIGNATURE=header
    )

    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.REFUNDED


@pytest.mark.parametrize(
    "secret, age",
    [("whsec_wrong", 0), (SECRET, 3600)],
    ids=["a wrong signature", "a replay older than the tolerance"],
)
def test_a_webhook_that_fails_verification_is_refused_and_changes_nothing(
    client, invoice, stripe, secret, age
):
    payment = services.payment_checkout_start(
        invoice=invoice, provider_name="stripe", success_url="http://x/ok", cancel_url="http://x/no"
    )
    body, header = signed(
        event("checkout.session.completed", {"id": "cs_x", "payment_status": "paid",
                                             "metadata": {"payment_id": str(payment.pk)}}),
        secret=secret, at=int(time.time()) - age,
    )  # fmt: skip

    response = client.post(
        "/billing/webhooks/stripe/", body, content_type="application/json", HTTP_STRIPE_SIGNATURE=header
    )

    assert response.status_code == 400
    assert not PaymentEvent.objects.exists()
    payment.refresh_from_db()
    assert payment.status == "open"


def test_bank_transfer_works_without_any_provider_account(client, driver, invoice, settings):
    settings.STRIPE_SECRET_KEY = ""
    client.force_login(driver.user)

    page = client.get(f"/billing/invoices/{invoice.pk}/").content.decode()
    response = client.post(f"/billing/invoices/{invoice.pk}/pay/", {"provider": "manual"}, follow=True)

    assert "Bank transfer" in page and "Card (Stripe)" not in page
    assert f"quoting {invoice.number}" in response.content.decode()
    assert Payment.objects.get().provider == "manual"
