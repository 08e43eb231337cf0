"""Every write and business rule of the stations app (STYLE.md: services)."""

from typing import Any

from django.db import transaction

from chargenet.events import event_publish
from stations.models import Connector, Evse, Location, Station
from stations.passwords import MAX_LENGTH, MIN_LENGTH, password_generate, password_hash


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
