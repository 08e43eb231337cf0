from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from rfid.models import IdToken
from stations.models import (
    AlertAcknowledgement,
    Command,
    Connector,
    Location,
    MeterSample,
    OcppMessage,
    Station,
)
from stations.network.passwords import password_check
from tests.stations.dashboard.conftest import connector_status_set, make_session, make_station


@pytest.fixture
def as_operator(client, operator):
    client.force_login(operator)
    return client


@pytest.fixture
def as_viewer(client, viewer):
    client.force_login(viewer)
    return client


def test_the_overview_counts_stations_connectors_sessions_and_energy(as_operator, station):
    # given a second, offline station with a faulted connector and a session that delivered 12.5 kWh
    other = make_station("CP-2", online=False)
    connector_status_set(
        connector=Connector.objects.filter(evse__station=other).first(),
        status="Faulted",
        error_code="GroundFailure",
    )
    make_session(station, energy_wh=12500)

    page = as_operator.get(reverse("dashboard")).content.decode()

    assert 'data-k="stations_online">1<' in page
    assert 'data-k="stations_offline">1<' in page
    assert 'data-k="stations_faulted">1<' in page
    assert 'data-k="connectors_available">3<' in page
    assert 'data-k="connectors_faulted">1<' in page
    assert 'data-k="sessions_active">1<' in page
    assert "12.50 kWh" in page
    assert "GroundFailure" in page  # recent faults


def test_the_overview_loads_revenue_from_billing_and_refreshes_it_when_a_cdr_is_made(as_operator, station):
    page = as_operator.get(reverse("dashboard")).content.decode()

    assert 'hx-get="/billing/partials/revenue/"' in page
    assert "cn-cdr-created" in page


def test_the_overview_maps_locations_with_coordinates(as_operator, db):
    location = Location.objects.create(name="Harbour", latitude=Decimal("52.1"), longitude=Decimal("4.9"))
    make_station("CP-9", location=location)

    page = as_operator.get(reverse("dashboard")).content.decode()

    assert 'id="map"' in page and "Harbour" in page and "leaflet.js" in page


def test_a_live_region_can_be_fetched_on_its_own(as_operator, station):
    response = as_operator.get(reverse("dashboard") + "?fragment=summary")

    assert response.status_code == 200
    assert b'id="overview-summary"' in response.content
    assert b"<html" not in response.content


def test_the_station_list_searches_and_filters(as_operator, station):
    make_station("XY-7", online=False)

    found = as_operator.get(reverse("station-list"), {"q": "xy"}).content.decode()
    offline = as_operator.get(reverse("station-list"), {"online": "no"}).content.decode()

    assert "XY-7" in found and "CP-1" not in found
    assert "XY-7" in offline and "CP-1" not in offline


@pytest.mark.parametrize("url", ["dashboard", "station-list", "session-list", "alert-list", "location-list"])
def test_list_pages_stay_within_a_fixed_number_of_queries_at_100_stations(
    url, as_operator, django_assert_max_num_queries, db
):
    location = Location.objects.create(name="Big car park", latitude=Decimal("52"), longitude=Decimal("5"))
    for n in range(100):
        station = make_station(f"CP-{n:03d}", location=location, online=n % 3 != 0)
        make_session(station, transaction_id=str(n), energy_wh=n)
        if n % 10 == 0:
            connector_status_set(
                connector=Connector.objects.filter(evse__station=station).first(), status="Faulted"
            )

    # A fixed number whatever the fleet's size (the alert list reads one table per kind of alert).
    with django_assert_max_num_queries(9):
        response = as_operator.get(reverse(url))

    assert response.status_code == 200


def test_the_station_page_shows_identity_firmware_and_the_filtered_message_log(as_operator, station):
    OcppMessage.objects.create(
        station=station, identity="CP-1", direction="in", action="Heartbeat", payload='[2,"a","Heartbeat",{}]'
    )
    OcppMessage.objects.create(
        station=station,
        identity="CP-1",
        direction="in",
        action="BootNotification",
        payload='[2,"b","BootNotification",{"chargePointVendor":"Alfen"}]',
    )

    page = as_operator.get(
        reverse("station-detail", args=["CP-1"]), {"action": "BootNotification"}
    ).content.decode()

    assert "Alfen" in page and "4.12" in page
    assert "chargePointVendor" in page
    assert '"a","Heartbeat"' not in page


