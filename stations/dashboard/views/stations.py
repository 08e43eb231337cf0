"""Stations: the searchable list, the station page with its actions, and registration."""

from urllib.parse import urlencode

from django.contrib import messages
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext
from django.views.decorators.http import require_POST

from chargenet.permissions import UserRequest, operate_required, staff_required
from stations.alerts import services as alerts
from stations.dashboard import actions, selectors
from stations.dashboard.views.base import is_htmx, paginate, query_without, render_page
from stations.models import Connector, Location, OcppMessage, Station
from stations.services import StationError, station_ocpp_url, station_tags_change, station_tags_set
from stations.services import station_create as station_register


def _station_search(query: QueryDict | dict[str, str]) -> QuerySet[Station]:
    location = query.get("location", "")
    return selectors.station_search(
        search=query.get("q", "").strip(),
        online=query.get("online", ""),
        connector_status=query.get("status", ""),
        location_id=int(location) if location.isdigit() else None,
        tag=query.get("tag", "").strip(),
    )


@staff_required
def station_list(request: HttpRequest) -> HttpResponse:
    stations = _station_search(request.GET)
    context = {
        "page": paginate(request, stations),
        "query": query_without(request, "page", "fragment"),
        "statuses": Connector.Status.choices,
        "locations": Location.objects.order_by("name").only("id", "name"),
        "tags": selectors.tag_list(),
    }
    return render_page(
        request, "stations/station_list.html", context, fragments={"rows": "stations/_station_rows.html"}
    )


def _station_or_404(identity: str) -> Station:
    station = selectors.station_get(identity=identity)
    if station is None:
        raise Http404("no such station")
    return station


@staff_required
def station_detail(request: UserRequest, identity: str) -> HttpResponse:
    station = _station_or_404(identity)
    since, until = selectors.time_window_parse(
        since=request.GET.get("since", ""), until=request.GET.get("until", "")
    )
    message_filter = selectors.MessageFilter(
        action=request.GET.get("action", "").strip(),
        direction=request.GET.get("direction", ""),
        since=since,
        until=until,
    )
    fragment = request.GET.get("fragment")
    wants = lambda name: fragment in (None, name)  # noqa: E731 - render only what a fragment needs
    context = {
        "station": station,
        "sessions": selectors.station_sessions_active(station=station) if wants("sessions") else [],
        "commands": selectors.station_commands_recent(station=station) if wants("commands") else [],
        "alerts": alerts.alert_list(station=station) if wants("alerts") else [],
        "messages_log": selectors.station_messages(
            station=station, filters=message_filter, before=_cursor(request.GET.get("before", ""))
        )
        if wants("messages")
        else None,
        "message_filter": request.GET,
        "message_query": query_without(request, "before", "fragment"),
        "directions": OcppMessage.Direction.choices,
    }
    if fragment is None:
        context.update(
            configuration=selectors.station_configuration(station=station),
            local_list_version=selectors.station_local_list_version(station=station),
            message_actions=selectors.station_message_actions(station=station),
            actions=actions.ACTIONS,
            triggerable=actions.TRIGGERABLE,
            id_tokens=selectors.id_token_list_usable() if request.user.can_operate else [],
        )
    return render_page(
        request,
        "stations/station_detail.html",
        context,
        fragments={
            "connectors": "stations/_station_connectors.html",
            "sessions": "stations/_station_sessions.html",
            "commands": "stations/_station_commands.html",
            "alerts": "stations/_station_alerts.html",
            "messages": "stations/_station_messages.html",
            "header": "stations/_station_header.html",
        },
    )


def _cursor(raw: str) -> int | None:
    return int(raw) if raw.isdigit() else None


def _tag_words(raw: str) -> list[str]:
    return [word for word in raw.replace(",", " ").split() if word]


