"""The driver's charging pages: live session, start, stop, history, and isolation."""

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from rfid.services import id_token_create
from stations import services
from stations.access.services import station_access_set
from stations.models import Command, Connector, MeterSample, Session
from stations.services import station_create

needs_remote_start = pytest.mark.skipif(
    not hasattr(services, "session_remote_start"),
    reason="session_remote_start (OCPP branch) is not on main yet",
)


@pytest.fixture
def dana(client, driver):
    client.force_login(driver.user)
    return client


@pytest.fixture
def station(db):
    station, _ = station_create(identity="CP-1", evses=2)
    station.is_online = True
    station.save()
    Connector.objects.filter(evse__station=station).update(status=Connector.Status.AVAILABLE)
    return station


def _session(station, card, *, evse_id=1, status=Session.Status.ACTIVE, days_ago=0, energy=0):
    return Session.objects.create(
        station=station,
        evse=station.evses.get(evse_id=evse_id),
        transaction_id=f"{card.uid}-{days_ago}-{evse_id}",
        id_token=card,
        id_tag=card.uid,
        status=status,
        started_at=timezone.now() - timedelta(days=days_ago, minutes=30),
        energy_wh=energy,
    )


@pytest.mark.django_db
def test_a_driver_sees_the_live_energy_power_and_duration_of_their_session(dana, driver, station):
    card = id_token_create(uid="DANA", driver=driver)
    session = _session(station, card, energy=4200)
    MeterSample.objects.create(
        station=station,
        session=session,
        timestamp=timezone.now(),
        measurand="Power.Active.Import",
        unit="W",
        value=11000,
    )

    overview = dana.get(reverse("charging:overview"))
    live = dana.get(reverse("charging:session-live", args=[session.pk]))

    assert "Stop charging" in overview.text
    assert "4.20 kWh" in live.text and "11.0 kW" in live.text and "30" in live.text


@pytest.mark.django_db
def test_another_drivers_session_is_not_found(dana, other_driver, station):
    # a uid with a dash: "BOB" alone can turn up inside a random token of the page (CSRF)
    theirs = _session(station, id_token_create(uid="BOB-7", driver=other_driver))

    assert dana.get(reverse("charging:session-detail", args=[theirs.pk])).status_code == 404
    assert dana.get(reverse("charging:session-live", args=[theirs.pk])).status_code == 404
    assert dana.post(reverse("charging:stop", args=[theirs.pk])).status_code == 404
    assert not Command.objects.exists()
    assert "BOB-7" not in dana.get(reverse("charging:history")).text


@pytest.mark.django_db
def test_the_history_filters_by_date_and_card(dana, driver, station):
    work = id_token_create(uid="WORK", driver=driver, label="Work")
    home = id_token_create(uid="HOME", driver=driver, label="Home")
    _session(station, work, status=Session.Status.COMPLETED, days_ago=10, energy=1111)
    _session(station, home, status=Session.Status.COMPLETED, days_ago=1, energy=2222)

    recent = dana.get(
        reverse("charging:history"), {"since": (timezone.now() - timedelta(days=3)).date().isoformat()}
    )
    by_card = dana.get(reverse("charging:history"), {"card": str(work.pk)})

    assert "2.22 kWh" in recent.text and "1.11 kWh" not in recent.text
    assert "1.11 kWh" in by_card.text and "2.22 kWh" not in by_card.text


@pytest.mark.django_db
def test_the_start_form_offers_only_free_connectors_of_online_stations(dana, driver, station):
    id_token_create(uid="DANA", driver=driver)
    Connector.objects.filter(evse__station=station, evse__evse_id=2).update(status=Connector.Status.CHARGING)
    offline, _ = station_create(identity="CP-OFF")

    response = dana.get(reverse("charging:overview"))

    assert 'value="CP-1/1"' in response.text
    assert 'value="CP-1/2"' not in response.text
    assert "CP-OFF" not in response.text


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("CP-OFF/1", "is offline"),
        ("CP-1/2", "is charging"),
        ("CP-1/9", "has no connector 9"),
        ("NOPE/1", "no such station"),
    ],
)
def test_a_start_request_that_cannot_work_gets_a_clear_message_and_sends_nothing(
    dana, driver, station, target, message
):
    card = id_token_create(uid="DANA", driver=driver)
    station_create(identity="CP-OFF")
    Connector.objects.filter(evse__station=station, evse__evse_id=2).update(status=Connector.Status.CHARGING)

    response = dana.post(reverse("charging:start"), {"target": target, "id_token": card.pk}, follow=True)

    assert message in response.text
    assert not Command.objects.exists()


@pytest.mark.django_db
def test_a_driver_cannot_start_with_someone_elses_card_or_at_a_private_station(
    dana, driver, other_driver, station
):
    theirs = id_token_create(uid="BOB", driver=other_driver)
    mine = id_token_create(uid="DANA", driver=driver)

    with_their_card = dana.post(
        reverse("charging:start"), {"target": "CP-1/1", "id_token": theirs.pk}, follow=True
    )
    station_access_set(station=station, is_public=False, drivers=[other_driver])
    at_private = dana.post(reverse("charging:start"), {"target": "CP-1/1", "id_token": mine.pk}, follow=True)

    assert "choose one of your cards" in with_their_card.text
    assert "is private" in at_private.text
    assert not Command.objects.exists()


