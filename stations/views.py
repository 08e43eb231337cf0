"""Operator dashboard pages."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from chargenet.permissions import staff_required
from stations import selectors


@staff_required
def dashboard(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "stations/dashboard.html",
        {
            "summary": selectors.network_summary(),
            "stations": selectors.station_list(search=request.GET.get("q", "")),
        },
    )
