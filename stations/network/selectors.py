"""Reads of the stations app that join or aggregate."""

from datetime import datetime

from django.db.models import Prefetch, Q, QuerySet

from stations.models import Connector, OcppMessage, Station

TAGS_ANY, TAGS_ALL = "any", "all"


def station_list(*, search: str = "") -> QuerySet[Station]:
    """Stations with their location, tags and connectors, in a fixed number of queries."""
    stations = Station.objects.select_related("location").prefetch_related(
        "tags", Prefetch("evses__connectors", queryset=Connector.objects.order_by("connector_id"))
    )
    if search:
        stations = stations.filter(
            Q(identity__icontains=search) | Q(name__icontains=search) | Q(location__name__icontains=search)
        )
    return stations.order_by("identity")


def station_filter_tags(
    stations: QuerySet[Station], *, tags: list[str], match: str = TAGS_ANY
) -> QuerySet[Station]:
    """`stations` narrowed to those carrying any (or, with match="all", every) of the normalised
    `tags`; no tags narrows nothing."""
    if not tags:
        return stations
    if match == TAGS_ALL:
        for tag in tags:
            stations = stations.filter(pk__in=Station.objects.filter(tags__name=tag).values("pk"))
        return stations
    return stations.filter(pk__in=Station.objects.filter(tags__name__in=tags).values("pk"))


def station_target_select(
    *,
    identities: list[str] | None = None,
    location_id: int | None = None,
    vendor: str = "",
    model: str = "",
    firmware_version: str = "",
    tags: list[str] | None = None,
    tags_match: str = TAGS_ANY,
) -> QuerySet[Station]:
    """The stations an operation targets (fleet campaigns): every criterion given narrows the set
    (listed identities, a location, vendor, model, firmware version, tags); none given is every
    station. Ordered by identity, with the location."""
    stations = Station.objects.select_related("location").order_by("identity")
    if identities:
        stations = stations.filter(identity__in=identities)
    if location_id is not None:
        stations = stations.filter(location_id=location_id)
    if vendor:
        stations = stations.filter(vendor=vendor)
    if model:
        stations = stations.filter(model=model)
    if firmware_version:
        stations = stations.filter(firmware_version=firmware_version)
    return station_filter_tags(stations, tags=tags or [], match=tags_match)


def ocpp_message_list(
    *,
    station: Station,
    direction: str = "",
    action: str = "",
    message_id: str = "",
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[OcppMessage]:
    """A station's logged OCPP frames, newest first, filtered by direction, action, message id and
    time window."""

    messages = OcppMessage.objects.filter(station=station)
    if direction:
        messages = messages.filter(direction=direction)
    if action:
        messages = messages.filter(action=action)
    if message_id:
        messages = messages.filter(message_id=message_id)
    if since is not None:
        messages = messages.filter(created_at__gte=since)
    if until is not None:
        messages = messages.filter(created_at__lt=until)
    return messages.order_by("-created_at", "-id")