@needs_remote_start
@pytest.mark.django_db
def test_a_driver_starts_charging_with_their_card(dana, driver, station):
    card = id_token_create(uid="DANA", driver=driver)
    station.channel_name = "specific.test!station"  # the presence record of a live connection
    station.save()

    dana.post(reverse("charging:start"), {"target": "CP-1/1", "id_token": card.pk, "request_key": "k1"})
    dana.post(reverse("charging:start"), {"target": "CP-1/1", "id_token": card.pk, "request_key": "k1"})

    command = Command.objects.get()  # a double submit starts once
    assert command.action == "RemoteStartTransaction"
    assert command.payload["idTag"] == "DANA"


@pytest.mark.skipif(
    not hasattr(services, "session_remote_stop"), reason="session_remote_stop is not on main yet"
)
@pytest.mark.django_db
def test_a_driver_stops_their_own_session(dana, driver, station):
    session = _session(station, id_token_create(uid="DANA", driver=driver))
    session.transaction_id = "17"
    session.save()

    dana.post(reverse("charging:stop", args=[session.pk]))

    command = Command.objects.get()
    assert command.action == "RemoteStopTransaction"
    assert command.payload == {"transactionId": 17}


@pytest.mark.django_db
def test_the_operator_card_page_lists_the_cards_sessions(client, operator, station):
    card = id_token_create(uid="04AA")
    _session(station, card, status=Session.Status.COMPLETED, energy=3333)
    client.force_login(operator)

    response = client.get(reverse("charging:card-sessions", args=[card.pk]))

    assert "3.33 kWh" in response.text and "CP-1" in response.text


def _start(dana, card):
    response = dana.post(
        reverse("charging:start"), {"target": "CP-1/1", "id_token": card.pk, "request_key": "k"}
    )
    return response, Command.objects.get()


def _now(dana, command):
    return dana.get(reverse("charging:overview"), {"fragment": "now", "start": str(command.uuid)}).text


@needs_remote_start
@pytest.mark.django_db
def test_after_a_start_the_page_follows_the_command_until_the_session_appears(dana, driver, station):
    card = id_token_create(uid="DANA", driver=driver)
    station.channel_name = "specific.test!station"
    station.save()

    # when the driver starts charging
    response, command = _start(dana, card)

    # then the page follows that command on the live feed, and hides the start form
    assert response.url == f"{reverse('charging:overview')}?start={command.uuid}"
    page = dana.get(response.url).text
    assert f"?fragment=now&amp;start={command.uuid}" in page and "command.updated" in page
    assert "data-refresh" not in page
    assert "Waiting for CP-1 to answer" in page and "Start charging</button>" not in page

    # when the station accepts, the region says to plug in and keeps looking
    Command.objects.filter(pk=command.pk).update(status=Command.Status.ACCEPTED, completed_at=timezone.now())
    fragment = _now(dana, command)
    assert "CP-1 accepted. Plug in" in fragment and "command.updated" in fragment
    # no event will say that no session began in time: the region looks once more when that is due
    assert 'hx-trigger="load delay:181s"' in fragment or 'hx-trigger="load delay:180s"' in fragment

    # when the session begins, the region shows it with its live figures and stops following
    _session(station, card)
    fragment = _now(dana, command)
    assert "Charging started at CP-1" in fragment and "Charging at CP-1, connector 1" in fragment
    assert "command.updated" not in fragment


@needs_remote_start
@pytest.mark.parametrize(
    ("outcome", "message"),
    [
        (
            {"status": Command.Status.REJECTED, "response": {"status": "Rejected"}},
            "CP-1 refused to start (Rejected)",
        ),
        (
            {"status": Command.Status.ERROR, "error": "NotSupported: no"},
            "CP-1 refused to start (NotSupported: no)",
        ),
        ({"status": Command.Status.TIMED_OUT}, "CP-1 did not answer"),
        (
            {"status": Command.Status.QUEUED, "expires_at": timezone.now() - timedelta(seconds=1)},
            "CP-1 did not answer",
        ),
        (
            {"status": Command.Status.ACCEPTED, "completed_at": timezone.now() - timedelta(minutes=4)},
            "CP-1 accepted, but no session began",
        ),
    ],
)
@pytest.mark.django_db
def test_a_start_the_station_refuses_or_never_answers_ends_with_a_clear_message_and_the_form(
    dana, driver, station, outcome, message
):
    card = id_token_create(uid="DANA", driver=driver)
    station.channel_name = "specific.test!station"
    station.save()
    _, command = _start(dana, card)

    Command.objects.filter(pk=command.pk).update(**outcome)
    fragment = _now(dana, command)

    assert message in fragment
    assert "command.updated" not in fragment and "hx-trigger" not in fragment  # it stops following
    assert "Start charging</button>" in fragment  # and the driver can try again
    assert not Session.objects.exists()


@needs_remote_start
@pytest.mark.django_db
def test_a_driver_cannot_follow_someone_elses_start(dana, other_driver, station):
    station.channel_name = "specific.test!station"
    station.save()
    bob = Client()
    bob.force_login(other_driver.user)
    _, command = _start(bob, id_token_create(uid="BOB", driver=other_driver))

    page = dana.get(reverse("charging:overview"), {"start": str(command.uuid)}).text

    assert "Waiting for CP-1" not in page and f"fragment=now&amp;start={command.uuid}" not in page
    assert dana.get(reverse("charging:overview"), {"start": "not-a-uuid"}).status_code == 200
