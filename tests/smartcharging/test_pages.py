"""The smart-charging pages in headless Chromium: an operator sends a profile and sees the
composite chart, sets a site's capacity and a schedule rule; a driver sees why her session is
limited and the maintenance ahead."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from rfid.models import IdToken
from smartcharging.models import AllocationDecision, ScheduleRule, SiteCapacity
from smartcharging.services import circuit_set, site_capacity_set
from stations.models import ChargingProfile, Command, Session
from stations.services import location_create, station_create
from tests.browser import outside_the_browser_loop

pytestmark = pytest.mark.slow


@pytest.fixture
def depot(transactional_db):
    location = location_create(name="Depot", time_zone="Europe/Amsterdam")
    station = station_create(identity="PG-1", evses=2, location=location)[0]
    return location, station


def test_an_operator_sends_a_profile_and_reads_the_composite_chart(
    logged_in, live_server_url, operator, depot
):
    # given a station with a 7.4 kW station maximum installed
    _, station = depot
    ChargingProfile.objects.create(
        station=station,
        connector_id=0,
        charging_profile_id=1,
        stack_level=0,
        purpose="ChargePointMaxProfile",
        kind="Absolute",
        profile={
            "chargingProfileKind": "Absolute",
            "chargingSchedule": {
                "startSchedule": (timezone.now() - timedelta(minutes=1)).isoformat(),
                "chargingRateUnit": "W",
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 7400}],
            },
        },
    )
    page = logged_in(operator).new_page()

    # when the operator opens the station's smart-charging page from the station page
    page.goto(f"{live_server_url}/stations/PG-1/")
    page.get_by_role("link", name="Smart charging: profiles, composite schedule, schedule →").click()

    # then the installed profile and the chart's period show
    expect(page.get_by_test_id("profiles")).to_contain_text("ChargePointMaxProfile")
    expect(page.get_by_test_id("composite-periods")).to_contain_text("7400 W")
    assert page.locator(".composite-chart rect").count() >= 1

    # when a TxDefault profile with two periods is sent through the form
    page.get_by_text("Send a charging profile").click()
    page.get_by_label("Periods (start seconds:limit, comma separated)").fill("0:11000, 3600:7400")
    page.get_by_role("button", name="Send profile").click()

    # then it is queued as SetChargingProfile for the station
    expect(page.locator(".messages")).to_contain_text("SetChargingProfile queued (profile 2)")
    command = Command.objects.get(station=station, action="SetChargingProfile")
    assert command.payload["csChargingProfiles"]["chargingSchedule"]["chargingSchedulePeriod"][1] == {
        "startPeriod": 3600,
        "limit": 7400,
    }

    # and a profile the station cannot take is refused with the reason, nothing queued
    page.get_by_text("Send a charging profile").click()
    page.get_by_label("EVSE / connector (0 = whole station)").select_option("0")
    page.get_by_label("Purpose").select_option("Tx")
    page.get_by_label("Periods (start seconds:limit, comma separated)").fill("0:10")
    page.get_by_role("button", name="Send profile").click()
    expect(page.locator(".messages")).to_contain_text("a Tx profile needs the EVSE/connector of its session")
    assert Command.objects.filter(station=station).count() == 1


def test_an_operator_sets_a_site_capacity_and_an_evening_limit_and_sees_the_timeline(
    logged_in, live_server_url, operator, depot
):
    location, _ = depot
    page = logged_in(operator).new_page()
    page.goto(f"{live_server_url}/locations/{location.pk}/edit/")
    page.get_by_role("link", name="Smart charging: capacity, allocations, schedule →").click()

    page.get_by_label("Capacity", exact=True).fill("22")
    page.get_by_label("Unit").select_option("kW")
    page.get_by_role("button", name="Save capacity").click()
    expect(page.get_by_test_id("capacity")).to_contain_text("31.9 A per phase (22.0 kW)")

    page.get_by_text("Add a rule").click()
    page.get_by_label("Name").fill("Evening peak")
    page.get_by_label("Kind").select_option("power_limit")
    page.get_by_label("From (local)").fill("17:00")
    page.get_by_label("Until (local)").fill("21:00")
    page.get_by_label("Power limit (kW)").fill("11")
    page.get_by_role("button", name="Add rule").click()

    expect(page.locator(".messages")).to_contain_text("Rule saved")
    expect(page.get_by_test_id("schedule-timeline")).to_contain_text("17:00")
    expect(page.get_by_test_id("schedule-timeline")).to_contain_text("Evening peak")
    assert ScheduleRule.objects.get().limit_w == 11000
    assert SiteCapacity.objects.get().capacity_kw == 22.0


def test_a_driver_sees_that_her_session_is_limited_and_why_and_the_maintenance_ahead(
    logged_in, live_server_url, driver, depot
):
    location, station = depot
    card = IdToken.objects.create(uid="DANA-SC-1", driver=driver)
    session = Session.objects.create(
        station=station,
        evse=station.evses.get(evse_id=1),
        transaction_id="77",
        id_token=card,
        id_tag=card.uid,
        started_at=timezone.now(),
    )
    site = SiteCapacity.objects.create(location=location, capacity_a=32)
    AllocationDecision.objects.create(
        site=site,
        session=session,
        station=station,
        current_a=10.6,
        reason="equal share of 32 A among 3 session(s)",
    )
    outside_the_browser_loop(
        lambda **_: ScheduleRule.objects.create(
            name="Service",
            kind="maintenance",
            location=location,
            starts_at=timezone.now() + timedelta(days=2),
            ends_at=timezone.now() + timedelta(days=2, hours=3),
            notice="Chargers replaced; use the car park on the other side",
        )
    )
    page = logged_in(driver.user).new_page()

    page.goto(f"{live_server_url}/account/charging/sessions/{session.pk}/")

    note = page.get_by_test_id("session-limit")
    expect(note).to_contain_text("Limited to 10.6 A (7.3 kW)")
    expect(note).to_contain_text("equal share of 32 A among 3 session(s)")
    expect(note).to_contain_text("Chargers replaced; use the car park on the other side")


def test_an_operator_sees_the_capacity_by_time_of_day_the_circuits_and_why_a_feeder_held_cars_back(
    logged_in, live_server_url, operator, depot
):
    # given a site with a daytime window, a plan priority and a feeder, and a decision it caused
    location, station = depot
    site = outside_the_browser_loop(
        site_capacity_set,
        location=location,
        capacity_kw=Decimal(100),
        capacity_windows=[{"weekdays": [0, 1, 2, 3, 4], "start": "07:00", "end": "23:00", "capacity_kw": 50}],
        plan_priorities={"Fleet": 10},
    )
    outside_the_browser_loop(
        circuit_set, site=site, name="Feeder A", capacity_a=Decimal(20), stations=[station]
    )
    outside_the_browser_loop(
        SiteCapacity.objects.filter(pk=site.pk).update, capacity_in_force_a=Decimal("72.5")
    )
    session = outside_the_browser_loop(
        Session.objects.create, station=station, transaction_id="77", started_at=timezone.now()
    )
    outside_the_browser_loop(
        AllocationDecision.objects.create,
        site=site,
        session=session,
        station=station,
        current_a=10,
        reason="equal share of circuit Feeder A's 20 A among 2 session(s)",
        trigger="capacity window 07:00-23:00: 72.5 A",
    )

    # when the operator opens the location's smart-charging page
    page = logged_in(operator).new_page()
    page.goto(f"{live_server_url}/smart/locations/{location.pk}/")

    # then the windows, what is in force now, the plan priority, the circuit and the reason show
    expect(page.get_by_test_id("capacity-windows")).to_contain_text("Mon Tue Wed Thu Fri 07:00–23:00: 72.5 A")
    expect(page.get_by_test_id("capacity-in-force")).to_contain_text("Now in force: 72.5 A")
    expect(page.get_by_test_id("plan-priorities")).to_contain_text("Fleet 10")
    expect(page.get_by_test_id("circuits")).to_contain_text("Feeder A")
    expect(page.get_by_test_id("circuits")).to_contain_text("PG-1")
    expect(page.get_by_test_id("decisions")).to_contain_text("circuit Feeder A's 20 A")
