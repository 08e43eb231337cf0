"""Billing fixtures: a location in Amsterdam with a station, sessions with meter samples, eager tasks."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import transaction

from billing import services
from chargenet.celery import app as celery_app
from chargenet.events import event_publish
from rfid.models import IdToken
from stations.models import Connector, Evse, Location, MeterSample, Session, Station
from tests.billing.fake_stripe import SECRET_KEY, WEBHOOK_SECRET, FakeStripe


@pytest.fixture(autouse=True)
def eager_tasks():
    """Tasks run in-process: the worker is outside what these tests look at."""
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = False


@pytest.fixture
def location(db):
    return Location.objects.create(name="Harbour", time_zone="Europe/Amsterdam")


@pytest.fixture
def station(location):
    station = Station.objects.create(identity="CP-1", location=location)
    evse = Evse.objects.create(station=station, evse_id=1)
    Connector.objects.create(evse=evse, connector_id=1)
    return station


@pytest.fixture
def card(driver):
    return IdToken.objects.create(uid="DANA0001", driver=driver)


@pytest.fixture
def other_card(other_driver):
    return IdToken.objects.create(uid="BOB00001", driver=other_driver)


@pytest.fixture
def done_when_tariff(db):
    return services.tariff_create(
        code="STD",
        name="Standard",
        currency="EUR",
        vat_percent=Decimal("25"),
        is_default=True,
        elements=[
            {"price_components": [{"type": "ENERGY", "price": "0.30", "step_size": 1}]},
            {"price_components": [{"type": "FLAT", "price": "1.00", "step_size": 1}]},
        ],
    )


def make_session(
    station,
    card,
    *,
    started_at=datetime(2026, 10, 12, 8, 0, tzinfo=UTC),
    minutes=60,
    energy_wh=10000,
    stopped=True,
    transaction_id=None,
):
    """A session with an energy-register sample every 15 minutes, stopped (or still running)."""
    session = Session.objects.create(
        station=station,
        connector=Connector.objects.filter(evse__station=station).first(),
        transaction_id=transaction_id or str(Session.objects.count() + 1),
        id_token=card,
        id_tag=card.uid if card else "",
        started_at=started_at,
        stopped_at=started_at + timedelta(minutes=minutes) if stopped else None,
        status=Session.Status.COMPLETED if stopped else Session.Status.ACTIVE,
        meter_start_wh=1000,
        energy_wh=energy_wh if stopped else 0,
    )
    for quarter in range(1, minutes // 15 + (0 if stopped else 1)):
        MeterSample.objects.create(
            station=station,
            session=session,
            timestamp=started_at + timedelta(minutes=15 * quarter),
            value=Decimal(1000 + energy_wh * 15 * quarter // minutes),
            unit="Wh",
        )
    return session


def stop_session(session):
    """What the OCPP layer does when a session ends: publish `session.stopped` after commit."""
    with transaction.atomic():
        event_publish("session.stopped", {"session_id": session.pk, "station_id": session.station_id})


@pytest.fixture
def fake_stripe(settings):
    """A local fake of Stripe's API on a socket, with short automatic-payment retries."""
    fake = FakeStripe().start()
    settings.STRIPE_API_BASE = fake.base_url
    settings.STRIPE_SECRET_KEY = SECRET_KEY
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.BILLING_AUTOPAY_RETRY_HOURS = ["24", "72"]
    yield fake
    fake.stop()


def add_card(client, fake, **card):
    """The driver adds a card on "My cards" and saves it on the provider's page."""
    if card:
        fake.next_card = {"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2030, **card}
    response = client.post("/billing/cards/")
    assert response.status_code == 302, response.content
    session_id = response["Location"].rsplit("/", 1)[1]
    back = fake.pay(session_id)
    return client.get(back.replace("http://testserver", ""), follow=True)


@pytest.fixture
def dana_with_card(client, driver, fake_stripe):
    client.force_login(driver.user)
    add_card(client, fake_stripe)
    return driver
