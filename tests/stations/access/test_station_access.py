"""Authorization at a station: private stations and locations, concurrent use, the context."""

import pytest
from django.utils import timezone

from rfid.models import AuthorizationLog
from rfid.services import id_token_create
from stations.access.services import (
    AccessError,
    location_access_set,
    station_access_set,
    station_id_token_authorize,
)
from stations.models import Session, Station
from stations.services import location_create, station_create


@pytest.fixture
def station(db):
    station, _ = station_create(identity="CP-1", evses=2)
    return station


@pytest.mark.django_db
def test_a_public_station_accepts_any_valid_card(station):
    id_token_create(uid="ANY")

    decision = station_id_token_authorize(station=station, uid="any")

    assert decision.status == "Accepted"
    assert AuthorizationLog.objects.get().station_identity == "CP-1"


@pytest.mark.django_db
def test_a_private_station_accepts_only_its_listed_drivers_and_groups(station, driver, other_driver):
    id_token_create(uid="DANA", driver=driver)
    id_token_create(uid="BOB", driver=other_driver)
    id_token_create(uid="FLEET7", parent_id_tag="ACME")
    station_access_set(station=station, is_public=False, drivers=[driver], groups=["ACME"])

    assert station_id_token_authorize(station=station, uid="DANA").status == "Accepted"
    assert station_id_token_authorize(station=station, uid="FLEET7").status == "Accepted"
    refused = station_id_token_authorize(station=station, uid="BOB")
    assert (refused.status, refused.reason) == ("Invalid", "not allowed at this location")


@pytest.mark.django_db
def test_a_private_location_makes_its_stations_private(driver, other_driver):
    location = location_create(name="Depot")
    station, _ = station_create(identity="CP-2", location=location)
    id_token_create(uid="DANA", driver=driver)
    id_token_create(uid="BOB", driver=other_driver)

    location_access_set(location=location, is_public=False, drivers=[driver])

    station.refresh_from_db()
    assert station_id_token_authorize(station=station, uid="DANA").status == "Accepted"
    assert station_id_token_authorize(station=station, uid="BOB").reason == "not allowed at this location"


@pytest.mark.django_db
def test_a_card_charging_on_another_connector_is_refused_but_not_on_its_own(station):
    card = id_token_create(uid="CARD")
    Session.objects.create(
        station=station,
        evse=station.evses.get(evse_id=1),
        transaction_id="1",
        id_token=card,
        id_tag="CARD",
        started_at=timezone.now(),
    )

    elsewhere = station_id_token_authorize(station=station, uid="card", evse_id=2)
    same_evse = station_id_token_authorize(station=station, uid="card", evse_id=1)

    assert (elsewhere.status, elsewhere.reason) == ("ConcurrentTx", "card is already charging elsewhere")
    assert same_evse.status == "Accepted"


@pytest.mark.django_db
def test_a_card_is_concurrent_by_the_tag_a_station_sent_and_by_the_card_each_alone(station):
    # given a session started under a tag no card had yet (its card was created afterwards), and one
    # started with the card but recorded under another tag (a station that sent it in another form)
    id_token_create(uid="LATE-1")
    fleet = id_token_create(uid="FLEET-2")
    for n, (card, tag) in enumerate(((None, "late-1"), (fleet, "F2-ON-THE-WIRE")), start=1):
        Session.objects.create(
            station=station,
            evse=station.evses.get(evse_id=1),
            transaction_id=str(n),
            id_token=card,
            id_tag=tag,
            started_at=timezone.now(),
        )

    # then each card is charging already, seen from the other EVSE (the first session is found by
    # its tag only, the second by its card only)
    for uid in ("LATE-1", "fleet-2"):
        decision = station_id_token_authorize(station=station, uid=uid, evse_id=2)
        assert (decision.status, decision.reason) == ("ConcurrentTx", "card is already charging elsewhere")


@pytest.mark.django_db
def test_a_malformed_group_id_is_refused_and_nothing_changes(station):
    with pytest.raises(AccessError):
        station_access_set(station=station, is_public=False, groups=["has space"])

    station.refresh_from_db()
    assert station.is_public is True
    assert station.allowed_groups == []
    assert Station.objects.get(pk=station.pk).allowed_groups == []
