"""Reads of the OCPI interface: the other apps' objects as OCPI 2.2.1 objects, and the lists a
partner may page through (locations and tariffs for everyone; sessions and CDRs only its own)."""

from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Count, DateTimeField, Max, QuerySet
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from billing import selectors as billing_selectors
from billing.models import Cdr, Tariff
from billing.services import charging_periods_ocpi
from ocpi.models import (
    EmspCommand,
    EmspToken,
    Partner,
    PartnerCdr,
    PartnerLocation,
    PartnerSession,
    PartnerTariff,
    RoamingSession,
)
from ocpi.transport import ocpi_datetime
from smartcharging.models import ScheduleRule
from stations.models import Connector, Evse, Location, Session, Station

# Fields that are OCPI numbers; billing keeps them as exact decimal strings. A float of such a
# string prints back as the same shortest decimal, so the JSON text stays exact.
NUMBER_FIELDS = frozenset(
    {
        "price",
        "vat",
        "volume",
        "min_kwh",
        "max_kwh",
        "min_current",
        "max_current",
        "min_power",
        "max_power",
        "excl_vat",
        "incl_vat",
    }
)

EVSE_STATUS: dict[str, str] = {
    Connector.Status.AVAILABLE: "AVAILABLE",
    Connector.Status.PREPARING: "CHARGING",
    Connector.Status.CHARGING: "CHARGING",
    Connector.Status.SUSPENDED_EV: "CHARGING",
    Connector.Status.SUSPENDED_EVSE: "CHARGING",
    Connector.Status.FINISHING: "CHARGING",
    Connector.Status.OCCUPIED: "CHARGING",
    Connector.Status.RESERVED: "RESERVED",
    Connector.Status.UNAVAILABLE: "INOPERATIVE",
    Connector.Status.FAULTED: "OUTOFORDER",
    Connector.Status.UNKNOWN: "UNKNOWN",
}
# When an EVSE has several connectors (OCPP 2.0.1), the busiest state wins.
EVSE_STATUS_RANK = ["CHARGING", "RESERVED", "AVAILABLE", "OUTOFORDER", "INOPERATIVE", "UNKNOWN"]
SESSION_STATUS: dict[str, str] = {
    Session.Status.ACTIVE: "ACTIVE",
    Session.Status.COMPLETED: "COMPLETED",
    Session.Status.INCOMPLETE: "COMPLETED",
}


def ocpi_object(data: dict[str, Any]) -> dict[str, Any]:
    """An object with the OCPI number fields, at any depth, turned from decimal strings into numbers."""
    return {
        k: _number(v) if k in NUMBER_FIELDS and isinstance(v, str | Decimal) else ocpi_numbers(v)
        for k, v in data.items()
    }


def ocpi_numbers(value: Any) -> Any:
    """Any JSON value with the OCPI number fields turned from decimal strings into numbers."""
    if isinstance(value, dict):
        return ocpi_object(value)
    if isinstance(value, list):
        return [ocpi_numbers(v) for v in value]
    return value


def _number(value: str | Decimal) -> float | int:
    exact = Decimal(value)
    return int(exact) if exact == exact.to_integral_value() and "." not in str(value) else float(exact)


def _party() -> dict[str, str]:
    return {"country_code": settings.OCPI_COUNTRY_CODE, "party_id": settings.OCPI_PARTY_ID}


# --- locations ----------------------------------------------------------------------------------


def location_list() -> QuerySet[Location]:
    """Published locations (public ones with stations and coordinates), oldest first, each with its
    `ocpi_last_updated`: the latest of its creation and its connectors' status changes."""
    return (
        Location.objects.filter(is_public=True, latitude__isnull=False, longitude__isnull=False)
        .annotate(
            station_count=Count("stations", distinct=True),
            ocpi_last_updated=Greatest(
                "created_at",
                Coalesce(Max("stations__evses__connectors__status_updated_at"), "created_at"),
                output_field=DateTimeField(),
            ),
        )
        .filter(station_count__gt=0)
        .prefetch_related("schedule_rules")
        .order_by("id")
    )


