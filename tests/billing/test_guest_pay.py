"""Guest pay-as-you-go: the QR page, the hold through the provider (a local fake on a socket), one
remote start per hold, capture of exactly the CDR total through the outbox, and every refusal."""

import json
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from billing.guest import services as guest
from billing.models import Cdr, GuestCharge, PaymentEvent
from chargenet.events import event_publish
from rfid.models import IdToken
from stations.models import Command, Session
from tests.billing.conftest import make_session, stop_session
from tests.billing.fake_stripe import sign


@pytest.fixture
def fake_stripe(fake_stripe, settings):
    settings.GUEST_HOLD_AMOUNTS = ["20", "40"]
    return fake_stripe


@pytest.fixture
def online(station, done_when_tariff):
    """CP-1 is public, online (a connection holds it) and its connector is free."""
    station.is_online = True
    station.channel_name = "specific.test!nobody"
    station.save()
    connector = station.evses.get().connectors.get()
    connector.status = "Available"
    connector.save()
    return station


def pay(client, fake, *, amount="20", email=""):
    """The guest picks an amount on the QR page and completes the fake checkout; returns the charge."""
    response = client.post("/pay/CP-1/1/", {"amount": amount, "email": email})
    assert response.status_code == 302, response.content.decode()
    session_id = response["Location"].rsplit("/", 1)[1]
    success = fake.pay(session_id)
    page = client.get(success.replace("http://testserver", ""))
    assert page.status_code == 200
    return GuestCharge.objects.get(checkout_reference=session_id)


def guest_session(station, charge, *, energy_wh=10000, stopped=True):
    return make_session(
        station,
        charge.id_token,
        energy_wh=energy_wh,
        stopped=stopped,
        started_at=timezone.now() - timedelta(hours=1),
    )


def test_the_qr_page_shows_the_connector_state_and_the_price_in_plain_words(client, online, fake_stripe):
    page = client.get("/pay/CP-1/1/").content.decode()

    assert "Charge at Harbour" in page
    assert "Free: plug in your car" in page
    # 0.30/kWh and 1.00/session excl. 25 % VAT
    assert "0.38 EUR per kWh" in page and "1.25 EUR per session" in page
    assert "Prices include 25 % VAT." in page
    assert re.search(r'value="20".*20 EUR', page) and "40 EUR" in page


def test_a_private_or_unknown_connector_has_no_guest_page(client, online, fake_stripe):
    online.is_public = False
    online.save()

    assert client.get("/pay/CP-1/1/").status_code == 404
    assert client.get("/pay/NOPE/1/").status_code == 404
    assert client.get("/pay/CP-1/9/").status_code == 404


def test_the_qr_code_is_an_svg_of_the_stable_page_address(client, online, fake_stripe, operator):
    svg = client.get("/pay/CP-1/1/qr.svg")
    client.force_login(operator)
    sheet = client.get("/pay/print/CP-1/").content.decode()
    station_page = client.get("/stations/CP-1/").content.decode()

    assert svg["Content-Type"] == "image/svg+xml" and b"<svg" in svg.content
    assert "http://testserver/pay/CP-1/1/" in sheet and "/pay/CP-1/1/qr.svg" in sheet
    assert "/pay/print/CP-1/" in station_page


def test_paying_holds_the_amount_with_manual_capture_and_starts_the_connector_once(
    client, online, fake_stripe
):
    charge = pay(client, fake_stripe, amount="40", email="gus@example.com")

    method, path, headers, form = fake_stripe.requests[0]
    assert (method, path) == ("POST", "/v1/checkout/sessions")
    assert form["payment_intent_data[capture_method]"] == "manual"
    assert form["line_items[0][price_data][unit_amount]"] == "4000"
    assert form["customer_email"] == "gus@example.com"
    assert charge.status == GuestCharge.Status.STARTING
    assert charge.intent_reference.startswith("pi_test_")
    command = Command.objects.get(station=online)
    assert command.action == "RemoteStartTransaction"
    assert command.payload == {"connectorId": 1, "idTag": charge.id_token.uid}
    assert len(charge.id_token.uid) <= 20

    # when the return page is opened again, or the webhook arrives, or someone tries again
    client.get(f"/pay/s/{charge.token}/?checkout=done")
    guest.guest_charge_confirm(charge_id=charge.pk)
    with pytest.raises(guest.GuestChargeError, match="started a session already"):
        guest.guest_charge_start(charge_id=charge.pk)

    # then there is still one start
    assert Command.objects.filter(station=online).count() == 1


