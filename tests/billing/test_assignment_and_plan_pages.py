"""Operator pages for tariff assignments and subscription plans (formerly only in the Django admin)."""

from datetime import date
from decimal import Decimal

import pytest

from billing import selectors, services
from billing.models import SubscriptionPlan, TariffAssignment
from tests.billing.conftest import make_session


@pytest.fixture
def fast(db):
    return services.tariff_create(
        code="FAST", name="Fast", vat_percent=Decimal("25"),
        elements=[{"price_components": [{"type": "ENERGY", "price": "0.50", "step_size": 1}]}],
    )  # fmt: skip


def test_an_operator_assigns_a_tariff_to_one_connector_and_a_session_there_uses_it(
    client, operator, station, card, done_when_tariff, fast
):
    client.force_login(operator)

    response = client.post(
        "/billing/assignments/", {"tariff": fast.pk, "station": "CP-1", "evse_id": "1", "connector_id": "1"}
    )
    page = client.get("/billing/assignments/").content.decode()

    assert response.status_code == 302
    assert "CP-1 EVSE 1 connector 1" in page and "everybody" in page
    assert selectors.tariff_resolve(session=make_session(station, card)) == fast


def test_an_assignment_for_an_unknown_station_is_refused_and_nothing_is_stored(client, operator, fast):
    client.force_login(operator)

    response = client.post("/billing/assignments/", {"tariff": fast.pk, "station": "NOPE"}, follow=True)

    assert "Not assigned: no station &#x27;NOPE&#x27;" in response.content.decode()
    assert not TariffAssignment.objects.exists()


def test_removing_an_assignment_falls_back_to_the_default_tariff(
    client, operator, station, card, done_when_tariff, fast
):
    assignment = services.tariff_assign(tariff=fast, station_id=station.pk)
    client.force_login(operator)

    client.post(f"/billing/assignments/{assignment.pk}/delete/")

    assert not TariffAssignment.objects.exists()
    assert selectors.tariff_resolve(session=make_session(station, card)) == done_when_tariff


def test_a_viewer_sees_assignments_and_plans_but_cannot_change_them(client, viewer, station, fast):
    assignment = services.tariff_assign(tariff=fast, station_id=station.pk)
    client.force_login(viewer)

    assert "station CP-1" in client.get("/billing/assignments/").content.decode()
    assert client.get("/billing/plans/").status_code == 200
    assert client.post("/billing/assignments/", {"tariff": fast.pk}).status_code == 403
    assert client.post(f"/billing/assignments/{assignment.pk}/delete/").status_code == 403
    assert client.post("/billing/plans/", {"name": "X", "monthly_fee": "1"}).status_code == 403
    assert TariffAssignment.objects.count() == 1 and not SubscriptionPlan.objects.exists()


def test_drivers_do_not_reach_the_operator_pages(client, driver):
    client.force_login(driver.user)

    assert client.get("/billing/assignments/").status_code == 403
    assert client.get("/billing/plans/").status_code == 403


def test_an_operator_creates_a_plan_and_sees_its_members(client, operator, driver, fast):
    client.force_login(operator)

    client.post(
        "/billing/plans/",
        {"name": "Frequent", "monthly_fee": "9.99", "currency": "eur", "vat_percent": "21", "tariff": fast.pk,
         "is_active": "on"},
    )  # fmt: skip
    plan = SubscriptionPlan.objects.get()
    services.subscription_start(driver=driver, plan=plan, started_on=date(2020, 1, 1))
    page = client.get("/billing/plans/").content.decode()

    assert (plan.monthly_fee, plan.currency, plan.tariff) == (Decimal("9.99"), "EUR", fast)
    assert "9.99 EUR" in page and "<td>1</td>" in page


def test_a_plan_with_a_negative_fee_is_refused_and_nothing_is_stored(client, operator):
    client.force_login(operator)

    response = client.post("/billing/plans/", {"name": "Odd", "monthly_fee": "-1", "vat_percent": "21"})

    assert "must not be negative" in response.content.decode()
    assert not SubscriptionPlan.objects.exists()


def test_an_operator_stops_offering_a_plan(client, operator, fast):
    plan = services.subscription_plan_create(
        name="Frequent", monthly_fee=Decimal("9.99"), vat_percent=Decimal("21"), tariff=fast
    )
    client.force_login(operator)

    client.post(
        f"/billing/plans/{plan.pk}/",
        {
            "name": "Frequent",
            "monthly_fee": "12.00",
            "currency": "EUR",
            "vat_percent": "21",
            "tariff": fast.pk,
        },
    )
    plan.refresh_from_db()

    assert (plan.monthly_fee, plan.is_active) == (Decimal("12.00"), False)
