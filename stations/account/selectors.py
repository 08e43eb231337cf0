"""Reads behind the driver's charging pages: only ever the driver's own sessions and cards."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.core.exceptions import ValidationError
from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone

from rfid.models import Driver, IdToken
from stations.access.services import card_allowed_at, station_is_public
from stations.models import Command, Connector, Evse, MeterSample, Session, Station

# Connector states in which a remote start can begin a session.
STARTABLE = (Connector.Status.AVAILABLE, Connector.Status.PREPARING)
# After the station accepted a remote start, how long the page waits for the session to begin (the
# driver may still be plugging in; stations give up on their own ConnectionTimeOut, often 1–3 min).
START_SESSION_WAIT = timedelta(minutes=3)
# A start request older than this is not followed any more (a bookmarked or reloaded page).
START_FOLLOW_MAX_AGE = timedelta(hours=1)
REMOTE_START_ACTIONS = ("RemoteStartTransaction", "RequestStartTransaction")


class ChargingError(Exception):
    """A driver's charging request cannot be carried out; the message says why."""


def session_list_for_driver(
    *,
    driver: Driver,
    active: bool | None = None,
    since: date | None = None,
    until: date | None = None,
    station: str = "",
    id_token_id: int | None = None,
) -> QuerySet[Session]:
    """The driver's sessions (through their cards), newest first, with optional filters."""
    sessions = Session.objects.filter(id_token__driver=driver).select_related(
        "station", "station__location", "evse", "id_token"
    )
    if active is True:
        sessions = sessions.filter(status=Session.Status.ACTIVE)
    elif active is False:
        sessions = sessions.exclude(status=Session.Status.ACTIVE)
    if since:
        sessions = sessions.filter(started_at__gte=datetime.combine(since, time.min, tzinfo=UTC))
    if until:
        end = datetime.combine(until + timedelta(days=1), time.min, tzinfo=UTC)
        sessions = sessions.filter(started_at__lt=end)
    if station:
        sessions = sessions.filter(Q(station__identity__iexact=station) | Q(station__name__icontains=station))
    if id_token_id:
        sessions = sessions.filter(id_token_id=id_token_id)
    return sessions.order_by("-started_at")


def session_get_for_driver(*, driver: Driver, pk: int) -> Session | None:
    """One of the driver's sessions, or None (another driver's session is not found)."""
    return session_list_for_driver(driver=driver).filter(pk=pk).first()


@dataclass(frozen=True)
class LiveReading:
    """What the driver sees of a running session."""

    energy_wh: int
    power_w: float | None
    duration: timedelta


def session_live_reading(*, session: Session) -> LiveReading:
    """Energy so far, the latest power sample and the elapsed time of a session."""
    end = session.stopped_at or timezone.now()
    power = (
        MeterSample.objects.filter(session=session, measurand="Power.Active.Import", phase="")
        .order_by("-timestamp")
        .values_list("value", flat=True)
        .first()
    )
    energy = session.energy_wh
    if not energy and session.meter_stop_wh is not None:
        energy = session.meter_stop_wh - session.meter_start_wh
    return LiveReading(
        energy_wh=max(0, energy),
        power_w=float(power) if power is not None else None,
        duration=end - session.started_at,
    )


def charging_targets_for_driver(*, driver: Driver) -> list[tuple[Station, Evse, Connector]]:
    """Online stations where the driver may charge, with each EVSE whose connector is free."""
    stations = (
        Station.objects.filter(is_online=True, registration_status=Station.RegistrationStatus.ACCEPTED)
        .select_related("location")
        .prefetch_related(
            Prefetch("evses", queryset=Evse.objects.prefetch_related("connectors").order_by("evse_id"))
        )
        .order_by("identity")
    )
    probe = IdToken(driver=driver)
    targets = []
    for station in stations:
        if not station_is_public(station=station) and not card_allowed_at(station=station, id_token=probe):
            continue
        for evse in station.evses.all():
            connectors = list(evse.connectors.all())
            if connectors and all(c.status in STARTABLE for c in connectors):
                targets.append((station, evse, connectors[0]))
    return targets


