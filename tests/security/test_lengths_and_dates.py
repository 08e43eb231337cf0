"""Text longer than its column and dates at the calendar's edges get a clear error everywhere (form,
API, service), on SQLite as on PostgreSQL, and store nothing."""

import pytest
from rest_framework.test import APIClient

from chargenet.api.services import api_key_create
from chargenet.webhooks.services import WebhookError, webhook_subscription_create
from rfid.models import IdToken
from stations.models import Location, Station
from stations.services import StationError, location_create, station_create

pytestmark = pytest.mark.django_db

LONG = "x" * 300


@pytest.fixture
def api(admin_user):
    _, key = api_key_create(user=admin_user, name="tests", role="operate")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def test_the_revenue_report_refuses_dates_at_the_calendars_edges_with_a_message(client, operator):
    client.force_login(operator)
    for period in ("from=0001-01-01&to=0001-01-31", "from=2026-01-01&to=9999-12-31", "from=9999-12-31"):
        response = client.get(f"/billing/reports/revenue/?{period}")
        assert response.status_code == 400, period
        assert "Choose dates between" in response.content.decode()
    export = client.get("/billing/cdrs/export.csv?from=0001-01-01&to=9999-12-31")
    assert export.status_code == 400 and b"Choose dates between" in export.content
    inverted = client.get("/billing/reports/revenue/?from=2026-02-01&to=2026-01-01")
    assert inverted.status_code == 400 and "must not end before it starts" in inverted.content.decode()


def test_api_date_filters_at_the_calendars_edges_are_a_400(api):
    for query in ("stopped_after=9999-12-31T23:59:59-01:00", "stopped_before=0001-01-01T00:00:00%2B01:00"):
        response = api.get(f"/api/v1/cdrs/?{query}")
        assert response.status_code == 400, (query, response.content)


def test_a_station_name_longer_than_its_column_is_refused_by_the_dashboard_form(client, operator):
    client.force_login(operator)
    response = client.post(
        "/stations/new/",
        {"identity": "CP-LONG", "name": LONG, "ocpp_version": "1.6", "security_profile": "1"},
    )
    assert response.status_code == 400
    assert "at most 200 characters" in response.content.decode()
    assert not Station.objects.filter(identity="CP-LONG").exists()


def test_a_location_name_longer_than_its_column_is_refused_by_the_dashboard_form(client, operator):
    client.force_login(operator)
    response = client.post("/locations/new/", {"name": LONG, "time_zone": "UTC"})
    assert response.status_code in (200, 400) and "at most" in response.content.decode()
    assert not Location.objects.exists()


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/stations/", {"identity": "CP-LONG", "name": LONG}),
        ("/api/v1/locations/", {"name": LONG, "time_zone": "UTC"}),
        ("/api/v1/id-tokens/", {"uid": "LONG-1", "label": LONG}),
        ("/api/v1/webhooks/", {"url": "https://example.com/x", "events": ["*"], "description": LONG}),
    ],
)
def test_the_api_answers_400_for_text_longer_than_its_column(api, path, body):
    response = api.post(path, body, format="json")
    assert response.status_code == 400, response.content
    assert not IdToken.objects.filter(uid="LONG-1").exists()
    assert not Station.objects.filter(identity="CP-LONG").exists()


def test_services_refuse_text_longer_than_its_column_whoever_calls_them(operator):
    with pytest.raises(StationError, match="at most"):
        station_create(identity="CP-SVC", name=LONG)
    with pytest.raises(StationError, match="at most"):
        location_create(name=LONG)
    with pytest.raises(WebhookError, match="at most"):
        webhook_subscription_create(user=operator, url="https://example.com/" + LONG * 2, events=["*"])
    assert not Station.objects.exists() and not Location.objects.exists()


def test_a_subscription_dated_at_the_calendars_edge_is_refused_by_the_api(api, driver):
    from billing.models import Subscription, SubscriptionPlan

    plan = SubscriptionPlan.objects.create(name="Plus", monthly_fee="5.00", currency="EUR", vat_percent="21")
    response = api.post(
        "/api/v1/subscriptions/",
        {"driver": driver.pk, "plan": plan.pk, "started_on": "9999-12-31"},
        format="json",
    )
    assert 400 <= response.status_code < 500, response.content
    assert "choose a date between" in response.json()["error"]["message"]
    assert not Subscription.objects.exists()