@pytest.mark.parametrize("amount", ["21", "2000", "-20", "abc", "", "20.001", "NaN"])
def test_a_tampered_amount_is_refused_and_nothing_is_held(client, online, fake_stripe, amount):
    response = client.post("/pay/CP-1/1/", {"amount": amount})

    assert response.status_code == 400
    assert "choose one of the offered amounts: 20, 40 EUR" in response.content.decode()
    assert not GuestCharge.objects.exists() and not fake_stripe.requests


def test_an_occupied_or_offline_connector_refuses_to_take_a_payment(client, online, fake_stripe):
    connector = online.evses.get().connectors.get()
    connector.status = "Charging"
    connector.save()

    response = client.post("/pay/CP-1/1/", {"amount": "20"})

    assert response.status_code == 400
    assert "the connector is charging" in response.content.decode()
    assert not GuestCharge.objects.exists() and not fake_stripe.requests


def test_a_card_that_authorized_another_amount_is_released_and_nothing_starts(client, online, fake_stripe):
    response = client.post("/pay/CP-1/1/", {"amount": "20"})
    session_id = response["Location"].rsplit("/", 1)[1]
    fake_stripe.pay(session_id, amount_minor=500)  # the payer's page was tampered with: 5.00 held
    charge = GuestCharge.objects.get()

    client.get(f"/pay/s/{charge.token}/?checkout=done")

    charge.refresh_from_db()
    assert charge.status == GuestCharge.Status.RELEASED
    assert "held 5.00 EUR, not 20.00 EUR" in charge.note
    assert fake_stripe.intents[charge.intent_reference]["status"] == "canceled"
    assert not Command.objects.exists()


def test_the_cdr_total_is_captured_exactly_once_and_the_rest_released(
    client, online, fake_stripe, django_capture_on_commit_callbacks, mailoutbox
):
    charge = pay(client, fake_stripe, amount="20", email="gus@example.com")
    session = guest_session(online, charge)  # 10 kWh: 5.00 EUR incl. VAT

    with django_capture_on_commit_callbacks(execute=True):
        stop_session(session)
    with django_capture_on_commit_callbacks(execute=True):
        stop_session(session)  # the stop event arrives twice
        guest.guest_charge_settle(cdr_id=Cdr.objects.get(session=session).pk)  # and a retry

    charge.refresh_from_db()
    assert charge.status == GuestCharge.Status.CAPTURED and charge.amount_captured == Decimal("5.00")
    captures = [r for r in fake_stripe.requests if r[1].endswith("/capture")]
    assert len(captures) == 1 and captures[0][3] == {"amount_to_capture": "500"}
    assert fake_stripe.intents[charge.intent_reference]["amount_received"] == 500
    page = client.get(f"/pay/s/{charge.token}/").content.decode()
    assert "Paid 5.00 EUR" in page and "15.00 EUR" in page
    (mail,) = mailoutbox
    assert mail.to == ["gus@example.com"] and "Charged to your card: 5.00 EUR" in mail.body
    assert IdToken.objects.get(pk=charge.id_token_id).status == IdToken.Status.BLOCKED


def test_a_session_without_energy_releases_the_whole_hold(
    client, online, fake_stripe, django_capture_on_commit_callbacks, settings
):
    online.location.save()
    from billing import services

    services.tariff_update(
        tariff=services.Tariff.objects.get(code="STD"),
        elements=[{"price_components": [{"type": "ENERGY", "price": "0.30", "step_size": 1}]}],
    )
    charge = pay(client, fake_stripe)
    session = guest_session(online, charge, energy_wh=0)

    with django_capture_on_commit_callbacks(execute=True):
        stop_session(session)

    charge.refresh_from_db()
    assert charge.status == GuestCharge.Status.RELEASED and charge.amount_captured == 0
    assert fake_stripe.intents[charge.intent_reference]["status"] == "canceled"
    assert not [r for r in fake_stripe.requests if r[1].endswith("/capture")]


