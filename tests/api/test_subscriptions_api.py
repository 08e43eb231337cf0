"""Subscriptions in the REST API: operators put drivers on plans and end them (audited); drivers read
only their own."""

from datetime import date
from decimal import Decimal

import pytest

from billing import services
from billing.models import Subscription
from chargenet.api.models import AuditLog


@pytest.fixture
def fleet(db):
    return services.subscription_plan_create(
        name="Fleet", monthly_fee=Decimal("20"), vat_percent=Decimal("21"), tariff=None
    )


def test_operators_assign_and_end_plans_through_the_api_and_it_is_audited(operator_api, driver, fleet):
    created = operator_api.post(
        "/api/v1/subscriptions/",
        {"driver": driver.pk, "plan": fleet.pk, "started_on": "2026-10-01"},
        format="json",
    )
    pk = created.json()["id"]
    ended = operator_api.post(f"/api/v1/subscriptions/{pk}/end/", {"ended_on": "2026-10-31"}, format="json")
    again = operator_api.post(f"/api/v1/subscriptions/{pk}/end/", {"ended_on": "2026-11-30"}, format="json")
    listed = operator_api.get("/api/v1/subscriptions/", {"driver": driver.pk}).json()

    assert created.status_code == 201 and created.json()["plan_name"] == "Fleet"
    assert ended.status_code == 200 and ended.json()["ended_on"] == "2026-10-31"
    assert again.status_code == 409 and again.json()["error"]["code"] == "billing_refused"
    assert [s["id"] for s in listed["results"]] == [pk]
    assert [(a.object_type, a.object_id, a.status_code) for a in AuditLog.objects.order_by("id")] == [
        ("subscription", str(pk), 201),
        ("subscription", str(pk), 200),
        ("subscription", str(pk), 409),
    ]


def test_drivers_read_only_their_own_subscriptions_and_cannot_assign_plans(
    driver_api, driver, other_driver, fleet
):
    mine = services.subscription_start(driver=driver, plan=fleet, started_on=date(2026, 10, 1))
    theirs = services.subscription_start(driver=other_driver, plan=fleet, started_on=date(2026, 10, 1))

    listed = driver_api.get("/api/v1/subscriptions/").json()
    forged = driver_api.post("/api/v1/subscriptions/", {"driver": driver.pk, "plan": fleet.pk}, format="json")

    assert [s["id"] for s in listed["results"]] == [mine.pk]
    assert driver_api.get(f"/api/v1/subscriptions/{theirs.pk}/").status_code == 404
    assert forged.status_code == 403
    assert Subscription.objects.count() == 2
