"""Presence: which stations are connected, on which node and channel, and when they were last seen."""

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from chargenet import sql
from chargenet.events import event_publish
from stations.common import _station_event, _station_locked
from stations.connection.services.commands import command_complete
from stations.models import Station

# What a new connection writes, compiled once (chargenet/sql.py): a reconnect storm connects thousands
# of stations through the writer, and the ORM's building of its read and write was a quarter of a web
# process's CPU while a fleet connected.
_connected_update = sql.Update(
    Station, ["channel_name", "node", "connected_since", "is_online", "last_seen_at", "ocpp_version"]
)


@transaction.atomic
def station_connected(
    *, station_id: int, channel_name: str, node: str, ocpp_version: str = ""
) -> tuple[str, str]:
    """Record the live connection (presence) and the OCPP version it negotiated; returns the previous
    connection's channel name and node, if any ("" and "" otherwise), so the caller can close it (a
    new authenticated connection replaces the old one)."""
    station = _station_locked(station_id)
    if station is None:
        raise Station.DoesNotExist(f"no station {station_id}")
    previous = station.channel_name
    now = timezone.now()
    # The charger speaks what it negotiated, whatever it was registered as: commands are built for
    # the connection's version (a 1.6 RemoteStart to a 2.0.1 connection would be refused).
    _connected_update(station_id, channel_name, node, now, True, now, ocpp_version or station.ocpp_version)
    event_publish("station.connected", _station_event(station))
    return (previous, station.node) if previous and previous != channel_name else ("", "")


@transaction.atomic
def station_disconnected(
    *, station_id: int, channel_name: str, last_seen_at: Any = None, command_id: int | None = None
) -> bool:
    """Clear presence when the connection closes, but only if it is still the station's live one;
    the command it had in flight (`command_id`) times out. Returns True when the station went offline."""
    fields: dict[str, Any] = {"channel_name": "", "node": "", "connected_since": None, "is_online": False}
    if last_seen_at is not None:
        fields["last_seen_at"] = last_seen_at
    updated = Station.objects.filter(pk=station_id, channel_name=channel_name).update(**fields)
    if command_id is not None:  # sent on this connection, never answered: no answer is coming
        command_complete(command_id=command_id, disconnected=True)
    if updated:
        station = Station.objects.get(pk=station_id)
        event_publish("station.disconnected", _station_event(station))
    return bool(updated)


# Last seen and online, for a station still connected (compiled once, see chargenet/sql.py).
_seen_update = sql.Update(Station, ["last_seen_at", "is_online"], unless_blank=["channel_name"])


@transaction.atomic
def station_seen_flush(*, seen: dict[int, Any]) -> None:
    """Write the last-seen times kept in memory (station id → time), one batch (one transaction)
    per flush, so a Heartbeat never costs a database write of its own. One statement executed for
    every station (a fleet of 10,000 flushes hundreds a second): the ORM would build and compile an
    UPDATE for each."""
    if seen:
        _seen_update.many([(station_id, at, True) for station_id, at in seen.items()])


@transaction.atomic
def station_mark_offline() -> list[int]:
    """Mark stations offline that have been silent for 2 × heartbeat interval + OCPP_OFFLINE_GRACE;
    returns their ids."""
    now = timezone.now()
    default = settings.OCPP_HEARTBEAT_INTERVAL
    gone = []
    for station in Station.objects.filter(is_online=True).only(
        "pk", "identity", "last_seen_at", "heartbeat_interval", "connected_since"
    ):
        interval = station.heartbeat_interval or default
        seen = station.last_seen_at or station.connected_since
        if seen is None or seen < now - timedelta(seconds=2 * interval + settings.OCPP_OFFLINE_GRACE):
            if Station.objects.filter(pk=station.pk, is_online=True).update(is_online=False):
                gone.append(station.pk)
                event_publish("station.disconnected", _station_event(station, reason="silent"))
    return gone
