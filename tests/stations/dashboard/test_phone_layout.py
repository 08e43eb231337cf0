"""Operator lists on a phone in headless Chromium: every column stays, wide tables scroll."""

import os

import pytest

from tests.browser import PHONE, outside_the_browser_loop, tables_on
from tests.stations.dashboard.conftest import make_session, make_station
from tests.support import CHROMIUM

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"no Chromium at {CHROMIUM}")


def test_the_sessions_list_on_a_phone_keeps_its_energy_column(logged_in, live_server_url, operator):
    # given a session that delivered 48 Wh
    outside_the_browser_loop(lambda: make_session(make_station("PHONE-1"), energy_wh=48))
    page = logged_in(operator, PHONE).new_page()

    # when the operator opens the sessions list on a phone
    page.goto(f"{live_server_url}/sessions/")

    # then every column is there, Energy included, and it reads 48 Wh (not "0 kWh")
    (sessions,) = tables_on(page)
    assert "Energy" in sessions["headers"]
    assert len(set(sessions["spans"])) == 1 and sessions["spans"][0] == len(sessions["headers"])
    assert sessions["scrolls"]
    assert page.locator("table.list tbody tr").first.get_by_text("48 Wh").is_visible()
