"""Smart charging reacts to what happens at the stations (chargenet.events; docs/smart-charging.md)."""

from typing import Any

from chargenet.events import event_batch_memo, event_subscribe


def _managed_stations() -> set[int]:
    """The stations at a site with a capacity limit, read once per dispatch transaction: most
    stations are at none, and asking per event (the station's site, then an UPDATE of its limit that
    matched no row) was a fifth of the dispatcher's work per session, on SQLite under its one write
    lock."""
    from smartcharging.models import SiteCapacity

    return event_batch_memo(
        "smartcharging.managed_stations",
        lambda: set(
            SiteCapacity.objects.filter(enabled=True).values_list("location__stations__pk", flat=True)
        ),
    )


def _rebalance_if_managed(station_id: int | None, trigger: str) -> None:
    from smartcharging.services import site_rebalance_request

    if station_id in _managed_stations():
        site_rebalance_request(station_id=station_id, trigger=trigger)


def on_session_changed(event_type: str, data: dict[str, Any]) -> None:
    """A session started or stopped: its site's capacity is shared out again within seconds."""
    _rebalance_if_managed(data.get("station_id"), event_type)


def on_session_updated(event_type: str, data: dict[str, Any]) -> None:
    """Meter values of a session ChargeNet has not limited yet (it heard of the start late)."""
    from smartcharging.models import AllocationDecision
    from smartcharging.services import site_rebalance_request

    session_id, station_id = data.get("session_id"), data.get("station_id")
    if session_id is None or station_id is None or data.get("status") != "active":
        return
    if (
        station_id in _managed_stations()
        and not AllocationDecision.objects.filter(session_id=session_id).exists()
    ):
        site_rebalance_request(station_id=station_id, trigger=event_type)


def on_station_booted(event_type: str, data: dict[str, Any]) -> None:
    """A station (re)booted and may have lost its profiles: install them again."""
    from smartcharging.services import station_reapply

    station_id = data.get("station_id")
    if data.get("registration_status", "Accepted") == "Accepted" and station_id in _reapplied_stations():
        station_reapply(station_id=station_id)


def _reapplied_stations() -> set[int]:
    """The stations a boot gives something to install again (station_reapply): those with a profile
    installed, those its schedules keep inoperative, those at a site with a capacity limit. Read
    once per dispatch transaction: after a restart thousands of stations boot, nearly all with none
    of these, and asking each (five queries) held SQLite's one write lock a millisecond and a half
    per boot."""
    from smartcharging.models import StationScheduleState
    from stations.models import ChargingProfile

    return event_batch_memo(
        "smartcharging.reapplied_stations",
        lambda: _managed_stations()
        | set(ChargingProfile.objects.filter(is_active=True).values_list("station_id", flat=True))
        | set(StationScheduleState.objects.filter(inoperative=True).values_list("station_id", flat=True)),
    )


def on_station_disconnected(event_type: str, data: dict[str, Any]) -> None:
    """An offline station keeps its limits; the others are shared out around them."""
    _rebalance_if_managed(data.get("station_id"), event_type)


def subscribe() -> None:
    """Register the subscribers (called from SmartChargingConfig.ready)."""
    event_subscribe("session.started", on_session_changed)
    event_subscribe("session.stopped", on_session_changed)
    event_subscribe("session.updated", on_session_updated)
    event_subscribe("station.booted", on_station_booted)
    event_subscribe("station.disconnected", on_station_disconnected)