def test_a_capture_beyond_the_hold_is_refused_and_a_dearer_session_is_capped_at_the_hold(
    client, online, fake_stripe, django_capture_on_commit_callbacks
):
    charge = pay(client, fake_stripe, amount="20")
    with pytest.raises(guest.GuestChargeError, match="more than the 20.00 EUR held"):
        guest.guest_charge_capture_check(charge=charge, amount=Decimal("20.01"))
    session = guest_session(online, charge, energy_wh=80000)  # 80 kWh: 31.25 EUR

    with django_capture_on_commit_callbacks(execute=True):
        stop_session(session)

    charge.refresh_from_db()
    assert charge.amount_captured == Decimal("20.00")
    assert "the session cost 31.25 EUR" in charge.note


def test_a_started_session_is_linked_to_its_guest_charge_and_a_cards_session_never_asks_for_one(
    client, online, fake_stripe, card
):
    from chargenet.events import events_dispatch_due
    from stations.common import _session_event

    charge = pay(client, fake_stripe)
    guest_started = guest_session(online, charge, stopped=False)
    card_started = make_session(online, card, stopped=False)
    for session in (guest_started, card_started):
        event_publish("session.started", _session_event(session))

    with CaptureQueriesContext(connection) as queries:
        events_dispatch_due()

    charge.refresh_from_db()
    assert charge.status == GuestCharge.Status.CHARGING and charge.session_id == guest_started.pk
    # One look for the guest's session; the card's tag cannot be a guest token's, so none for it.
    assert len([q for q in queries if 'FROM "billing_guestcharge"' in q["sql"]]) == 1
    assert guest.guest_uid_possible(charge.id_token.uid.lower()) and guest.guest_uid_possible("")
    assert not guest.guest_uid_possible(card.uid)


def test_a_second_session_with_the_guest_token_is_stopped(
    client, online, fake_stripe, django_capture_on_commit_callbacks
):
    charge = pay(client, fake_stripe)
    first = guest_session(online, charge, stopped=False)
    with django_capture_on_commit_callbacks(execute=True):
        guest.guest_charge_session_link(session_id=first.pk)
    charge.refresh_from_db()
    assert charge.status == GuestCharge.Status.CHARGING and charge.session_id == first.pk
    assert IdToken.objects.get(pk=charge.id_token_id).status == IdToken.Status.BLOCKED

    second = make_session(online, charge.id_token, stopped=False, transaction_id="99")
    guest.guest_charge_session_link(session_id=second.pk)

    stops = Command.objects.filter(action="RemoteStopTransaction")
    assert [c.payload["transactionId"] for c in stops] == [99]


def test_a_session_reaching_its_limit_is_stopped_once(client, online, fake_stripe, settings):
    charge = pay(client, fake_stripe, amount="20")
    session = guest_session(online, charge, stopped=False)
    guest.guest_charge_session_link(session_id=session.pk)
    settings.GUEST_STOP_AT_PERCENT = 95

    assert guest.guest_limits_enforce() == []  # samples so far: well below 19.00 EUR
    # 60 kWh metered so far: 23.75 EUR
    from stations.models import MeterSample

    MeterSample.objects.create(
        station=online, session=session, timestamp=timezone.now(), value=61000, unit="Wh"
    )
    assert guest.guest_limits_enforce() == [charge.pk]
    assert guest.guest_limits_enforce() == []

    assert Command.objects.filter(action="RemoteStopTransaction").count() == 1


def test_a_hold_whose_session_never_starts_is_released_by_the_sweep(client, online, fake_stripe):
    charge = pay(client, fake_stripe)

    assert guest.guest_charges_sweep() == 0
    assert guest.guest_charges_sweep(now=timezone.now() + timedelta(minutes=10)) == 1

    charge.refresh_from_db()
    assert charge.status == GuestCharge.Status.RELEASED
    assert fake_stripe.intents[charge.intent_reference]["status"] == "canceled"
    assert IdToken.objects.get(pk=charge.id_token_id).status == IdToken.Status.BLOCKED


def test_the_guest_stops_the_session_from_the_private_page(client, online, fake_stripe):
    charge = pay(client, fake_stripe)
    session = guest_session(online, charge, stopped=False)

    page = client.get(f"/pay/s/{charge.token}/status/").content.decode()
    response = client.post(f"/pay/s/{charge.token}/stop/")

    assert "Stop charging" in page
    assert response.status_code == 200
    (stop,) = Command.objects.filter(action="RemoteStopTransaction")
    assert stop.payload == {"transactionId": int(session.transaction_id)}
    assert client.post("/pay/s/not-a-token/stop/").status_code == 404


