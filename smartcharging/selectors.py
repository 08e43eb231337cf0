"""Smart charging's reads: installed profiles, the composite schedule ChargeNet computes, the
station's own answer, allocation decisions, schedule timelines and driver notices."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from smartcharging.composite import Composite, Period, Profile, composite_schedule
from smartcharging.models import AllocationDecision, Circuit, ScheduleRule, SiteCapacity
from stations.models import ChargingProfile, Command, Session, Station


def charging_profile_list(*, station: Station, installed_only: bool = False) -> QuerySet[ChargingProfile]:
    """The station's profiles, installed first then the history, newest first."""
    rows = ChargingProfile.objects.filter(station=station)
    if installed_only:
        rows = rows.filter(is_active=True)
    return rows.order_by("-is_active", "-created_at", "-id")


def _when(value: Any) -> datetime | None:
    return parse_datetime(value) if isinstance(value, str) else None


def profile_from_row(row: ChargingProfile) -> Profile:
    """A stored profile (1.6 or 2.0.1 spelling) as the composite calculation's Profile."""
    data = row.profile or {}
    schedule = data.get("chargingSchedule") or {}
    if isinstance(schedule, list):  # 2.0.1: a list of schedules; the first one applies
        schedule = schedule[0] if schedule else {}
    periods = tuple(
        Period(int(p.get("startPeriod", 0)), float(p.get("limit", 0)), p.get("numberPhases"))
        for p in schedule.get("chargingSchedulePeriod") or []
    )
    return Profile(
        profile_id=row.charging_profile_id,
        stack_level=row.stack_level,
        purpose=row.purpose,
        kind=data.get("chargingProfileKind", "Absolute"),
        unit=schedule.get("chargingRateUnit", "W"),
        periods=periods,
        recurrency=data.get("recurrencyKind"),
        start_schedule=_when(schedule.get("startSchedule")),
        duration=schedule.get("duration"),
        valid_from=_when(data.get("validFrom")),
        valid_to=_when(data.get("validTo")),
        connector_id=row.connector_id,
    )


def station_composite(
    *,
    station: Station,
    evse_id: int = 0,
    start: datetime | None = None,
    duration: int = 86400,
    unit: str = "W",
) -> Composite:
    """ChargeNet's own composite schedule of a station's EVSE (0: the station) from its installed
    profiles; TxProfiles count when a session runs there, from its start."""
    start = (start or timezone.now()).replace(microsecond=0)
    rows = ChargingProfile.objects.filter(station=station, is_active=True)
    session = (
        Session.objects.filter(station=station, evse__evse_id=evse_id, status=Session.Status.ACTIVE).first()
        if evse_id
        else None
    )
    return composite_schedule(
        [profile_from_row(row) for row in rows],
        start=start,
        duration=duration,
        unit=unit,
        connector_id=evse_id,
        tx_start=session.started_at if session else None,
    )


def station_reported_composite(*, station: Station) -> Command | None:
    """The station's last accepted answer to GetCompositeSchedule, if any."""
    return (
        Command.objects.filter(station=station, action="GetCompositeSchedule", status=Command.Status.ACCEPTED)
        .order_by("-completed_at", "-id")
        .first()
    )


def reported_periods(command: Command | None) -> list[dict[str, Any]]:
    """The periods of a GetCompositeSchedule answer (1.6 chargingSchedule, 2.0.1 schedule)."""
    if command is None or not command.response:
        return []
    schedule = command.response.get("chargingSchedule") or command.response.get("schedule") or {}
    return [
        {"start": int(p.get("startPeriod", 0)), "limit": float(p.get("limit", 0))}
        for p in schedule.get("chargingSchedulePeriod") or []
    ]


@dataclass(frozen=True)
class ChartBar:
    x: float  # percent of the width
    width: float
    height: float  # percent of the height
    label: str

    @property
    def top(self) -> float:
        """The bar's top in a 40-unit-high SVG (its y coordinate)."""
        return round(40 - 40 * self.height / 100, 3)


