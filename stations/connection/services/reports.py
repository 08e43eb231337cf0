"""What stations report about themselves: security events, protocol violations, firmware/diagnostics/log status."""

from typing import Any

from django.db import transaction
from django.utils import timezone

from chargenet.events import event_publish
from stations.common import _protocol_state, _station_event, _timestamp_plausible
from stations.models import ProtocolViolation, SecurityEvent, Station


@transaction.atomic
def security_event_record(
    *,
    identity: str,
    type: str,
    source: str = "csms",
    station: Station | None = None,
    tech_info: str = "",
    remote_address: str = "",
    timestamp: Any = None,
) -> SecurityEvent:
    """Store a security event (a refused connection, or a station's SecurityEventNotification) and
    publish `security_event.recorded`."""

    event = SecurityEvent.objects.create(
        station=station,
        identity=identity[:48],
        source=source,
        type=type[:50],
        tech_info=(tech_info or "")[:255],
        remote_address=remote_address[:64],
        timestamp=timestamp
        if timestamp and (station is None or _timestamp_plausible(station, timestamp))
        else timezone.now(),
    )
    event_publish(
        "security_event.recorded",
        {"station_id": station.pk if station else None, "identity": identity, "type": event.type},
    )
    return event


@transaction.atomic
def protocol_violation_record(*, station_id: int, action: str, message_id: str, causes: list[str]) -> None:
    """Record schema violations the CSMS served anyway (lenient mode)."""
    ProtocolViolation.objects.create(
        station_id=station_id, action=action, message_id=message_id[:36], detail="\n".join(causes)
    )


REPORT_KINDS = {
    "firmware": ("firmware_status", "firmware_status_at", "firmware_request_id"),
    "diagnostics": ("diagnostics_status", "diagnostics_status_at", None),
    "log": ("log_status", "log_status_at", "log_request_id"),
}


@transaction.atomic
def station_report_status(*, station_id: int, kind: str, status: str, request_id: int | None = None) -> None:
    """Store a Firmware/SignedFirmware/Diagnostics/Log status notification on the station."""
    status_field, at_field, request_field = REPORT_KINDS[kind]
    state = _protocol_state(station_id)
    setattr(state, status_field, status[:40])
    setattr(state, at_field, timezone.now())
    if request_field and request_id is not None:
        setattr(state, request_field, request_id)
    state.save()
    station = Station.objects.get(pk=station_id)
    event_publish("station.updated", _station_event(station, **{status_field: status}))
    # The dedicated event fleet operations follow (firmware campaigns, diagnostics uploads).
    event_publish(
        "station.status_reported",
        _station_event(station, kind=kind, status=status[:40], request_id=request_id),
    )


@transaction.atomic
def station_publish_status_report(
    *, station_id: int, status: str, request_id: int | None = None, locations: list[str] | None = None
) -> None:
    """A Local Controller's PublishFirmwareStatusNotification: about an image it publishes for other
    stations, not its own firmware, so the station's firmware status is left alone. Published for the
    fleet app, which keeps the publication (`station.status_reported`, kind "publish")."""
    station = Station.objects.get(pk=station_id)
    event_publish(
        "station.status_reported",
        _station_event(
            station,
            kind="publish",
            status=status[:40],
            request_id=request_id,
            locations=[str(uri)[:512] for uri in locations or []],
        ),
    )
