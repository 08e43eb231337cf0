"""The device model panel of a 2.0.1 station's page: the stored model, SetVariables per attribute
with the station's result shown, and GetBaseReport. Loaded into the station page with htmx."""

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_POST

from chargenet.permissions import operate_required, staff_required
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
        command = services.variables_set_request(station=station, variables=[item], requested_by=request.user)
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
