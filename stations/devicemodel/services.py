"""Writes of the device model room: what 2.0.1 stations report, stored as they report it.

Every function takes the message's payload as the station sent it (camelCase, OCPP 2.0.1 Part 2
names) and runs in one transaction with the events it publishes.
"""

import json
import secrets
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from chargenet.events import event_publish
from stations.common import _station_event, _timestamp_plausible
from stations.devicemodel.selectors import device_limit
from stations.models import (
    ChargingNotice,
    Command,
    CustomerDataRequest,
    DeviceEvent,
    DeviceMonitor,
    DeviceVariable,
    DisplayMessage,
    Reservation,
    Station,
    StationReport,
)

ATTRIBUTE_TYPES = ("Actual", "Target", "MinSet", "MaxSet")
# Events published for the smart-charging room (docs/ocpp-2.0.1-coverage.md, block K).
CHARGING_NOTICE_EVENTS = {
    ChargingNotice.Kind.CHARGING_LIMIT: "station.charging_limit",
    ChargingNotice.Kind.LIMIT_CLEARED: "station.charging_limit_cleared",
    ChargingNotice.Kind.EV_NEEDS: "station.charging_needs",
    ChargingNotice.Kind.EV_SCHEDULE: "station.ev_charging_schedule",
    ChargingNotice.Kind.PROFILES: "station.charging_profiles_reported",
}
# Variables whose value is a secret: their value is never stored nor shown.
SECRET_VARIABLES = frozenset({"BasicAuthPassword"})
# 2.0.1 ReservationUpdateStatusEnumType → our reservation status.
RESERVATION_UPDATES = {"Expired": Reservation.Status.EXPIRED, "Removed": Reservation.Status.CANCELLED}


def _text(value: Any, limit: int) -> str:
    return "" if value is None else str(value)[:limit]


def _count(value: Any) -> int | None:
    """An EVSE or connector number as stored: a negative one (no such thing) is dropped."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _place(component: dict[str, Any], variable: dict[str, Any]) -> dict[str, Any]:
    """The columns that name a component's variable (ComponentType + VariableType)."""
    evse = component.get("evse") or {}
    return {
        "component": _text(component.get("name"), 50),
        "component_instance": _text(component.get("instance"), 50),
        "evse_id": _count(evse.get("id")),
        "connector_id": _count(evse.get("connectorId")),
        "variable": _text(variable.get("name"), 50),
        "variable_instance": _text(variable.get("instance"), 50),
    }


def variable_key(component: dict[str, Any], variable: dict[str, Any], attribute_type: str = "Actual") -> str:
    """The unique name of one attribute of a component's variable at a station."""
    place = _place(component, variable)
    return "|".join(
        str(v if v is not None else "")
        for v in (
            place["component"],
            place["component_instance"],
            place["evse_id"],
            place["connector_id"],
            place["variable"],
            place["variable_instance"],
            attribute_type or "Actual",
        )
    )


def _variable_upsert(
    station_id: int, component: dict[str, Any], variable: dict[str, Any], attribute_type: str, **fields: Any
) -> DeviceVariable:
    key = variable_key(component, variable, attribute_type)
    row, _ = DeviceVariable.objects.update_or_create(
        station_id=station_id,
        key=key,
        defaults={**_place(component, variable), "attribute_type": attribute_type or "Actual", **fields},
    )
    return row


def _report(station_id: int, kind: str, payload: dict[str, Any]) -> StationReport:
    """The report row of `payload` (requestId, seqNo, tbc), one more part counted."""
    report, _ = StationReport.objects.select_for_update().get_or_create(
        station_id=station_id, kind=kind, request_id=int(payload.get("requestId") or 0)
    )
    report.parts += 1
    report.complete = not payload.get("tbc", False)
    generated = parse_datetime(str(payload.get("generatedAt") or ""))
    if generated is not None:
        report.generated_at = generated
    return report


@transaction.atomic
def device_report_record(*, station_id: int, payload: dict[str, Any]) -> StationReport:
    """NotifyReport (B07/B08): every attribute of every reported variable stored with its
    characteristics; publishes `station.device_model_reported` when the last part arrived."""
    report = _report(station_id, StationReport.Kind.DEVICE_MODEL, payload)
    for item in payload.get("reportData") or []:
        component, variable = item.get("component") or {}, item.get("variable") or {}
        characteristics = item.get("variableCharacteristics") or {}
        for attribute in item.get("variableAttribute") or []:
            _variable_upsert(
                station_id,
                component,
                variable,
                attribute.get("type") or "Actual",
                value=_text(attribute.get("value"), 2500),
                mutability=_text(attribute.get("mutability") or "ReadWrite", 10),
                persistent=bool(attribute.get("persistent", False)),
                constant=bool(attribute.get("constant", False)),
                characteristics=characteristics,
            )
    report.save()
    if report.complete:
        station = Station.objects.get(pk=station_id)
        event_publish("station.device_model_reported", _station_event(station, request_id=report.request_id))
    return report


