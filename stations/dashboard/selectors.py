"""Reads behind the operator dashboard's pages, each in a fixed number of queries.

Kept apart from `stations/network/selectors.py` (which the protocol layer grows) so the two evolve without
stepping on each other; the names follow the same `<entity>_<action>` scheme.
"""

import zoneinfo
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, Prefetch, Q, QuerySet, Sum
from django.utils import timezone

from rfid.models import IdToken
from stations.models import Command, Connector, Location, MeterSample, OcppMessage, Session, Station, Tag
from stations.network.selectors import station_filter_tags

ENERGY_REGISTER = "Energy.Active.Import.Register"
POWER = "Power.Active.Import"


def _local_midnights() -> tuple[datetime, datetime]:
    """The start of today and of this month in the dashboard's time zone, as aware datetimes."""
    now = timezone.now().astimezone(zoneinfo.ZoneInfo(settings.OPERATOR_TIME_ZONE))
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return today, today.replace(day=1)


def overview_summary() -> dict[str, int]:
    """Counts for the overview tiles: stations online/offline/faulted, connectors by status, active
    sessions and the energy delivered today (sessions stopped today or still running)."""
    today, _ = _local_midnights()
    stations = Station.objects.aggregate(
        # distinct: the fault count joins connectors, which repeats each station per connector.
        total=Count("id", distinct=True),
        online=Count("id", filter=Q(is_online=True), distinct=True),
        faulted=Count("id", filter=Q(evses__connectors__status=Connector.Status.FAULTED), distinct=True),
    )
    by_status = dict(Connector.objects.values_list("status").annotate(n=Count("id")))
    sessions = Session.objects.aggregate(
        active=Count("id", filter=Q(status=Session.Status.ACTIVE)),
        energy_today=Sum(
            "energy_wh", filter=Q(status=Session.Status.ACTIVE) | Q(stopped_at__gte=today), default=0
        ),
    )
    available = by_status.get(Connector.Status.AVAILABLE, 0)
    charging = sum(
        by_status.get(s, 0)
        for s in (Connector.Status.CHARGING, Connector.Status.SUSPENDED_EV, Connector.Status.SUSPENDED_EVSE)
    )
    faulted = by_status.get(Connector.Status.FAULTED, 0)
    return {
        "stations_total": stations["total"],
        "stations_online": stations["online"],
        "stations_offline": stations["total"] - stations["online"],
        "stations_faulted": stations["faulted"],
        "connectors_available": available,
        "connectors_charging": charging,
        "connectors_faulted": faulted,
        "connectors_other": sum(by_status.values()) - available - charging - faulted,
        "sessions_active": sessions["active"],
        "energy_today_wh": sessions["energy_today"],
    }


def connector_list_faulted(*, limit: int = 20) -> QuerySet[Connector]:
    """Connectors now in Faulted, most recent first, with their station."""
    return (
        Connector.objects.filter(status=Connector.Status.FAULTED)
        .select_related("evse__station")
        .order_by("-status_updated_at", "-id")[:limit]
    )


def location_list_mapped() -> list[dict[str, Any]]:
    """Locations with coordinates, as map markers with their station counts."""
    rows = (
        Location.objects.filter(latitude__isnull=False, longitude__isnull=False)
        .annotate(
            stations_total=Count("stations"),
            stations_online=Count("stations", filter=Q(stations__is_online=True)),
        )
        .order_by("name")
    )
    return [
        {
            "id": row.pk,
            "name": row.name,
            "lat": float(row.latitude),
            "lng": float(row.longitude),
            "total": row.stations_total,
            "online": row.stations_online,
        }
        for row in rows
        if row.latitude is not None and row.longitude is not None  # filtered above; tells mypy
    ]


def location_list() -> QuerySet[Location]:
    """Every location with its number of stations."""
    return Location.objects.annotate(stations_total=Count("stations")).order_by("name")


