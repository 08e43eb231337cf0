"""Issue 19's done-when, end to end. A guest scans a connector's QR code on a phone, reserves
an amount through the provider (a local fake of Stripe's API, hosted page and webhooks), the
station starts remotely, the session shows live on the private page, the guest stops it there, and
exactly the CDR total is captured and e-mailed; a session without energy releases the whole hold.
A driver's saved card pays the invoice run, and an operator refunds part of it with a credit note.

The live system here is this module's own (the real server and a Celery worker with beat), because
the server must know the fake provider's address.
"""

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from billing.models import Cdr, GuestCharge
from billing.money import money_round
from billing.services import tariff_create
from tests.billing.fake_stripe import SECRET_KEY, WEBHOOK_SECRET, FakeStripe
from tests.e2e.conftest import (  # noqa: F401  (fixtures)
    LiveSystem,
    _wait_for_worker,
    _worker_start,
    browser,
    in_thread,
    new_page,
    station_loop,
    stations,
)
from tests.stations.connection.conftest import server_start, server_stop

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

TARIFF = {
    "code": "E2E-GUEST",
    "name": "Public",
    "currency": "EUR",
    "vat_percent": "25",
    "is_default": True,
    "elements": [{"price_components": [{"type": "ENERGY", "price": "0.30", "step_size": 1}]}],
}


@pytest.fixture(scope="module")
def fake_stripe():
    fake = FakeStripe().start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def live_system(test_db_name, redis_server, tmp_path_factory, fake_stripe):
    mail_dir = tmp_path_factory.mktemp("guest-mail")
    env = {
        "DJANGO_SETTINGS_MODULE": "tests.e2e.server_settings",
        "CHARGENET_TEST_DB_NAME": test_db_name,
        "CHARGENET_TEST_MAIL_DIR": str(mail_dir),
        "OCPP_CALL_TIMEOUT": "10",
        "LOG_LEVEL": "WARNING",
        "STRIPE_API_BASE": fake_stripe.base_url,
        "STRIPE_SECRET_KEY": SECRET_KEY,
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "GUEST_HOLD_AMOUNTS": "20,40",
        "GUEST_LIMIT_CHECK_INTERVAL": "2",
    }
    server = server_start(test_db_name, **env)
    worker = _worker_start(env)
    try:
        _wait_for_worker(server.base_url, worker)
        fake_stripe.webhook_url = f"{server.base_url}/billing/webhooks/stripe/"
        yield LiveSystem(base_url=server.base_url, ocpp_url=server.url, mail_dir=mail_dir, env=env)
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except Exception:
            worker.kill()
        server_stop(server)


def guest_pays(page, base: str, identity: str, *, amount: str, email: str = "") -> None:
    """On the phone: open the QR code's page, reserve `amount`, confirm on the provider's page."""
    page.goto(f"{base}/pay/{identity}/1/")
    expect(page.locator(".guest-status")).to_contain_text("Free")
    expect(page.locator(".guest-price")).to_contain_text("0.38 EUR per kWh")
    page.get_by_label(f"{amount} EUR").check()
    if email:
        page.get_by_label("E-mail for the receipt").fill(email)
    page.get_by_role("button", name="Pay and start charging").click()
    page.get_by_role("button", name=re.compile(rf"Pay {amount}\.00 EUR")).click()
    expect(page.locator("h1")).to_have_text("Your charging session")


def card_saved_on_phone(new_page, base: str):  # noqa: F811
    """Dana logs in on her phone and saves a card on "My cards"; returns the phone's page."""
    from tests.e2e.conftest import log_in

    phone = new_page(phone=True)
    log_in(phone, base, "dana", "pw-dana-1")
    phone.goto(f"{base}/billing/cards/")
    phone.get_by_role("button", name="Add a card").click()
    phone.get_by_role("button", name="Save card").click()
    expect(phone.locator("[data-testid=saved-card]")).to_contain_text("Visa •••• 4242, expires 12/2030")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    return phone


def charged_and_invoiced(live_system, stations, phone, driver, *, identity: str, uid: str):  # noqa: F811
    """Dana charges 10 kWh at `identity` with her RFID card `uid`; once the worker priced it,
    `manage.py invoice` invoices that day. Returns her invoice."""
    from billing.models import Invoice
    from stations.models import Session
    from tests.e2e.test_billing import invoice

    sim = stations.connect(identity)

    async def charge():
        start = await sim.start_transaction(1, uid, meter_start=0)
        await sim.stop_transaction(start.transaction_id, meter_stop=10_000, reason="EVDisconnected")

    stations.run(charge())
    day = in_thread(lambda: Session.objects.get(station__identity=identity).stopped_at.date())
    for _ in range(60):  # the worker prices it
        if in_thread(lambda: Session.objects.get(station__identity=identity).cdrs.exists()):
            break
        phone.wait_for_timeout(500)
    invoice(live_system, day)
    return in_thread(lambda: Invoice.objects.defer("pdf").get(driver=driver))


