"""Smart-charging pages: a station's profiles and composite chart, a location's capacity,
allocations and schedule timeline, and the driver's note on a limited session.
Interfaces only: parse → one service or selector call → render."""

from datetime import datetime, time
from decimal import Decimal, InvalidOperation

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_POST

from chargenet.errors import DomainError
from chargenet.permissions import UserRequest, driver_required, operate_required, staff_required
from rfid.models import Driver
from smartcharging import selectors, services
from smartcharging.models import ScheduleRule
from stations.account.selectors import session_get_for_driver
from stations.models import Location, Session, Station

WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


def _station(identity: str) -> Station:
    station = Station.objects.select_related("location").filter(identity=identity).first()
    if station is None:
        raise Http404("no such station")
    return station


@staff_required
def station_smart(request: HttpRequest, identity: str) -> HttpResponse:
    station = _station(identity)
    evse_id = int(request.GET["evse"]) if request.GET.get("evse", "").isdigit() else 0
    unit = "A" if request.GET.get("unit") == "A" else "W"
    composite = selectors.station_composite(station=station, evse_id=evse_id, duration=86400, unit=unit)
    limits = [s.limit for s in composite.slots if s.limit is not None]
    ceiling = max([*limits, 22000.0 if unit == "W" else 32.0])
    reported = selectors.station_reported_composite(station=station)
    rules = selectors.schedule_rule_list(station=station)
    tz = station.location.time_zone if station.location else "UTC"
    context = {
        "station": station,
        "profiles": selectors.charging_profile_list(station=station)[:50],
        "composite": composite,
        "bars": selectors.composite_chart(composite, ceiling=ceiling),
        "ceiling": ceiling,
        "evse_id": evse_id,
        "unit": unit,
        "reported": reported,
        "reported_periods": selectors.reported_periods(reported),
        "timeline": selectors.schedule_timeline(rules=rules, tz_name=tz),
        "rules": rules,
        "time_zone": tz,
        "weekdays": WEEKDAYS,
    }
    return render(request, "smartcharging/station_smart.html", context)


def _periods(text: str) -> list[dict]:
    """'0:16, 3600:8' → [{"start": 0, "limit": 16}, {"start": 3600, "limit": 8}]; a lone number
    is one period from 0."""
    periods = []
    for part in [p.strip() for p in text.split(",") if p.strip()]:
        start, _, limit = part.rpartition(":")
        try:
            periods.append({"start": int(start or 0), "limit": float(Decimal(limit))})
        except (ValueError, InvalidOperation):
            raise services.SmartChargingError(f"cannot read the period {part!r}; write start:limit") from None
    return periods


def _when(value: str) -> datetime | None:
    if not value:
        return None
    parsed = parse_datetime(value)
    if parsed is None:
        raise services.SmartChargingError(f"cannot read the time {value!r}")
    return parsed


@operate_required
@require_POST
def station_profile_send(request: UserRequest, identity: str) -> HttpResponse:
    station = _station(identity)
    post = request.POST
    try:
        phases = int(post["phases"]) if post.get("phases", "").isdigit() else None
        spec = services.ProfileSpec(
            purpose=post.get("purpose", ""),
            unit=post.get("unit", "W"),
            evse_id=int(post.get("evse_id") or 0),
            stack_level=int(post.get("stack_level") or 0),
            kind=post.get("kind", "Absolute"),
            recurrency=post.get("recurrency") or None,
            periods=[{**p, "phases": phases} for p in _periods(post.get("periods", ""))],
            start_schedule=_when(post.get("start_schedule", "")),
            duration=int(post["duration"]) if post.get("duration", "").isdigit() else None,
            valid_from=_when(post.get("valid_from", "")),
            valid_to=_when(post.get("valid_to", "")),
        )
        command = services.charging_profile_send(station=station, spec=spec, requested_by=request.user)
    except (DomainError, ValueError) as exc:
        messages.error(request, f"Profile not sent: {exc}")
    else:
        profile = command.payload.get("csChargingProfiles") or command.payload.get("chargingProfile") or {}
        number = profile.get("chargingProfileId", profile.get("id"))
        messages.success(request, f"SetChargingProfile queued (profile {number}).")
    return redirect("smartcharging:station", identity=identity)


@operate_required
@require_POST
def station_profile_clear(request: UserRequest, identity: str, profile_id: int) -> HttpResponse:
    try:
        services.charging_profile_clear(
            station=_station(identity), profile_id=profile_id, requested_by=request.user
        )
    except DomainError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"ClearChargingProfile queued for profile {profile_id}.")
    return redirect("smartcharging:station", identity=identity)