def test_an_operator_resets_a_station_and_the_action_is_recorded_with_their_name(
    as_operator, operator, station
):
    response = as_operator.post(
        reverse("station-command", args=["CP-1"]), {"action": "reset", "type": "Hard"}, HTTP_HX_REQUEST="true"
    )

    command = Command.objects.get()
    assert (command.action, command.payload, command.requested_by) == ("Reset", {"type": "Hard"}, operator)
    assert b"Reset" in response.content and b"olivia" in response.content


def test_remote_start_uses_the_chosen_card(as_operator, station):
    IdToken.objects.create(uid="CARD42")

    as_operator.post(
        reverse("station-command", args=["CP-1"]),
        {"action": "remote_start", "id_tag": "card42", "evse_id": "2"},
    )

    command = Command.objects.get()
    assert command.action == "RemoteStartTransaction"
    assert command.payload["idTag"] == "CARD42"


def test_remote_start_with_an_unknown_card_is_refused_and_leaves_nothing(as_operator, station):
    response = as_operator.post(
        reverse("station-command", args=["CP-1"]),
        {"action": "remote_start", "id_tag": "NOPE", "evse_id": "1"},
        HTTP_HX_REQUEST="true",
    )

    assert b"choose a known card" in response.content
    assert not Command.objects.exists()


def test_remote_stop_names_the_sessions_transaction(as_operator, station):
    session = make_session(station, transaction_id="99")

    as_operator.post(
        reverse("station-command", args=["CP-1"]), {"action": "remote_stop", "session_id": session.pk}
    )

    assert Command.objects.get().payload == {"transactionId": 99}


def test_a_viewer_sees_no_action_buttons_and_a_forged_command_is_refused(as_viewer, station):
    page = as_viewer.get(reverse("station-detail", args=["CP-1"])).content.decode()
    forged = as_viewer.post(reverse("station-command", args=["CP-1"]), {"action": "reset", "type": "Hard"})

    assert "Soft reset" not in page
    assert 'value="remote_start"' not in page and "Acknowledge" not in page
    assert forged.status_code == 403
    assert not Command.objects.exists()


def test_a_driver_cannot_open_the_dashboard(client, driver, station):
    client.force_login(driver.user)

    assert client.get(reverse("station-list")).status_code == 403


def test_registering_a_station_shows_its_password_once_with_the_charger_settings(as_operator, db):
    response = as_operator.post(
        reverse("station-create"),
        {"identity": "NEW-1", "ocpp_version": "2.0.1", "security_profile": "1", "evses": "2"},
    )

    page = response.content.decode()
    station = Station.objects.get(identity="NEW-1")
    password = page.split('id="station-password">')[1].split("<")[0]
    assert password_check(password, station.password_hash)
    assert "/ocpp/" in page and response["Cache-Control"] == "no-store"
    assert station.evses.count() == 2 and station.ocpp_version == "2.0.1"
    assert password not in as_operator.get(reverse("station-detail", args=["NEW-1"])).content.decode()


def test_registering_a_taken_identity_says_so_and_creates_nothing(as_operator, station):
    response = as_operator.post(
        reverse("station-create"), {"identity": "cp-1", "ocpp_version": "1.6", "security_profile": "1"}
    )

    assert response.status_code == 400 and b"already exists" in response.content
    assert Station.objects.count() == 1


def test_a_faulted_connector_is_an_alert_that_an_operator_acknowledges_with_a_note(
    as_operator, operator, station
):
    connector_status_set(
        connector=Connector.objects.filter(evse__station=station).first(),
        status="Faulted",
        error_code="HighTemperature",
    )
    alerts_page = as_operator.get(reverse("alert-list")).content.decode()
    assert "HighTemperature" in alerts_page
    occurred = alerts_page.split('name="occurred_at" value="')[1].split('"')[0]
    object_id = alerts_page.split('name="object_id" value="')[1].split('"')[0]

    as_operator.post(
        reverse("alert-acknowledge"),
        {"kind": "connector_fault", "object_id": object_id, "occurred_at": occurred, "note": "engineer sent"},
    )

    ack = AlertAcknowledgement.objects.get()
    assert (ack.acknowledged_by, ack.note) == (operator, "engineer sent")
    assert "HighTemperature" not in as_operator.get(reverse("alert-list")).content.decode()
    assert "engineer sent" in as_operator.get(reverse("alert-list"), {"show": "all"}).content.decode()