def badge_becomes(page, url: str, text: str) -> None:
    """Reload the invoice page until its status badge reads `text` (the worker is asynchronous)."""
    page.goto(url)
    for _ in range(40):
        if page.locator("h1 + p .badge").inner_text().strip() == text:
            break
        page.wait_for_timeout(500)
        page.reload()
    expect(page.locator("h1 + p .badge")).to_have_text(text)


def test_a_guest_pays_by_qr_charges_stops_on_the_phone_and_pays_exactly_the_cdr_total(
    live_system,
    stations,  # noqa: F811
    new_page,  # noqa: F811
    fake_stripe,
):
    base = live_system.base_url
    # given a public station with a price
    in_thread(tariff_create, **TARIFF)
    sim = stations.connect("E2E-GUEST-1")

    # when a guest scans its QR code, reserves 20 EUR and pays on the provider's page
    page = new_page(phone=True)
    guest_pays(page, base, "E2E-GUEST-1", amount="20", email="gus@example.com")

    # then the station starts and the private page shows the session live
    status = page.locator("#guest-charge-status")
    expect(status.locator(".guest-headline")).to_have_text("Charging", timeout=20000)
    expect(status.locator(".guest-energy")).not_to_have_text("0.00 kWh", timeout=20000)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # fits the phone

    # when the guest stops it on the page
    page.get_by_role("button", name="Stop charging").click()

    # then exactly the CDR total is captured, the rest released, and the page says so
    expect(status.locator(".guest-headline")).to_contain_text("Paid", timeout=30000)
    charge = in_thread(lambda: GuestCharge.objects.select_related("cdr").get())
    cdr = charge.cdr
    total = money_round(cdr.total_incl_vat, "EUR")
    assert cdr.energy_wh > 0 and total > 0
    assert charge.amount_captured == total
    expect(status.locator(".guest-captured")).to_have_text(f"{total} EUR")
    expect(status.locator(".guest-released")).to_have_text(f"{Decimal('20.00') - total} EUR")
    intent = fake_stripe.intents[charge.intent_reference]
    assert intent["status"] == "succeeded" and intent["amount_received"] == int(total * 100)
    captures = [r for r in fake_stripe.requests if r[1].endswith("/capture")]
    assert len(captures) == 1
    assert in_thread(lambda: Cdr.objects.filter(session=charge.session_id).count()) == 1
    assert sim.connectors[1].transaction_id is None

    # and the receipt reaches the guest
    def receipt():
        return [m for m in live_system.mails() if m["To"] == "gus@example.com"]

    expect(page.locator("body")).to_contain_text("A receipt goes to gus@example.com")
    for _ in range(60):
        if receipt():
            break
        page.wait_for_timeout(500)
    (mail,) = receipt()
    assert f"Charged to your card: {total} EUR" in live_system.mail_text(mail)


def test_a_guest_session_without_energy_releases_the_whole_hold(
    live_system,
    stations,  # noqa: F811
    new_page,  # noqa: F811
    fake_stripe,
):
    base = live_system.base_url
    in_thread(tariff_create, **{**TARIFF, "code": "E2E-GUEST-2"})
    sim = stations.connect("E2E-GUEST-2")
    sim.max_power_w = 0  # the car draws nothing

    page = new_page(phone=True)
    guest_pays(page, base, "E2E-GUEST-2", amount="40")
    status = page.locator("#guest-charge-status")
    expect(status.locator(".guest-headline")).to_have_text("Charging", timeout=20000)

    # when the driver unplugs
    stations.run(sim.session_stop(1, "EVDisconnected"))

    # then nothing is captured and the whole hold is released
    expect(status.locator(".guest-headline")).to_contain_text("released", timeout=30000)
    expect(status.locator(".guest-released")).to_have_text("40.00 EUR")
    charge = in_thread(lambda: GuestCharge.objects.get(connector__evse__station__identity="E2E-GUEST-2"))
    assert charge.status == GuestCharge.Status.RELEASED and charge.amount_captured == 0
    assert fake_stripe.intents[charge.intent_reference]["status"] == "canceled"