# monitoringCriteria → the monitor types each covers (2.0.1 MonitorEnumType).
MONITORING_CRITERIA_TYPES = {
    "ThresholdMonitoring": ("UpperThreshold", "LowerThreshold"),
    "DeltaMonitoring": ("Delta",),
    "PeriodicMonitoring": ("Periodic", "PeriodicClockAligned"),
}


def _monitors_in_scope(station_id: int, request: dict[str, Any]) -> QuerySet[DeviceMonitor]:
    """The stored monitors a GetMonitoringReport request covers (its criteria and components)."""
    monitors = DeviceMonitor.objects.filter(station_id=station_id)
    criteria = request.get("monitoringCriteria") or []
    if criteria:
        types = [t for c in criteria for t in MONITORING_CRITERIA_TYPES.get(str(c), ())]
        monitors = monitors.filter(type__in=types)
    wanted = Q()
    for item in request.get("componentVariable") or []:
        component, variable = item.get("component") or {}, item.get("variable") or {}
        place = _place(component, variable)
        match = Q(component=place["component"])
        if component.get("instance"):
            match &= Q(component_instance=place["component_instance"])
        if place["evse_id"] is not None:
            match &= Q(evse_id=place["evse_id"])
        if place["connector_id"] is not None:
            match &= Q(connector_id=place["connector_id"])
        if variable.get("name"):
            match &= Q(variable=place["variable"])
        if variable.get("instance"):
            match &= Q(variable_instance=place["variable_instance"])
        wanted |= match
    return monitors.filter(wanted) if request.get("componentVariable") else monitors


def _monitoring_request(station_id: int, request_id: int) -> dict[str, Any] | None:
    """The GetMonitoringReport payload ChargeNet sent with `request_id`, if it did."""
    from stations.models import Command

    command = (
        Command.objects.filter(
            station_id=station_id, action="GetMonitoringReport", payload__requestId=request_id
        )
        .order_by("-pk")
        .first()
    )
    return command.payload if command is not None else None


@transaction.atomic
def monitoring_report_record(*, station_id: int, payload: dict[str, Any]) -> StationReport:
    """NotifyMonitoringReport (N02): every monitor stored (replacing one of the same id). When the
    last part of the report for a request ChargeNet sent has arrived, the stored monitors that
    request covered but the station did not report are gone from the station and dropped."""
    report = _report(station_id, StationReport.Kind.MONITORING, payload)
    reported = set((report.content or {}).get("monitors") or [])
    for item in payload.get("monitor") or []:
        place = _place(item.get("component") or {}, item.get("variable") or {})
        for monitor in item.get("variableMonitoring") or []:
            monitor_id = int(monitor.get("id") or 0)
            reported.add(monitor_id)
            DeviceMonitor.objects.update_or_create(
                station_id=station_id,
                monitor_id=monitor_id,
                defaults={
                    **place,
                    "type": _text(monitor.get("type"), 30),
                    "severity": min(9, max(0, int(monitor.get("severity") or 0))),
                    "value": float(monitor.get("value") or 0),
                    "transaction": bool(monitor.get("transaction", False)),
                },
            )
    report.content = {**(report.content or {}), "monitors": sorted(reported)}
    report.save()
    if report.complete:
        request = _monitoring_request(station_id, report.request_id)
        if request is not None:
            _monitors_in_scope(station_id, request).exclude(monitor_id__in=reported).delete()
    return report


def monitoring_report_answer_record(
    *, station_id: int, payload: dict[str, Any], response: dict[str, Any]
) -> None:
    """GetMonitoringReport answered EmptyResultSet: the station has no monitor the request covers,
    so none stays listed. Runs in command_complete's transaction."""
    if response.get("status") == "EmptyResultSet":
        _monitors_in_scope(station_id, payload).delete()


def _is_problem(event: dict[str, Any]) -> bool:
    """An event that needs an operator: a component's Problem variable set, or an alerting monitor."""
    variable = (event.get("variable") or {}).get("name")
    value = str(event.get("actualValue") or "").strip().lower()
    if event.get("cleared"):
        return False
    if variable == "Problem":
        return value == "true"
    if variable == "AvailabilityState":
        return value in ("faulted", "unavailable")
    return event.get("trigger") == "Alerting"


def _ends_problem(event: dict[str, Any]) -> bool:
    variable = (event.get("variable") or {}).get("name")
    value = str(event.get("actualValue") or "").strip().lower()
    if event.get("cleared"):
        return True
    if variable == "Problem":
        return value == "false"
    if variable == "AvailabilityState":
        return value not in ("faulted", "unavailable")
    return False


