"""Reads of the device model room."""

from collections import OrderedDict
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from stations.models import (
    Command,
    CustomerDataRequest,
    DeviceEvent,
    DeviceMonitor,
    DeviceVariable,
    DisplayMessage,
    Session,
    Station,
    StationReport,
)


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


def station_display_language(*, station: Station) -> str:
    """The language the station shows messages in, as its device model reports it
    (DisplayMessageCtrlr.Language, Actual), or "" when it has not said."""
    value = (
        DeviceVariable.objects.filter(
            station=station, component="DisplayMessageCtrlr", variable="Language", attribute_type="Actual"
        )
        .values_list("value", flat=True)
        .first()
    )
    # A list of languages (a valuesList) names the one in use first.
    return (value or "").split(",")[0].strip()


def customer_data_requests(*, driver: Any = None) -> QuerySet[CustomerDataRequest]:
    """The network-wide GDPR requests, newest first; `driver` keeps those about one driver."""
    requests = CustomerDataRequest.objects.select_related("driver", "requested_by")
    return requests.filter(driver=driver) if driver is not None else requests


def customer_data_request_results(*, request: CustomerDataRequest) -> list[dict[str, Any]]:
    """Per station and card: what the station answered (Accepted, Rejected, Invalid — or the command's
    status while it waits: queued, sent, expired …) and the data it reported."""
    commands = list(request.commands.select_related("station").order_by("station__identity", "pk"))
    return _customer_information_rows(commands)


def display_messages(*, station: Station) -> QuerySet[DisplayMessage]:
    """The messages the station shows or is to show: one past its endDateTime (O01.FR.05) or of a
    transaction that has ended (O02) is gone from the station, so it is not listed."""
    ended = (
        Session.objects.filter(station=station, stopped_at__isnull=False)
        .exclude(transaction_id="")
        .values("transaction_id")
    )
    return (
        DisplayMessage.objects.filter(station=station)
        .exclude(end_at__lte=timezone.now())
        .exclude(transaction_id__in=ended)
    )


def station_reports(*, station: Station, kind: str | None = None) -> QuerySet[StationReport]:
    rows = StationReport.objects.filter(station=station)
    return rows.filter(kind=kind) if kind else rows


def device_monitors(*, station: Station) -> QuerySet[DeviceMonitor]:
    """The monitors the station reported (NotifyMonitoringReport) or accepted (SetVariableMonitoring)."""
    return DeviceMonitor.objects.filter(station=station)


def customer_information_requests(*, station: Station, id_token: str = "") -> list[dict[str, Any]]:
    """The CustomerInformation requests sent to the station (newest first), each with what the
    station answered and the data it returned (NotifyCustomerInformation, joined per requestId);
    `id_token` keeps those about one card (a driver's GDPR request)."""
    rows_sent = (
        Command.objects.filter(station=station, action="CustomerInformation")
        .select_related("station")
        .order_by("-pk")
    )
    if id_token:
        rows_sent = rows_sent.filter(payload__idToken__idToken=id_token)
    return _customer_information_rows(list(rows_sent[:50]))


def _customer_information_rows(commands: list[Command]) -> list[dict[str, Any]]:
    """Each CustomerInformation command with the station's answer and the data it returned."""
    wanted = Q()
    for command in commands:
        wanted |= Q(station_id=command.station_id, request_id=command.payload.get("requestId"))
    reports = (
        {
            (report.station_id, report.request_id): report
            for report in StationReport.objects.filter(kind=StationReport.Kind.CUSTOMER_INFORMATION).filter(
                wanted
            )
        }
        if commands
        else {}
    )
    rows = []
    for command in commands:
        payload = command.payload
        report = reports.get((command.station_id, payload.get("requestId")))
        rows.append(
            {
                "station": command.station.identity,
                "command": str(command.uuid),
                "request_id": payload.get("requestId"),
                "id_token": (payload.get("idToken") or {}).get("idToken", ""),
                "customer_identifier": payload.get("customerIdentifier", ""),
                "report": bool(payload.get("report")),
                "clear": bool(payload.get("clear")),
                "requested_at": command.created_at,
                "status": (command.response or {}).get("status", "") or command.status,
                "complete": bool(report and report.complete),
                "data": report.data if report else "",
            }
        )
    return rows


def device_limit(*, station: Station, component: str, variable: str, instance: str) -> int | None:
    """A positive integer the station reported for `component.variable[instance]` (Actual), e.g.
    DeviceDataCtrlr.ItemsPerMessage[GetVariables]; None when unknown or not a positive number."""
    value = (
        DeviceVariable.objects.filter(
            station=station,
            component=component,
            variable=variable,
            variable_instance=instance,
            attribute_type="Actual",
        )
        .values_list("value", flat=True)
        .first()
    )
    try:
        limit = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return limit if limit > 0 else None
