"""The station's message log in headless Chromium: new frames appear live, older ones page."""

import json
import os

import pytest

from stations.services import ocpp_messages_store
from tests.browser import LIVE_DEADLINE_MS, open_live, outside_the_browser_loop
from tests.stations.dashboard.conftest import make_station
from tests.support import CHROMIUM

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"no Chromium at {CHROMIUM}")


def _frames(station, count, *, start=0, action="Heartbeat"):
    return [
        {
            "station_id": station.pk,
            "identity": station.identity,
            "direction": "in",
            "message_type": 2,
            "message_id": f"m{n}",
            "action": action,
            "payload": json.dumps([2, f"m{n}", action, {}]),
        }
        for n in range(start, start + count)
    ]


def test_a_new_frame_shows_in_the_open_message_log_without_a_reload(logged_in, live_server_url, operator):
    from playwright.sync_api import expect

    # given an operator watching a station's message log
    station = outside_the_browser_loop(make_station, identity="LOG-1")
    page = open_live(logged_in(operator), f"{live_server_url}/stations/LOG-1/")
    expect(page.locator("#station-messages")).to_contain_text("No messages match.")

    # when the station's frames are logged
    outside_the_browser_loop(ocpp_messages_store, entries=_frames(station, 1, action="StatusNotification"))

    # then they appear
    expect(page.locator("#station-messages")).to_contain_text("StatusNotification", timeout=LIVE_DEADLINE_MS)


def test_the_message_log_pages_back_through_older_frames(logged_in, live_server_url, operator):
    from playwright.sync_api import expect

    # given a station with 150 logged frames, the oldest 50 of them BootNotifications
    station = outside_the_browser_loop(make_station, identity="LOG-2")
    outside_the_browser_loop(ocpp_messages_store, entries=_frames(station, 50, action="BootNotification"))
    outside_the_browser_loop(ocpp_messages_store, entries=_frames(station, 100, start=50))
    page = open_live(logged_in(operator), f"{live_server_url}/stations/LOG-2/")
    rows = page.locator("#station-messages tbody tr")
    expect(rows).to_have_count(100)
    expect(page.locator("#station-messages tbody")).not_to_contain_text("BootNotification")

    # when the operator asks for older frames
    page.get_by_role("link", name="Older frames →").click()

    # then the 50 older ones show, and the way back to the newest
    expect(rows).to_have_count(50)
    expect(rows.first).to_contain_text("BootNotification")
    expect(page.get_by_role("link", name="Older frames →")).to_have_count(0)
    page.get_by_role("link", name="← Newest (live)").click()
    expect(rows).to_have_count(100)
