"""Times are shown in the viewer's time zone (their preference, else their browser's), labelled."""

from datetime import UTC, datetime

import pytest
from django.urls import reverse

from tests.stations.dashboard.conftest import make_session, make_station

STARTED = datetime(2026, 7, 1, 10, 0, tzinfo=UTC)


@pytest.fixture
def session(db):
    session = make_session(make_station("TZ-1"))
    session.started_at = STARTED
    session.save(update_fields=["started_at"])
    return session


@pytest.mark.django_db
def test_an_operator_sees_times_in_the_zone_they_chose_with_its_abbreviation(client, operator, session):
    # given Olivia prefers Stockholm time
    client.force_login(operator)
    client.post(reverse("preferences"), {"time_zone": "Europe/Stockholm"})

    # when she opens the session
    page = client.get(reverse("session-detail", args=[session.pk])).text

    # then 10:00 UTC reads as 12:00 CEST
    assert "2026-07-01 12:00:00 CEST" in page


@pytest.mark.django_db
def test_without_a_preference_times_follow_the_browsers_zone(client, operator, session):
    client.force_login(operator)
    client.cookies["tz"] = "Europe/Kyiv"

    page = client.get(reverse("session-detail", args=[session.pk])).text

    assert "2026-07-01 13:00:00 EEST" in page


@pytest.mark.django_db
def test_with_neither_times_are_labelled_utc(client, operator, session):
    client.force_login(operator)

    page = client.get(reverse("session-detail", args=[session.pk])).text

    assert "2026-07-01 10:00:00 UTC" in page


@pytest.mark.django_db
def test_an_unknown_time_zone_is_refused_and_changes_nothing(client, operator):
    client.force_login(operator)

    response = client.post(reverse("preferences"), {"time_zone": "Mars/Olympus_Mons"})

    assert response.status_code == 400
    assert "is not a time zone" in response.text
    operator.refresh_from_db()
    assert operator.time_zone == ""


@pytest.mark.django_db
def test_the_api_answers_in_utc_whatever_the_users_preference(operator, session):
    from rest_framework.test import APIClient

    from chargenet.api.services import api_key_create

    operator.time_zone = "Europe/Stockholm"
    operator.save()
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {api_key_create(user=operator, name='t', role='read')[1]}")

    body = api.get(f"/api/v1/sessions/{session.pk}/").json()

    assert body["started_at"] in ("2026-07-01T10:00:00Z", "2026-07-01T10:00:00+00:00")
