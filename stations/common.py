"""Helpers shared by the stations services: the domain error, event payloads, per-station protocol state."""

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from chargenet import sql
from chargenet.errors import DomainError
from chargenet.events import event_publish
from stations.models import Connector, Evse, Session, Station, StationProtocolState


class StationError(DomainError):
    """A station action was refused; the message says why in words an operator understands."""

    api_code = "station_refused"


# Chargers replay what they queued offline for days, not months: a timestamp further back than this
# before the station was registered, or more than a day ahead of the CSMS, comes from a broken clock.
TIMESTAMP_PAST_GRACE = timedelta(days=30)
TIMESTAMP_FUTURE_GRACE = timedelta(days=1)
# A 1.6 meter register is a 32-bit integer of Wh (OCPP-J integers are 32-bit); below 0 it is garbage.
INT32_MAX = 2**31 - 1
METER_MAX_WH = INT32_MAX


def _timestamp_plausible(station: Station, timestamp: datetime) -> bool:
    """Whether a station's timestamp can be true: not long before the station existed, not ahead."""
    created = station.created_at or timezone.now()
    return created - TIMESTAMP_PAST_GRACE <= timestamp <= timezone.now() + TIMESTAMP_FUTURE_GRACE


def _timestamp_or_now(station: Station, timestamp: datetime, flags: list[str]) -> datetime:
    """The timestamp when plausible; otherwise now, with "timestamp_implausible" added to `flags`."""
    if _timestamp_plausible(station, timestamp):
        return timestamp
    flags.append("timestamp_implausible")
    return timezone.now()


def _protocol_state(station_id: int) -> StationProtocolState:
    state, _ = StationProtocolState.objects.get_or_create(station_id=station_id)
    return state


def _station_event(station: Station, **extra: Any) -> dict[str, Any]:
    return {"station_id": station.pk, "identity": station.identity, **extra}


def _session_event(session: Session) -> dict[str, Any]:
    return {
        "session_id": session.pk,
        "station_id": session.station_id,
        "identity": session.station.identity,
        "evse_id": session.evse.evse_id if session.evse is not None else None,
        "transaction_id": session.transaction_id,
        "id_tag": session.id_tag,
        "energy_wh": session.energy_wh,
        "status": session.status,
    }


def _sessions_close_incomplete(
    next_active: Callable[[], Session | None],
    *,
    stopped_at: Callable[[Session], datetime],
    reason: str,
    flag: str,
) -> None:
    """Close every session that `next_active()` finds as INCOMPLETE (`reason`, `flag`), publishing
    session.stopped for each: a station's sessions it never reported stopped (a reboot, a new start on
    the connector). `next_active` reads one ACTIVE session, locked; closing it is what moves it on."""
    closed: set[int] = set()
    while (session := next_active()) is not None:
        if session.pk in closed:
            raise RuntimeError(f"session {session.pk} is still found after being closed")
        closed.add(session.pk)
        session.status = Session.Status.INCOMPLETE
        session.stopped_at = stopped_at(session)
        session.stop_reason = reason
        session.flags = [*session.flags, flag]
        session.save()
        event_publish("session.stopped", _session_event(session))


# A station with its location, compiled once: every session message reads it.
_station_with_location = sql.Select(Station, where=["id"], related=["location"])
# A station's row, locked (FOR UPDATE where the backend has it): every BootNotification and every
# new connection (a reconnect storm's thousands go through the writer) change it.
_station_locked = sql.Select(Station, where=["id"], lock=True)


def _station_get(station_id: int) -> Station:
    """`Station.objects.select_related("location").get(pk=station_id)`, on the compiled statement."""
    station = _station_with_location(station_id)
    if station is None:
        raise Station.DoesNotExist(f"no station {station_id}")
    return station


# A station's connector (unique: EVSE per station, connector per EVSE) with its EVSE, compiled once
# (see chargenet/sql.py): every StartTransaction looks it up.
_connector_with_evse = sql.Select(
    Connector, where=["evse__station_id", "evse__evse_id", "connector_id"], related=["evse"]
)


def _connector_for(station: Station, connector_id: int, number: int = 1) -> Connector:
    # OCPP 1.6: connector id N is EVSE N with a single connector (number 1); OCPP 2.0.1 names the
    # EVSE and the connector on it (number). Stations report what they have.
    # One query for a connector the station has (the usual case), two get_or_create otherwise.
    found = _connector_with_evse(station.pk, connector_id, number or 1)
    if found is not None:
        return found
    evse, _ = Evse.objects.get_or_create(station=station, evse_id=connector_id)
    connector, _ = Connector.objects.get_or_create(evse=evse, connector_id=number or 1)
    connector.evse = evse  # callers read connector.evse: no second fetch
    return connector