@transaction.atomic
def device_events_record(*, station_id: int, payload: dict[str, Any]) -> list[DeviceEvent]:
    """NotifyEvent (N07/N08): each event stored, the variable's Actual value updated, a problem
    raised as an alert (stations.alerts) or cleared; publishes `station.device_event` per event for
    the live feed."""
    station = Station.objects.get(pk=station_id)
    stored = []
    for event in payload.get("eventData") or []:
        component, variable = event.get("component") or {}, event.get("variable") or {}
        key = variable_key(component, variable)
        timestamp = parse_datetime(str(event.get("timestamp") or ""))
        if timestamp is None or not _timestamp_plausible(station, timestamp):
            timestamp = timezone.now()
        value = _text(event.get("actualValue"), 2500)
        if variable.get("name") in SECRET_VARIABLES:
            value = ""  # a write-only secret is never stored, even if a monitor reports it
        _variable_upsert(station_id, component, variable, "Actual", value=value)
        if _ends_problem(event):
            DeviceEvent.objects.filter(
                station=station, key=key, problem=True, cleared_at__isnull=True
            ).update(cleared_at=timestamp)
        place = _place(component, variable)
        row = DeviceEvent.objects.create(
            station=station,
            event_id=int(event.get("eventId") or 0),
            timestamp=timestamp,
            trigger=_text(event.get("trigger"), 20),
            notification_type=_text(event.get("eventNotificationType"), 30),
            cause=event.get("cause"),
            key=key,
            component=place["component"],
            variable=place["variable"],
            evse_id=place["evse_id"],
            actual_value=value,
            tech_code=_text(event.get("techCode"), 50),
            tech_info=_text(event.get("techInfo"), 500),
            problem=_is_problem(event),
            cleared=bool(event.get("cleared", False)),
            transaction_id=_text(event.get("transactionId"), 36),
        )
        stored.append(row)
        event_publish(
            "station.device_event",
            _station_event(
                station,
                component=row.component,
                variable=row.variable,
                evse_id=row.evse_id,
                value=value[:200],
                trigger=row.trigger,
                problem=row.problem,
                cleared=row.cleared or _ends_problem(event),
            ),
        )
    return stored


@transaction.atomic
def customer_information_record(*, station_id: int, payload: dict[str, Any]) -> StationReport:
    """NotifyCustomerInformation (N09/N10): the parts of one request's data, joined in seqNo order."""
    report = _report(station_id, StationReport.Kind.CUSTOMER_INFORMATION, payload)
    content = dict(report.content or {})
    content[str(int(payload.get("seqNo") or 0))] = str(payload.get("data") or "")
    report.content = content
    report.data = "".join(content[k] for k in sorted(content, key=int))
    report.parts = len(content)
    report.save()
    if report.complete:
        station = Station.objects.get(pk=station_id)
        event_publish("station.customer_information", _station_event(station, request_id=report.request_id))
    return report


@transaction.atomic
def display_messages_record(*, station_id: int, payload: dict[str, Any]) -> StationReport:
    """NotifyDisplayMessages (O04): each message the station shows, stored by its id."""
    report = _report(station_id, StationReport.Kind.DISPLAY_MESSAGES, payload)
    for info in payload.get("messageInfo") or []:
        message = info.get("message") or {}
        DisplayMessage.objects.update_or_create(
            station_id=station_id,
            message_id=int(info.get("id") or 0),
            defaults={
                "priority": _text(info.get("priority"), 20),
                "state": _text(info.get("state"), 20),
                "content": _text(message.get("content"), 512),
                "format": _text(message.get("format"), 10),
                "language": _text(message.get("language"), 8),
                "start_at": parse_datetime(str(info.get("startDateTime") or "")),
                "end_at": parse_datetime(str(info.get("endDateTime") or "")),
                "transaction_id": _text(info.get("transactionId"), 36),
                "request_id": report.request_id,
            },
        )
    report.save()
    if report.complete:
        # The report answers one GetDisplayMessages: a stored message its criteria select that the
        # station did not report is no longer on the station (expired, its transaction ended).
        asked = (
            Command.objects.filter(
                station_id=station_id, action="GetDisplayMessages", payload__requestId=report.request_id
            )
            .values_list("payload", flat=True)
            .first()
        )
        if asked is not None:
            _display_messages_matching(station_id, asked).exclude(request_id=report.request_id).delete()
    return report


