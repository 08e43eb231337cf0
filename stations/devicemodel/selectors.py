"""Reads of the device model room."""

from collections import OrderedDict

from django.db.models import QuerySet

from stations.models import DeviceEvent, DeviceVariable, DisplayMessage, Station, StationReport


def device_model_components(*, station: Station) -> "OrderedDict[str, list[DeviceVariable]]":
    """The station's stored device model, grouped by component (name, instance, EVSE, connector)."""
    grouped: OrderedDict[str, list[DeviceVariable]] = OrderedDict()
    for row in DeviceVariable.objects.filter(station=station):
        label = row.component
        if row.component_instance:
            label += f" ({row.component_instance})"
        if row.evse_id is not None:
            label += f" · EVSE {row.evse_id}"
            if row.connector_id is not None:
                label += f" connector {row.connector_id}"
        grouped.setdefault(label, []).append(row)
    return grouped


def device_problems_open(*, station: Station | None = None) -> QuerySet[DeviceEvent]:
    """Problem events no later event has cleared (the device-problem alerts)."""
    rows = DeviceEvent.objects.filter(problem=True, cleared_at__isnull=True).select_related("station")
    return rows.filter(station=station) if station is not None else rows


def display_messages(*, station: Station) -> QuerySet[DisplayMessage]:
    return DisplayMessage.objects.filter(station=station)


def station_reports(*, station: Station, kind: str | None = None) -> QuerySet[StationReport]:
    rows = StationReport.objects.filter(station=station)
    return rows.filter(kind=kind) if kind else rows