def station_search(
    *,
    search: str = "",
    online: str = "",
    connector_status: str = "",
    location_id: int | None = None,
    tag: str = "",
) -> QuerySet[Station]:
    """Stations matching the list page's filters, with location, tags and connectors prefetched.

    `online` is "yes", "no" or ""; `connector_status` keeps stations with at least one connector in
    that status; `tag` those carrying that (normalised) tag.
    """
    stations = Station.objects.select_related("location").prefetch_related(
        "tags",
        Prefetch(
            "evses__connectors",
            queryset=Connector.objects.order_by("connector_id"),
        ),
    )
    if search:
        stations = stations.filter(
            Q(identity__icontains=search)
            | Q(name__icontains=search)
            | Q(location__name__icontains=search)
            | Q(location__city__icontains=search)
            | Q(vendor__icontains=search)
            | Q(model__icontains=search)
        )
    if online == "yes":
        stations = stations.filter(is_online=True)
    elif online == "no":
        stations = stations.filter(is_online=False)
    if connector_status:
        stations = stations.filter(evses__connectors__status=connector_status).distinct()
    if location_id:
        stations = stations.filter(location_id=location_id)
    if tag:
        stations = station_filter_tags(stations, tags=[tag])
    return stations.order_by("identity")


def tag_list() -> QuerySet[Tag]:
    """Every tag in use, by name (the station list's tag filter)."""
    return Tag.objects.order_by("name")


def station_get(*, identity: str) -> Station | None:
    """The station with that identity and its EVSEs and connectors, or None."""
    return (
        Station.objects.select_related("location")
        .prefetch_related(
            "tags", Prefetch("evses__connectors", queryset=Connector.objects.order_by("connector_id"))
        )
        .filter(identity=identity)
        .first()
    )


def station_sessions_active(*, station: Station) -> QuerySet[Session]:
    """The station's running sessions with their connector and card."""
    return (
        Session.objects.filter(station=station, status=Session.Status.ACTIVE)
        .select_related("evse", "connector", "id_token")
        .order_by("-started_at")
    )


def station_commands_recent(*, station: Station, limit: int = 15) -> QuerySet[Command]:
    """The station's latest commands with who asked for them (the audit trail of remote actions)."""
    return (
        Command.objects.filter(station=station).select_related("requested_by").order_by("-created_at")[:limit]
    )


def _last_response(*, station: Station, action: str) -> dict[str, Any] | None:
    command = (
        Command.objects.filter(station=station, action=action, status=Command.Status.ACCEPTED)
        .exclude(response=None)
        .order_by("-completed_at", "-created_at")
        .first()
    )
    return command.response if command and isinstance(command.response, dict) else None


def station_configuration(*, station: Station) -> list[dict[str, Any]]:
    """The configuration keys as the station last reported them (its answer to GetConfiguration)."""
    response = _last_response(station=station, action="GetConfiguration") or {}
    keys = response.get("configurationKey") or []
    return sorted((k for k in keys if isinstance(k, dict)), key=lambda k: str(k.get("key", "")))


def station_local_list_version(*, station: Station) -> int | None:
    """The local authorization list version the station last reported, if it ever answered."""
    response = _last_response(station=station, action="GetLocalListVersion") or {}
    version = response.get("listVersion", response.get("versionNumber"))
    return version if isinstance(version, int) else None


@dataclass(frozen=True)
class MessageFilter:
    """The message log's filters: action, direction and a time window."""

    action: str = ""
    direction: str = ""
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class MessagePage:
    """One page of the message log, newest first; `older` is the cursor of the next page."""

    frames: list[OcppMessage]
    older: int | None


def station_messages(
    *, station: Station, filters: MessageFilter, before: int | None = None, limit: int = 100
) -> MessagePage:
    """The station's OCPP frames matching `filters`, newest first, `limit` at a time: the latest,
    or those logged before the frame with id `before` (a cursor: new frames do not shift pages)."""
    messages = OcppMessage.objects.filter(station=station)
    if before is not None:
        messages = messages.filter(id__lt=before)
    if filters.action:
        messages = messages.filter(action__iexact=filters.action)
    if filters.direction in OcppMessage.Direction.values:
        messages = messages.filter(direction=filters.direction)
    if filters.since:
        messages = messages.filter(created_at__gte=filters.since)
    if filters.until:
        messages = messages.filter(created_at__lt=filters.until)
    frames = list(messages.order_by("-id")[: limit + 1])
    older = frames[limit - 1].pk if len(frames) > limit else None
    return MessagePage(frames=frames[:limit], older=older)


