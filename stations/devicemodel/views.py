"""The device model panel of a 2.0.1 station's page: the stored model, SetVariables per attribute
with the station's result shown, and GetBaseReport; its monitors (Set/ClearVariableMonitoring,
GetMonitoringReport, SetMonitoringBase/Level) and customer information requests with their data. Loaded into the station page with htmx."""

import math
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from chargenet.permissions import UserRequest, operate_required, staff_required
from stations.connection.services.commands import CommandError, command_wait
from stations.dashboard import selectors as dashboard_selectors
from stations.devicemodel import selectors, services
from stations.models import DeviceVariable, Station

# How long the panel waits for the station's answer to SetVariables before showing "sent".
SET_WAIT_SECONDS = 10.0


def _station_or_404(identity: str) -> Station:
    station = dashboard_selectors.station_get(identity=identity)
    if station is None:
        raise Http404("no such station")
    return station


def _panel(request: HttpRequest, station: Station, **extra: object) -> HttpResponse:
    context = {
        "station": station,
        "components": selectors.device_model_components(station=station),
        "reports": selectors.station_reports(station=station, kind="device_model")[:1],
        "display_messages": selectors.display_messages(station=station),
        "monitors": selectors.device_monitors(station=station),
        "customer_requests": selectors.customer_information_requests(station=station)[:10],
        **extra,
    }
    return render(request, "stations/_device_model.html", context, status=400 if extra.get("error") else 200)


@staff_required
def device_model_panel(request: HttpRequest, identity: str) -> HttpResponse:
    return _panel(request, _station_or_404(identity))


@require_POST
@operate_required
def device_model_set(request: HttpRequest, identity: str) -> HttpResponse:
    """SetVariables for one attribute; the panel shows the station's result for it."""
    station = _station_or_404(identity)
    row = DeviceVariable.objects.filter(station=station, pk=request.POST.get("variable", "")).first()
    if row is None:
        return _panel(request, station, error="That variable is not in the station's device model.")
    item = {
        "component": row.component,
        "component_instance": row.component_instance,
        "evse_id": row.evse_id,
        "connector_id": row.connector_id,
        "variable": row.variable,
        "variable_instance": row.variable_instance,
        "attribute_type": row.attribute_type,
        "value": request.POST.get("value", "")[:1000],
    }
    try:
        (command,) = services.variables_set_request(
            station=station, variables=[item], requested_by=request.user
        )
    except CommandError as exc:
        return _panel(request, station, error=str(exc))
    command = command_wait(command=command, timeout=SET_WAIT_SECONDS)
    results = (command.response or {}).get("setVariableResult") or []
    result = results[0] if results else {}
    info = result.get("attributeStatusInfo") or {}
    outcome = {
        "variable_id": row.pk,
        "status": result.get("attributeStatus") or command.get_status_display(),
        "info": " ".join(str(x) for x in (info.get("reasonCode"), info.get("additionalInfo")) if x),
        "error": command.error,
    }
    return _panel(request, station, outcome=outcome)


@require_POST
@operate_required
def device_model_report(request: HttpRequest, identity: str) -> HttpResponse:
    """GetBaseReport; the model fills in as the station's NotifyReport parts arrive."""
    station = _station_or_404(identity)
    base = request.POST.get("report_base", "FullInventory")
    try:
        services.base_report_request(station=station, report_base=base, requested_by=request.user)
    except CommandError as exc:
        return _panel(request, station, error=str(exc))
    return _panel(request, station, notice="Report requested: the model fills in as the station sends it.")


MONITOR_TYPES = ("UpperThreshold", "LowerThreshold", "Delta", "Periodic", "PeriodicClockAligned")
MONITORING_BASES = ("All", "FactoryDefault", "HardWiredOnly")


def _int(value: str, low: int, high: int) -> int:
    number = int(value)
    if not low <= number <= high:
        raise ValueError(f"{number} is not between {low} and {high}")
    return number


