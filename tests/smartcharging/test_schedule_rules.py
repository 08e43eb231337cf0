"""What the schedule rules want at a given moment, in the location's time zone: windows past
midnight, the DST change, and the resolution of overlapping rules."""

from datetime import UTC, datetime, time

import pytest

from smartcharging.models import ScheduleRule
from smartcharging.selectors import schedule_timeline
from smartcharging.services import schedule_rule_create, station_schedule_desired
from stations.services import location_create, station_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def station():
    location = location_create(name="Harbour", time_zone="Europe/Amsterdam")
    return station_create(identity="RULES-1", location=location)[0]


def at(station, *moment):
    return station_schedule_desired(station=station, now=datetime(*moment, tzinfo=UTC))


def test_a_night_window_belongs_to_the_weekday_it_starts_on(station):
    # Friday nights 22:00–06:00 only
    schedule_rule_create(
        name="Night",
        kind="power_limit",
        station=station,
        weekdays=[4],
        start_time=time(22),
        end_time=time(6),
        limit_w=3700,
    )

    assert at(station, 2026, 1, 9, 21, 30).limit_w == 3700  # Friday 22:30 local (UTC+1)
    assert at(station, 2026, 1, 10, 4, 0).limit_w == 3700  # Saturday 05:00 local, still Friday's night
    assert at(station, 2026, 1, 10, 21, 30).limit_w is None  # Saturday 22:30: not a Friday
    assert at(station, 2026, 1, 8, 21, 30).limit_w is None  # Thursday 22:30


def test_overlapping_limits_resolve_to_the_lowest_and_maintenance_wins_over_opening_hours(station):
    schedule_rule_create(
        name="Peak",
        kind="power_limit",
        location=station.location,
        start_time=time(17),
        end_time=time(21),
        limit_w=11000,
    )
    schedule_rule_create(
        name="Grid request",
        kind="power_limit",
        station=station,
        start_time=time(18),
        end_time=time(19),
        limit_w=7000,
    )
    schedule_rule_create(
        name="Open", kind="opening_hours", station=station, start_time=time(7), end_time=time(22)
    )
    schedule_rule_create(
        name="Service",
        kind="maintenance",
        station=station,
        starts_at=datetime(2026, 7, 1, 8, 0, tzinfo=UTC),
        ends_at=datetime(2026, 7, 1, 10, 0, tzinfo=UTC),
    )

    # 18:30 local in summer (UTC+2): both limits in force, the lower one wins
    assert at(station, 2026, 6, 30, 16, 30).limit_w == 7000
    assert at(station, 2026, 6, 30, 15, 30).limit_w == 11000
    # open at 11:00 local, except during the maintenance window
    assert at(station, 2026, 6, 30, 9, 0).inoperative is False
    desired = at(station, 2026, 7, 1, 9, 0)
    assert desired.inoperative is True and "Service: maintenance" in desired.reason
    # closed at 23:00 local
    assert at(station, 2026, 6, 30, 21, 0).reason == "outside opening hours"


def test_the_timeline_shows_local_wall_clock_times_on_both_sides_of_the_dst_change(station):
    rule = schedule_rule_create(
        name="Peak",
        kind="power_limit",
        station=station,
        start_time=time(17),
        end_time=time(21),
        limit_w=11000,
    )

    entries = schedule_timeline(
        rules=ScheduleRule.objects.filter(pk=rule.pk),
        tz_name="Europe/Amsterdam",
        days=3,
        now=datetime(2026, 3, 28, 12, 0, tzinfo=UTC),
    )

    assert [(e.starts.hour, e.starts.utcoffset().total_seconds() / 3600) for e in entries] == [
        (17, 1.0),  # Saturday, winter time
        (17, 2.0),  # Sunday, summer time
        (17, 2.0),
    ]