@require_POST
@operate_required
def station_list_tags(request: HttpRequest) -> HttpResponse:
    """Add or remove a tag on every station the list's filters match (the bulk action)."""
    filters = {key: request.POST.get(key, "") for key in ("q", "online", "status", "location")}
    filters["tag"] = request.POST.get("tag_filter", "")
    stations = _station_search(filters)
    tags = _tag_words(request.POST.get("bulk_tag", ""))
    remove = request.POST.get("change") == "remove"
    try:
        count = station_tags_change(
            stations=stations, add=[] if remove else tags, remove=tags if remove else []
        )
    except StationError as exc:
        messages.error(request, str(exc))
    else:
        template = (
            gettext("Removed %(tags)s from %(count)d stations.")
            if remove
            else gettext("Tagged %(count)d stations with %(tags)s.")
        )
        messages.success(request, template % {"tags": ", ".join(tags), "count": count})
    return redirect(f"{reverse('station-list')}?{urlencode({k: v for k, v in filters.items() if v})}")


@require_POST
@operate_required
def station_tags(request: HttpRequest, identity: str) -> HttpResponse:
    """Replace a station's tags (the station page's tag form)."""
    station = _station_or_404(identity)
    try:
        station_tags_set(station=station, tags=_tag_words(request.POST.get("tags", "")))
    except StationError as exc:
        messages.error(request, str(exc))
    return redirect("station-detail", identity=station.identity)


@require_POST
@operate_required
def station_command(request: HttpRequest, identity: str) -> HttpResponse:
    """Run one action button of the station page; the command's status then updates live."""
    station = _station_or_404(identity)
    name = request.POST.get("action", "")
    error = ""
    try:
        command = actions.station_action_run(
            station=station, name=name, data=request.POST.dict(), requested_by=request.user
        )
    except StationError as exc:
        error = str(exc)
    if is_htmx(request):
        response = render(
            request,
            "stations/_station_commands.html",
            {
                "station": station,
                "commands": selectors.station_commands_recent(station=station),
                "command_error": error,
            },
        )
        return response
    if error:
        messages.error(request, error)
    else:
        messages.success(
            request,
            gettext("%(action)s queued for %(identity)s.")
            % {"action": command.action, "identity": station.identity},
        )
    return redirect("station-detail", identity=station.identity)


@operate_required
def station_create(request: HttpRequest) -> HttpResponse:
    """Register a station; its generated password is shown once, with the charger's settings."""
    errors: list[str] = []
    form = request.POST if request.method == "POST" else {}
    if request.method == "POST":
        location = request.POST.get("location", "")
        try:
            evses = int(request.POST.get("evses") or 1)
            if not 1 <= evses <= 16:
                raise ValueError
        except ValueError:
            errors.append("EVSEs must be a number from 1 to 16")
            evses = 1
        try:
            security_profile = int(request.POST.get("security_profile") or 1)
        except ValueError:
            security_profile = 0
        if security_profile not in Station.SecurityProfile.values:
            errors.append("choose a security profile")
        version = request.POST.get("ocpp_version", "")
        if version not in Station.OcppVersion.values:
            errors.append("choose an OCPP version")
        if not errors:
            try:
                station, password = station_register(
                    identity=request.POST.get("identity", "").strip(),
                    name=request.POST.get("name", "").strip(),
                    location=Location.objects.filter(pk=location).first() if location.isdigit() else None,
                    ocpp_version=version,
                    security_profile=security_profile,
                    evses=evses,
                )
            except StationError as exc:
                errors.append(str(exc))
            else:
                response = render(
                    request,
                    "stations/station_created.html",
                    {
                        "station": station,
                        "password": password,
                        "ocpp_url": station_ocpp_url(security_profile=security_profile),
                    },
                )
                # The password is shown once: no cache may keep a copy.
                response["Cache-Control"] = "no-store"
                return response
    return render(
        request,
        "stations/station_create.html",
        {
            "errors": errors,
            "form": form,
            "locations": Location.objects.order_by("name").only("id", "name"),
            "versions": Station.OcppVersion.choices,
            "profiles": Station.SecurityProfile.choices,
        },
        status=400 if errors else 200,
    )