@transaction.atomic
def charging_notice_record(*, station_id: int, kind: str, payload: dict[str, Any]) -> ChargingNotice:
    """NotifyChargingLimit, ClearedChargingLimit, NotifyEVChargingNeeds, NotifyEVChargingSchedule or
    ReportChargingProfiles stored as said, and an event the smart-charging room reacts to
    (CHARGING_NOTICE_EVENTS)."""
    station = Station.objects.get(pk=station_id)
    evse_id = payload.get("evseId")
    notice = ChargingNotice.objects.create(
        station=station,
        kind=kind,
        evse_id=evse_id if isinstance(evse_id, int) and evse_id >= 0 else None,
        source=_text(
            payload.get("chargingLimitSource")
            or (payload.get("chargingLimit") or {}).get("chargingLimitSource"),
            20,
        ),
        request_id=payload.get("requestId"),
        data=payload,
    )
    event_publish(
        CHARGING_NOTICE_EVENTS[ChargingNotice.Kind(kind)],
        _station_event(station, notice_id=notice.pk, evse_id=notice.evse_id, kind=kind),
    )
    return notice


# NotifyEVChargingNeeds is answered by smart charging, which stations may not import: it registers
# its answer here (smartcharging/apps.py). Without one the needs are Rejected (service not available).
ChargingNeedsAnswer = Callable[..., str]
_charging_needs_answers: list[ChargingNeedsAnswer] = []


def charging_needs_answer_register(answer: ChargingNeedsAnswer) -> None:
    """Let `answer(station_id=, evse_id=, payload=)` decide Accepted / Rejected for an EV's needs."""
    if answer not in _charging_needs_answers:
        _charging_needs_answers.append(answer)


@transaction.atomic
def ev_charging_needs_record(*, station_id: int, payload: dict[str, Any]) -> str:
    """NotifyEVChargingNeeds (K15): stored as a notice, then answered by the registered answer in the
    same transaction (Accepted: a charging profile follows; Rejected: service not available)."""
    notice = charging_notice_record(station_id=station_id, kind=ChargingNotice.Kind.EV_NEEDS, payload=payload)
    for answer in _charging_needs_answers:
        return answer(station_id=station_id, evse_id=notice.evse_id, payload=payload)
    return "Rejected"


# NotifyEVChargingSchedule is checked by smart charging against the schedule it gave (registered in
# smartcharging/apps.py). Without one the EV's schedule is Accepted as said.
_ev_schedule_answers: list[ChargingNeedsAnswer] = []


def ev_charging_schedule_answer_register(answer: ChargingNeedsAnswer) -> None:
    """Let `answer(station_id=, evse_id=, payload=)` decide Accepted / Rejected for an EV's schedule."""
    if answer not in _ev_schedule_answers:
        _ev_schedule_answers.append(answer)


@transaction.atomic
def ev_charging_schedule_record(*, station_id: int, payload: dict[str, Any]) -> str:
    """NotifyEVChargingSchedule (K15.FR.10, K16, K17): stored as a notice, then answered by the
    registered answer in the same transaction (Rejected: outside the CSMS's schedule)."""
    notice = charging_notice_record(
        station_id=station_id, kind=ChargingNotice.Kind.EV_SCHEDULE, payload=payload
    )
    for answer in _ev_schedule_answers:
        return answer(station_id=station_id, evse_id=notice.evse_id, payload=payload)
    return "Accepted"


@transaction.atomic
def reservation_status_update(*, station_id: int, reservation_id: int, status: str) -> int:
    """ReservationStatusUpdate (H05): an expired or removed reservation ends; returns rows changed."""
    new_status = RESERVATION_UPDATES.get(status)
    if new_status is None:
        return 0
    changed = Reservation.objects.filter(
        station_id=station_id, reservation_id=reservation_id, status=Reservation.Status.ACTIVE
    ).update(status=new_status, response_status=status[:20])
    if changed:
        station = Station.objects.get(pk=station_id)
        event_publish(
            "station.reservation_updated",
            _station_event(station, reservation_id=reservation_id, status=new_status),
        )
    return changed


def variables_result_record(
    *, station_id: int, action: str, payload: dict[str, Any], response: dict[str, Any]
) -> None:
    """The station's answer to GetVariables/SetVariables (B06/B05): each attribute's status stored,
    a value read or set (Accepted) becomes the stored value. Runs in command_complete's transaction."""
    now = timezone.now()
    requested = {
        variable_key(r.get("component") or {}, r.get("variable") or {}, r.get("attributeType") or "Actual"): r
        for r in (payload.get("setVariableData") or payload.get("getVariableData") or [])
    }
    results = response.get("setVariableResult") or response.get("getVariableResult") or []
    for result in results:
        component, variable = result.get("component") or {}, result.get("variable") or {}
        attribute_type = result.get("attributeType") or "Actual"
        status = _text(result.get("attributeStatus"), 30)
        info = result.get("attributeStatusInfo") or {}
        fields: dict[str, Any] = {
            "last_status": status,
            "last_status_info": _text(
                " ".join(str(x) for x in (info.get("reasonCode"), info.get("additionalInfo")) if x), 500
            ),
            "last_status_at": now,
        }
        if status == "Accepted" and variable.get("name") in SECRET_VARIABLES:
            fields["value"] = ""  # a password is never stored (B05: BasicAuthPassword is WriteOnly)
        elif status == "Accepted":
            if action == "GetVariables":
                fields["value"] = _text(result.get("attributeValue"), 2500)
            else:
                asked = requested.get(variable_key(component, variable, attribute_type)) or {}
                fields["value"] = _text(asked.get("attributeValue"), 2500)
        _variable_upsert(station_id, component, variable, attribute_type, **fields)


