"""The demo network that `make run` seeds: something to see on every page from the first minute."""

import pytest

from billing.models import Cdr, Invoice
from chargenet.demo import demo_seed
from rfid.models import IdToken
from stations.models import Session
from stations.simulator.demo import DEMO_VISITOR_CARDS


@pytest.fixture
def seeded(db, celery_eager, settings):
    # `make run` (embedded, DEMO on) has a demo seller; on PostgreSQL, as in CI, DEMO is off by default.
    settings.BILLING_SELLER_NAME = "Demo Charging Network B.V."
    settings.BILLING_SELLER_ADDRESS = "Havenstraat 1\n1011 AA Amsterdam\nNetherlands"
    demo_seed(stations=3)


@pytest.fixture
def celery_eager():
    from chargenet.celery import app

    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


def test_the_simulated_visitors_never_use_the_demo_drivers_cards(seeded):
    visitors = IdToken.objects.filter(uid__in=DEMO_VISITOR_CARDS)

    assert visitors.count() == len(DEMO_VISITOR_CARDS)
    assert not visitors.filter(driver__user__username="driver").exists()
    assert not Session.objects.filter(status=Session.Status.ACTIVE).exists()


def test_the_demo_driver_has_last_month_charged_priced_and_invoiced(seeded):
    (invoice,) = Invoice.objects.filter(driver__user__username="driver")

    assert invoice.lines.count() == 4 == Cdr.objects.filter(driver=invoice.driver).count()
    assert invoice.seller_name and invoice.billing_address and invoice.due_on


def test_seeding_again_changes_nothing(seeded):
    counts = (Session.objects.count(), Invoice.objects.count(), IdToken.objects.count())

    demo_seed(stations=3)

    assert (Session.objects.count(), Invoice.objects.count(), IdToken.objects.count()) == counts


def test_every_third_demo_station_is_registered_as_ocpp_2_0_1(seeded):
    from stations.models import Station

    assert dict(Station.objects.order_by("identity").values_list("identity", "ocpp_version")) == {
        "DEMO-001": "1.6",
        "DEMO-002": "1.6",
        "DEMO-003": "2.0.1",
    }
