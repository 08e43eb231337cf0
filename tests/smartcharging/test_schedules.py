"""Charging schedules over real sockets, with a controlled clock: rules in the location's time zone
(also across the spring DST change), availability windows that never cut a running session, and a
rebooting charger that gets its profiles back."""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from rfid.services import id_token_create
from smartcharging.models import ScheduleRule, StationScheduleState
from smartcharging.services import (
    SmartChargingError,
    schedule_rule_create,
    schedules_apply,
    site_capacity_set,
)
from stations.models import Command, Connector, Location
from stations.services import location_create
from tests.e2e.conftest import in_thread

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def utc(y, mo, d, h, mi=0, s=0) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=UTC)


def commands(station_identity: str, action: str) -> int:
    return Command.objects.filter(station__identity=station_identity, action=action).count()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_weekday_evening_limit_is_applied_and_lifted_on_time_also_after_the_clocks_go_forward(stations):
    # given a charger in Amsterdam under "11 kW from 17:00 to 21:00 on weekdays"
    site = in_thread(location_create, name="Office", time_zone="Europe/Amsterdam")
    sim = stations.connect("SCH-1", evses=1, location=site)
    in_thread(
        schedule_rule_create,
        name="Evening peak",
        kind="power_limit",
        location=site,
        weekdays=[0, 1, 2, 3, 4],
        start_time=time(17),
        end_time=time(21),
        limit_w=11000,
    )

    def at(moment: datetime) -> float | None:
        in_thread(schedules_apply, now=moment)
        return sim.profile_limit_w(1)

    def settled(expected, moment):
        in_thread(schedules_apply, now=moment)
        stations.run(sim.wait_for(lambda: sim.profile_limit_w(1) == expected, timeout=10))
        return sim.profile_limit_w(1)

    # Friday 27 March 2026, winter time (UTC+1): 17:00 local is 16:00 UTC
    assert at(utc(2026, 3, 27, 15, 59, 59)) is None
    assert settled(11000.0, utc(2026, 3, 27, 16, 0)) == 11000.0
    assert settled(None, utc(2026, 3, 27, 20, 0)) is None  # 21:00 local: lifted
    # Saturday: no limit at 17:00
    assert at(utc(2026, 3, 28, 16, 0)) is None
    # Monday 30 March, summer time (UTC+2) since Sunday: 17:00 local is 15:00 UTC
    assert at(utc(2026, 3, 30, 14, 59, 59)) is None
    assert settled(11000.0, utc(2026, 3, 30, 15, 0)) == 11000.0
    assert settled(None, utc(2026, 3, 30, 19, 0)) is None
    # and a tick that changes nothing sends nothing
    before = in_thread(commands, "SCH-1", "SetChargingProfile")
    in_thread(schedules_apply, now=utc(2026, 3, 30, 19, 30))
    assert in_thread(commands, "SCH-1", "SetChargingProfile") == before


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_opening_hours_make_a_charger_inoperative_after_its_session_and_operative_again(stations):
    # given a charger open 08:00–18:00 on weekdays, with a car charging at closing time
    site = in_thread(location_create, name="Shop", time_zone="Europe/Amsterdam")
    sim = stations.connect("SCH-2", evses=1, location=site)
    in_thread(id_token_create, uid="04SCH0002")
    in_thread(
        schedule_rule_create,
        name="Shop hours",
        kind="opening_hours",
        location=site,
        weekdays=[0, 1, 2, 3, 4],
        start_time=time(8),
        end_time=time(18),
    )
    stations.run(sim.session_start(1, "04SCH0002", power_w=7000))

    # when the shop closes (Friday 18:00 local)
    in_thread(schedules_apply, now=utc(2026, 3, 27, 17, 0))
    stations.run(sim.wait_received("ChangeAvailability"))
    # (the charger answered Scheduled: it turns Unavailable once the session is over)
    stations.run(sim.wait_for(lambda: sim.connectors[1].pending_availability == "Unavailable"))

    # then the session goes on, and the charger turns Unavailable only when the car leaves
    assert sim.received[-1].payload == {"connectorId": 0, "type": "Inoperative"}
    assert sim.connectors[1].transaction_id is not None and sim.connectors[1].status == "Charging"
    stations.run(sim.session_stop(1))

    def connector_status():
        return Connector.objects.get(evse__station__identity="SCH-2").status

    stations.run(sim.wait_for(lambda: sim.connectors[1].status == "Unavailable"))
    assert in_thread(connector_status) == "Unavailable"
    assert in_thread(lambda: StationScheduleState.objects.get(station__identity="SCH-2").reason) == (
        "outside opening hours"
    )

    # when it opens again on Monday at 08:00 local (06:00 UTC in summer time)
    in_thread(schedules_apply, now=utc(2026, 3, 30, 5, 59))
    assert sim.connectors[1].status == "Unavailable"
    in_thread(schedules_apply, now=utc(2026, 3, 30, 6, 0))
    stations.run(sim.wait_for(lambda: sim.connectors[1].status == "Available"))


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_charger_that_reboots_gets_its_profiles_back(stations):
    # given a charger under a site's safe default and a schedule limit in force now
    site = in_thread(location_create, name="Garage", time_zone="Europe/Amsterdam")
    sim = stations.connect("SCH-3", evses=1, location=site)
    in_thread(site_capacity_set, location=site, capacity_a=32)
    local = datetime.now(AMSTERDAM)
    in_thread(
        schedule_rule_create,
        name="All day",
        kind="power_limit",
        station=sim_station(site),
        start_time=(local - timedelta(hours=1)).time().replace(microsecond=0),
        end_time=(local + timedelta(hours=2)).time().replace(microsecond=0),
        limit_w=7000,
    )
    in_thread(schedules_apply)
    stations.run(sim.wait_for(lambda: len(sim.charging_profiles) == 2))
    assert sim.profile_limit_w(1) == 7000.0

    sent_before = len([c for c in sim.received if c.action == "SetChargingProfile"])

    # when it reboots and forgets them (a charger without persistent profile storage)
    sim.keeps_profiles = False
    stations.run(sim.reboot())

    # then ChargeNet installs both again
    stations.run(sim.wait_received("SetChargingProfile", count=sent_before + 2, timeout=15))
    stations.run(sim.wait_for(lambda: len(sim.charging_profiles) == 2, timeout=15))
    purposes = sorted(p["charging_profile_purpose"] for p in sim.charging_profiles)
    assert purposes == ["ChargePointMaxProfile", "TxDefaultProfile"]
    assert sim.profile_limit_w(1) == 7000.0


def sim_station(location: Location):
    return in_thread(lambda: location.stations.get())


@pytest.mark.django_db
def test_an_incomplete_rule_is_refused_and_nothing_is_stored():
    site = location_create(name="Nowhere", time_zone="Europe/Amsterdam")
    with pytest.raises(SmartChargingError, match="needs limit_w"):
        schedule_rule_create(
            name="x", kind="power_limit", location=site, start_time=time(17), end_time=time(21)
        )
    with pytest.raises(SmartChargingError, match="starts_at before ends_at"):
        schedule_rule_create(name="x", kind="maintenance", location=site, starts_at=utc(2026, 1, 2, 0))
    with pytest.raises(SmartChargingError, match="weekdays"):
        schedule_rule_create(
            name="x", kind="opening_hours", location=site, start_time=time(8), end_time=time(9), weekdays=[7]
        )
    assert not ScheduleRule.objects.exists()
