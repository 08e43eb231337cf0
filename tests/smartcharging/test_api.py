"""The smart-charging REST API: typed profiles, the composite schedule, site capacity and
schedule rules; bad input is a 400 naming the problem and leaves nothing behind."""

from datetime import timedelta

import pytest
from django.utils import timezone

from smartcharging.models import ScheduleRule, SiteCapacity
from smartcharging.services import schedules_apply
from stations.models import ChargingProfile, Command, Session
from stations.services import location_create, station_create, station_tags_set
from tests.api.conftest import _client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(operator):
    return _client_for(operator)


@pytest.fixture
def station():
    location = location_create(name="Depot", time_zone="Europe/Amsterdam")
    return station_create(identity="API-SC-1", evses=2, location=location)[0]


def test_an_operator_sends_a_typed_tx_default_profile_and_it_is_queued_in_the_stations_terms(api, station):
    response = api.post(
        "/api/v1/stations/API-SC-1/charging-profiles/",
        {
            "purpose": "TxDefault",
            "evse_id": 1,
            "unit": "A",
            "periods": [{"start": 0, "limit": "16"}, {"start": 3600, "limit": "8.5"}],
        },
        format="json",
    )

    assert response.status_code == 201, response.json()
    command = Command.objects.get(station=station)
    assert command.action == "SetChargingProfile" and command.status == "queued"
    profile = command.payload["csChargingProfiles"]
    assert profile["chargingProfilePurpose"] == "TxDefaultProfile"
    assert profile["chargingSchedule"]["chargingSchedulePeriod"] == [
        {"startPeriod": 0, "limit": 16},
        {"startPeriod": 3600, "limit": 8.5},
    ]


def test_a_profile_for_an_unknown_connector_is_a_400_that_names_it_and_queues_nothing(api, station):
    response = api.post(
        "/api/v1/stations/API-SC-1/charging-profiles/",
        {"purpose": "TxDefault", "evse_id": 5, "periods": [{"start": 0, "limit": 11000}]},
        format="json",
    )

    assert response.status_code == 400
    assert "has no connector/EVSE 5" in response.json()["error"]["message"]
    assert not Command.objects.exists()


def test_a_profile_with_a_negative_limit_is_refused_by_the_serializer(api, station):
    response = api.post(
        "/api/v1/stations/API-SC-1/charging-profiles/",
        {"purpose": "StationMax", "periods": [{"start": 0, "limit": -1}]},
        format="json",
    )

    assert response.status_code == 400
    assert not Command.objects.exists()


def test_the_composite_schedule_combines_the_installed_profiles(api, station):
    now = timezone.now().replace(microsecond=0)
    ChargingProfile.objects.create(
        station=station,
        connector_id=0,
        charging_profile_id=1,
        stack_level=0,
        purpose="ChargePointMaxProfile",
        kind="Absolute",
        profile={
            "chargingProfileKind": "Absolute",
            "chargingSchedule": {
                "startSchedule": (now + timedelta(hours=1)).isoformat(),
                "duration": 3600,
                "chargingRateUnit": "W",
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 11000}],
            },
        },
    )

    body = api.get("/api/v1/stations/API-SC-1/composite-schedule/?evse_id=1&duration=10800").json()

    # (the request's clock may have ticked a second past the test's)
    assert [p["limit"] for p in body["periods"]] == [None, 11000.0, None]
    assert [p["start"] for p in body["periods"]][1:] in ([3600, 7200], [3599, 7199])
    assert body["station_reported"] is None


def test_clearing_a_profile_that_is_not_installed_is_a_400(api, station):
    response = api.delete("/api/v1/stations/API-SC-1/charging-profiles/4/")

    assert response.status_code == 400
    assert "has no installed profile 4" in response.json()["error"]["message"]


def test_a_site_capacity_in_kw_is_stored_in_amperes_and_too_small_a_one_is_refused(api, station):
    location_id = station.location_id
    ok = api.put(f"/api/v1/locations/{location_id}/site-capacity/", {"capacity_kw": "22"}, format="json")
    assert ok.status_code == 200, ok.json()
    assert ok.json()["capacity_a"] == "31.9"
    # the safe default went to the station
    assert Command.objects.filter(station=station, action="SetChargingProfile").count() == 1

    # given two sessions running, 10 A cannot give each its 6 A minimum
    for n in (1, 2):
        Session.objects.create(
            station=station,
            transaction_id=str(n),
            started_at=timezone.now(),
            evse=station.evses.get(evse_id=n),
        )
    refused = api.put(f"/api/v1/locations/{location_id}/site-capacity/", {"capacity_a": "10"}, format="json")

    assert refused.status_code == 400
    assert "minimum of 6" in refused.json()["error"]["message"]
    assert str(SiteCapacity.objects.get().capacity_a) == "31.9"


