"""Drivers on subscription plans: operators assign and end plans (page and API), drivers see their
plan and choose a self-service one; members charge at the plan's tariff and pay its monthly fee."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from billing import services
from billing.models import Subscription
from chargenet.api.models import AuditLog
from tests.billing.conftest import make_session

OCTOBER = services.InvoicePeriod(date(2026, 10, 1), date(2026, 10, 31))


@pytest.fixture
def members(db):
    return services.tariff_create(
        code="MEMBER", name="Members' price", vat_percent=Decimal("25"),
        elements=[{"price_components": [{"type": "ENERGY", "price": "0.20", "step_size": 1}]}],
    )  # fmt: skip


@pytest.fixture
def plus(members):
    return services.subscription_plan_create(
        name="Plus", monthly_fee=Decimal("4.99"), vat_percent=Decimal("21"), tariff=members, self_service=True
    )


@pytest.fixture
def fleet(members):
    return services.subscription_plan_create(
        name="Fleet", monthly_fee=Decimal("20"), vat_percent=Decimal("21"), tariff=members
    )


# --- services ------------------------------------------------------------------------------------


def test_a_member_charges_at_the_plans_tariff_and_pays_the_fee_on_the_invoice(
    driver, station, card, done_when_tariff, plus
):
    # given Dana is put on Plus from October
    services.subscription_start(driver=driver, plan=plus, started_on=date(2026, 10, 1))

    # when she charges 10 kWh in October and October is invoiced
    cdr = services.cdr_create_for_session(session_id=make_session(station, card).pk)
    (invoice,) = services.invoice_run(period=OCTOBER)

    # then the session is priced at the members' 0.20/kWh (not the public 0.30 + 1.00 flat)
    assert cdr.tariff_snapshot["id"] == "MEMBER"
    assert cdr.total_excl_vat == Decimal("2.00")
    # and the invoice holds the session and one month's fee
    lines = {line.description: line.amount_incl_vat for line in invoice.lines.all()}
    assert lines["Subscription Plus, October 2026"] == Decimal("6.04")
    assert invoice.total_incl_vat == Decimal("2.50") + Decimal("6.04")


def test_after_the_plan_ends_the_driver_pays_public_prices_and_no_more_fees(
    driver, station, card, done_when_tariff, plus
):
    subscription = services.subscription_start(driver=driver, plan=plus, started_on=date(2026, 9, 1))

    services.subscription_end(subscription=subscription, ended_on=date(2026, 9, 30))
    cdr = services.cdr_create_for_session(session_id=make_session(station, card).pk)
    (invoice,) = services.invoice_run(period=OCTOBER)

    assert cdr.tariff_snapshot["id"] == "STD"
    assert not invoice.lines.filter(subscription__isnull=False).exists()


def test_putting_a_driver_on_another_plan_ends_the_current_one_the_day_before(driver, plus, fleet):
    first = services.subscription_start(driver=driver, plan=plus, started_on=date(2026, 9, 1))

    services.subscription_start(driver=driver, plan=fleet, started_on=date(2026, 10, 15))

    first.refresh_from_db()
    assert first.ended_on == date(2026, 10, 14)
    assert Subscription.objects.get(ended_on__isnull=True).plan == fleet


def test_a_retired_plan_or_an_overlapping_start_is_refused_and_leaves_nothing(driver, plus, fleet):
    services.subscription_plan_update(plan=fleet, is_active=False)
    with pytest.raises(services.BillingError, match="retired"):
        services.subscription_start(driver=driver, plan=fleet, started_on=date(2026, 10, 1))
    assert not Subscription.objects.exists()

    services.subscription_start(driver=driver, plan=plus, started_on=date(2026, 10, 1))
    with pytest.raises(services.BillingError, match="on or after"):
        services.subscription_start(driver=driver, plan=plus, started_on=date(2026, 9, 1))
    assert Subscription.objects.get().ended_on is None


def test_a_subscription_cannot_end_twice_or_before_it_began(driver, plus):
    subscription = services.subscription_start(driver=driver, plan=plus, started_on=date(2026, 10, 1))

    with pytest.raises(services.BillingError, match="cannot end before"):
        services.subscription_end(subscription=subscription, ended_on=date(2026, 9, 1))
    services.subscription_end(subscription=subscription, ended_on=date(2026, 10, 31))
    with pytest.raises(services.BillingError, match="already ended"):
        services.subscription_end(subscription=subscription, ended_on=date(2026, 11, 30))
    subscription.refresh_from_db()
    assert subscription.ended_on == date(2026, 10, 31)


def test_drivers_may_choose_only_self_service_plans(driver, plus, fleet):
    today = date(2026, 10, 5)

    with pytest.raises(services.BillingError, match="not offered"):
        services.subscription_choose(driver=driver, plan=fleet, today=today)
    assert not Subscription.objects.exists()

    services.subscription_choose(driver=driver, plan=plus, today=today)
    with pytest.raises(services.BillingError, match="on Plus already"):
        services.subscription_choose(driver=driver, plan=plus, today=today)
    assert Subscription.objects.get().started_on == today


# --- pages ---------------------------------------------------------------------------------------


def test_a_driver_chooses_a_plan_on_their_page_and_their_next_session_and_invoice_follow(
    client, driver, station, card, done_when_tariff, plus, fleet
):
    client.force_login(driver.user)

    # given the page offers the self-service plan only
    page = client.get("/billing/plan/").content.decode()
    assert "You are not on a plan" in page and "Choose Plus" in page and "Fleet" not in page

    # when Dana chooses Plus
    response = client.post("/billing/plan/", {"plan": plus.pk}, follow=True)

    # then her page shows it
    page = response.content.decode()
    assert "You are on Plus from today." in page and "Members&#x27; price" in page
    # and a session she charges today is priced at the members' tariff
    # (started today in local time even just after midnight, when two hours ago was yesterday)
    midnight = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    started = max(midnight, timezone.now().replace(microsecond=0) - timedelta(hours=2))
    cdr = services.cdr_create_for_session(session_id=make_session(station, card, started_at=started).pk)
    assert cdr.tariff_snapshot["id"] == "MEMBER"
    # and the month's invoice charges the fee
    today = timezone.localdate()
    month = services.InvoicePeriod(today.replace(day=1), today)
    (invoice,) = services.invoice_run(period=month)
    assert invoice.lines.filter(subscription__plan=plus, amount_excl_vat=Decimal("4.99")).count() == 1


def test_a_driver_cannot_choose_a_plan_not_offered_to_them_and_ends_their_own(client, driver, plus, fleet):
    client.force_login(driver.user)

    refused = client.post("/billing/plan/", {"plan": fleet.pk}, follow=True).content.decode()
    assert "Not changed: that plan is not offered" in refused
    assert not Subscription.objects.exists()

    client.post("/billing/plan/", {"plan": plus.pk})
    ended = client.post("/billing/plan/", {"end": "1"}, follow=True).content.decode()
    assert "Your plan ends today" in ended
    assert Subscription.objects.get().ended_on == timezone.localdate()


def test_an_operator_puts_a_driver_on_a_plan_and_ends_it_on_the_subscriptions_page(
    client, operator, driver, fleet
):
    client.force_login(operator)

    client.post(
        "/billing/subscriptions/",
        {"driver_email": driver.email.upper(), "plan": fleet.pk, "started_on": "2026-10-01"},
    )
    subscription = Subscription.objects.get()
    page = client.get("/billing/subscriptions/").content.decode()
    client.post(f"/billing/subscriptions/{subscription.pk}/end/", {"ended_on": "2026-12-31"})

    assert subscription.driver == driver and subscription.plan == fleet
    assert "Fleet" in page and "2026-10-01" in page
    subscription.refresh_from_db()
    assert subscription.ended_on == date(2026, 12, 31)
    assert list(AuditLog.objects.values_list("object_type", "status_code", "user")) == [
        ("subscription", 200, operator.pk),
        ("subscription", 200, operator.pk),
    ]


def test_an_unknown_driver_is_refused_and_viewers_and_drivers_cannot_subscribe_anyone(
    client, operator, viewer, driver, fleet
):
    client.force_login(operator)
    refused = client.post(
        "/billing/subscriptions/", {"driver_email": "nobody@example.com", "plan": fleet.pk}, follow=True
    )
    client.force_login(viewer)
    forged = client.post("/billing/subscriptions/", {"driver_email": driver.email, "plan": fleet.pk})
    client.force_login(driver.user)
    as_driver = client.get("/billing/subscriptions/")

    assert "no driver with the e-mail address" in refused.content.decode()
    assert forged.status_code == 403 and as_driver.status_code == 403
    assert not Subscription.objects.exists()
