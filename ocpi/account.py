"""The driver's roaming page: partner networks' charge points with live status and tariff, starting
and stopping there (the eMSP Commands sender), the roaming sessions live, and their CDRs. A driver
only sees their own commands, sessions and CDRs."""

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from chargenet.permissions import UserRequest, driver_required
from ocpi import selectors, services
from ocpi.models import PartnerLocation, PartnerSession
from ocpi.views import base_url
from rfid.models import Driver


def _driver(request: UserRequest) -> Driver:
    driver = Driver.objects.filter(user=request.user).first()
    if driver is None:
        raise Http404("no driver account")
    return driver


@driver_required
def roaming_overview(request: UserRequest) -> HttpResponse:
    """Partner charge points (their EVSE status refreshed every 5 s: `?fragment=locations`), the live
    region, and the roaming history."""
    driver = _driver(request)
    locations = selectors.partner_locations_for_drivers()
    places = {
        "locations": locations,
        "map_points": selectors.partner_map_points(
            [item["location"] for item in locations], url="#roaming-location-{pk}"
        ),
    }
    if request.GET.get("fragment") == "locations":
        return render(request, "ocpi/account__roaming_locations.html", places)
    context = {
        **places,
        **selectors.driver_roaming(driver_id=driver.pk),
        "map_tile_url": settings.MAP_TILE_URL,
        "map_tile_attribution": settings.MAP_TILE_ATTRIBUTION,
    }
    return render(request, "ocpi/account_roaming.html", context)


@driver_required
def roaming_live(request: UserRequest) -> HttpResponse:
    """The live region: the last commands' results and the roaming sessions (refreshed every 2 s)."""
    driver = _driver(request)
    return render(request, "ocpi/account__roaming_live.html", selectors.driver_roaming(driver_id=driver.pk))


@require_POST
@driver_required
def roaming_start(request: UserRequest) -> HttpResponse:
    driver = _driver(request)
    location = get_object_or_404(PartnerLocation, pk=request.POST.get("location", "0") or 0)
    try:
        services.roaming_charge_start(
            driver=driver, location=location, evse_uid=request.POST.get("evse_uid", ""),
            our_base_url=base_url(request),
        )  # fmt: skip
    except services.RoamingChargeError as exc:
        messages.error(request, f"Could not start: {exc}.")
    else:
        messages.success(request, f"Start requested at {location.name}. Plug in if you have not yet.")
    return redirect("ocpi:roaming-account")


@require_POST
@driver_required
def roaming_stop(request: UserRequest, pk: int) -> HttpResponse:
    driver = _driver(request)
    session = get_object_or_404(PartnerSession, pk=pk, driver=driver)
    try:
        services.roaming_charge_stop(driver=driver, session=session, our_base_url=base_url(request))
    except services.RoamingChargeError as exc:
        messages.error(request, f"Could not stop: {exc}.")
    else:
        messages.success(request, "Stop requested.")
    return redirect("ocpi:roaming-account")
