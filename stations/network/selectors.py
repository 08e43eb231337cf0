"""Reads of the stations app that join or aggregate."""

from datetime import datetime

from django.db.models import Prefetch, Q, QuerySet

from stations.models import Connector, OcppMessage, Station


def station_list(*, search: str = "") -> QuerySet[Station]:
    """Stations with their location and connectors, in a fixed number of queries."""
    stations = Station.objects.select_related("location").prefetch_related(
        Prefetch("evses__connectors", queryset=Connector.objects.order_by("connector_id"))
    )
    if search:
        stations = stations.filter(
            Q(identity__icontains=search) | Q(name__icontains=search) | Q(location__name__icontains=search)
        )
    return stations.order_by("identity")


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
