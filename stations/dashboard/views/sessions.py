"""Charging sessions: the filtered list and the session page with its energy/power chart."""

from django.http import Http404, HttpRequest, HttpResponse

from chargenet.permissions import staff_required
from stations.dashboard import selectors
from stations.dashboard.views.base import paginate, query_without, render_page
from stations.models import Session


@staff_required
def session_list(request: HttpRequest) -> HttpResponse:
    since, until = selectors.time_window_parse(
        since=request.GET.get("since", ""), until=request.GET.get("until", "")
    )
    filters = selectors.SessionFilter(
        search=request.GET.get("q", "").strip(),
        status=request.GET.get("status", ""),
        station=request.GET.get("station", "").strip(),
        since=since,
        until=until,
    )
    context = {
        "page": paginate(request, selectors.session_search(filters=filters)),
        "query": query_without(request, "page", "fragment"),
        "statuses": Session.Status.choices,
    }
    return render_page(
        request, "stations/session_list.html", context, fragments={"rows": "stations/_session_rows.html"}
    )


@staff_required
def session_detail(request: HttpRequest, pk: int) -> HttpResponse:
    session = selectors.session_get(pk=pk)
    if session is None:
        raise Http404("no such session")
    return render_page(
        request,
        "stations/session_detail.html",
        {
            "session": session,
            "series": selectors.session_chart_series(session=session),
            # Filled by the billing app (stations does not import it); see docs/dashboard.md.
            "cost_url": f"/billing/sessions/{session.pk}/cost/",
        },
        # The chart of a running session grows with each batch of meter values.
        fragments={"chart": "stations/_session_chart.html"},
    )