def _number(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise ValueError("the monitor's value must be a number") from None
    if not math.isfinite(number):
        raise ValueError("the monitor's value must be a number")
    return number


def _monitoring_send(request: HttpRequest, station: Station, op: str) -> str:
    """One monitoring or customer information request from the panel's forms; returns the notice.
    Raises ValueError (bad input) or CommandError."""
    post = request.POST
    user = request.user
    if op == "monitor-set":
        monitor_type = post.get("type", "")
        if monitor_type not in MONITOR_TYPES:
            raise ValueError("choose a monitor type")
        if not post.get("component", "").strip() or not post.get("variable", "").strip():
            raise ValueError("name the component and the variable")
        evse = post.get("evse_id", "").strip()
        item = {
            "component": post["component"].strip()[:50],
            "evse_id": _int(evse, 0, 2**31 - 1) if evse else None,
            "variable": post["variable"].strip()[:50],
            "type": monitor_type,
            "value": _number(post.get("threshold", "")),
            "severity": _int(post.get("severity", ""), 0, 9),
        }
        services.variable_monitoring_set_request(station=station, monitors=[item], requested_by=user)
        return "Monitor sent: it is listed once the station accepts it."
    if op == "monitor-clear":
        services.variable_monitoring_clear_request(
            station=station, monitor_ids=[_int(post.get("monitor_id", ""), 0, 2**31 - 1)], requested_by=user
        )
        return "Clear sent: the monitor goes once the station clears it."
    if op == "monitoring-report":
        services.monitoring_report_request(station=station, requested_by=user)
        return "Monitoring report requested: the monitors fill in as the station sends them."
    if op == "monitoring-base":
        base = post.get("monitoring_base", "")
        if base not in MONITORING_BASES:
            raise ValueError("choose a monitoring base")
        services.monitoring_base_set_request(station=station, monitoring_base=base, requested_by=user)
        return f"Monitoring base {base} sent."
    if op == "monitoring-level":
        severity = _int(post.get("severity", ""), 0, 9)
        services.monitoring_level_set_request(station=station, severity=severity, requested_by=user)
        return f"Monitoring level {severity} sent."
    if op == "customer-information":
        id_token = post.get("id_token", "").strip()[:36]
        customer = post.get("customer_identifier", "").strip()[:64]
        report, clear = bool(post.get("report")), bool(post.get("clear"))
        if not id_token and not customer:
            raise ValueError("name the customer: a card or a customer identifier")
        if not report and not clear:
            raise ValueError("ask for the data, to clear it, or both")
        services.customer_information_request(
            station=station,
            id_token=id_token,
            customer_identifier=customer,
            report=report,
            clear=clear,
            requested_by=user,
        )
        return "Customer information requested: the data the station returns is listed below."
    raise ValueError("unknown request")


@require_POST
@operate_required
def device_model_monitoring(request: HttpRequest, identity: str) -> HttpResponse:
    """The monitoring and customer information forms of the panel (field `op` names the request)."""
    station = _station_or_404(identity)
    try:
        notice = _monitoring_send(request, station, request.POST.get("op", ""))
    except ValueError as exc:
        return _panel(request, station, error=f"Not sent: {exc}.")
    except CommandError as exc:
        return _panel(request, station, error=str(exc))
    return _panel(request, station, notice=notice)


def _card_driver(uids: list[str]) -> Any:
    """The driver who owns the first of these cards (the request is shown as theirs), or None."""
    from rfid.models import IdToken

    token = IdToken.objects.filter(uid__in=uids, driver__isnull=False).select_related("driver").first()
    return token.driver if token is not None else None


@staff_required
def customer_data_request_list(request: UserRequest) -> HttpResponse:
    """A driver's GDPR request to every 2.0.1 station (form, operators only) and the requests made."""
    error = ""
    if request.method == "POST":
        if not request.user.can_operate:
            raise PermissionDenied("Your role may view but not act.")
        uids = [uid.strip() for uid in request.POST.get("id_tokens", "").replace(",", " ").split()]
        try:
            created = services.customer_data_request_all_stations(
                id_tokens=uids,
                driver=_card_driver(uids),
                report="report" in request.POST,
                clear="clear" in request.POST,
                requested_by=request.user,
            )
        except CommandError as exc:
            error = str(exc)
        else:
            return redirect("customer-data-request-detail", pk=created.pk)
    context = {
        "requests": selectors.customer_data_requests()[:50],
        "id_tokens": request.GET.get("id_token", "")[:36],
        "error": error,
    }
    return render(request, "stations/customer_data_request_list.html", context, status=400 if error else 200)


@staff_required
def customer_data_request_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """Every station's answer to one GDPR request and the data it returned (refreshes while waiting)."""
    found = selectors.customer_data_requests().filter(pk=pk).first()
    if found is None:
        raise Http404("no such request")
    results = selectors.customer_data_request_results(request=found)
    context = {
        "found": found,
        "results": results,
        "waiting": any(r["status"] in ("queued", "sent") for r in results),
    }
    return render(request, "stations/customer_data_request_detail.html", context)