def station_message_actions(*, station: Station) -> list[str]:
    """The actions that appear in the station's message log, for the filter's choices."""
    return list(
        OcppMessage.objects.filter(station=station)
        .exclude(action="")
        .values_list("action", flat=True)
        .distinct()
        .order_by("action")
    )


def id_token_list_usable(*, limit: int = 200) -> QuerySet[IdToken]:
    """Cards an operator may start a session with (Accepted), for the remote-start picker."""
    return (
        IdToken.objects.filter(status=IdToken.Status.ACCEPTED)
        .select_related("driver")
        .order_by("uid")[:limit]
    )


@dataclass(frozen=True)
class SessionFilter:
    """The session list's filters."""

    search: str = ""
    status: str = ""
    station: str = ""
    since: datetime | None = None
    until: datetime | None = None


def session_search(*, filters: SessionFilter) -> QuerySet[Session]:
    """Sessions matching the list page's filters, newest first, with station, connector and card."""
    sessions = Session.objects.select_related("station", "evse", "connector", "id_token")
    if filters.search:
        sessions = sessions.filter(
            Q(id_tag__icontains=filters.search)
            | Q(transaction_id=filters.search)
            | Q(station__identity__icontains=filters.search)
        )
    if filters.status in Session.Status.values:
        sessions = sessions.filter(status=filters.status)
    if filters.station:
        sessions = sessions.filter(station__identity=filters.station)
    if filters.since:
        sessions = sessions.filter(started_at__gte=filters.since)
    if filters.until:
        sessions = sessions.filter(started_at__lt=filters.until)
    return sessions.order_by("-started_at", "-id")


def session_get(*, pk: int) -> Session | None:
    """One session with its station, location, connector and card, or None."""
    return (
        Session.objects.select_related("station__location", "evse", "connector", "id_token__driver")
        .filter(pk=pk)
        .first()
    )


def session_chart_series(*, session: Session) -> dict[str, Any]:
    """Energy (Wh since the start, from the register) and power (W) over time for the chart.

    Phases are summed when the station reports only per-phase power; times are Unix seconds, and
    `start`/`end` bound the session (its end is now while it runs) so the time axis spans it.
    """
    samples = MeterSample.objects.filter(session=session, measurand__in=(ENERGY_REGISTER, POWER)).values_list(
        "timestamp", "measurand", "phase", "value"
    )
    energy: dict[float, float] = {}
    power_total: dict[float, float] = {}
    power_phases: dict[float, float] = {}
    for timestamp, measurand, phase, value in samples:
        t = timestamp.timestamp()
        if measurand == ENERGY_REGISTER and not phase:
            energy[t] = float(value) - session.meter_start_wh
        elif measurand == POWER:
            target = power_phases if phase else power_total
            target[t] = target.get(t, 0.0) + float(value)
    power = power_total or power_phases
    times = sorted(set(energy) | set(power))
    end = session.stopped_at or timezone.now()
    return {
        "start": session.started_at.timestamp(),
        "end": max(end, session.started_at).timestamp(),
        "t": times,
        "energy_wh": [energy.get(t) for t in times],
        "power_w": [power.get(t) for t in times],
    }


def time_window_parse(*, since: str, until: str) -> tuple[datetime | None, datetime | None]:
    """Parse the `datetime-local` inputs of a filter form (in the viewer's time zone)."""
    zone = timezone.get_current_timezone()

    def parse(raw: str) -> datetime | None:
        try:
            value = datetime.fromisoformat(raw.strip())
        except ValueError:
            return None
        return value if value.tzinfo else value.replace(tzinfo=zone)

    return parse(since) if since else None, parse(until) if until else None


def offline_threshold() -> datetime:
    """Stations silent since before this moment count as offline alerts."""
    return timezone.now() - timedelta(minutes=settings.ALERT_OFFLINE_MINUTES)
