"""Every write and business rule of the stations app (STYLE.md: services)."""

import logging
import time
from datetime import timedelta
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from chargenet.events import event_publish
from stations.commands import PayloadError, action_supported, payload_validate
from stations.models import Command, Connector, Evse, Location, Station
from stations.passwords import MAX_LENGTH, MIN_LENGTH, password_generate, password_hash

logger = logging.getLogger(__name__)


class StationError(Exception):
    """A station action was refused; the message says why in words an operator understands."""


LOCATION_FIELDS = {
    "name",
    "address",
    "city",
    "postal_code",
    "country",
    "latitude",
    "longitude",
    "time_zone",
    "is_public",
}
STATION_FIELDS = {
    "location",
    "name",
    "ocpp_version",
    "security_profile",
    "registration_status",
    "lenient",
    "is_public",
    "heartbeat_interval",
}


def _check_time_zone(name: str) -> None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise StationError(f"{name!r} is not an IANA time zone (e.g. Europe/Amsterdam)") from None


@transaction.atomic
def location_create(**fields: Any) -> Location:
    """Create a location; raises StationError for an unknown time zone or field."""
    unknown = set(fields) - LOCATION_FIELDS
    if unknown:
        raise StationError(f"unknown location fields: {', '.join(sorted(unknown))}")
    _check_time_zone(fields.get("time_zone", "UTC"))
    location = Location.objects.create(**fields)
    event_publish("location.created", {"location_id": location.pk})
    return location


@transaction.atomic
def location_update(*, location: Location, **fields: Any) -> Location:
    unknown = set(fields) - LOCATION_FIELDS
    if unknown:
        raise StationError(f"unknown location fields: {', '.join(sorted(unknown))}")
    if "time_zone" in fields:
        _check_time_zone(fields["time_zone"])
    for name, value in fields.items():
        setattr(location, name, value)
    location.save()
    event_publish("location.updated", {"location_id": location.pk})
    return location


def _check_identity(identity: str) -> None:
    # OCPP 2.0.1 identity: identifierString ≤ 48, and no ':' because it is the Basic-auth username.
    if not identity or len(identity) > 48:
        raise StationError("identity must be 1 to 48 characters")
    if ":" in identity or "/" in identity or any(ch.isspace() for ch in identity):
        raise StationError("identity must not contain ':', '/' or white space")


def _check_password(password: str) -> None:
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        raise StationError(f"password must be {MIN_LENGTH} to {MAX_LENGTH} characters")


@transaction.atomic
def station_create(
    *,
    identity: str,
    password: str | None = None,
    evses: int = 1,
    connectors_per_evse: int = 1,
    **fields: Any,
) -> tuple[Station, str]:
    """Register a station with `evses` EVSEs; returns it and its Basic-auth password (generated when
    not given, shown once). Raises StationError for a taken or malformed identity or password."""
    _check_identity(identity)
    unknown = set(fields) - STATION_FIELDS
    if unknown:
        raise StationError(f"unknown station fields: {', '.join(sorted(unknown))}")
    if Station.objects.filter(identity__iexact=identity).exists():
        raise StationError(f"a station with identity {identity!r} already exists")
    password = password if password is not None else password_generate()
    _check_password(password)
    station = Station.objects.create(identity=identity, password_hash=password_hash(password), **fields)
    for evse_id in range(1, evses + 1):
        evse = Evse.objects.create(station=station, evse_id=evse_id)
        for connector_id in range(1, connectors_per_evse + 1):
            Connector.objects.create(evse=evse, connector_id=connector_id)
    event_publish("station.created", {"station_id": station.pk, "identity": station.identity})
    return station, password


@transaction.atomic
def station_update(*, station: Station, **fields: Any) -> Station:
    """Change a station's settings; raises StationError for an unknown field."""
    unknown = set(fields) - STATION_FIELDS
    if unknown:
        raise StationError(f"unknown station fields: {', '.join(sorted(unknown))}")
    for name, value in fields.items():
        setattr(station, name, value)
    station.save()
    event_publish("station.updated", {"station_id": station.pk, "identity": station.identity})
    return station