# --- requests an operator makes (dashboard and API): durable commands ------------------------------


def _component(item: dict[str, Any]) -> dict[str, Any]:
    component: dict[str, Any] = {"name": item["component"]}
    if item.get("component_instance"):
        component["instance"] = item["component_instance"]
    if item.get("evse_id") is not None:
        component["evse"] = {"id": item["evse_id"]}
        if item.get("connector_id") is not None:
            component["evse"]["connectorId"] = item["connector_id"]
    return component


def _variable(item: dict[str, Any]) -> dict[str, Any]:
    variable: dict[str, Any] = {"name": item["variable"]}
    if item.get("variable_instance"):
        variable["instance"] = item["variable_instance"]
    return variable


def _command_create(**kwargs: Any) -> Any:
    from stations.connection.services.commands import command_create

    return command_create(**kwargs)


@transaction.atomic
def _variables_commands(
    *, station: Station, action: str, key: str, items: list[dict[str, Any]], requested_by: Any
) -> list[Any]:
    # B06.FR.05 (and the same for SetVariables): never more items in one request than the station
    # said it takes.
    size = device_limit(
        station=station, component="DeviceDataCtrlr", variable="ItemsPerMessage", instance=action
    ) or len(items)
    return [
        _command_create(
            station=station, action=action, payload={key: items[i : i + size]}, requested_by=requested_by
        )
        for i in range(0, len(items), size)
    ]


def variables_get_request(
    *, station: Station, variables: list[dict[str, Any]], requested_by: Any = None
) -> list[Any]:
    """Send GetVariables for `variables` (component, variable, optional instances, EVSE, connector,
    attribute_type), in as many requests as the station's ItemsPerMessage[GetVariables] asks (one
    when unknown); the answers are stored per attribute (variables_result_record). Returns the
    commands in order. Raises CommandError (then none is queued)."""
    items = [
        {
            "component": _component(item),
            "variable": _variable(item),
            **({"attributeType": item["attribute_type"]} if item.get("attribute_type") else {}),
        }
        for item in variables
    ]
    return _variables_commands(
        station=station, action="GetVariables", key="getVariableData", items=items, requested_by=requested_by
    )


def variables_set_request(
    *, station: Station, variables: list[dict[str, Any]], requested_by: Any = None
) -> list[Any]:
    """Send SetVariables with a `value` per attribute, in as many requests as the station's
    ItemsPerMessage[SetVariables] asks; each attribute's result is stored when the station answers
    (B05). Returns the commands in order. Raises CommandError (a 1.6 station, a payload outside the
    schema; then none is queued)."""
    items = [
        {
            "component": _component(item),
            "variable": _variable(item),
            "attributeValue": str(item["value"]),
            **({"attributeType": item["attribute_type"]} if item.get("attribute_type") else {}),
        }
        for item in variables
    ]
    return _variables_commands(
        station=station, action="SetVariables", key="setVariableData", items=items, requested_by=requested_by
    )


def _request_id() -> int:
    return secrets.randbelow(2**31 - 1) + 1


def base_report_request(
    *, station: Station, report_base: str = "FullInventory", requested_by: Any = None
) -> Any:
    """Send GetBaseReport (B07/B08) with a fresh requestId; the NotifyReport parts that follow are
    stored as the station's device model. Raises CommandError."""
    payload = {"requestId": _request_id(), "reportBase": report_base}
    return _command_create(
        station=station, action="GetBaseReport", payload=payload, requested_by=requested_by
    )


COMPONENT_CRITERIA = ("Active", "Available", "Enabled", "Problem")


def custom_report_request(
    *,
    station: Station,
    component_criteria: list[str] | None = None,
    variables: list[dict[str, Any]] | None = None,
    requested_by: Any = None,
) -> Any:
    """Send GetReport (B08) with a fresh requestId for the components matching `component_criteria`
    (Active, Available, Enabled, Problem) and/or the listed components and variables (component,
    optional variable, instances, EVSE, connector); the NotifyReport parts that follow are stored as
    the device model, an EmptyResultSet answer leaves it as it was. Raises CommandError."""
    criteria = list(dict.fromkeys(component_criteria or []))
    unknown = [c for c in criteria if c not in COMPONENT_CRITERIA]
    if unknown:
        raise _command_error(f"component criteria must be among {', '.join(COMPONENT_CRITERIA)}")
    payload: dict[str, Any] = {"requestId": _request_id()}
    if criteria:
        payload["componentCriteria"] = criteria
    if variables:
        payload["componentVariable"] = [
            {"component": _component(item), **({"variable": _variable(item)} if item.get("variable") else {})}
            for item in variables
        ]
    return _command_create(station=station, action="GetReport", payload=payload, requested_by=requested_by)


