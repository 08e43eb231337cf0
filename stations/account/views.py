"""The driver's charging pages: live session, remote start and stop, history.

A driver only ever sees their own sessions: anything else is a 404. Remote start/stop go through
`stations.services.session_remote_start/stop` (the OCPP part); the cost of a session comes from
billing as an included fragment (URL `billing:session-cost`), so stations never imports billing.
"""

import uuid

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.dateparse import parse_date
from django.utils.translation import gettext
from django.views.decorators.http import require_POST

from chargenet.permissions import UserRequest, driver_required, staff_required
from rfid.models import Driver, IdToken
from stations import services
from stations.account import selectors
from stations.dashboard.views.base import render_page
from stations.models import Session


def _driver(request: UserRequest) -> Driver:
    driver = Driver.objects.filter(user=request.user).first()
    if driver is None:
        raise Http404("no driver account")
    return driver


def _own_session(request: UserRequest, pk: int) -> Session:
    session = selectors.session_get_for_driver(driver=_driver(request), pk=pk)
    if session is None:
        raise Http404("no such session")
    return session


@driver_required
def charging_overview(request: UserRequest) -> HttpResponse:
    """My charging: the live session or the start form. The "now" region (`?fragment=now`) is a live
    region: the live feed refreshes it on the driver's session events and, after a start
    (`?start=<command uuid>`), on that command's events until the session appears or it fails."""
    driver = _driver(request)
    start = request.GET.get("start", "")
    progress = selectors.remote_start_progress(driver=driver, command_uuid=start) if start else None
    active = [
        (session, selectors.session_live_reading(session=session))
        for session in selectors.session_list_for_driver(driver=driver, active=True)
    ]
    context = {
        "active": active,
        "targets": selectors.charging_targets_for_driver(driver=driver),
        "cards": IdToken.objects.filter(driver=driver, status=IdToken.Status.ACCEPTED).order_by("created_at"),
        "request_key": uuid.uuid4().hex,
        "progress": progress,
    }
    if request.GET.get("fragment") == "now":
        return render(request, "stations/account__now.html", context)
    context["recent"] = selectors.session_list_for_driver(driver=driver, active=False)[:5]
    return render(request, "stations/account_charging.html", context)


@require_POST
@driver_required
def charging_start(request: UserRequest) -> HttpResponse:
    driver = _driver(request)
    target = request.POST.get("target", "")
    identity, _, evse = target.rpartition("/")
    try:
        evse_id = int(evse)
        id_token_id = int(request.POST.get("id_token", ""))
    except ValueError:
        messages.error(request, gettext("Choose a station, a connector and one of your cards."))
        return redirect("charging:overview")
    remote_start = getattr(services, "session_remote_start", None)
    try:
        station, token = selectors.charging_target_check(
            driver=driver, identity=identity, evse_id=evse_id, id_token_id=id_token_id
        )
        if remote_start is None:
            raise services.StationError("remote start is not available on this server yet")
        command = remote_start(
            station=station,
            evse_id=evse_id,
            id_token=token,
            requested_by=request.user,
            idempotency_key=request.POST.get("request_key", "")[:100],
        )
    except (selectors.ChargingError, services.StationError) as exc:
        messages.error(request, gettext("Could not start: %(exc)s.") % {"exc": exc})
    else:
        messages.success(
            request,
            gettext("Start requested at %(identity)s, connector %(evse_id)s. Plug in if you have not yet.")
            % {"identity": station.identity, "evse_id": evse_id},
        )
        return redirect(f"{reverse('charging:overview')}?start={command.uuid}")
    return redirect("charging:overview")


@require_POST
@driver_required
def charging_stop(request: UserRequest, pk: int) -> HttpResponse:
    session = _own_session(request, pk)
    remote_stop = getattr(services, "session_remote_stop", None)
    if session.status != Session.Status.ACTIVE:
        messages.error(request, gettext("This session has already ended."))
    elif remote_stop is None:
        messages.error(
            request, gettext("Remote stop is not available on this server yet; stop at the station.")
        )
    else:
        try:
            remote_stop(session=session, requested_by=request.user)
        except services.StationError as exc:
            messages.error(request, gettext("Could not stop: %(exc)s.") % {"exc": exc})
        else:
            messages.success(request, gettext("Stop requested. The session ends when the station confirms."))
    return redirect("charging:session-detail", pk=session.pk)


@driver_required
def session_detail(request: UserRequest, pk: int) -> HttpResponse:
    """One of the driver's sessions; `?fragment=live` is its live card, which the live feed
    refreshes on the session's events (so a stop shows without a reload)."""
    session = _own_session(request, pk)
    return render_page(
        request,
        "stations/account_session.html",
        {"session": session, "reading": selectors.session_live_reading(session=session)},
        fragments={"live": "stations/account__session_live.html"},
    )


@driver_required
def session_live(request: UserRequest, pk: int) -> HttpResponse:
    """The live figures of one session, as a fragment the page refreshes."""
    session = _own_session(request, pk)
    return render(
        request,
        "stations/account__live.html",
        {"session": session, "reading": selectors.session_live_reading(session=session)},
    )


@driver_required
def charging_history(request: UserRequest) -> HttpResponse:
    driver = _driver(request)
    filters = {name: request.GET.get(name, "").strip() for name in ("since", "until", "station", "card")}
    card = filters["card"]
    sessions = selectors.session_list_for_driver(
        driver=driver,
        since=_date(filters["since"]),
        until=_date(filters["until"]),
        station=filters["station"],
        id_token_id=int(card) if card.isdigit() else None,
    )
    page = Paginator(sessions, 25).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "stations/account_history.html",
        {
            "page": page,
            "filters": filters,
            "query": query.urlencode(),
            "cards": IdToken.objects.filter(driver=driver).order_by("created_at"),
        },
    )


def _date(value: str):
    try:
        return parse_date(value) if value else None
    except ValueError:
        return None


@staff_required
def card_sessions(request: HttpRequest, pk: int) -> HttpResponse:
    """Operators: the recent sessions of a card, as a fragment for the card page (rfid)."""
    token = get_object_or_404(IdToken, pk=pk)
    sessions = Session.objects.filter(id_token=token).select_related("station").order_by("-started_at")[:20]
    return render(request, "stations/account__card_sessions.html", {"sessions": sessions})