def evse_uid(evse: Evse) -> str:
    return str(evse.pk)


def evse_status(evse: Evse, station: Station) -> str:
    """The OCPI EVSE status from the live connector statuses (UNKNOWN while the station is offline)."""
    if not station.is_online:
        return "UNKNOWN"
    statuses = [EVSE_STATUS.get(c.status, "UNKNOWN") for c in evse.connectors.all()] or ["UNKNOWN"]
    return min(statuses, key=EVSE_STATUS_RANK.index)


def _connector_last_updated(connector: Connector, station: Station) -> datetime:
    return connector.status_updated_at or station.created_at


def connector_to_ocpi(
    connector: Connector, station: Station, *, now: datetime | None = None
) -> dict[str, Any]:
    """A connector as an OCPI Connector, with the tariff a passer-by would pay there now."""
    volts = 500 if connector.power_type == Connector.PowerType.DC else 230
    phases = 3 if connector.power_type == Connector.PowerType.AC_3 else 1
    tariff = billing_selectors.tariff_resolve_at(
        at=now or timezone.now(), station=station, connector_id=connector.pk
    )
    data: dict[str, Any] = {
        "id": str(connector.connector_id),
        "standard": connector.standard,
        "format": "CABLE" if connector.power_type == Connector.PowerType.DC else "SOCKET",
        "power_type": connector.power_type,
        "max_voltage": volts,
        "max_amperage": max(1, round(connector.max_power_w / (volts * phases))),
        "max_electric_power": connector.max_power_w,
        "last_updated": ocpi_datetime(_connector_last_updated(connector, station)),
    }
    if tariff is not None:
        data["tariff_ids"] = [tariff.code]
    return data


def evse_to_ocpi(evse: Evse, station: Station) -> dict[str, Any]:
    """An EVSE as an OCPI EVSE (an OCPP 1.6 connector is its own EVSE)."""
    connectors = list(evse.connectors.all())
    updated = max([_connector_last_updated(c, station) for c in connectors] or [station.created_at])
    return {
        "uid": evse_uid(evse),
        "evse_id": f"{settings.OCPI_COUNTRY_CODE}*{settings.OCPI_PARTY_ID}*E{evse.pk}",
        "status": evse_status(evse, station),
        "capabilities": ["REMOTE_START_STOP_CAPABLE", "RESERVABLE", "UNLOCK_CAPABLE", "RFID_READER"],
        "connectors": [connector_to_ocpi(c, station) for c in connectors],
        "physical_reference": f"{station.identity} {evse.evse_id}"[:16],
        "last_updated": ocpi_datetime(updated),
    }


def _coordinates(location: Location) -> dict[str, str]:
    return {"latitude": f"{location.latitude:.6f}", "longitude": f"{location.longitude:.6f}"}


def opening_times(location: Location, *, now: datetime | None = None) -> dict[str, Any]:
    """The location's OCPI Hours from its opening-hours schedule rules (smart charging's, for the
    whole location; local times, OCPI §8.4.13): open around the clock when it has none. A window past
    midnight is split at 23:59 (OCPI period_end cannot be 24:00 or earlier than period_begin);
    current and coming maintenance windows are exceptional closings."""
    now = now or timezone.now()
    rules = [r for r in location.schedule_rules.all() if r.is_active and r.station_id is None]
    regular: set[tuple[int, str, str]] = set()
    for rule in rules:
        if rule.kind != ScheduleRule.Kind.OPENING_HOURS or rule.start_time is None or rule.end_time is None:
            continue
        begin, end = rule.start_time.strftime("%H:%M"), rule.end_time.strftime("%H:%M")
        for day in rule.weekdays or range(7):
            weekday = int(day) + 1  # ours: 0 = Monday; OCPI: 1 = Monday … 7 = Sunday
            if begin < end:
                regular.add((weekday, begin, end))
                continue
            regular.add((weekday, begin, "23:59"))
            if end != "00:00":
                regular.add((weekday % 7 + 1, "00:00", end))
    closings = [
        {"period_begin": ocpi_datetime(r.starts_at), "period_end": ocpi_datetime(r.ends_at)}
        for r in sorted(rules, key=lambda r: (r.starts_at or now, r.pk))
        if r.kind == ScheduleRule.Kind.MAINTENANCE and r.starts_at and r.ends_at and r.ends_at > now
    ]
    has_opening_hours = any(r.kind == ScheduleRule.Kind.OPENING_HOURS for r in rules)
    hours: dict[str, Any] = {"twentyfourseven": not has_opening_hours}
    if has_opening_hours:
        hours["regular_hours"] = [
            {"weekday": weekday, "period_begin": begin, "period_end": end}
            for weekday, begin, end in sorted(regular)
        ]
    if closings:
        hours["exceptional_closings"] = closings
    return hours


