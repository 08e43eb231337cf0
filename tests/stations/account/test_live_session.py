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