def composite_chart(composite: Composite, *, ceiling: float) -> list[ChartBar]:
    """The composite as bars for a server-rendered SVG (no limit: full height, labelled so)."""
    bars = []
    for index, slot in enumerate(composite.slots):
        end = composite.slots[index + 1].start if index + 1 < len(composite.slots) else composite.duration
        value = slot.limit if slot.limit is not None else ceiling
        label = (
            f"{slot.limit:g} {composite.unit} ({slot.source})"
            if slot.limit is not None
            else "no limit from profiles"
        )
        bars.append(
            ChartBar(
                x=100 * slot.start / composite.duration,
                width=100 * (end - slot.start) / composite.duration,
                height=100 * min(value, ceiling) / ceiling if ceiling else 0,
                label=label,
            )
        )
    return bars


def site_capacity_get(*, location_id: int) -> SiteCapacity | None:
    return SiteCapacity.objects.filter(location_id=location_id).first()


def circuit_list(*, location_id: int) -> QuerySet:
    """A site's circuits with the stations they feed, by name."""
    return (
        Circuit.objects.filter(site__location_id=location_id)
        .select_related("parent")
        .prefetch_related("memberships__station")
        .order_by("name", "id")
    )


def allocation_decision_list(*, location_id: int | None = None, session_id: int | None = None) -> QuerySet:
    """Allocation decisions, newest first, with their session and station."""
    rows = AllocationDecision.objects.select_related("session", "station", "command")
    if location_id is not None:
        rows = rows.filter(site__location_id=location_id)
    if session_id is not None:
        rows = rows.filter(session_id=session_id)
    return rows.order_by("-created_at", "-id")


def session_limit(*, session: Session) -> AllocationDecision | None:
    """The limit a running session is under now (its latest decision), for the driver's page."""
    return AllocationDecision.objects.filter(session=session).order_by("-created_at", "-id").first()


def rules_for_station_q(station: Station) -> Q:
    """The rules that apply to a station: its own, its location's and those of its tags."""
    return (
        Q(station=station)
        | Q(location_id=station.location_id, station__isnull=True)
        | Q(tag__stations=station)
    )


def schedule_rule_list(
    *, station: Station | None = None, location_id: int | None = None
) -> QuerySet[ScheduleRule]:
    rows = ScheduleRule.objects.filter(is_active=True).select_related("location", "station", "tag")
    if station is not None:
        rows = rows.filter(rules_for_station_q(station))
    elif location_id is not None:
        rows = rows.filter(
            Q(location_id=location_id)
            | Q(station__location_id=location_id)
            | Q(tag__stations__location_id=location_id)
        ).distinct()
    return rows


@dataclass(frozen=True)
class TimelineEntry:
    rule: ScheduleRule
    starts: datetime  # local
    ends: datetime  # local


def schedule_timeline(
    *, rules: QuerySet[ScheduleRule], tz_name: str, days: int = 7, now: datetime | None = None
) -> list[TimelineEntry]:
    """The windows of the rules in the next `days` days, in local time, earliest first."""
    tz = ZoneInfo(tz_name or "UTC")
    now = (now or timezone.now()).astimezone(tz)
    first_day = now.date()
    entries = []
    for rule in rules:
        if rule.kind == ScheduleRule.Kind.MAINTENANCE:
            if (
                rule.ends_at
                and rule.starts_at
                and rule.ends_at > now
                and rule.starts_at < now + timedelta(days=days)
            ):
                entries.append(
                    TimelineEntry(rule, rule.starts_at.astimezone(tz), rule.ends_at.astimezone(tz))
                )
            continue
        if rule.start_time is None or rule.end_time is None:
            continue
        for offset in range(days):
            day = first_day + timedelta(days=offset)
            if rule.weekdays and day.weekday() not in rule.weekdays:
                continue
            starts = datetime.combine(day, rule.start_time, tzinfo=tz)
            end_day = day if rule.end_time > rule.start_time else day + timedelta(days=1)
            ends = datetime.combine(end_day, rule.end_time, tzinfo=tz)
            if ends > now:
                entries.append(TimelineEntry(rule, starts, ends))
    return sorted(entries, key=lambda e: e.starts)


def maintenance_notices(
    *, station: Station, now: datetime | None = None, days: int = 14
) -> list[ScheduleRule]:
    """Maintenance windows of a station (or its location) running now or starting within `days`."""
    now = now or timezone.now()
    return list(
        ScheduleRule.objects.filter(
            rules_for_station_q(station),
            is_active=True,
            kind=ScheduleRule.Kind.MAINTENANCE,
            ends_at__gt=now,
            starts_at__lt=now + timedelta(days=days),
        ).order_by("starts_at")
    )