def energy_mix() -> dict[str, Any] | None:
    """The OCPI EnergyMix of the electricity we sell (OCPI_ENERGY_* settings); None when unknown."""
    if not settings.OCPI_ENERGY_SUPPLIER:
        return None
    mix: dict[str, Any] = {
        "is_green_energy": settings.OCPI_ENERGY_GREEN,
        "supplier_name": settings.OCPI_ENERGY_SUPPLIER[:64],
    }
    if settings.OCPI_ENERGY_PRODUCT:
        mix["energy_product_name"] = settings.OCPI_ENERGY_PRODUCT[:64]
    return mix


def location_to_ocpi(location: Location) -> dict[str, Any]:
    """A location with its stations' EVSEs as an OCPI Location, with its opening times and energy mix."""
    stations = Station.objects.filter(location=location).prefetch_related("evses__connectors").order_by("id")
    evses = [evse_to_ocpi(evse, station) for station in stations for evse in station.evses.all()]
    updated = getattr(location, "ocpi_last_updated", None) or location.created_at
    return {
        **_party(),
        "id": str(location.pk),
        "publish": True,
        "name": location.name,
        "address": location.address or "#NA",
        "city": location.city or "#NA",
        "postal_code": location.postal_code or None,
        "country": location.country,
        "coordinates": _coordinates(location),
        "evses": evses,
        "time_zone": location.time_zone,
        "opening_times": opening_times(location),
        **({"energy_mix": mix} if (mix := energy_mix()) else {}),
        "last_updated": ocpi_datetime(updated),
    }


def location_get(*, location_id: str) -> Location | None:
    """A published location by its OCPI id, or None."""
    if not location_id.isdigit():
        return None
    return location_list().filter(pk=int(location_id)).first()


def evse_get(*, location: Location, uid: str) -> tuple[Evse, Station] | None:
    """An EVSE of a location by its OCPI uid, with its station, or None."""
    if not uid.isdigit():
        return None
    evse = (
        Evse.objects.select_related("station")
        .prefetch_related("connectors")
        .filter(pk=int(uid), station__location=location)
        .first()
    )
    return (evse, evse.station) if evse is not None else None


# --- tariffs ------------------------------------------------------------------------------------


def tariff_list() -> QuerySet[Tariff]:
    """Every tariff, oldest first."""
    return Tariff.objects.order_by("id")


def _tariff_alt_text(tariff: Tariff) -> list[dict[str, str]]:
    """What drivers are told about the prices: billing's per-language texts (an OCPI DisplayText
    names its language with two letters, so "sv-SE" is "sv"; the first text of a language counts),
    else the tariff's name."""
    texts: dict[str, str] = {}
    for text in tariff.alt_texts:
        texts.setdefault(text["language"][:2].lower(), text["text"])
    return [{"language": language, "text": text} for language, text in texts.items()] or [
        {"language": "en", "text": tariff.name}
    ]


