"""The dashboard's Roaming section: partners, adding one, a partner's page with its request log."""

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from chargenet.permissions import operate_required, staff_required
from ocpi import selectors, services
from ocpi.models import Partner, PartnerLocation
from ocpi.views import versions_url
from rfid.models import IdToken


@staff_required
def partner_list(request: HttpRequest) -> HttpResponse:
    return render(request, "ocpi/partner_list.html", {"partners": selectors.partner_list()})


@operate_required
def partner_create(request: HttpRequest) -> HttpResponse:
    errors: list[str] = []
    if request.method == "POST":
        roles = [r for r in request.POST.getlist("roles") if r] or ["EMSP"]
        try:
            partner, token_a = services.partner_create(
                name=request.POST.get("name", ""),
                country_code=request.POST.get("country_code", ""),
                party_id=request.POST.get("party_id", ""),
                roles=roles,
            )
        except services.PartnerError as exc:
            errors.append(str(exc))
        else:
            # Token A is shown this once, on the new partner's page.
            return _partner_page(request, partner, token_a=token_a)
    return render(
        request,
        "ocpi/partner_form.html",
        {"initial": request.POST, "errors": errors, "roles": services.ROLES},
        status=400 if errors else 200,
    )


@staff_required
def partner_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _partner_page(request, get_object_or_404(Partner, pk=pk))


@operate_required
def partner_register(request: HttpRequest, pk: int) -> HttpResponse:
    partner = get_object_or_404(Partner, pk=pk)
    error = ""
    if request.method == "POST":
        try:
            partner = services.partner_register_with(
                partner=partner,
                versions_url=request.POST.get("versions_url", "").strip(),
                token_a=request.POST.get("token_a", "").strip(),
                our_versions_url=versions_url(request),
            )
        except services.PartnerError as exc:
            error = str(exc)
    return _partner_page(request, partner, register_error=error, status=400 if error else 200)


def _partner_page(
    request: HttpRequest, partner: Partner, *, token_a: str = "", register_error: str = "", status: int = 200
) -> HttpResponse:
    context = {
        "partner": partner,
        "token_a": token_a,
        "versions_url": versions_url(request),
        "register_error": register_error,
        **selectors.partner_activity(partner=partner),
    }
    return render(request, "ocpi/partner_detail.html", context, status=status)


@staff_required
def partner_network(request: HttpRequest) -> HttpResponse:
    """Partner networks (the eMSP role): per CPO partner its locations on a map (`?fragment=map`:
    the markers' live EVSE status), our drivers' sessions and CDRs there, and the reconciliation
    of its CDRs against the sessions it pushed."""
    points = selectors.partner_map_points(
        list(PartnerLocation.objects.select_related("partner").order_by("id")), url="/roaming/{partner}/"
    )
    if request.GET.get("fragment") == "map":
        return render(request, "ocpi/_partner_map_points.html", {"map_points": points})
    context = {
        "networks": selectors.partner_network_overview(),
        "map_points": points,
        "map_tile_url": settings.MAP_TILE_URL,
        "map_tile_attribution": settings.MAP_TILE_ATTRIBUTION,
    }
    return render(request, "ocpi/partner_network.html", context)


@staff_required
def roaming_cards(request: HttpRequest) -> HttpResponse:
    """Our drivers' cards offered to CPO partners; an operator enables or withdraws one by uid."""
    error = ""
    if request.method == "POST":
        if not getattr(request.user, "can_operate", False):
            return HttpResponse("operators only", status=403)
        card = IdToken.objects.filter(uid__iexact=request.POST.get("uid", "").strip()).first()
        try:
            if card is None:
                raise services.RoamingCardError("no card with this uid")
            services.emsp_token_enable(id_token=card, enabled=request.POST.get("enabled", "1") == "1")
        except services.RoamingCardError as exc:
            error = str(exc)
    context = {"tokens": selectors.emsp_token_list().select_related("id_token__driver"), "error": error}
    return render(request, "ocpi/roaming_cards.html", context, status=400 if error else 200)