def test_a_signed_webhook_for_a_hold_starts_the_session_and_a_forged_one_changes_nothing(
    client, online, fake_stripe, django_capture_on_commit_callbacks
):
    response = client.post("/pay/CP-1/1/", {"amount": "20"})
    session_id = response["Location"].rsplit("/", 1)[1]
    fake_stripe.pay(session_id)  # the webhook URL is not set: nothing arrived yet
    event = fake_stripe.webhooks_sent[-1]
    body = json.dumps(event).encode()

    forged = client.post(
        "/billing/webhooks/stripe/", body, content_type="application/json",
        HTTP_STRIPE_SIGNATURE=sign(body, secret="whsec_wrong"),
    )  # fmt: skip
    assert forged.status_code == 400
    assert GuestCharge.objects.get().status == GuestCharge.Status.PENDING

    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(2):  # delivered twice
            ok = client.post(
                "/billing/webhooks/stripe/", body, content_type="application/json",
                HTTP_STRIPE_SIGNATURE=sign(body),
            )  # fmt: skip
            assert ok.status_code == 200

    assert GuestCharge.objects.get().status == GuestCharge.Status.STARTING
    assert PaymentEvent.objects.count() == 1
    assert Command.objects.filter(action="RemoteStartTransaction").count() == 1


def test_a_cancelled_checkout_tells_the_guest_nothing_was_reserved(client, online, fake_stripe):
    client.post("/pay/CP-1/1/", {"amount": "20"})
    charge = GuestCharge.objects.get()

    page = client.get(f"/pay/s/{charge.token}/?checkout=cancelled").content.decode()

    assert "nothing was reserved" in page and "Go to the payment" in page
    assert not Session.objects.exists()


def test_an_expired_hold_fails_the_charge_once_and_the_report_lists_the_unpaid_cdr(
    client, online, fake_stripe, django_capture_on_commit_callbacks
):
    from billing.reconciliation import reconciliation_for_day, reconciliation_text

    charge = pay(client, fake_stripe)
    fake_stripe.intents[charge.intent_reference]["status"] = "canceled"  # Stripe let the hold expire
    session = guest_session(online, charge)

    with django_capture_on_commit_callbacks(execute=True):
        stop_session(session)

    charge.refresh_from_db()
    assert charge.status == GuestCharge.Status.FAILED and "could not be captured" in charge.note
    report = reconciliation_text(reconciliation_for_day(day=timezone.localdate()))
    assert f"GUEST UNPAID: CDR {charge.cdr.cdr_id}" in report


def test_the_guest_reads_the_connectors_state_and_prices_in_the_phones_language(client, online, fake_stripe):
    sv = client.get("/pay/CP-1/1/", HTTP_ACCEPT_LANGUAGE="sv").content.decode()
    uk = client.get("/pay/CP-1/1/", HTTP_ACCEPT_LANGUAGE="uk").content.decode()

    assert "Ledigt: anslut bilen och betala nedan" in sv
    assert "0,38 EUR per kWh" in sv and "1,25 EUR per laddning" in sv
    assert "Priserna inkluderar 25 % moms." in sv
    assert "Вільно: підключіть авто й оплатіть нижче" in uk and "0,38 EUR за кВт·год" in uk
    assert "per kWh" not in uk and "Free: plug in" not in sv + uk


def test_the_guests_private_page_says_what_was_charged_in_the_phones_language(
    client, online, fake_stripe, django_capture_on_commit_callbacks
):
    charge = pay(client, fake_stripe, amount="20")
    with django_capture_on_commit_callbacks(execute=True):
        stop_session(guest_session(online, charge, energy_wh=0))  # the session fee: 1.25 EUR

    sv = client.get(f"/pay/s/{charge.token}/", HTTP_ACCEPT_LANGUAGE="sv").content.decode()
    uk = client.get(f"/pay/s/{charge.token}/", HTTP_ACCEPT_LANGUAGE="uk").content.decode()

    assert 'guest-headline">Betalt 1,25 EUR<' in sv
    assert 'guest-headline">Сплачено 1,25 EUR<' in uk