def tariff_to_ocpi(tariff: Tariff) -> dict[str, Any]:
    """A billing tariff as an OCPI Tariff with our party and a display text."""
    data = billing_selectors.tariff_to_ocpi(tariff)
    data.pop("vat_percent", None)
    data = {**_party(), **data, "tariff_alt_text": _tariff_alt_text(tariff)}
    if mix := energy_mix():
        data["energy_mix"] = mix
    data["last_updated"] = ocpi_datetime(tariff.updated_at)
    return ocpi_object(data)


# --- sessions and CDRs ------------------------------------------------------------------------


def session_list(*, partner: Partner) -> QuerySet[Session]:
    """The partner's roaming sessions, oldest first."""
    return (
        Session.objects.filter(roaming__partner=partner)
        .select_related("station__location", "evse", "connector", "roaming", "id_token")
        .order_by("id")
    )


def session_to_ocpi(session: Session, *, now: datetime | None = None) -> dict[str, Any]:
    """A roaming session as an OCPI Session: energy, charging periods and cost so far."""
    roaming: RoamingSession = session.roaming
    cost = billing_selectors.session_cost(session=session, now=now)
    if cost.cdr is not None:
        periods = cost.cdr.charging_periods
    elif cost.breakdown is not None:
        periods = charging_periods_ocpi(cost.breakdown, cost.tariff.code if cost.tariff else "FREE")
    else:
        periods = []
    data: dict[str, Any] = {
        **_party(),
        "id": str(session.pk),
        "start_date_time": ocpi_datetime(session.started_at),
        "kwh": session.energy_wh / 1000,
        "cdr_token": roaming.cdr_token,
        "auth_method": roaming.auth_method,
        "location_id": str(session.station.location_id or ""),
        "evse_uid": str(session.evse_id or ""),
        "connector_id": str(session.connector.connector_id if session.connector else 1),
        "currency": cost.currency,
        "charging_periods": periods,
        "total_cost": {"excl_vat": str(cost.total_excl_vat), "incl_vat": str(cost.total_incl_vat)},
        "status": SESSION_STATUS.get(session.status, "ACTIVE"),
        "last_updated": ocpi_datetime(session.updated_at),
    }
    if session.stopped_at:
        data["end_date_time"] = ocpi_datetime(session.stopped_at)
    if roaming.authorization_reference:
        data["authorization_reference"] = roaming.authorization_reference
    return ocpi_object(data)


def cdr_list(*, partner: Partner) -> QuerySet[Cdr]:
    """The partner's CDRs (credits included), oldest first."""
    return (
        Cdr.objects.filter(session__roaming__partner=partner)
        .select_related(
            "session__roaming", "session__evse", "session__connector", "location", "credit_reference"
        )
        .order_by("id")
    )