@operate_required
@require_POST
def station_composite_request(request: UserRequest, identity: str) -> HttpResponse:
    try:
        services.composite_schedule_request(
            station=_station(identity),
            evse_id=int(request.POST.get("evse_id") or 0),
            unit=request.POST.get("unit", "W"),
            requested_by=request.user,
        )
    except (DomainError, ValueError) as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "GetCompositeSchedule queued; the station's answer appears below.")
    return redirect("smartcharging:station", identity=identity)


@staff_required
def location_smart(request: HttpRequest, pk: int) -> HttpResponse:
    location = get_object_or_404(Location, pk=pk)
    rules = selectors.schedule_rule_list(location_id=location.pk)
    site = selectors.site_capacity_get(location_id=location.pk)
    context = {
        "location": location,
        "site": site,
        "windows": [
            {**w, "days": " ".join(WEEKDAYS[d] for d in w["weekdays"]) or "every day"}
            for w in (site.capacity_windows if site else [])
        ],
        "circuits": selectors.circuit_list(location_id=location.pk),
        "decisions": selectors.allocation_decision_list(location_id=location.pk)[:50],
        "rules": rules,
        "timeline": selectors.schedule_timeline(rules=rules, tz_name=location.time_zone),
        "kinds": ScheduleRule.Kind.choices,
        "weekdays": WEEKDAYS,
    }
    return render(request, "smartcharging/location_smart.html", context)


@operate_required
@require_POST
def location_capacity_set(request: UserRequest, pk: int) -> HttpResponse:
    location = get_object_or_404(Location, pk=pk)
    post = request.POST
    try:
        value = Decimal(post.get("capacity", ""))
        unit = post.get("capacity_unit", "A")
        services.site_capacity_set(
            location=location,
            capacity_a=value if unit == "A" else None,
            capacity_kw=value if unit == "kW" else None,
            min_current_a=Decimal(post.get("min_current_a") or "6"),
            fallback_current_a=Decimal(post.get("fallback_current_a") or "6"),
            enabled=bool(post.get("enabled")),
        )
    except InvalidOperation:
        messages.error(request, "Capacity not saved: give numbers.")
    except DomainError as exc:
        messages.error(request, f"Capacity not saved: {exc}")
    else:
        messages.success(request, "Capacity saved; the sessions are shared out again.")
    return redirect("smartcharging:location", pk=pk)


def _time(value: str) -> time | None:
    try:
        return time.fromisoformat(value) if value else None
    except ValueError:
        raise services.SmartChargingError(f"cannot read the time {value!r}") from None


@operate_required
@require_POST
def location_rule_create(request: UserRequest, pk: int) -> HttpResponse:
    location = get_object_or_404(Location, pk=pk)
    post = request.POST
    try:
        identity = post.get("station", "").strip()
        station = Station.objects.filter(identity=identity, location=location).first() if identity else None
        if identity and station is None:
            raise services.SmartChargingError(f"no station {identity} at {location.name}")
        services.schedule_rule_create(
            name=post.get("name", "").strip() or "Rule",
            kind=post.get("kind", ""),
            location=None if station else location,
            station=station,
            weekdays=[int(d) for d in post.getlist("weekdays") if d.isdigit()],
            start_time=_time(post.get("start_time", "")),
            end_time=_time(post.get("end_time", "")),
            starts_at=_when(post.get("starts_at", "")),
            ends_at=_when(post.get("ends_at", "")),
            limit_w=int(Decimal(post["limit_kw"]) * 1000) if post.get("limit_kw") else None,
            stop_sessions=bool(post.get("stop_sessions")),
            notice=post.get("notice", ""),
        )
    except (DomainError, InvalidOperation, ValueError) as exc:
        messages.error(request, f"Rule not saved: {exc}")
    else:
        messages.success(request, "Rule saved; it takes effect at the next schedule tick.")
    return redirect("smartcharging:location", pk=pk)


@operate_required
@require_POST
def rule_delete(request: UserRequest, pk: int) -> HttpResponse:
    rule = get_object_or_404(ScheduleRule, pk=pk)
    location_id = rule.location_id or (rule.station.location_id if rule.station else None)
    services.schedule_rule_delete(rule=rule)
    messages.success(request, "Rule deleted; what it imposed is lifted at the next tick.")
    if location_id:
        return redirect("smartcharging:location", pk=location_id)
    return redirect("location-list")


@driver_required
def session_limit(request: UserRequest, pk: int) -> HttpResponse:
    """The driver's note: whether the session is limited and why, and maintenance ahead."""
    driver = Driver.objects.filter(user=request.user).first()
    session = session_get_for_driver(driver=driver, pk=pk) if driver is not None else None
    if session is None:
        raise Http404("no such session")
    decision = selectors.session_limit(session=session) if session.status == Session.Status.ACTIVE else None
    context = {
        "session": session,
        "decision": decision,
        "notices": selectors.maintenance_notices(station=session.station),
    }
    return render(request, "smartcharging/_session_limit.html", context)
