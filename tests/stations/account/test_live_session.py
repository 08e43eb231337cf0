"""The driver's session page follows the session live (headless Chromium, phone and desktop)."""

import os
from datetime import timedelta

import pytest
from django.utils import timezone

from rfid.services import id_token_create
from stations.models import Session
from stations.services import session_stop
from tests.browser import DESKTOP, LIVE_DEADLINE_MS, PHONE, open_live, outside_the_browser_loop
from tests.stations.dashboard.conftest import make_station
from tests.support import CHROMIUM

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"no Chromium at {CHROMIUM}")


def _charging(driver):
    station = make_station("DRIVE-1")
    card = id_token_create(uid="DANA0001", driver=driver)
    evse = station.evses.get(evse_id=1)
    return Session.objects.create(
        station=station,
        evse=evse,
        connector=evse.connectors.first(),
        transaction_id="41",
        id_token=card,
        id_tag=card.uid,
        started_at=timezone.now() - timedelta(minutes=20),
        meter_start_wh=1000,
    )


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_a_stopped_session_shows_completed_without_the_stop_button_and_without_a_reload(
    logged_in, live_server_url, driver, viewport
):
    from playwright.sync_api import expect

    # given Dana watching her running session
    session = outside_the_browser_loop(_charging, driver=driver)
    page = open_live(
        logged_in(driver.user, viewport), f"{live_server_url}/account/charging/sessions/{session.pk}/"
    )
    expect(page.get_by_role("button", name="Stop charging")).to_be_visible()
    page.evaluate("window.__notReloaded = true")

    # when the station reports the stop
    outside_the_browser_loop(
        session_stop,
        station_id=session.station_id,
        transaction_id=41,
        meter_stop=5800,
        timestamp=timezone.now(),
    )

    # then the page says so: completed, a stop time, 4.80 kWh, and no Stop button
    card = page.locator("#session-live")
    expect(card).to_contain_text("Completed", timeout=LIVE_DEADLINE_MS)
    expect(card).to_contain_text("4.80 kWh")
    expect(page.get_by_role("button", name="Stop charging")).to_have_count(0)
    expect(card.locator("dt:text-is('Stopped') + dd")).not_to_have_text("—")
    assert page.evaluate("window.__notReloaded") is True


def test_a_driver_hears_nothing_of_other_drivers_sessions(logged_in, live_server_url, driver, other_driver):
    from playwright.sync_api import expect

    # given Dana's session page open, and Bob charging elsewhere
    session = outside_the_browser_loop(_charging, driver=driver)
    page = open_live(logged_in(driver.user), f"{live_server_url}/account/charging/sessions/{session.pk}/")
    page.evaluate(
        "window.__heard = []; ['cn-session-started', 'cn-station-created'].forEach("
        "t => document.body.addEventListener(t, () => window.__heard.push(t)))"
    )

    # when a station appears and Bob's session starts on it
    def bob_charges():
        station = make_station("BOB-1")
        card = id_token_create(uid="BOB00001", driver=other_driver)
        from stations.services import session_start

        session_start(
            station_id=station.pk, connector_id=1, id_tag=card.uid, meter_start=0, timestamp=timezone.now()
        )

    outside_the_browser_loop(bob_charges)

    # then Dana's page heard none of it (and still is live)
    page.wait_for_timeout(1000)
    assert page.evaluate("window.__heard") == []
    expect(page.locator("#live-status")).to_have_text("Live")


def _card_and_station(driver):
    card = id_token_create(uid="DANA0001", driver=driver)
    return make_station("DRIVE-1"), card


def _station_accepts(station_id):
    from stations.services import command_claim_next, command_complete

    command = command_claim_next(station_id=station_id)
    command_complete(command_id=command.pk, response={"status": "Accepted"})


def _energy_register(station_id, wh):
    from stations.services import meter_values_record

    sample = {
        "timestamp": timezone.now(),
        "measurand": "Energy.Active.Import.Register",
        "unit": "Wh",
        "value": wh,
    }
    meter_values_record(station_id=station_id, connector_id=1, transaction_id=None, samples=[sample])


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_my_charging_follows_a_start_and_the_energy_live_without_polling(
    logged_in, live_server_url, driver, viewport
):
    from playwright.sync_api import expect

    from stations.services import session_start

    # given Dana on My charging, with a free connector and her card
    station, card = outside_the_browser_loop(_card_and_station, driver=driver)
    page = open_live(logged_in(driver.user, viewport), f"{live_server_url}/account/charging/")
    requests = []
    page.on("request", lambda request: "fragment=now" in request.url and requests.append(request.url))

    # when she starts charging, the page waits for the station's answer
    page.get_by_role("button", name="Start charging").click()
    progress = page.get_by_test_id("start-progress")
    expect(progress).to_contain_text("Waiting for DRIVE-1 to answer")
    expect(page.locator("#live-status")).to_have_text("Live", timeout=15000)
    page.evaluate("window.__notReloaded = true")

    # and while nothing happens, the page asks the server nothing (once the start's own "queued"
    # event, which may reach the page after its feed is live, has had its deadline to arrive)
    page.wait_for_timeout(LIVE_DEADLINE_MS)
    requests.clear()
    page.wait_for_timeout(2500)
    assert requests == []

    # when the station accepts, the page says to plug in
    outside_the_browser_loop(_station_accepts, station_id=station.pk)
    expect(progress).to_contain_text("DRIVE-1 accepted. Plug in", timeout=LIVE_DEADLINE_MS)

    # when the station opens the session, it shows with its energy, which rises with the meter
    outside_the_browser_loop(
        session_start,
        station_id=station.pk,
        connector_id=1,
        id_tag=card.uid,
        meter_start=1000,
        timestamp=timezone.now(),
    )
    expect(progress).to_contain_text("Charging started at DRIVE-1", timeout=LIVE_DEADLINE_MS)
    region = page.locator("#charging-now")
    expect(region).to_contain_text("Charging at DRIVE-1, connector 1")
    expect(page.get_by_role("button", name="Stop charging")).to_be_visible()
    outside_the_browser_loop(_energy_register, station_id=station.pk, wh=3500)
    expect(region.get_by_test_id("energy")).to_have_text("2.50 kWh", timeout=LIVE_DEADLINE_MS)
    outside_the_browser_loop(_energy_register, station_id=station.pk, wh=6000)
    expect(region.get_by_test_id("energy")).to_have_text("5.00 kWh", timeout=LIVE_DEADLINE_MS)

    # all without a reload, and once things are quiet again, without any request
    assert page.evaluate("window.__notReloaded") is True
    page.wait_for_timeout(500)
    requests.clear()
    page.wait_for_timeout(2500)
    assert requests == []


def test_a_driver_hears_nothing_of_other_drivers_remote_starts(
    logged_in, live_server_url, driver, other_driver
):
    from stations.services import session_remote_start

    # given Dana on My charging, and Bob starting a session remotely elsewhere
    outside_the_browser_loop(_card_and_station, driver=driver)
    page = open_live(logged_in(driver.user), f"{live_server_url}/account/charging/")
    page.evaluate(
        "window.__heard = []; document.body.addEventListener('cn-command-updated', "
        "() => window.__heard.push('command'))"
    )

    def bob_starts():
        station = make_station("BOB-1")
        card = id_token_create(uid="BOB00001", driver=other_driver)
        session_remote_start(station=station, evse_id=1, id_token=card, requested_by=other_driver.user)
        _station_accepts(station_id=station.pk)

    outside_the_browser_loop(bob_starts)

    # then Dana's page heard none of it
    page.wait_for_timeout(1000)
    assert page.evaluate("window.__heard") == []