def cdr_to_ocpi(cdr: Cdr) -> dict[str, Any]:
    """A CDR as an OCPI CDR with the totals the driver and operator see, to the cent."""
    session = cdr.session
    roaming: RoamingSession = session.roaming
    location = cdr.location
    connector = session.connector
    cdr_location: dict[str, Any] = {
        "id": str(location.pk) if location else "#NA",
        "name": cdr.location_name,
        "address": (location.address if location else "") or "#NA",
        "city": (location.city if location else "") or "#NA",
        "postal_code": location.postal_code if location and location.postal_code else None,
        "country": location.country if location else "#NA",
        "coordinates": _coordinates(location) if location and location.latitude is not None else None,
        "evse_uid": str(session.evse_id or ""),
        "evse_id": f"{settings.OCPI_COUNTRY_CODE}*{settings.OCPI_PARTY_ID}*E{session.evse_id}",
        "connector_id": str(connector.connector_id if connector else 1),
        "connector_standard": connector.standard if connector else "IEC_62196_T2",
        "connector_format": "CABLE"
        if connector and connector.power_type == Connector.PowerType.DC
        else "SOCKET",
        "connector_power_type": connector.power_type if connector else "AC_3_PHASE",
    }
    tariff = {**_party(), **cdr.tariff_snapshot}
    tariff.pop("vat_percent", None)
    tariff.setdefault("last_updated", ocpi_datetime(cdr.created_at))
    data: dict[str, Any] = {
        **_party(),
        "id": cdr.cdr_id,
        "start_date_time": ocpi_datetime(cdr.started_at),
        "end_date_time": ocpi_datetime(cdr.stopped_at),
        "session_id": str(session.pk),
        "cdr_token": roaming.cdr_token,
        "auth_method": roaming.auth_method,
        "cdr_location": {k: v for k, v in cdr_location.items() if v is not None},
        "currency": cdr.currency,
        "tariffs": [tariff],
        "charging_periods": cdr.charging_periods,
        "total_cost": {"excl_vat": str(cdr.total_excl_vat), "incl_vat": str(cdr.total_incl_vat)},
        "total_energy": str(Decimal(cdr.energy_wh) / 1000),
        "total_time": round((cdr.charging_seconds + cdr.parking_seconds) / 3600, 4),
        "total_parking_time": round(cdr.parking_seconds / 3600, 4),
        "last_updated": ocpi_datetime(cdr.created_at),
    }
    data["total_energy"] = _number(data["total_energy"])
    if roaming.authorization_reference:
        data["authorization_reference"] = roaming.authorization_reference
    if cdr.kind == Cdr.Kind.CREDIT:
        data["credit"] = True
        data["credit_reference_id"] = cdr.credit_reference.cdr_id if cdr.credit_reference else ""
    return ocpi_object(data)


def partner_list() -> QuerySet[Partner]:
    """Every partner with its counts of roaming tokens and sessions."""
    return Partner.objects.annotate(
        token_count=Count("tokens", distinct=True), session_count=Count("sessions", distinct=True)
    ).order_by("name", "id")


def partner_activity(*, partner: Partner, limit: int = 50) -> dict[str, Any]:
    """What a partner's page shows: its latest requests in and out, pushes, roaming sessions and CDRs,
    and, for a hub, the parties behind it (HubClientInfo)."""
    from ocpi.models import ClientInfo, Push, RequestLog

    return {
        "client_infos": ClientInfo.objects.filter(partner=partner).order_by("country_code", "party_id"),
        "requests": RequestLog.objects.filter(partner=partner).order_by("-created_at", "-id")[:limit],
        "pushes": Push.objects.filter(partner=partner).order_by("-id")[:limit],
        "pending_pushes": Push.objects.filter(partner=partner, status=Push.Status.PENDING).count(),
        "sessions": partner_sessions(partner=partner)[:limit],
        "cdrs": Cdr.objects.filter(session__roaming__partner=partner).order_by("-id")[:limit],
    }


def partner_sessions(*, partner: Partner) -> QuerySet[RoamingSession]:
    """A partner's roaming sessions, newest first, with their station and their standing CDR."""
    from django.db.models import Prefetch

    standing = Cdr.objects.filter(kind=Cdr.Kind.NORMAL, credited_by__isnull=True).order_by("-id")
    return (
        RoamingSession.objects.filter(partner=partner)
        .select_related("session__station")
        .prefetch_related(Prefetch("session__cdrs", queryset=standing))
        .order_by("-id")
    )


# --- the eMSP role: our cards offered to CPOs, partner networks, our drivers there ---------------


def emsp_token_list() -> QuerySet[EmspToken]:
    """Every card ever offered for roaming (withdrawn ones are sent with valid=false), oldest first."""
    return EmspToken.objects.select_related("id_token").order_by("last_updated", "id")


