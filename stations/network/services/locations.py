"""Locations: create and update (with an IANA time zone)."""

from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db import transaction

from chargenet.events import event_publish
from chargenet.lengths import text_too_long
from stations.common import StationError
from stations.models import Location

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


def _check_time_zone(name: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise StationError(f"{name!r} is not an IANA time zone (e.g. Europe/Amsterdam)") from None


def _check_lengths(fields: dict[str, Any]) -> None:
    error = text_too_long(Location, fields)
    if error:
        raise StationError(error)


@transaction.atomic
def location_create(**fields: Any) -> Location:
    """Create a location; raises StationError for an unknown time zone or field."""
    unknown = set(fields) - LOCATION_FIELDS
    if unknown:
        raise StationError(f"unknown location fields: {', '.join(sorted(unknown))}")
    _check_time_zone(fields.get("time_zone", "UTC"))
    _check_lengths(fields)
    location = Location.objects.create(**fields)
    event_publish("location.created", {"location_id": location.pk})
    return location


@transaction.atomic
def location_update(*, location: Location, **fields: Any) -> Location:
    """Change a location's fields; raises StationError for an unknown time zone or field."""
    unknown = set(fields) - LOCATION_FIELDS
    if unknown:
        raise StationError(f"unknown location fields: {', '.join(sorted(unknown))}")
    if "time_zone" in fields:
        _check_time_zone(fields["time_zone"])
    _check_lengths(fields)
    for name, value in fields.items():
        setattr(location, name, value)
    location.save()
    event_publish("location.updated", {"location_id": location.pk})
    return location