def _command_error(message: str) -> Exception:
    from stations.connection.services.commands import CommandError

    return CommandError(message)


def display_message_set_request(
    *,
    station: Station,
    message_id: int,
    content: str,
    priority: str = "NormalCycle",
    message_format: str = "UTF8",
    language: str = "",
    state: str = "",
    start_at: datetime | None = None,
    end_at: datetime | None = None,
    transaction_id: str = "",
    requested_by: Any = None,
) -> Any:
    """Send SetDisplayMessage (O01); the message is stored as shown once the station accepts it."""
    message: dict[str, Any] = {"format": message_format, "content": content}
    if language:
        message["language"] = language
    info: dict[str, Any] = {"id": message_id, "priority": priority, "message": message}
    if state:
        info["state"] = state
    if start_at:
        info["startDateTime"] = start_at.isoformat()
    if end_at:
        info["endDateTime"] = end_at.isoformat()
    if transaction_id:
        info["transactionId"] = transaction_id
    return _command_create(
        station=station, action="SetDisplayMessage", payload={"message": info}, requested_by=requested_by
    )


def display_messages_get_request(
    *,
    station: Station,
    ids: list[int] | None = None,
    priority: str = "",
    state: str = "",
    requested_by: Any = None,
) -> Any:
    """Send GetDisplayMessages (O03) with a fresh requestId, asking only for the messages with these
    ids, this priority and this state when given (O04); the station's NotifyDisplayMessages are
    stored, and an Unknown answer removes the stored messages that match. Raises CommandError."""
    payload: dict[str, Any] = {"requestId": _request_id()}
    if ids:
        payload["id"] = [int(message_id) for message_id in ids]
    if priority:
        payload["priority"] = priority
    if state:
        payload["state"] = state
    return _command_create(
        station=station, action="GetDisplayMessages", payload=payload, requested_by=requested_by
    )


def display_message_clear_request(*, station: Station, message_id: int, requested_by: Any = None) -> Any:
    """Send ClearDisplayMessage (O05); the stored message goes once the station accepts."""
    return _command_create(
        station=station, action="ClearDisplayMessage", payload={"id": message_id}, requested_by=requested_by
    )


def _display_messages_matching(station_id: int, request: dict[str, Any]) -> QuerySet[DisplayMessage]:
    """The stored messages a GetDisplayMessagesRequest's criteria (id list, priority, state) select."""
    rows = DisplayMessage.objects.filter(station_id=station_id)
    if request.get("id"):
        rows = rows.filter(message_id__in=[int(message_id) for message_id in request["id"]])
    if request.get("priority"):
        rows = rows.filter(priority=str(request["priority"]))
    if request.get("state"):
        rows = rows.filter(state=str(request["state"]))
    return rows


def display_message_result_record(
    *, station_id: int, action: str, payload: dict[str, Any], response: dict[str, Any], accepted: bool
) -> None:
    """The station answered Set/Clear/GetDisplayMessages: an accepted message is stored, a cleared
    one removed; GetDisplayMessages answered Unknown (no message matches) removes the stored messages
    its criteria select. Runs in command_complete's transaction."""
    if action == "GetDisplayMessages":
        if response.get("status") == "Unknown":
            _display_messages_matching(station_id, payload).delete()
        return
    if not accepted:
        return
    if action == "ClearDisplayMessage":
        DisplayMessage.objects.filter(station_id=station_id, message_id=int(payload.get("id") or 0)).delete()
        return
    info = payload.get("message") or {}
    message = info.get("message") or {}
    DisplayMessage.objects.update_or_create(
        station_id=station_id,
        message_id=int(info.get("id") or 0),
        defaults={
            "priority": _text(info.get("priority"), 20),
            "state": _text(info.get("state"), 20),
            "content": _text(message.get("content"), 512),
            "format": _text(message.get("format"), 10),
            "language": _text(message.get("language"), 8),
            "start_at": parse_datetime(str(info.get("startDateTime") or "")),
            "end_at": parse_datetime(str(info.get("endDateTime") or "")),
            "transaction_id": _text(info.get("transactionId"), 36),
        },
    )


# --- N Monitoring and customer information (CSMS → station) -------------------------------------