def partner_object_get(
    *, partner: Partner, kind: str, object_id: str, country_code: str = "", party_id: str = "",
    evse_uid: str = "", connector_id: str = "",
) -> dict[str, Any]:  # fmt: skip
    """A partner's own object as we stored it (GET on our receiver endpoints, spec: the CPO may
    check what we hold). Raises OcpiError 2001/404 (2003 for locations) when we hold none."""
    from ocpi import transport
    from ocpi.transport import OcpiError

    model = {
        "location": PartnerLocation,
        "tariff": PartnerTariff,
        "session": PartnerSession,
        "cdr": PartnerCdr,
    }[kind]
    rows = model.objects.filter(partner=partner)  # type: ignore[attr-defined]
    if kind == "cdr":
        row = rows.filter(pk=int(object_id)).first()
    else:
        row = rows.filter(
            country_code=country_code.upper(), party_id=party_id.upper(), object_id=object_id
        ).first()
    code = transport.UNKNOWN_LOCATION if kind == "location" else transport.INVALID_PARAMETERS
    if row is None:
        raise OcpiError(f"unknown {kind} {object_id}", status_code=code, http_status=404)
    data: dict[str, Any] = row.data
    if evse_uid:
        data = next((e for e in data.get("evses", []) if e.get("uid") == evse_uid), {})
        if connector_id:
            data = next((c for c in data.get("connectors", []) if c.get("id") == connector_id), {})
        if not data:
            raise OcpiError(f"unknown {kind} part {evse_uid}", status_code=code, http_status=404)
    return data


def tariff_summary(tariff: dict[str, Any] | None) -> str:
    """A partner tariff in one line for drivers: "0.45 EUR/kWh + 1.00 EUR per session"."""
    if not tariff:
        return ""
    units = {"ENERGY": "/kWh", "TIME": "/h charging", "PARKING_TIME": "/h parking", "FLAT": " per session"}
    parts = []
    currency = tariff.get("currency", "")
    for element in tariff.get("elements", [])[:1]:
        for component in element.get("price_components", []):
            price = Decimal(str(component.get("price", 0)))
            parts.append(f"{price:.2f} {currency}{units.get(component.get('type'), '')}")
    return " + ".join(parts) + (" (excl. VAT)" if parts else "")


MAP_AVAILABLE, MAP_BUSY = frozenset({"AVAILABLE"}), frozenset({"CHARGING", "BLOCKED", "RESERVED"})


def partner_map_points(locations: list[PartnerLocation], *, url: str = "") -> list[dict[str, Any]]:
    """Map markers for partner locations with coordinates: available when one EVSE is, busy when
    all working ones are in use, down otherwise; `url` (with {pk}) is where a marker links to."""
    points = []
    for location in locations:
        if location.latitude is None or location.longitude is None:
            continue
        statuses = [e.get("status") for e in location.data.get("evses", []) if e.get("status") != "REMOVED"]
        available = sum(1 for s in statuses if s in MAP_AVAILABLE)
        state = "available" if available else ("busy" if any(s in MAP_BUSY for s in statuses) else "down")
        points.append(
            {
                "id": location.pk,
                "name": location.name,
                "lat": float(location.latitude),
                "lng": float(location.longitude),
                "status": state,
                "label": f"{location.name}: {available}/{len(statuses)} available",
                "url": url.format(pk=location.pk, partner=location.partner_id),
            }
        )
    return points


def partner_locations_for_drivers() -> list[dict[str, Any]]:
    """Published locations of CPO partners with each EVSE's live status and the partner's tariff."""
    tariffs = {
        (t.partner_id, t.country_code, t.party_id, t.object_id): t.data for t in PartnerTariff.objects.all()
    }
    result = []
    locations = (
        PartnerLocation.objects.filter(publish=True, partner__status=Partner.Status.REGISTERED)
        .select_related("partner")
        .order_by("partner__name", "name", "id")
    )
    for location in locations:
        evses = []
        for evse in location.data.get("evses", []):
            if evse.get("status") == "REMOVED":
                continue
            tariff_ids = [t for c in evse.get("connectors", []) for t in (c.get("tariff_ids") or [])]
            tariff = next(
                (tariffs[k] for t in tariff_ids
                 if (k := (location.partner_id, location.country_code, location.party_id, t)) in tariffs),
                None,
            )  # fmt: skip
            evses.append(
                {
                    "uid": evse.get("uid"),
                    "evse_id": evse.get("evse_id") or evse.get("uid"),
                    "status": evse.get("status"),
                    "can_start": evse.get("status") in ("AVAILABLE", "RESERVED"),
                    "tariff": tariff_summary(tariff),
                    "power": ", ".join(
                        f"{c.get('standard', '')} {int(c.get('max_electric_power') or 0) // 1000} kW".strip()
                        for c in evse.get("connectors", [])
                    ),
                }
            )
        result.append({"location": location, "evses": evses})
    return result