def test_a_saved_card_pays_the_invoice_run_and_an_operator_refunds_part_with_a_credit_note(
    live_system,
    stations,  # noqa: F811
    new_page,  # noqa: F811
    fake_stripe,
    driver,
    operator,
):
    from billing.models import Refund
    from rfid.services import id_token_create
    from tests.e2e.conftest import log_in

    base = live_system.base_url
    in_thread(tariff_create, **{**TARIFF, "code": "E2E-CARD"})
    in_thread(id_token_create, uid="04CARD0001", driver=driver, label="Car")

    # given Dana saved a card on her phone
    phone = card_saved_on_phone(new_page, base)

    # when she charges 10 kWh with her RFID card and the invoice run issues her invoice
    invoice = charged_and_invoiced(
        live_system, stations, phone, driver, identity="E2E-CARD-1", uid="04CARD0001"
    )

    # then the worker charges it to her card and she sees it paid
    badge_becomes(phone, f"{base}/billing/invoices/{invoice.pk}/", "Paid")
    charges = [r for r in fake_stripe.requests if r[1] == "/v1/payment_intents"]
    assert len(charges) == 1 and charges[0][3]["amount"] == "375" and charges[0][3]["off_session"] == "true"

    # when an operator refunds 1.00 of it from the invoice page
    office = new_page()
    log_in(office, base, "olivia", "pw-olivia-1")
    office.goto(f"{base}/billing/invoices/{invoice.pk}/")
    office.get_by_label("Amount to refund").fill("1.00")
    office.get_by_label("Reason (on the credit note)").fill("Slow charger")
    office.get_by_role("button", name="Refund").click()

    # then a credit note is issued for it and Stripe refunded exactly that
    notes = office.locator("[data-testid=credit-notes] tbody tr")
    expect(notes).to_have_count(1)
    expect(notes).to_contain_text("-1.00 EUR")
    expect(notes).to_contain_text("Slow charger")
    refund = in_thread(lambda: Refund.objects.get())
    expect(notes).to_contain_text(refund.credit_note_number)
    assert [r[3]["amount"] for r in fake_stripe.requests if r[1] == "/v1/refunds"] == ["100"]


def test_a_declined_saved_card_is_retried_the_driver_is_told_and_pays_by_hand_on_her_phone(
    live_system,
    stations,  # noqa: F811
    new_page,  # noqa: F811
    fake_stripe,
    driver,
    settings,
):
    from datetime import timedelta

    from django.utils import timezone

    from billing.cards.services import invoice_autopay_retry
    from billing.models import Payment, PaymentMethod
    from rfid.services import id_token_create

    base = live_system.base_url
    # The retry sweep runs here, in the test process: it talks to the same fake provider.
    settings.STRIPE_API_BASE = fake_stripe.base_url
    settings.STRIPE_SECRET_KEY = SECRET_KEY
    in_thread(tariff_create, **{**TARIFF, "code": "E2E-DECLINE"})
    in_thread(id_token_create, uid="04DECL0001", driver=driver, label="Car")
    off_session = len([r for r in fake_stripe.requests if r[1] == "/v1/payment_intents"])

    # given Dana saved a card on her phone that the bank will decline
    phone = card_saved_on_phone(new_page, base)
    fake_stripe.declining.add(in_thread(lambda: PaymentMethod.objects.get(driver=driver).reference))

    # when she charges 10 kWh and the invoice run issues her invoice, which the worker charges
    invoice = charged_and_invoiced(
        live_system, stations, phone, driver, identity="E2E-DECL-1", uid="04DECL0001"
    )

    # then her phone shows the payment failed, and a mail tells her when the card is tried again
    badge_becomes(phone, f"{base}/billing/invoices/{invoice.pk}/", "Payment failed")
    expect(phone.locator("table.list").nth(1)).to_contain_text("Failed")

    def failure_mails():
        return [
            m
            for m in live_system.mails()
            if m["Subject"] == f"Your card payment for invoice {invoice.number} failed"
        ]

    for _ in range(60):
        if failure_mails():
            break
        phone.wait_for_timeout(500)
    text = live_system.mail_text(failure_mails()[0])
    assert "Your card was declined." in text and "try your card again" in text

    # when the schedule's retry a day later is declined too
    assert in_thread(invoice_autopay_retry, now=timezone.now() + timedelta(hours=25)) == 1
    phone.reload()
    expect(phone.locator("h1 + p .badge")).to_have_text("Payment failed")
    attempts = in_thread(
        lambda: list(Payment.objects.filter(invoice=invoice).values_list("status", flat=True))
    )
    assert attempts == ["failed", "failed"]

    # then she pays by hand from the invoice page on her phone, on the provider's page
    phone.get_by_role("button", name="Card (Stripe)").click()
    phone.get_by_role("button", name=re.compile(r"Pay 3\.75 EUR")).click()

    # and the invoice is paid, with nothing charged twice
    badge_becomes(phone, f"{base}/billing/invoices/{invoice.pk}/", "Paid")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    assert len([r for r in fake_stripe.requests if r[1] == "/v1/payment_intents"]) - off_session == 2
    assert in_thread(lambda: Payment.objects.filter(invoice=invoice, status="paid").count()) == 1
