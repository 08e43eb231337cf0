"""Operators' station access page: private stations, local list flag, version and sync result."""

import pytest
from django.urls import reverse

from stations.models import LocalListSync
from stations.services import station_create


@pytest.mark.django_db
def test_an_operator_makes_a_station_private_for_a_driver_and_enables_its_local_list(
    client, operator, driver
):
    station, _ = station_create(identity="CP-1")
    client.force_login(operator)

    client.post(
        reverse("access:edit", args=["CP-1"]),
        {"drivers": "DANA@example.com", "groups": "ACME FLEET", "local_list_enabled": "on"},
    )

    station.refresh_from_db()
    assert station.is_public is False
    assert list(station.allowed_drivers.all()) == [driver]
    assert station.allowed_groups == ["ACME", "FLEET"]
    assert station.local_list_enabled is True


@pytest.mark.django_db
def test_an_unknown_driver_email_is_refused_and_nothing_changes(client, operator):
    station, _ = station_create(identity="CP-1")
    client.force_login(operator)

    response = client.post(reverse("access:edit", args=["CP-1"]), {"drivers": "ghost@example.com"})

    assert "No driver with e-mail ghost@example.com" in response.text
    station.refresh_from_db()
    assert station.is_public is True


@pytest.mark.django_db
def test_the_list_shows_each_stations_list_version_and_last_sync(client, viewer):
    station, _ = station_create(identity="CP-1")
    LocalListSync.objects.create(station=station, version=7, last_result="in sync (version 7, 3 cards)")
    client.force_login(viewer)

    response = client.get(reverse("access:list"))

    assert "in sync (version 7, 3 cards)" in response.text
    assert client.post(reverse("access:sync", args=["CP-1"])).status_code == 403