def test_capacity_windows_and_plan_priorities_are_set_over_the_api_and_a_bad_window_is_a_400(api, station):
    url = f"/api/v1/locations/{station.location_id}/site-capacity/"
    windows = [{"weekdays": [5, 6], "start": "22:00", "end": "06:00", "capacity_kw": 44}]

    ok = api.put(
        url, {"capacity_kw": 22, "capacity_windows": windows, "plan_priorities": {"Fleet": 5}}, format="json"
    )
    bad = api.put(
        url,
        {"capacity_kw": 22, "capacity_windows": [{"start": "22:00", "end": "22:00", "capacity_a": 9}]},
        format="json",
    )
    kept = api.put(url, {"capacity_kw": 30}, format="json")  # fmt: skip

    assert ok.status_code == 200, ok.json()
    assert ok.json()["capacity_windows"] == [
        {"weekdays": [5, 6], "start": "22:00", "end": "06:00", "capacity_a": 63.8}
    ]
    assert bad.status_code == 400 and "start and end must differ" in bad.json()["error"]["message"]
    assert kept.status_code == 200
    assert api.get(url).json()["plan_priorities"] == {"Fleet": 5}
    assert SiteCapacity.objects.get().capacity_windows[0]["capacity_a"] == 63.8


def test_schedule_rules_are_created_listed_and_deleted(api, station):
    created = api.post(
        "/api/v1/schedule-rules/",
        {
            "name": "Evening peak",
            "kind": "power_limit",
            "location": station.location_id,
            "weekdays": [0, 1, 2, 3, 4],
            "start_time": "17:00",
            "end_time": "21:00",
            "limit_w": 11000,
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    assert [r["name"] for r in api.get("/api/v1/schedule-rules/").json()["results"]] == ["Evening peak"]

    incomplete = api.post(
        "/api/v1/schedule-rules/", {"name": "x", "kind": "maintenance", "station": "API-SC-1"}, format="json"
    )
    assert incomplete.status_code == 400
    assert "starts_at before ends_at" in incomplete.json()["error"]["message"]

    assert api.delete(f"/api/v1/schedule-rules/{created.json()['id']}/").status_code == 204
    assert not ScheduleRule.objects.exists()


def test_a_rule_for_a_tag_limits_every_tagged_station_wherever_it_is_and_no_other(api, station):
    # given a tagged station at another location, and an untagged one beside the first
    elsewhere = location_create(name="Harbour", time_zone="Europe/Amsterdam")
    tagged = station_create(identity="API-SC-TAG", location=elsewhere)[0]
    untagged = station_create(identity="API-SC-PLAIN", location=station.location)[0]
    station_tags_set(station=tagged, tags=["Pilot Group"])
    station_tags_set(station=station, tags=["pilot-group"])

    # when an operator limits the tag all day, named as people type it
    created = api.post(
        "/api/v1/schedule-rules/",
        {"name": "Pilot cap", "kind": "power_limit", "tag": "Pilot group", "start_time": "00:00",
         "end_time": "23:59", "limit_w": 7400},
        format="json",
    )  # fmt: skip
    assert created.status_code == 201, created.json()
    assert created.json()["tag"] == "pilot-group"
    schedules_apply(now=timezone.now().replace(hour=12))

    # then both tagged stations get a 7.4 kW station maximum, and the untagged one nothing
    limited = Command.objects.filter(action="SetChargingProfile")
    assert sorted(limited.values_list("station__identity", flat=True)) == ["API-SC-1", "API-SC-TAG"]
    assert not Command.objects.filter(station=untagged).exists()

    # and a tag no station has is a 400 that leaves nothing behind
    unknown = api.post(
        "/api/v1/schedule-rules/",
        {"name": "x", "kind": "power_limit", "tag": "nowhere", "start_time": "00:00", "end_time": "23:59",
         "limit_w": 1000},
        format="json",
    )  # fmt: skip
    assert unknown.status_code == 400 and "tag" in str(unknown.json())
    assert ScheduleRule.objects.count() == 1