@transaction.atomic
def station_password_set(*, station: Station, password: str | None = None) -> str:
    """Set (or generate) a new Basic-auth password at once; returns it. The station's next
    connection must use it."""
    password = password if password is not None else password_generate()
    _check_password(password)
    station.password_hash = password_hash(password)
    station.save(update_fields=["password_hash"])
    return password


@transaction.atomic
def station_delete(*, station: Station) -> None:
    """Delete a station that has no sessions; raises StationError otherwise."""
    if station.sessions.exists():
        raise StationError("a station with recorded sessions cannot be deleted; set it to Rejected instead")
    identity, pk = station.identity, station.pk
    station.delete()
    event_publish("station.deleted", {"station_id": pk, "identity": identity})


class CommandError(StationError):
    """A command was refused before it was queued (unsupported action, invalid payload …)."""


def command_create(
    *,
    station: Station,
    action: str,
    payload: dict[str, Any],
    requested_by: Any = None,
    idempotency_key: str = "",
    expires_in: int | None = None,
) -> Command:
    """Queue a durable CSMS→station call and hand it to the node that holds the station's socket.

    The command waits (status queued) while the station is offline and expires after `expires_in`
    seconds (default OCPP_COMMAND_EXPIRY). The same `idempotency_key` from the same requester returns
    the command created first. Raises CommandError for an action the station's OCPP version lacks,
    a payload that breaks the schema, or a station that is Rejected.
    """
    if not action_supported(ocpp_version=station.ocpp_version, action=action):
        raise CommandError(f"OCPP {station.ocpp_version} stations do not support the action {action!r}")
    try:
        payload_validate(ocpp_version=station.ocpp_version, action=action, payload=payload)
    except PayloadError as exc:
        raise CommandError(str(exc)) from None
    if station.registration_status == Station.RegistrationStatus.REJECTED:
        # OCPP 2.0.1 B03.FR.03 / 1.6 §4.2: nothing is sent to a Rejected station.
        raise CommandError("the station's registration is Rejected; nothing may be sent to it")
    with transaction.atomic():
        if idempotency_key:
            existing = Command.objects.filter(
                station=station, idempotency_key=idempotency_key, requested_by=requested_by
            ).first()
            if existing is not None:
                return existing
        expiry = settings.OCPP_COMMAND_EXPIRY if expires_in is None else expires_in
        command = Command.objects.create(
            station=station,
            action=action,
            payload=payload,
            requested_by=requested_by,
            idempotency_key=idempotency_key,
            expires_at=timezone.now() + timedelta(seconds=expiry),
        )
        event_publish("command.updated", _command_event(command))
        transaction.on_commit(lambda: command_dispatch(station_id=station.pk))
    return command


def command_dispatch(*, station_id: int) -> None:
    """Nudge the connection that holds the station's socket to send its queued commands.

    Does nothing when the station is offline: its commands go out when it reconnects.
    """
    channel_name = Station.objects.filter(pk=station_id).values_list("channel_name", flat=True).first()
    if not channel_name:
        return
    layer = get_channel_layer()
    try:
        async_to_sync(layer.send)(channel_name, {"type": "station.commands"})
    except Exception:
        # The connection's own periodic check picks the command up; nothing is lost.
        logger.warning("could not nudge %s about queued commands", channel_name, exc_info=True)


def command_wait(*, command: Command, timeout: float) -> Command:
    """Wait up to `timeout` seconds for the command's final status; returns it as it then is."""
    deadline = time.monotonic() + max(0.0, timeout)
    while True:
        command.refresh_from_db()
        if command.status in Command.FINAL or time.monotonic() >= deadline:
            return command
        time.sleep(0.1)


def _command_event(command: Command) -> dict[str, Any]:
    return {
        "command_id": str(command.uuid),
        "station_id": command.station_id,
        "identity": command.station.identity,
        "action": command.action,
        "status": command.status,
    }
