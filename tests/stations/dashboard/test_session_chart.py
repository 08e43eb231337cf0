"""The session chart in headless Chromium: a sane time axis, value axes from zero, ISO 24-hour times."""

import os
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from stations.models import MeterSample
from tests.browser import DESKTOP, PHONE, outside_the_browser_loop
from tests.stations.dashboard.conftest import make_session, make_station
from tests.support import CHROMIUM

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"no Chromium at {CHROMIUM}")

ISO_TICK = re.compile(r"^(\d{4}-\d{2}-\d{2} )?\d{2}:\d{2}$")


def _session_with_one_sample():
    station = make_station("CHART-1")
    session = make_session(station)
    MeterSample.objects.bulk_create(
        [
            MeterSample(
                station=station,
                session=session,
                timestamp=timezone.now() - timedelta(minutes=5),
                measurand=measurand,
                unit=unit,
                value=value,
            )
            for measurand, unit, value in (
                ("Energy.Active.Import.Register", "Wh", 4800),
                ("Power.Active.Import", "W", 11000),
            )
        ]
    )
    return session


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_a_session_with_one_sample_charts_the_session_span_from_zero_in_iso_24_hour_time(
    logged_in, live_server_url, operator, viewport
):
    from playwright.sync_api import expect

    # given a running session whose station has sent one batch of meter values
    session = outside_the_browser_loop(_session_with_one_sample)
    page = logged_in(operator, viewport).new_page()

    # when the operator opens the session page
    page.goto(f"{live_server_url}/sessions/{session.pk}/")
    expect(page.locator("#session-chart canvas")).to_have_count(1)
    page.wait_for_function("() => document.getElementById('session-chart').chart.axes[0]._values")
    chart = page.evaluate(
        """() => { const u = document.getElementById('session-chart').chart;
                   return {xmin: u.scales.x.min, xmax: u.scales.x.max, kw: u.scales.kw.min,
                           kwh: u.scales.kwh.min, ticks: u.axes[0]._values}; }"""
    )

    # then the time axis spans the session (started 30 minutes ago), not years
    started = session.started_at.timestamp()
    assert started - 60 <= chart["xmin"] <= started
    assert timezone.now().timestamp() - 120 <= chart["xmax"] <= timezone.now().timestamp() + 120
    # and power and energy are drawn from zero
    assert chart["kw"] == 0 and chart["kwh"] == 0
    # and the time ticks are ISO 24-hour, never "2 PM"
    assert chart["ticks"] and all(ISO_TICK.match(tick) for tick in chart["ticks"]), chart["ticks"]
    assert re.match(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}$", chart["ticks"][0])
