import pytest

from stations.models import Connector, Station
from stations.network.passwords import password_check
from stations.services import StationError, location_create, station_create, station_delete


@pytest.mark.django_db
def test_registering_a_station_creates_its_evses_and_returns_a_password_that_works():
    station, password = station_create(identity="CP-1", evses=2)

    assert Connector.objects.filter(evse__station=station).count() == 2
    assert 16 <= len(password) <= 40
    assert password_check(password, station.password_hash)


@pytest.mark.django_db
@pytest.mark.parametrize("identity", ["", "has:colon", "has space", "x" * 49])
def test_it_refuses_a_malformed_identity_and_stores_nothing(identity):
    with pytest.raises(StationError):
        station_create(identity=identity)

    assert not Station.objects.exists()


@pytest.mark.django_db
def test_it_refuses_an_identity_that_is_taken_in_any_case():
    station_create(identity="CP-1")

    with pytest.raises(StationError, match="already exists"):
        station_create(identity="cp-1")


@pytest.mark.django_db
def test_it_refuses_a_short_password():
    with pytest.raises(StationError, match="16 to 40"):
        station_create(identity="CP-1", password="short")
    assert not Station.objects.exists()


@pytest.mark.django_db
def test_a_location_needs_a_real_time_zone():
    with pytest.raises(StationError, match="IANA"):
        location_create(name="Depot", time_zone="Mars/Olympus")

    assert location_create(name="Depot", time_zone="Europe/Berlin").time_zone == "Europe/Berlin"


@pytest.mark.django_db
def test_a_station_without_sessions_can_be_deleted():
    station, _ = station_create(identity="CP-1")

    station_delete(station=station)

    assert not Station.objects.exists()


@pytest.mark.django_db
def test_a_station_without_authentication_gets_no_password_and_refuses_one():
    station, password = station_create(identity="TRUSTED-1", security_profile=0)

    assert password == "" and station.password_hash == ""
    with pytest.raises(StationError, match="security profile 0"):
        station_create(identity="TRUSTED-2", security_profile=0, password="x" * 20)
    assert not Station.objects.filter(identity="TRUSTED-2").exists()