def driver_roaming(*, driver_id: int) -> dict[str, Any]:
    """A driver's commands, sessions and CDRs on partner networks, newest first."""
    return {
        "commands": list(EmspCommand.objects.filter(driver_id=driver_id).select_related("partner")[:5]),
        "sessions": list(
            PartnerSession.objects.filter(driver_id=driver_id)
            .select_related("partner")
            .order_by("-start_date_time")[:10]
        ),
        "cdrs": list(
            PartnerCdr.objects.filter(driver_id=driver_id, duplicate_of=None)
            .select_related("partner", "invoice_line__invoice")
            .order_by("-end_date_time")[:50]
        ),
    }


def partner_network_overview() -> list[dict[str, Any]]:
    """Per CPO partner: its locations, our drivers' sessions and CDRs there, and the reconciliation
    of its CDRs against the sessions it pushed (missing, duplicate, differing)."""
    overview = []
    for partner in Partner.objects.order_by("name", "id"):
        locations = list(PartnerLocation.objects.filter(partner=partner).order_by("name", "id"))
        sessions = list(PartnerSession.objects.filter(partner=partner).order_by("-start_date_time")[:200])
        cdrs = list(
            PartnerCdr.objects.filter(partner=partner)
            .select_related("driver")
            .order_by("-end_date_time")[:200]
        )
        if not (locations or sessions or cdrs):
            continue
        overview.append(
            {
                "partner": partner,
                "locations": locations,
                "sessions": sessions,
                "cdrs": cdrs,
                "issues": roaming_reconciliation(partner=partner),
            }  # fmt: skip
        )
    return overview


def roaming_reconciliation(*, partner: Partner) -> list[dict[str, str]]:
    """The partner's CDRs held against the sessions it pushed: a completed session without a CDR
    (missing), a second CDR for a session (duplicate), a CDR for an unknown session or whose energy or
    cost differs from the session's last report (differing)."""
    issues = []
    sessions = {s.object_id: s for s in PartnerSession.objects.filter(partner=partner)}
    cdrs = list(PartnerCdr.objects.filter(partner=partner).order_by("id"))
    with_cdr = {c.session_id for c in cdrs}
    for session in sessions.values():
        if session.status == "COMPLETED" and session.object_id not in with_cdr:
            issues.append(
                {"kind": "missing", "object": session.object_id, "text": "completed session without a CDR"}
            )
    for cdr in cdrs:
        pushed = sessions.get(cdr.session_id)
        if cdr.duplicate_of_id:
            issues.append({"kind": "duplicate", "object": cdr.object_id,
                           "text": f"second CDR for session {cdr.session_id}; not invoiced"})  # fmt: skip
        elif pushed is None:
            issues.append(
                {"kind": "differing", "object": cdr.object_id, "text": "CDR for a session never pushed"}
            )
        else:
            if abs(pushed.kwh - cdr.kwh) > Decimal("0.01"):
                issues.append({"kind": "differing", "object": cdr.object_id,
                               "text": f"{cdr.kwh} kWh in the CDR, {pushed.kwh} kWh in the session"})  # fmt: skip
            if pushed.total_cost_excl_vat is not None and abs(
                pushed.total_cost_excl_vat - cdr.partner_excl_vat
            ) > Decimal("0.01"):
                issues.append({"kind": "differing", "object": cdr.object_id,
                               "text": f"{cdr.partner_excl_vat} {cdr.currency} in the CDR, "
                                       f"{pushed.total_cost_excl_vat} in the session"})  # fmt: skip
    return issues
