"""Station tags: the labels operators put on stations to find and target them together."""

import re
from collections.abc import Iterable

from django.db import transaction
from django.db.models import Count

from chargenet.events import event_publish
from stations.common import StationError
from stations.models import Station, Tag

TAG_MAX_LENGTH = 40
TAGS_PER_STATION = 20
_TAG_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")


def tag_normalise(name: str) -> str:
    """The stored form of a tag: trimmed, lower case, white space turned into "-". Raises
    StationError for an empty or over-long tag, or one with other characters than letters, digits,
    ".", "_" and "-"."""
    tag = "-".join(str(name).strip().lower().split())
    if not tag:
        raise StationError("a tag cannot be empty")
    if len(tag) > TAG_MAX_LENGTH:
        raise StationError(f"tag {tag[:50]!r} is longer than {TAG_MAX_LENGTH} characters")
    if not _TAG_RE.match(tag):
        raise StationError(f'tag {tag!r} may hold only letters, digits, ".", "_" and "-"')
    return tag


def tags_normalise(names: Iterable[str]) -> list[str]:
    """Each tag normalised, without repeats, sorted; raises StationError as tag_normalise does."""
    return sorted({tag_normalise(name) for name in names})


def _tags_get_or_create(names: list[str]) -> list[Tag]:
    existing = {tag.name: tag for tag in Tag.objects.filter(name__in=names)}
    Tag.objects.bulk_create([Tag(name=n) for n in names if n not in existing], ignore_conflicts=True)
    return list(Tag.objects.filter(name__in=names))


def _tags_changed(stations: list[Station]) -> None:
    for station in stations:
        event_publish("station.updated", {"station_id": station.pk, "identity": station.identity})


def station_tags_replace(*, station: Station, tags: Iterable[str]) -> list[str]:
    """Replace a station's tags without publishing (for services that publish their own event);
    returns them normalised. Raises StationError as station_tags_set does."""
    names = tags_normalise(tags)
    if len(names) > TAGS_PER_STATION:
        raise StationError(f"a station has at most {TAGS_PER_STATION} tags")
    station.tags.set(_tags_get_or_create(names))
    Tag.objects.filter(stations=None).delete()
    return names


@transaction.atomic
def station_tags_set(*, station: Station, tags: Iterable[str]) -> list[str]:
    """Replace a station's tags; returns them normalised. Raises StationError for a malformed tag or
    more than TAGS_PER_STATION; nothing changes then."""
    names = station_tags_replace(station=station, tags=tags)
    _tags_changed([station])
    return names


@transaction.atomic
def station_tags_change(
    *, stations: Iterable[Station], add: Iterable[str] = (), remove: Iterable[str] = ()
) -> int:
    """Add and remove tags on many stations at once (the station list's bulk action); returns how many
    stations were given. Raises StationError for a malformed tag, no station, or a station that would
    carry more than TAGS_PER_STATION tags; nothing changes then."""
    chosen = list(stations)
    if not chosen:
        raise StationError("choose at least one station")
    added, removed = tags_normalise(add), tags_normalise(remove)
    if not added and not removed:
        raise StationError("give a tag to add or remove")
    through = Station.tags.through
    if removed:
        through.objects.filter(station__in=chosen, tag__name__in=removed).delete()
    if added:
        tags = _tags_get_or_create(added)
        through.objects.bulk_create(
            [through(station_id=s.pk, tag_id=t.pk) for s in chosen for t in tags], ignore_conflicts=True
        )
        crowded = (
            Station.objects.filter(pk__in=[s.pk for s in chosen])
            .annotate(n=Count("tags"))
            .filter(n__gt=TAGS_PER_STATION)
            .values_list("identity", flat=True)
        )
        if crowded:
            raise StationError(
                f"a station has at most {TAGS_PER_STATION} tags: {', '.join(list(crowded)[:10])}"
            )
    Tag.objects.filter(stations=None).delete()
    _tags_changed(chosen)
    return len(chosen)