def test_a_fault_that_comes_back_is_an_open_alert_again(as_operator, operator, station):
    from stations.alerts.services import alert_acknowledge, alert_list

    connector = Connector.objects.filter(evse__station=station).first()
    connector_status_set(connector=connector, status="Faulted")
    first = alert_list()[0]
    alert_acknowledge(
        kind=first.kind, object_id=first.object_id, occurred_at=first.occurred_key, note="", user=operator
    )
    connector_status_set(connector=connector, status="Available")
    connector_status_set(connector=connector, status="Faulted")

    assert [a.acknowledgement for a in alert_list()] == [None]


def test_a_silent_station_becomes_an_alert(as_operator, db):
    quiet = make_station("QUIET-1", online=False)
    Station.objects.filter(pk=quiet.pk).update(last_seen_at=timezone.now() - timedelta(hours=2))

    assert "QUIET-1" in as_operator.get(reverse("alert-list")).content.decode()


def test_a_viewer_cannot_acknowledge_an_alert(as_viewer, station):
    connector_status_set(connector=Connector.objects.filter(evse__station=station).first(), status="Faulted")

    response = as_viewer.post(
        reverse("alert-acknowledge"), {"kind": "connector_fault", "object_id": "1", "occurred_at": ""}
    )

    assert response.status_code == 403
    assert not AlertAcknowledgement.objects.exists()


def test_an_operator_creates_and_edits_a_location_with_time_zone_and_coordinates(as_operator, db):
    as_operator.post(
        reverse("location-create"),
        {
            "name": "Depot",
            "time_zone": "Europe/Amsterdam",
            "latitude": "52.37",
            "longitude": "4.89",
            "is_public": "on",
        },
    )
    location = Location.objects.get()
    bad = as_operator.post(
        reverse("location-edit", args=[location.pk]), {"name": "Depot", "time_zone": "Mars/Olympus"}
    )

    assert (location.time_zone, location.latitude) == ("Europe/Amsterdam", Decimal("52.370000"))
    assert bad.status_code == 400 and b"IANA" in bad.content
    location.refresh_from_db()
    assert location.time_zone == "Europe/Amsterdam"


def test_the_session_page_charts_energy_and_power_from_meter_samples(as_operator, station):
    session = make_session(station, energy_wh=2000)
    start = session.started_at
    for minute, (wh, w) in enumerate([(0, 7000), (1000, 7200), (2000, 6900)]):
        at = start + timedelta(minutes=minute)
        MeterSample.objects.create(
            station=station,
            session=session,
            timestamp=at,
            measurand="Energy.Active.Import.Register",
            unit="Wh",
            value=wh,
        )
        MeterSample.objects.create(
            station=station, session=session, timestamp=at, measurand="Power.Active.Import", unit="W", value=w
        )

    page = as_operator.get(reverse("session-detail", args=[session.pk])).content.decode()

    assert '"energy_wh": [0.0, 1000.0, 2000.0]' in page
    assert '"power_w": [7000.0, 7200.0, 6900.0]' in page
    assert "uPlot" in page


def test_an_admin_changes_a_role_but_not_the_last_admins(client, admin_user, viewer):
    client.force_login(admin_user)

    client.post(reverse("user-update", args=[viewer.pk]), {"role": "operator", "is_active": "on"})
    client.post(reverse("user-update", args=[admin_user.pk]), {"role": "viewer", "is_active": "on"})

    viewer.refresh_from_db()
    admin_user.refresh_from_db()
    assert viewer.role == "operator"
    assert admin_user.role == "admin"


def test_an_operator_cannot_manage_users(as_operator, viewer):
    response = as_operator.post(
        reverse("user-update", args=[viewer.pk]), {"role": "admin", "is_active": "on"}
    )

    assert response.status_code == 403
    viewer.refresh_from_db()
    assert viewer.role == "viewer"
