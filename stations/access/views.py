"""Operator pages for who may charge where: private stations and their local authorization lists."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext
from django.views.decorators.http import require_POST

from chargenet.permissions import operate_required, staff_required
from rfid.models import Driver
from stations.access.local_lists import local_list_sync_request
from stations.access.services import AccessError, station_access_set
from stations.models import Station


@staff_required
def access_list(request: HttpRequest) -> HttpResponse:
    stations = (
        Station.objects.select_related("location", "local_list")
        .prefetch_related("allowed_drivers")
        .order_by("identity")
    )
    return render(request, "stations/access_list.html", {"stations": stations})


@operate_required
def access_edit(request: HttpRequest, identity: str) -> HttpResponse:
    station = get_object_or_404(Station, identity=identity)
    error = ""
    if request.method == "POST":
        emails = [
            e.strip().lower() for e in request.POST.get("drivers", "").replace(",", "\n").split() if e.strip()
        ]
        drivers = list(Driver.objects.filter(email__in=emails))
        missing = sorted(set(emails) - {d.email.lower() for d in drivers})
        try:
            if missing:
                raise AccessError(f"no driver with e-mail {', '.join(missing)}")
            station_access_set(
                station=station,
                is_public=request.POST.get("is_public") == "on",
                drivers=drivers,
                groups=request.POST.get("groups", "").replace(",", " ").split(),
                local_list_enabled=request.POST.get("local_list_enabled") == "on",
            )
        except AccessError as exc:
            error = str(exc)
        else:
            messages.success(
                request, gettext("Access to %(identity)s saved.") % {"identity": station.identity}
            )
            return redirect("access:list")
    return render(
        request,
        "stations/access_edit.html",
        {
            "station": station,
            "error": error,
            "drivers": "\n".join(d.email for d in station.allowed_drivers.all()),
            "groups": " ".join(station.allowed_groups),
        },
    )


@require_POST
@operate_required
def access_sync(request: HttpRequest, identity: str) -> HttpResponse:
    station = get_object_or_404(Station, identity=identity)
    if local_list_sync_request(station_ids=[station.pk], delay=0):
        messages.success(
            request,
            gettext("Local list of %(identity)s will be synchronised now.") % {"identity": station.identity},
        )
    else:
        messages.error(
            request,
            gettext("%(identity)s keeps no local list; enable it first.") % {"identity": station.identity},
        )
    return redirect("access:list")
