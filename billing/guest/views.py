"""Guest pay-as-you-go pages: the QR code's connector page, the private session page, printable QR codes."""

import segno
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from billing.guest import selectors, services
from billing.models import GuestCharge
from billing.providers import ProviderError
from chargenet.permissions import UserRequest, staff_required
from stations.models import Station


def _connector_or_404(identity: str, evse_id: int):
    connector = selectors.guest_connector(identity=identity, evse_id=evse_id)
    if connector is None:
        raise Http404(_("There is no public charger with this code."))
    return connector


def _charge_or_404(token: str) -> GuestCharge:
    charge = selectors.guest_charge_by_token(token=token)
    if charge is None:
        raise Http404(_("This link is not valid."))
    return charge


def guest_connector(request: HttpRequest, identity: str, evse_id: int) -> HttpResponse:
    """The page a QR code opens: the connector's state, its tariff in words, an amount to reserve."""
    connector = _connector_or_404(identity, evse_id)
    error = ""
    if request.method == "POST":

        def link(token: str) -> tuple[str, str]:
            page = request.build_absolute_uri(reverse("guest:charge", args=[token]))
            return f"{page}?checkout=done", f"{page}?checkout=cancelled"

        try:
            charge = services.guest_charge_begin(
                connector=connector,
                amount=request.POST.get("amount", ""),
                email=request.POST.get("email", ""),
                link=link,
            )
        except services.GuestChargeError as exc:
            error = str(exc)
        else:
            return redirect(charge.checkout_url)
    offer = selectors.guest_offer(connector=connector)
    return render(
        request,
        "billing/guest_connector.html",
        {"offer": offer, "error": error, "posted": request.POST},
        status=400 if error else 200,
    )


def guest_connector_qr(request: HttpRequest, identity: str, evse_id: int) -> HttpResponse:
    """The connector's QR code (SVG) pointing at its stable guest page."""
    _connector_or_404(identity, evse_id)
    url = request.build_absolute_uri(reverse("guest:connector", args=[identity, evse_id]))
    svg = segno.make(url, error="m").svg_inline(scale=6, title=f"Charge and pay at {identity} {evse_id}")
    return HttpResponse(svg, content_type="image/svg+xml")


@staff_required
def guest_station_qr(request: UserRequest, identity: str) -> HttpResponse:
    """A printable sheet with one QR code per EVSE of a station."""
    try:
        station = Station.objects.select_related("location").get(identity=identity)
    except Station.DoesNotExist:
        raise Http404("No such station.") from None
    evse_ids: list[int] = list(station.evses.order_by("evse_id").values_list("evse_id", flat=True))
    codes = [
        {
            "evse_id": evse_id,
            "url": request.build_absolute_uri(reverse("guest:connector", args=[identity, evse_id])),
        }
        for evse_id in evse_ids
    ]
    public = bool(evse_ids) and selectors.guest_connector(identity=identity, evse_id=evse_ids[0]) is not None
    return render(
        request, "billing/guest_qr_sheet.html", {"station": station, "codes": codes, "public": public}
    )


def guest_charge(request: HttpRequest, token: str) -> HttpResponse:
    """The guest's private page: payment, live session, stop button, what was charged."""
    charge = _charge_or_404(token)
    notice = ""
    if request.GET.get("checkout") == "done" and charge.status == GuestCharge.Status.PENDING:
        try:
            services.guest_charge_confirm(charge_id=charge.pk)
        except ProviderError:
            notice = _("We could not confirm your payment yet; this page updates by itself.")
    elif request.GET.get("checkout") == "cancelled" and charge.status == GuestCharge.Status.PENDING:
        notice = _("You cancelled the payment; nothing was reserved.")
    view = selectors.guest_charge_view(charge=_charge_or_404(token))
    return render(request, "billing/guest_charge.html", {"view": view, "notice": notice})


def guest_charge_status(request: HttpRequest, token: str) -> HttpResponse:
    """The live part of the private page (htmx polls it)."""
    view = selectors.guest_charge_view(charge=_charge_or_404(token))
    return render(request, "billing/_guest_charge_status.html", {"view": view})


@require_POST
def guest_charge_stop(request: HttpRequest, token: str) -> HttpResponse:
    """The guest stops the session from the private page."""
    charge = _charge_or_404(token)
    error = ""
    try:
        services.guest_charge_stop(charge=charge)
    except services.GuestChargeError as exc:
        error = str(exc)
    view = selectors.guest_charge_view(charge=_charge_or_404(token))
    return render(
        request,
        "billing/guest_charge.html",
        {"view": view, "notice": error or _("Stopping: the charger ends the session in a moment.")},
        status=409 if error else 200,
    )
