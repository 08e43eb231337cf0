"""Stations, locations and faults over the API: who may do what, filters, pagination, errors."""

import pytest

from stations.models import Connector, Location, Session, Station
from stations.network.passwords import password_check

pytestmark = pytest.mark.django_db


def test_registering_a_station_returns_its_password_once_and_the_password_works(operator_api):
    response = operator_api.post(
        "/api/v1/stations/", {"identity": "CP-42", "ocpp_version": "2.0.1", "evses": 2}, format="json"
    )

    assert response.status_code == 201
    body = response.json()
    assert [evse["evse_id"] for evse in body["evses"]] == [1, 2]
    assert password_check(body["password"], Station.objects.get(identity="CP-42").password_hash)
    assert "password" not in operator_api.get("/api/v1/stations/CP-42/").json()


def test_a_taken_identity_is_a_409_and_nothing_is_created(operator_api, station):
    response = operator_api.post("/api/v1/stations/", {"identity": "cp-1"}, format="json")

    assert response.status_code == 409
    assert response.json()["error"] == {
        "code": "station_refused",
        "message": "a station with identity 'cp-1' already exists",
    }
    assert Station.objects.count() == 1


def test_invalid_input_is_a_validation_error_naming_the_fields(operator_api):
    response = operator_api.post(
        "/api/v1/stations/", {"identity": "bad/identity", "password": "short", "evses": 0}, format="json"
    )

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert set(error["details"]) == {"identity", "password", "evses"}
    assert not Station.objects.exists()


def test_an_operator_changes_and_deletes_a_station(operator_api, station):
    location = Location.objects.create(name="Harbour")

    changed = operator_api.patch(
        "/api/v1/stations/CP-1/", {"name": "Pier 3", "location": location.pk}, format="json"
    )
    deleted = operator_api.delete("/api/v1/stations/CP-1/")

    assert changed.status_code == 200
    assert (changed.json()["name"], changed.json()["location"]) == ("Pier 3", location.pk)
    assert deleted.status_code == 204
    assert not Station.objects.exists()


def test_a_station_with_sessions_cannot_be_deleted(operator_api, station):
    Session.objects.create(station=station, transaction_id="1", started_at="2025-01-01T10:00:00Z")

    response = operator_api.delete("/api/v1/stations/CP-1/")

    assert response.status_code == 409
    assert "cannot be deleted" in response.json()["error"]["message"]
    assert Station.objects.filter(identity="CP-1").exists()


def test_setting_a_new_password_returns_it_once(operator_api, station):
    response = operator_api.post("/api/v1/stations/CP-1/password/", {}, format="json")

    station.refresh_from_db()
    assert response.status_code == 200
    assert password_check(response.json()["password"], station.password_hash)


@pytest.mark.parametrize(
    ("persona", "read", "write"),
    [
        ("anonymous", 401, 401),
        ("viewer_api", 200, 403),
        ("operator_read_key_api", 200, 403),
        ("driver_api", 200, 403),
        ("operator_api", 200, 200),
    ],
)
def test_who_may_read_and_change_stations(request, persona, read, write, station):
    client = request.getfixturevalue(persona)

    assert client.get("/api/v1/stations/CP-1/").status_code == read
    assert client.patch("/api/v1/stations/CP-1/", {"name": "x"}, format="json").status_code == write
    assert client.post("/api/v1/stations/CP-1/password/", {}, format="json").status_code == write


def test_drivers_see_only_public_stations(driver_api, station):
    station.is_public = False
    station.save()

    assert driver_api.get("/api/v1/stations/CP-1/").status_code == 404
    assert driver_api.get("/api/v1/stations/").json()["results"] == []


def test_drivers_cannot_see_the_message_log_commands_or_faults(driver_api, station):
    for url in ("/api/v1/stations/CP-1/messages/", "/api/v1/stations/CP-1/commands/", "/api/v1/faults/"):
        assert driver_api.get(url).status_code == 403


def test_stations_are_filtered_by_presence_connector_status_and_location(operator_api, station):
    from stations.services import station_create

    location = Location.objects.create(name="Depot")
    online, _ = station_create(identity="CP-2", location=location)
    Station.objects.filter(pk=online.pk).update(is_online=True)
    Connector.objects.filter(evse__station=online).update(status=Connector.Status.CHARGING)

    def identities(query: str) -> list[str]:
        response = operator_api.get(f"/api/v1/stations/?{query}")
        assert response.status_code == 200
        return [s["identity"] for s in response.json()["results"]]

    assert identities("status=online") == ["CP-2"]
    assert identities("status=offline") == ["CP-1"]
    assert identities("connector_status=Charging") == ["CP-2"]
    assert identities(f"location={location.pk}") == ["CP-2"]
    assert identities("ordering=-identity") == ["CP-2", "CP-1"]


def test_an_unknown_filter_value_is_a_validation_error(operator_api):
    response = operator_api.get("/api/v1/stations/?status=sleeping")

    assert response.status_code == 400
    assert response.json()["error"]["details"]["status"]


def test_the_live_state_of_every_connector_is_in_the_station(operator_api, station):
    Connector.objects.filter(evse__station=station, evse__evse_id=2).update(
        status=Connector.Status.FAULTED, error_code="GroundFailure"
    )

    evses = operator_api.get("/api/v1/stations/CP-1/").json()["evses"]
    faults = operator_api.get("/api/v1/faults/?station=CP-1").json()["results"]

    assert [e["connectors"][0]["status"] for e in evses] == ["Unknown", "Faulted"]
    assert [(f["station"], f["evse_id"], f["error_code"]) for f in faults] == [("CP-1", 2, "GroundFailure")]


def test_locations_are_created_and_listed_with_limit_offset_pages(operator_api, driver_api):
    for name in ("A", "B", "C"):
        assert operator_api.post("/api/v1/locations/", {"name": name}, format="json").status_code == 201
    Location.objects.filter(name="C").update(is_public=False)

    page = operator_api.get("/api/v1/locations/?limit=2").json()
    driver_names = [loc["name"] for loc in driver_api.get("/api/v1/locations/").json()["results"]]

    assert page["count"] == 3 and [loc["name"] for loc in page["results"]] == ["A", "B"]
    assert "offset=2" in page["next"]
    assert driver_names == ["A", "B"]


def test_a_location_with_an_unknown_time_zone_is_refused(operator_api):
    response = operator_api.post(
        "/api/v1/locations/", {"name": "X", "time_zone": "Mars/Olympus"}, format="json"
    )

    assert response.status_code == 400
    assert "IANA" in response.json()["error"]["details"]["time_zone"][0]
    assert not Location.objects.exists()


def test_a_station_registered_at_a_location_comes_back_with_its_password(operator_api):
    location = operator_api.post(
        "/api/v1/locations/", {"name": "Harbour", "time_zone": "UTC"}, format="json"
    ).json()

    response = operator_api.post(
        "/api/v1/stations/", {"identity": "CP-LOC", "evses": 1, "location": location["id"]}, format="json"
    )

    assert response.status_code == 201
    assert response.json()["location"] == location["id"] and response.json()["password"]