def variable_monitoring_set_request(
    *, station: Station, monitors: list[dict[str, Any]], requested_by: Any = None
) -> Any:
    """Send SetVariableMonitoring (N04): each monitor (component, EVSE, variable, type, value,
    severity, transaction, and `monitor_id` to replace an existing one); the monitors the station
    accepts are stored with the id it gave them (monitoring_result_record). Raises CommandError."""
    data = []
    for item in monitors:
        entry: dict[str, Any] = {
            "type": item["type"],
            "value": float(item["value"]),
            "severity": int(item["severity"]),
            "component": _component(item),
            "variable": _variable(item),
        }
        if item.get("transaction"):
            entry["transaction"] = True
        if item.get("monitor_id") is not None:
            entry["id"] = int(item["monitor_id"])
        data.append(entry)
    return _command_create(
        station=station,
        action="SetVariableMonitoring",
        payload={"setMonitoringData": data},
        requested_by=requested_by,
    )


# The CALL frame around a ClearVariableMonitoring payload: [2,"<36-character id>","<action>",{…}].
_CLEAR_FRAME_OVERHEAD = len('[2,"","ClearVariableMonitoring",]') + 36


def _clear_chunks(ids: list[int], items: int | None, size: int | None) -> list[list[int]]:
    """`ids` in order, cut so that no message holds more than `items` ids nor is longer than `size`
    bytes (a message holds at least one id, however small the station says it must be)."""
    chunks: list[list[int]] = [[]]
    for monitor_id in ids:
        candidate = chunks[-1] + [monitor_id]
        frame = _CLEAR_FRAME_OVERHEAD + len(json.dumps({"id": candidate}, separators=(",", ":")))
        too_many = items is not None and len(candidate) > items
        too_long = size is not None and frame > size
        if chunks[-1] and (too_many or too_long):
            chunks.append([monitor_id])
        else:
            chunks[-1] = candidate
    return chunks


def variable_monitoring_clear_request(
    *, station: Station, monitor_ids: list[int], requested_by: Any = None
) -> list[Any]:
    """Send ClearVariableMonitoring (N06); the monitors the station clears (or no longer has) go.
    The ids are spread over as many requests as the station's MonitoringCtrlr ItemsPerMessage and
    BytesPerMessage (instance ClearVariableMonitoring) demand, as far as its device model tells them
    (N06.FR.04); returns the commands in the order they are sent. Raises CommandError."""
    ids = [int(i) for i in monitor_ids]
    items = device_limit(
        station=station,
        component="MonitoringCtrlr",
        variable="ItemsPerMessage",
        instance="ClearVariableMonitoring",
    )
    size = device_limit(
        station=station,
        component="MonitoringCtrlr",
        variable="BytesPerMessage",
        instance="ClearVariableMonitoring",
    )
    with transaction.atomic():
        return [
            _command_create(
                station=station,
                action="ClearVariableMonitoring",
                payload={"id": chunk},
                requested_by=requested_by,
            )
            for chunk in _clear_chunks(ids, items, size)
        ]


def monitoring_report_request(
    *,
    station: Station,
    criteria: list[str] | None = None,
    component_variables: list[dict[str, Any]] | None = None,
    requested_by: Any = None,
) -> Any:
    """Send GetMonitoringReport (N02) with a fresh requestId, optional monitoringCriteria
    (ThresholdMonitoring, DeltaMonitoring, PeriodicMonitoring) and optional components (each with its
    EVSE, connector and instance, and optionally one variable); the NotifyMonitoringReport parts that
    follow are stored as the station's monitors, and an EmptyResultSet answer drops the stored
    monitors the request covered (monitoring_report_answer_record). Raises CommandError."""
    payload: dict[str, Any] = {"requestId": _request_id()}
    if criteria:
        payload["monitoringCriteria"] = list(criteria)
    if component_variables:
        payload["componentVariable"] = [
            {
                "component": _component(item),
                **({"variable": _variable(item)} if item.get("variable") else {}),
            }
            for item in component_variables
        ]
    return _command_create(
        station=station, action="GetMonitoringReport", payload=payload, requested_by=requested_by
    )


def monitoring_base_set_request(*, station: Station, monitoring_base: str, requested_by: Any = None) -> Any:
    """Send SetMonitoringBase (N03): All, FactoryDefault or HardWiredOnly."""
    return _command_create(
        station=station,
        action="SetMonitoringBase",
        payload={"monitoringBase": monitoring_base},
        requested_by=requested_by,
    )


def monitoring_level_set_request(*, station: Station, severity: int, requested_by: Any = None) -> Any:
    """Send SetMonitoringLevel (N05): the station reports events of this severity (0-9) and more severe."""
    return _command_create(
        station=station,
        action="SetMonitoringLevel",
        payload={"severity": int(severity)},
        requested_by=requested_by,
    )