def charging_target_check(
    *, driver: Driver, identity: str, evse_id: int, id_token_id: int
) -> tuple[Station, IdToken]:
    """The station and card of a driver's start request; raises ChargingError with the reason
    (unknown station, offline, connector not free, not allowed, card not the driver's or not valid)."""
    token = IdToken.objects.filter(pk=id_token_id, driver=driver).first()
    if token is None:
        raise ChargingError("choose one of your cards")
    if token.status != IdToken.Status.ACCEPTED or (token.expires_at and token.expires_at <= timezone.now()):
        raise ChargingError(
            f"card {token.printed_number or token.uid} is {token.status.lower()}; choose another"
        )
    station = Station.objects.select_related("location").filter(identity__iexact=identity).first()
    if station is None:
        raise ChargingError("there is no such station")
    if not station_is_public(station=station) and not card_allowed_at(station=station, id_token=token):
        raise ChargingError(f"station {station.identity} is private and does not accept your card")
    if not station.is_online:
        raise ChargingError(f"station {station.identity} is offline; try another one")
    evse = station.evses.filter(evse_id=evse_id).prefetch_related("connectors").first()
    if evse is None:
        raise ChargingError(f"station {station.identity} has no connector {evse_id}")
    busy = [c for c in evse.connectors.all() if c.status not in STARTABLE]
    if busy:
        raise ChargingError(
            f"connector {evse_id} of {station.identity} is {busy[0].status.lower()}; choose a free one"
        )
    return station, token


@dataclass(frozen=True)
class StartProgress:
    """Where a driver's remote start stands: waiting for the station, accepted (waiting for the
    session), started, refused (rejected or CALLERROR), no_answer (timed out or expired) or
    no_session (accepted, but no session began in time)."""

    command: Command
    state: str
    session: Session | None = None

    @property
    def following(self) -> bool:
        """True while the page should keep looking (the outcome is not known yet)."""
        return self.state in ("waiting", "accepted")

    @property
    def recheck_in(self) -> int | None:
        """Seconds until the outcome turns by the clock alone (a queued request expiring, an
        accepted start whose session never began), when no event will say so; None otherwise."""
        now = timezone.now()
        if self.state == "accepted":
            deadline = (self.command.completed_at or self.command.created_at) + START_SESSION_WAIT
        elif self.state == "waiting" and self.command.expires_at:
            deadline = self.command.expires_at
        else:
            return None
        return max(1, int((deadline - now).total_seconds()) + 1)


def remote_start_progress(*, driver: Driver, command_uuid: str) -> StartProgress | None:
    """The progress of one of the driver's own recent remote starts, or None (unknown, someone
    else's, not a start, or too old to follow). The session is the first one of the driver's cards
    that the station opened after the request."""
    now = timezone.now()
    try:
        command = (
            Command.objects.select_related("station")
            .filter(
                uuid=command_uuid,
                requested_by=driver.user_id,
                action__in=REMOTE_START_ACTIONS,
                created_at__gte=now - START_FOLLOW_MAX_AGE,
            )
            .first()
        )
    except ValidationError:  # not a UUID
        return None
    if command is None:
        return None
    session = (
        Session.objects.filter(
            station=command.station_id, id_token__driver=driver, created_at__gte=command.created_at
        )
        .select_related("station", "evse")
        .order_by("created_at")
        .first()
    )
    if session is not None:
        return StartProgress(command=command, state="started", session=session)
    status = command.status
    if status in (Command.Status.REJECTED, Command.Status.ERROR):
        return StartProgress(command=command, state="refused")
    if status in (Command.Status.TIMED_OUT, Command.Status.EXPIRED) or (
        status == Command.Status.QUEUED and command.expires_at and command.expires_at <= now
    ):
        return StartProgress(command=command, state="no_answer")
    if status == Command.Status.ACCEPTED:
        answered = command.completed_at or command.created_at
        state = "no_session" if answered + START_SESSION_WAIT <= now else "accepted"
        return StartProgress(command=command, state=state)
    return StartProgress(command=command, state="waiting")
