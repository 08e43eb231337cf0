"""The dashboard in headless Chromium against a real daphne + Redis channel layer.

The server runs in a subprocess on the test database; the test changes state through the same
service path the protocol layer uses, and the open pages must follow without a reload.
"""

import os

import pytest

from stations.models import Command, Connector
from tests.browser import LIVE_DEADLINE_MS, open_live, outside_the_browser_loop
from tests.stations.dashboard.conftest import connector_status_set, make_station
from tests.support import CHROMIUM

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"no Chromium at {CHROMIUM}")


def test_a_status_change_updates_the_overview_and_the_station_page_without_reload(
    logged_in, live_server_url, operator
):
    from playwright.sync_api import expect

    # given an operator watching the overview and the station page
    station = outside_the_browser_loop(make_station, identity="LIVE-1")
    context = logged_in(operator)
    overview = open_live(context, f"{live_server_url}/dashboard/")
    station_page = open_live(context, f"{live_server_url}/stations/LIVE-1/")
    expect(overview.locator('[data-k="connectors_faulted"]')).to_have_text("0")
    for page in (overview, station_page):
        page.evaluate("window.__notReloaded = true")

    # when the station reports a fault on EVSE 2
    connector = Connector.objects.select_related("evse__station").get(evse__station=station, evse__evse_id=2)
    outside_the_browser_loop(
        connector_status_set, connector=connector, status="Faulted", error_code="GroundFailure"
    )

    # then both pages show it, without a reload
    expect(station_page.locator('[data-connector="2-1"]')).to_have_text("Faulted", timeout=LIVE_DEADLINE_MS)
    expect(overview.locator('[data-k="connectors_faulted"]')).to_have_text("1", timeout=LIVE_DEADLINE_MS)
    expect(overview.locator("#fault-list")).to_contain_text("GroundFailure", timeout=LIVE_DEADLINE_MS)
    for page in (overview, station_page):
        assert page.evaluate("window.__notReloaded") is True


def test_an_operators_remote_action_shows_its_command_status(logged_in, live_server_url, operator):
    from playwright.sync_api import expect

    outside_the_browser_loop(make_station, identity="LIVE-2", online=False)
    page = open_live(logged_in(operator), f"{live_server_url}/stations/LIVE-2/")

    page.get_by_text("Reset", exact=True).click()
    page.get_by_role("button", name="Soft reset").click()

    expect(page.locator("#station-commands")).to_contain_text("Queued")
    expect(page.locator("#station-commands")).to_contain_text(operator.username)
    assert Command.objects.get().requested_by == operator


def test_a_viewer_finds_no_action_buttons_and_a_forged_request_is_refused(logged_in, live_server_url, viewer):
    outside_the_browser_loop(make_station, identity="LIVE-3")
    page = logged_in(viewer).new_page()
    page.goto(f"{live_server_url}/stations/LIVE-3/")

    assert page.get_by_role("button", name="Soft reset").count() == 0
    assert page.get_by_role("button", name="Start").count() == 0
    status = page.evaluate(
        """async () => {
            const csrf = document.cookie.split('; ').find(c => c.startsWith('csrftoken='));
            const token = csrf ? csrf.split('=')[1] : '';
            const body = new URLSearchParams({action: 'reset', type: 'Hard', csrfmiddlewaretoken: token});
            const response = await fetch('/stations/LIVE-3/commands/', {method: 'POST', body, headers: {'X-CSRFToken': token}});
            return response.status;
        }"""
    )
    assert status == 403
    assert not Command.objects.exists()