def customer_information_request(
    *,
    station: Station,
    id_token: str = "",
    id_token_type: str = "ISO14443",
    customer_identifier: str = "",
    certificate: dict[str, str] | None = None,
    report: bool = True,
    clear: bool = False,
    requested_by: Any = None,
    expires_in: int | None = None,
) -> Any:
    """Send CustomerInformation (N09 report, N10 clear) for a driver's card (`id_token`), a customer
    identifier or a certificate (a GDPR request); the NotifyCustomerInformation data that follows is
    kept per requestId (customer_information_reports). Raises CommandError."""
    payload: dict[str, Any] = {"requestId": _request_id(), "report": report, "clear": clear}
    if id_token:
        payload["idToken"] = {"idToken": id_token, "type": id_token_type}
    if customer_identifier:
        payload["customerIdentifier"] = customer_identifier
    if certificate:
        payload["customerCertificate"] = certificate
    return _command_create(
        station=station,
        action="CustomerInformation",
        payload=payload,
        requested_by=requested_by,
        expires_in=expires_in,
    )


def on_driver_deleted(event_type: str, data: dict[str, Any]) -> None:
    """A driver closed the account: every 2.0.1 station erases what it holds about the cards."""
    if data.get("id_tokens"):
        customer_data_request_all_stations(id_tokens=data["id_tokens"], driver_id=data.get("driver_id"))


# GDPR art. 12(3): a controller acts on a request within a month; a station offline that long gets it
# when it is back within that time, later the command expires (and shows so).
CUSTOMER_DATA_REQUEST_EXPIRY = 30 * 24 * 3600


@transaction.atomic
def customer_data_request_all_stations(
    *,
    id_tokens: list[str],
    driver: Any = None,
    driver_id: int | None = None,
    report: bool = False,
    clear: bool = True,
    requested_by: Any = None,
) -> CustomerDataRequest:
    """A driver's GDPR request to every 2.0.1 station at once: one durable CustomerInformation
    command (report and/or clear) per station and card, queued for stations that are offline; the
    answers and data are read with customer_data_request_results. Raises CommandError when no card is
    named or neither a report nor a clear is asked for."""
    from stations.connection.services.commands import CommandError

    uids = sorted({uid.strip() for uid in id_tokens if uid and uid.strip()})
    if not uids:
        raise CommandError("name at least one card (the driver has none)")
    if len(uids) > 20 or any(len(uid) > 36 for uid in uids):
        raise CommandError("at most 20 cards of at most 36 characters")
    if not (report or clear):
        raise CommandError("ask for the stations' report, for clearing the data, or both")
    request = CustomerDataRequest.objects.create(
        driver_id=driver.pk if driver is not None else driver_id,
        id_tokens=uids,
        report=report,
        clear=clear,
        requested_by=requested_by,
    )
    stations = Station.objects.filter(ocpp_version=Station.OcppVersion.V201).exclude(
        registration_status=Station.RegistrationStatus.REJECTED
    )
    commands = [
        customer_information_request(
            station=station,
            id_token=uid,
            report=report,
            clear=clear,
            requested_by=requested_by,
            expires_in=CUSTOMER_DATA_REQUEST_EXPIRY,
        )
        for station in stations.order_by("identity")
        for uid in uids
    ]
    request.commands.add(*commands)
    event_publish(
        "customer_data.requested",
        {"request_id": request.pk, "id_tokens": uids, "stations": len(commands) // len(uids)},
    )
    return request


def monitoring_result_record(
    *, station_id: int, action: str, payload: dict[str, Any], response: dict[str, Any]
) -> None:
    """SetVariableMonitoring / ClearVariableMonitoring answered: the stored monitors follow what the
    station accepted (a set monitor under the id the station gave it; a cleared or unknown one goes).
    Runs in command_complete's transaction."""
    if action == "ClearVariableMonitoring":
        gone = [
            int(result.get("id") or 0)
            for result in response.get("clearMonitoringResult") or []
            if result.get("status") in ("Accepted", "NotFound")
        ]
        DeviceMonitor.objects.filter(station_id=station_id, monitor_id__in=gone).delete()
        return
    for result in response.get("setMonitoringResult") or []:
        if result.get("status") != "Accepted" or result.get("id") is None:
            continue
        place = _place(result.get("component") or {}, result.get("variable") or {})
        sent: dict[str, Any] = next(
            (
                item
                for item in payload.get("setMonitoringData") or []
                if item.get("type") == result.get("type")
                and (item.get("component") or {}).get("name") == place["component"]
                and (item.get("variable") or {}).get("name") == place["variable"]
            ),
            {},
        )
        DeviceMonitor.objects.update_or_create(
            station_id=station_id,
            monitor_id=int(result["id"]),
            defaults={
                **place,
                "type": _text(result.get("type"), 30),
                "severity": min(9, max(0, int(result.get("severity") or 0))),
                "value": float(sent.get("value") or 0),
                "transaction": bool(sent.get("transaction", False)),
            },
        )
