"""Locations: list, create and edit, with time zone and coordinates."""

from decimal import Decimal, InvalidOperation

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from chargenet.permissions import operate_required, staff_required
from stations.dashboard import selectors
from stations.models import Location
from stations.services import StationError, location_update
from stations.services import location_create as location_create_service

TEXT_FIELDS = ("name", "address", "city", "postal_code", "country", "time_zone")


@staff_required
def location_list(request: HttpRequest) -> HttpResponse:
    return render(request, "stations/location_list.html", {"locations": selectors.location_list()})


def _parse(post) -> tuple[dict, list[str]]:
    fields: dict = {name: post.get(name, "").strip() for name in TEXT_FIELDS}
    fields["is_public"] = post.get("is_public") == "on"
    errors = []
    if not fields["name"]:
        errors.append("a location needs a name")
    fields["country"] = fields["country"].upper() or "NLD"
    fields["time_zone"] = fields["time_zone"] or "UTC"
    for name, bound in (("latitude", 90), ("longitude", 180)):
        raw = post.get(name, "").strip()
        if not raw:
            fields[name] = None
            continue
        try:
            value = Decimal(raw).quantize(Decimal("0.000001"))
        except InvalidOperation:
            errors.append(f"{name} must be a decimal number")
            continue
        if not -bound <= value <= bound:
            errors.append(f"{name} must be between -{bound} and {bound}")
        fields[name] = value
    return fields, errors


def _form(request: HttpRequest, location: Location | None) -> HttpResponse:
    errors: list[str] = []
    if request.method == "POST":
        fields, errors = _parse(request.POST)
        if not errors:
            try:
                if location is None:
                    location_create_service(**fields)
                else:
                    location_update(location=location, **fields)
            except StationError as exc:
                errors.append(str(exc))
            else:
                return redirect("location-list")
    initial = request.POST if request.method == "POST" else location
    return render(
        request,
        "stations/location_form.html",
        {"location": location, "initial": initial, "errors": errors},
        status=400 if errors else 200,
    )


@operate_required
def location_create(request: HttpRequest) -> HttpResponse:
    return _form(request, None)


@operate_required
def location_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _form(request, get_object_or_404(Location, pk=pk))
