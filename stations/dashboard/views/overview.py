"""The network overview: tiles, recent faults, the locations map and the billing slot."""

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from chargenet.permissions import staff_required
from stations.dashboard import selectors
from stations.dashboard.views.base import render_page


@staff_required
def dashboard(request: HttpRequest) -> HttpResponse:
    fragment = request.GET.get("fragment")
    context = {
        "summary": selectors.overview_summary() if fragment in (None, "summary") else None,
        "faults": selectors.connector_list_faulted() if fragment in (None, "faults") else None,
        "map_points": selectors.location_list_mapped() if fragment is None else None,
        "map_tile_url": settings.MAP_TILE_URL,
        "map_tile_attribution": settings.MAP_TILE_ATTRIBUTION,
    }
    return render_page(
        request,
        "stations/dashboard.html",
        context,
        fragments={"summary": "stations/_overview_summary.html", "faults": "stations/_fault_list.html"},
    )
