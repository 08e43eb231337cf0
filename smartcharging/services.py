"""Smart charging's business actions: charging profiles sent as durable commands, site load
management and charging schedules. Every interface (pages, API, event subscribers, Celery tasks)
calls these; docs/smart-charging.md describes the rules."""

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, time
from decimal import Decimal
from time import monotonic as time_monotonic
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from billing.selectors import subscription_active
from chargenet.errors import DomainError
from smartcharging.allocation import Circuit as CircuitLimit
from smartcharging.allocation import Demand, allocate
from smartcharging.models import (
    AllocationDecision,
    ChargingNeed,
    Circuit,
    CircuitStation,
    ScheduleRule,
    SiteCapacity,
    StationScheduleState,
)
from smartcharging.selectors import rules_for_station_q
from stations.models import (
    ChargingProfile,
    Command,
    Connector,
    Evse,
    Location,
    Session,
    Station,
    StationConfigurationKey,
    Tag,
)
from stations.services import command_create, command_wait, session_remote_start

logger = logging.getLogger(__name__)

VOLTAGE = 230
PHASES = 3
# Profile ids and stack levels ChargeNet keeps for itself; operators' profiles use other ids.
LOAD_TX_PROFILE_ID = 1_000_000  # + EVSE id: the site's TxProfile for the session there
LOAD_DEFAULT_PROFILE_ID = 1_000_900  # the site's safe TxDefaultProfile
SCHEDULE_PROFILE_ID = 1_000_950  # the schedules' station maximum
RESERVED_PROFILE_IDS = 1_000_000
MANAGED_STACK_LEVEL = 1
DEFAULT_MAX_STACK_LEVEL = 8
DEFAULT_MAX_PERIODS = 24
MAX_CAPACITY_A = 100_000  # A per phase: far beyond any grid connection, within the columns' digits
MAX_NEEDS_ENERGY_WH = 10_000_000

PURPOSES_16 = {"TxDefault": "TxDefaultProfile", "Tx": "TxProfile", "StationMax": "ChargePointMaxProfile"}
PURPOSES_201 = {"TxDefault": "TxDefaultProfile", "Tx": "TxProfile", "StationMax": "ChargingStationMaxProfile"}


class SmartChargingError(DomainError):
    """A charging profile, capacity or schedule is invalid for its target; nothing was applied."""

    api_status = 400
    api_code = "smart_charging_invalid"


# --- charging profiles ------------------------------------------------------------------------------


@dataclass
class ProfileSpec:
    """A charging profile as an operator states it, the same for 1.6 and 2.0.1 stations."""

    purpose: str  # TxDefault | Tx | StationMax
    periods: list[dict[str, Any]]  # [{"start": s, "limit": n, "phases": 1-3 (optional)}]
    unit: str = "W"  # W | A
    evse_id: int = 0
    stack_level: int = 0
    kind: str = "Absolute"  # Absolute | Recurring | Relative
    recurrency: str | None = None  # Daily | Weekly
    start_schedule: datetime | None = None
    duration: int | None = None
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    transaction_id: str | None = None
    profile_id: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _config_int(station: Station, key: str, default: int) -> int:
    value = (
        StationConfigurationKey.objects.filter(station=station, key=key)
        .values_list("value", flat=True)
        .first()
    )
    try:
        return int(value) if value else default
    except ValueError:
        return default


def _allowed_units(station: Station) -> set[str]:
    value = (
        StationConfigurationKey.objects.filter(station=station, key="ChargingScheduleAllowedChargingRateUnit")
        .values_list("value", flat=True)
        .first()
    )
    if not value:
        return {"A", "W"}
    names = {part.strip() for part in value.split(",")}
    return {unit for name, unit in (("Current", "A"), ("Power", "W")) if name in names}


def charging_profile_validate(
    *, station: Station, spec: ProfileSpec, managed: bool = False, starting: bool = False
) -> None:
    """Check a profile against the station: its EVSE/connector, the purpose's rules, the stack
    level (range and clashes), ChargingScheduleMaxPeriods and the allowed units. `starting`: the
    TxProfile of a remote start, whose session does not run yet. Raises SmartChargingError naming
    the first problem."""
    if spec.purpose not in PURPOSES_16:
        raise SmartChargingError("purpose must be TxDefault, Tx or StationMax")
    if spec.unit not in ("A", "W"):
        raise SmartChargingError("unit must be A or W")
    if spec.kind not in ("Absolute", "Recurring", "Relative"):
        raise SmartChargingError("kind must be Absolute, Recurring or Relative")
    if spec.kind == "Recurring" and spec.recurrency not in ("Daily", "Weekly"):
        raise SmartChargingError("a Recurring profile needs recurrency Daily or Weekly")
    if spec.kind == "Recurring" and spec.start_schedule is None:
        raise SmartChargingError("a Recurring profile needs start_schedule (when its cycle begins)")
    if spec.kind == "Relative" and spec.start_schedule is not None:
        raise SmartChargingError("a Relative profile starts with the transaction; leave start_schedule empty")
    if spec.evse_id < 0 or (
        spec.evse_id and not Evse.objects.filter(station=station, evse_id=spec.evse_id).exists()
    ):
        raise SmartChargingError(f"{station.identity} has no connector/EVSE {spec.evse_id}")
    if spec.purpose == "StationMax" and spec.evse_id != 0:
        raise SmartChargingError("a StationMax profile applies to the whole station: evse_id must be 0")
    if spec.purpose == "Tx":
        if spec.evse_id == 0:
            raise SmartChargingError("a Tx profile needs the EVSE/connector of its session")
    if spec.purpose == "Tx" and starting:
        if spec.transaction_id:
            # 2.0.1 F01.FR.11: the transaction the profile belongs to does not exist yet.
            raise SmartChargingError("the TxProfile of a remote start carries no transaction id")
    elif spec.purpose == "Tx":
        session = Session.objects.filter(
            station=station, evse__evse_id=spec.evse_id, status=Session.Status.ACTIVE
        ).first()
        if session is None:
            raise SmartChargingError(f"no session is running on EVSE {spec.evse_id}; a Tx profile needs one")
        if spec.transaction_id and spec.transaction_id != session.transaction_id:
            raise SmartChargingError(
                f"the session on EVSE {spec.evse_id} is transaction {session.transaction_id}"
            )
    max_level = _config_int(station, "ChargeProfileMaxStackLevel", DEFAULT_MAX_STACK_LEVEL)
    if not 0 <= spec.stack_level <= max_level:
        raise SmartChargingError(
            f"stack level must be between 0 and {max_level} (ChargeProfileMaxStackLevel)"
        )
    max_periods = _config_int(station, "ChargingScheduleMaxPeriods", DEFAULT_MAX_PERIODS)
    if not spec.periods:
        raise SmartChargingError("a schedule needs at least one period")
    if len(spec.periods) > max_periods:
        raise SmartChargingError(
            f"{len(spec.periods)} periods are more than the station takes ({max_periods}, ChargingScheduleMaxPeriods)"
        )
    if spec.unit not in _allowed_units(station):
        raise SmartChargingError(
            f"{station.identity} does not allow limits in {spec.unit} (ChargingScheduleAllowedChargingRateUnit)"
        )
    starts = [int(p.get("start", -1)) for p in spec.periods]
    if starts[0] != 0 or starts != sorted(set(starts)):
        raise SmartChargingError("periods must start at 0 and their starts must increase")
    for period in spec.periods:
        if float(period.get("limit", -1)) < 0:
            raise SmartChargingError("a period's limit must be 0 or more")
        if period.get("phases") not in (None, 1, 2, 3):
            raise SmartChargingError("phases must be 1, 2 or 3")
    if spec.duration is not None and spec.duration <= 0:
        raise SmartChargingError("duration must be positive")
    if spec.valid_from and spec.valid_to and spec.valid_to <= spec.valid_from:
        raise SmartChargingError("valid_to must be after valid_from")
    if spec.profile_id is not None and spec.profile_id >= RESERVED_PROFILE_IDS and not managed:
        raise SmartChargingError(
            f"profile ids from {RESERVED_PROFILE_IDS} are kept for ChargeNet's own profiles"
        )
    clash = (
        ChargingProfile.objects.filter(
            station=station,
            is_active=True,
            connector_id=spec.evse_id,
            stack_level=spec.stack_level,
            purpose__in=[PURPOSES_16[spec.purpose], PURPOSES_201[spec.purpose]],
        )
        .exclude(charging_profile_id=spec.profile_id if spec.profile_id is not None else -1)
        .first()
    )
    if clash is not None and not managed:
        raise SmartChargingError(
            f"profile {clash.charging_profile_id} already holds stack level {spec.stack_level} for "
            f"{clash.purpose} on EVSE {spec.evse_id}; replace it by its id or choose another stack level"
        )


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(ZoneInfo("UTC")).isoformat(timespec="seconds").replace("+00:00", "Z")


def _number(value: Any) -> float | int:
    rounded = round(float(value), 1)
    return int(rounded) if rounded == int(rounded) else rounded


def charging_profile_payload(*, station: Station, spec: ProfileSpec, profile_id: int) -> dict[str, Any]:
    """The SetChargingProfile payload for the station's OCPP version."""
    periods = []
    for period in spec.periods:
        item: dict[str, Any] = {"startPeriod": int(period["start"]), "limit": _number(period["limit"])}
        if period.get("phases"):
            item["numberPhases"] = int(period["phases"])
        periods.append(item)
    schedule: dict[str, Any] = {"chargingRateUnit": spec.unit, "chargingSchedulePeriod": periods}
    if spec.duration is not None:
        schedule["duration"] = spec.duration
    if spec.start_schedule is not None:
        schedule["startSchedule"] = _iso(spec.start_schedule)
    v16 = station.ocpp_version == "1.6"
    profile: dict[str, Any] = {
        "chargingProfileId" if v16 else "id": profile_id,
        "stackLevel": spec.stack_level,
        "chargingProfilePurpose": (PURPOSES_16 if v16 else PURPOSES_201)[spec.purpose],
        "chargingProfileKind": spec.kind,
    }
    if spec.recurrency:
        profile["recurrencyKind"] = spec.recurrency
    if spec.valid_from:
        profile["validFrom"] = _iso(spec.valid_from)
    if spec.valid_to:
        profile["validTo"] = _iso(spec.valid_to)
    if spec.purpose == "Tx":
        transaction_id = spec.transaction_id or (
            Session.objects.filter(station=station, evse__evse_id=spec.evse_id, status=Session.Status.ACTIVE)
            .values_list("transaction_id", flat=True)
            .first()
        )
        if transaction_id:
            profile["transactionId"] = (
                int(transaction_id) if v16 and transaction_id.isdigit() else transaction_id
            )
    if v16:
        profile["chargingSchedule"] = schedule
        return {"connectorId": spec.evse_id, "csChargingProfiles": profile}
    profile["chargingSchedule"] = [{"id": 1, **schedule}]
    return {"evseId": spec.evse_id, "chargingProfile": profile}


def _next_profile_id(station: Station) -> int:
    used = (
        ChargingProfile.objects.filter(station=station, charging_profile_id__lt=RESERVED_PROFILE_IDS)
        .order_by("-charging_profile_id")
        .values_list("charging_profile_id", flat=True)
        .first()
    )
    return (used or 0) + 1


def charging_profile_send(
    *, station: Station, spec: ProfileSpec, requested_by: Any = None, managed: bool = False
) -> Command:
    """Validate a profile against the station and queue SetChargingProfile as a durable command.
    The station's answer marks the profile installed (replacing what it replaces) or rejected.
    Raises SmartChargingError (nothing queued) or CommandError."""
    charging_profile_validate(station=station, spec=spec, managed=managed)
    profile_id = spec.profile_id if spec.profile_id is not None else _next_profile_id(station)
    payload = charging_profile_payload(station=station, spec=spec, profile_id=profile_id)
    return command_create(
        station=station, action="SetChargingProfile", payload=payload, requested_by=requested_by
    )


def charging_profile_clear(*, station: Station, profile_id: int, requested_by: Any = None) -> Command:
    """Queue ClearChargingProfile for one installed profile (by its id); only that one is cleared."""
    if not ChargingProfile.objects.filter(
        station=station, charging_profile_id=profile_id, is_active=True
    ).exists():
        raise SmartChargingError(f"{station.identity} has no installed profile {profile_id}")
    key = "id" if station.ocpp_version == "1.6" else "chargingProfileId"
    return command_create(
        station=station, action="ClearChargingProfile", payload={key: profile_id}, requested_by=requested_by
    )


def session_remote_start_limited(
    *,
    station: Station,
    evse_id: int,
    id_token: Any,
    spec: ProfileSpec,
    requested_by: Any = None,
    idempotency_key: str = "",
) -> Command:
    """Remote start with the session's TxProfile in the same request (2.0.1 RequestStartTransaction
    chargingProfile, F01.FR.08–11; 1.6 RemoteStartTransaction chargingProfile): a Tx profile on that
    EVSE, checked as any other, without a transaction id. Raises SmartChargingError or StationError;
    nothing is queued then."""
    if spec.purpose != "Tx" or spec.evse_id != evse_id:
        # 2.0.1 F01.FR.09: the profile of a remote start is the TxProfile of the session it starts.
        raise SmartChargingError(f"a remote start carries a Tx profile for EVSE {evse_id}")
    charging_profile_validate(station=station, spec=spec, starting=True)
    profile_id = spec.profile_id if spec.profile_id is not None else _next_profile_id(station)
    payload = charging_profile_payload(station=station, spec=spec, profile_id=profile_id)
    profile = payload.get("chargingProfile", payload.get("csChargingProfiles"))
    return session_remote_start(
        station=station,
        evse_id=evse_id,
        id_token=id_token,
        requested_by=requested_by,
        idempotency_key=idempotency_key,
        charging_profile=profile,
    )


def composite_schedule_request(
    *, station: Station, evse_id: int = 0, duration: int = 86400, unit: str = "W", requested_by: Any = None
) -> Command:
    """Ask the station for its composite schedule (GetCompositeSchedule); the answer is kept on the
    command and shown beside ChargeNet's own calculation."""
    if evse_id and not Evse.objects.filter(station=station, evse_id=evse_id).exists():
        raise SmartChargingError(f"{station.identity} has no connector/EVSE {evse_id}")
    if unit not in ("A", "W"):
        raise SmartChargingError("unit must be A or W")
    if not 0 < duration <= 7 * 86400:
        raise SmartChargingError("duration must be between 1 s and 7 days")
    key = "connectorId" if station.ocpp_version == "1.6" else "evseId"
    return command_create(
        station=station,
        action="GetCompositeSchedule",
        payload={key: evse_id, "duration": duration, "chargingRateUnit": unit},
        requested_by=requested_by,
    )


# --- site load management ---------------------------------------------------------------------------


def _amps(watts: float) -> float:
    return watts / (VOLTAGE * PHASES)


def _amps_of(*, capacity_a: Any = None, capacity_kw: Any = None, what: str = "the capacity") -> Decimal:
    if (capacity_a is None) == (capacity_kw is None):
        raise SmartChargingError(f"give {what} either in A per phase or in kW")
    try:
        amps = (
            Decimal(str(capacity_a))
            if capacity_a is not None
            else Decimal(str(round(_amps(float(capacity_kw) * 1000), 1)))
        )
    except (ArithmeticError, TypeError, ValueError):
        raise SmartChargingError(f"{what} must be a number") from None
    if not amps.is_finite() or amps <= 0:
        raise SmartChargingError(f"{what} must be positive")
    if amps > MAX_CAPACITY_A:
        raise SmartChargingError(f"{what} must be at most {MAX_CAPACITY_A} A")
    return amps


def _capacity_windows_clean(windows: Sequence[Any]) -> list[dict[str, Any]]:
    """Check capacity windows and state each in A: [{"weekdays", "start", "end", "capacity_a"}]."""
    cleaned = []
    for number, window in enumerate(windows, start=1):
        if not isinstance(window, dict):
            raise SmartChargingError(f"capacity window {number} must be an object")
        days = window.get("weekdays") or []
        if not isinstance(days, list) or any(not isinstance(d, int) or not 0 <= d <= 6 for d in days):
            raise SmartChargingError(f"capacity window {number}: weekdays are 0 (Monday) to 6 (Sunday)")
        try:
            start, end = (
                time.fromisoformat(str(window.get("start"))),
                time.fromisoformat(str(window.get("end"))),
            )
        except ValueError:
            raise SmartChargingError(f"capacity window {number} needs start and end as HH:MM") from None
        if start == end:
            raise SmartChargingError(f"capacity window {number}: start and end must differ")
        amps = _amps_of(
            capacity_a=window.get("capacity_a"),
            capacity_kw=window.get("capacity_kw"),
            what=f"capacity window {number}'s capacity",
        )
        cleaned.append(
            {
                "weekdays": sorted(set(days)),
                "start": start.strftime("%H:%M"),
                "end": end.strftime("%H:%M"),
                "capacity_a": float(amps),
            }
        )
    return cleaned


def _window_active(*, weekdays: Sequence[int], start: time, end: time, local: datetime) -> bool:
    """Whether a daily window (local wall-clock times, an end before the start runs past midnight)
    contains the local moment `local`; a window past midnight belongs to the weekday it began on."""
    days = set(weekdays or range(7))
    now_t = local.time().replace(tzinfo=None)
    if start < end:
        return local.weekday() in days and start <= now_t < end
    if now_t >= start:
        return local.weekday() in days
    if now_t < end:
        return (local.weekday() - 1) % 7 in days
    return False


def site_capacity_at(*, site: SiteCapacity, now: datetime) -> tuple[Decimal, str]:
    """The site's capacity at `now` and why: the lowest capacity window in force (in the location's
    time zone), else the base capacity."""
    tz = _zone(site.location.time_zone)
    local = now.astimezone(tz)
    best, why = site.capacity_a, "base capacity"
    for window in site.capacity_windows or []:
        active = _window_active(
            weekdays=window["weekdays"],
            start=time.fromisoformat(window["start"]),
            end=time.fromisoformat(window["end"]),
            local=local,
        )
        amps = Decimal(str(window["capacity_a"]))
        if active and amps < best:
            best, why = amps, f"capacity window {window['start']}-{window['end']}"
    return best, why


@transaction.atomic
def site_capacity_set(
    *,
    location: Location,
    capacity_a: Decimal | None = None,
    capacity_kw: Decimal | None = None,
    min_current_a: Decimal = Decimal("6"),
    fallback_current_a: Decimal = Decimal("6"),
    priorities: dict[str, int] | None = None,
    plan_priorities: dict[str, int] | None = None,
    capacity_windows: Sequence[dict[str, Any]] | None = None,
    enabled: bool = True,
) -> SiteCapacity:
    """Set (or change) a location's capacity, in A per phase or in kW (three phases at 230 V),
    optionally other capacities by time of day (`capacity_windows`), and the priorities of cards and
    of plans' members; what is not given is kept. Then install the safe TxDefault on its stations
    and rebalance its sessions. Raises SmartChargingError for a capacity below the minimum current
    of the sessions running there or below the idle connectors' reserve at any time of day."""
    amps = _amps_of(capacity_a=capacity_a, capacity_kw=capacity_kw)
    if min_current_a < 0 or fallback_current_a < 0:
        raise SmartChargingError("currents must not be negative")
    existing = SiteCapacity.objects.filter(location=location).first()
    windows = (
        _capacity_windows_clean(capacity_windows)
        if capacity_windows is not None
        else (existing.capacity_windows if existing else [])
    )
    site = existing or SiteCapacity(location=location)
    site.capacity_a, site.min_current_a, site.fallback_current_a = amps, min_current_a, fallback_current_a
    site.capacity_windows, site.enabled = windows, enabled
    if priorities is not None:
        site.priorities = priorities
    if plan_priorities is not None:
        site.plan_priorities = plan_priorities
    in_force, _ = site_capacity_at(site=site, now=timezone.now())
    running = Session.objects.filter(station__location=location, status=Session.Status.ACTIVE).count()
    if enabled and running and in_force < min_current_a * running:
        raise SmartChargingError(
            f"{in_force} A is less than the minimum of {min_current_a} A for each of the {running} running sessions"
        )
    lowest = min([amps, *(Decimal(str(w["capacity_a"])) for w in windows)])
    connectors = Connector.objects.filter(evse__station__location=location).count()
    if enabled and fallback_current_a * connectors > lowest:
        raise SmartChargingError(
            f"{connectors} connectors at a fallback of {fallback_current_a} A need {fallback_current_a * connectors} A, "
            f"more than the capacity ({lowest} A at the lowest); lower the fallback current"
        )
    site.capacity_in_force_a = in_force
    site.save()
    if enabled:
        for station in Station.objects.filter(location=location):
            site_fallback_install(site=site, station=station)
    site_rebalance_request(location_id=location.pk, trigger="capacity changed")
    return site


@transaction.atomic
def circuit_set(
    *,
    site: SiteCapacity,
    name: str,
    capacity_a: Decimal | None = None,
    capacity_kw: Decimal | None = None,
    parent: Circuit | None = None,
    stations: Sequence[Station] = (),
    circuit: Circuit | None = None,
) -> Circuit:
    """Create a circuit within a site (or change `circuit`): its limit, the circuit it hangs from
    (none: the site) and the stations it feeds, each taken from any other circuit. Then rebalance.
    Raises SmartChargingError for a station of another location, a parent of another site or one
    that would make a loop, or a limit below the idle reserve of the connectors it feeds."""
    amps = _amps_of(capacity_a=capacity_a, capacity_kw=capacity_kw, what="the circuit's capacity")
    name = name.strip()[:100]
    if not name:
        raise SmartChargingError("a circuit needs a name")
    same_name = Circuit.objects.filter(site=site, name=name)
    if circuit is not None:
        same_name = same_name.exclude(pk=circuit.pk)
    if same_name.exists():
        raise SmartChargingError(f"this site already has a circuit named {name}")
    if parent is not None:
        if parent.site_id != site.pk:
            raise SmartChargingError("the parent circuit belongs to another site")
        ancestor: Circuit | None = parent
        while ancestor is not None:
            if circuit is not None and ancestor.pk == circuit.pk:
                raise SmartChargingError("a circuit cannot hang from itself or from one below it")
            ancestor = ancestor.parent
    foreign = [s.identity for s in stations if s.location_id != site.location_id]
    if foreign:
        raise SmartChargingError(f"{', '.join(foreign)} is not at this site")
    circuit = circuit or Circuit(site=site)
    circuit.name, circuit.capacity_a, circuit.parent = name, amps, parent
    circuit.save()
    CircuitStation.objects.filter(station__in=stations).exclude(circuit=circuit).delete()
    CircuitStation.objects.filter(circuit=circuit).exclude(station__in=stations).delete()
    for station in stations:
        CircuitStation.objects.get_or_create(station=station, defaults={"circuit": circuit})
    for node in Circuit.objects.filter(site=site):
        connectors = Connector.objects.filter(evse__station__in=_circuit_stations(node)).count()
        if site.enabled and site.fallback_current_a * connectors > node.capacity_a:
            raise SmartChargingError(
                f"circuit {node.name} feeds {connectors} connectors at a fallback of "
                f"{site.fallback_current_a} A, more than its {node.capacity_a} A"
            )
    site_rebalance_request(location_id=site.location_id, trigger="circuit changed")
    return circuit


def _circuit_stations(circuit: Circuit) -> list[int]:
    """The ids of the stations a circuit feeds, directly or through the circuits below it."""
    found: list[int] = []
    pending = [circuit]
    while pending:
        node = pending.pop()
        found += list(node.memberships.values_list("station_id", flat=True))
        pending += list(node.children.all())
    return found


@transaction.atomic
def circuit_delete(*, circuit: Circuit) -> None:
    """Delete a circuit and those below it; their stations hang from the site again. Rebalances."""
    location_id = circuit.site.location_id
    circuit.delete()
    site_rebalance_request(location_id=location_id, trigger="circuit deleted")


def site_fallback_install(*, site: SiteCapacity, station: Station) -> Command | None:
    """Queue the site's safe TxDefaultProfile on a station (all its connectors): what a new session
    there draws until it gets its share, and what it keeps when ChargeNet cannot reach it."""
    if station.registration_status == Station.RegistrationStatus.REJECTED:
        return None
    spec = ProfileSpec(
        purpose="TxDefault",
        unit="A",
        evse_id=0,
        stack_level=MANAGED_STACK_LEVEL,
        kind="Relative",
        periods=[{"start": 0, "limit": float(site.fallback_current_a)}],
        profile_id=LOAD_DEFAULT_PROFILE_ID,
    )
    return command_create(
        station=station,
        action="SetChargingProfile",
        payload=charging_profile_payload(station=station, spec=spec, profile_id=LOAD_DEFAULT_PROFILE_ID),
        idempotency_key="",
    )


def site_rebalance_request(
    *, location_id: int | None = None, station_id: int | None = None, trigger: str = ""
) -> bool:
    """Note that a site's sessions must be shared out again and have a worker do it after the
    commit (coalesced: many requests, one rebalance). Returns False when no capacity is set there."""
    if location_id is None and station_id is not None:
        location_id = Station.objects.filter(pk=station_id).values_list("location_id", flat=True).first()
    if location_id is None:
        return False
    now = timezone.now()
    updated = SiteCapacity.objects.filter(location_id=location_id, enabled=True).update(
        rebalance_requested_at=now
    )
    if not updated:
        return False

    def enqueue() -> None:
        from smartcharging.tasks import site_rebalance_task

        try:
            site_rebalance_task.delay(location_id, trigger)
        except Exception:
            # The beat sweep (site_rebalance_due) runs it within seconds.
            logger.warning("could not enqueue the rebalance of location %s", location_id, exc_info=True)

    transaction.on_commit(enqueue)
    return True


def site_rebalance(*, location_id: int, trigger: str = "") -> list[AllocationDecision]:
    """Share the site's capacity among its running sessions (smartcharging.allocation), record each
    changed decision with its reason, and send TxProfiles: lowered limits first, and raised ones
    only after the stations accepted those, so the site never draws more than its capacity.
    Runs one at a time per site (a cache lock); a request that arrives meanwhile runs next."""
    from django.core.cache import cache

    lock_key = f"smartcharging:rebalance:{location_id}"
    if not cache.add(lock_key, "1", timeout=settings.SMART_REBALANCE_LOCK_SECONDS):
        return []
    decisions: list[AllocationDecision] = []
    try:
        while True:
            site = SiteCapacity.objects.filter(location_id=location_id, enabled=True).first()
            if site is None:
                return decisions
            requested = site.rebalance_requested_at
            decisions += _site_rebalance_once(site=site, trigger=trigger)
            SiteCapacity.objects.filter(pk=site.pk).update(rebalanced_at=requested or timezone.now())
            fresh = (
                SiteCapacity.objects.filter(pk=site.pk)
                .values_list("rebalance_requested_at", flat=True)
                .first()
            )
            if fresh == requested:
                return decisions
            trigger = "requests during the last rebalance"
    finally:
        cache.delete(lock_key)


def _site_rebalance_once(*, site: SiteCapacity, trigger: str) -> list[AllocationDecision]:
    sessions = list(
        Session.objects.filter(station__location_id=site.location_id, status=Session.Status.ACTIVE)
        .select_related("station", "evse", "connector", "id_token__driver")
        .order_by("started_at", "id")
    )
    idle = _idle_connectors(location_id=site.location_id, sessions=sessions)
    paths = _circuit_paths(site)
    circuits = [
        CircuitLimit(
            key=str(circuit.pk),
            name=circuit.name,
            capacity_a=float(circuit.capacity_a),
            idle_connectors=sum(
                n for station_id, n in idle.items() if str(circuit.pk) in paths.get(station_id, ())
            ),
        )
        for circuit in Circuit.objects.filter(site=site)
    ]
    last: dict[int, AllocationDecision] = {}
    for decision in (
        AllocationDecision.objects.filter(session__in=sessions)
        .select_related("command")
        .order_by("session_id", "-created_at", "-id")
    ):
        last.setdefault(decision.session_id, decision)
    needs: dict[int, ChargingNeed] = {}
    for told in ChargingNeed.objects.filter(session__in=sessions, status=ChargingNeed.Status.ACCEPTED):
        needs.setdefault(told.session_id or 0, told)  # newest first (Meta.ordering)
    demands = []
    for session in sessions:
        max_w = session.connector.max_power_w if session.connector else 22000
        max_a, wants = round(_amps(max_w), 1), ""
        need = needs.get(session.pk)
        if need is not None:
            max_a, wants = _need_limit(need=need, session=session, site=site, max_a=max_a)
        fixed = None
        if not session.station.is_online:
            previous = last.get(session.pk)
            fixed = float(previous.current_a) if previous else float(site.fallback_current_a)
        demands.append(
            Demand(
                session_id=session.pk,
                max_current_a=max_a,
                priority=_session_priority(site=site, session=session),
                fixed_current_a=fixed,
                circuits=paths.get(session.station_id, ()),
                wants=wants,
            )
        )
    allocations = allocate(
        capacity_a=float(site.capacity_in_force_a or site.capacity_a),
        demands=demands,
        min_current_a=float(site.min_current_a),
        idle_connectors=sum(idle.values()),
        fallback_current_a=float(site.fallback_current_a),
        circuits=circuits,
    )
    by_session = {s.pk: s for s in sessions}
    lower: list[tuple[Session, Decimal, str]] = []
    higher: list[tuple[Session, Decimal, str]] = []
    for allocation in allocations:
        session = by_session[allocation.session_id]
        current = Decimal(str(allocation.current_a))
        previous = last.get(session.pk)
        if not session.station.is_online:
            continue
        if (
            previous is not None
            and previous.current_a == current
            and _still_in_force(previous, session.station)
            # The EV told its needs since: it waits for a schedule (2.0.1 K15), even an unchanged one.
            and not (session.pk in needs and needs[session.pk].received_at > previous.created_at)
        ):
            continue
        was = previous.current_a if previous is not None else site.fallback_current_a
        (lower if current <= was else higher).append((session, current, allocation.reason))
    # A DC charger reads a limit in A as DC current: a DC EV's share goes in W (ISO 15118 needs).
    dc = {pk for pk, told in needs.items() if told.transfer == "DC"}
    decisions = _site_send(site, lower, trigger, dc)
    if decisions:
        pending = [d.command for d in decisions if d.command is not None]
        deadline = time_monotonic() + settings.SMART_STEP_TIMEOUT
        for command in pending:
            # Raising before the stations took the lower limits could overshoot the capacity.
            command_wait(command=command, timeout=max(0.0, deadline - time_monotonic()))
    decisions += _site_send(site, higher, trigger, dc)
    return decisions


def _idle_connectors(*, location_id: int, sessions: Sequence[Session]) -> dict[int, int]:
    """Station id → how many of its connectors have no running session."""
    idle: dict[int, int] = {}
    for station_id in Connector.objects.filter(evse__station__location_id=location_id).values_list(
        "evse__station_id", flat=True
    ):
        idle[station_id] = idle.get(station_id, 0) + 1
    for session in sessions:
        idle[session.station_id] = max(0, idle.get(session.station_id, 0) - 1)
    return idle


def _circuit_paths(site: SiteCapacity) -> dict[int, tuple[str, ...]]:
    """Station id → the keys of every circuit it hangs from (its own and those above it)."""
    parents = dict(Circuit.objects.filter(site=site).values_list("pk", "parent_id"))
    paths: dict[int, tuple[str, ...]] = {}
    for station_id, circuit_id in CircuitStation.objects.filter(circuit__site=site).values_list(
        "station_id", "circuit_id"
    ):
        chain: list[str] = []
        node: int | None = circuit_id
        while node is not None and str(node) not in chain:
            chain.append(str(node))
            node = parents.get(node)
        paths[station_id] = tuple(reversed(chain))
    return paths


def _session_priority(*, site: SiteCapacity, session: Session) -> int:
    """A card listed in the site's priorities has that priority; otherwise its driver's plan's."""
    cards = site.priorities or {}
    if session.id_tag in cards:
        return int(cards[session.id_tag])
    plans = site.plan_priorities or {}
    if not plans or session.id_token is None:
        return 0
    subscription = subscription_active(driver=session.id_token.driver, on=timezone.localdate())
    return int(plans.get(subscription.plan.name, 0)) if subscription is not None else 0


def _need_limit(
    *, need: ChargingNeed, session: Session, site: SiteCapacity, max_a: float
) -> tuple[float, str]:
    """What an EV that told its needs should get at most (A per phase), and why: its own maximum,
    and no more than the rate that delivers the energy it still needs by its departure (never
    below the site's minimum current)."""
    reasons = []
    if need.max_current_a is not None and float(need.max_current_a) < max_a:
        max_a = float(need.max_current_a)
        reasons.append(f"the EV's maximum of {max_a:g} A")
    if need.energy_wh is not None and need.departure_at is not None:
        delivered = max(0, session.energy_wh - need.session_energy_wh)
        left_wh = max(0, need.energy_wh - delivered)
        hours = (need.departure_at - timezone.now()).total_seconds() / 3600
        if hours > 0:
            rate_a = max(float(site.min_current_a), left_wh / hours / (VOLTAGE * need.phases))
            rate_a = float(Decimal(str(rate_a)).quantize(Decimal("0.1"), rounding="ROUND_UP"))
            if rate_a < max_a:
                max_a = rate_a
                departure = need.departure_at.astimezone(_zone(site.location.time_zone))
                reasons = [f"{left_wh / 1000:g} kWh by {departure:%H:%M}"]
    if not reasons:
        return max_a, ""
    return max_a, f"the EV's needs: {' and '.join(reasons)} ({max_a:g} A)"


def _still_in_force(decision: AllocationDecision, station: Station) -> bool:
    # A limit the station refused, or one sent before it last rebooted, has to be sent again.
    command = decision.command
    if command is None or command.status not in (
        Command.Status.QUEUED,
        Command.Status.SENT,
        Command.Status.ACCEPTED,
    ):
        return False
    return station.last_boot_at is None or decision.created_at >= station.last_boot_at


def _site_send(
    site: SiteCapacity, items: Sequence[tuple[Session, Decimal, str]], trigger: str, dc: set[int]
) -> list[AllocationDecision]:
    decisions = []
    for session, current, reason in items:
        evse_id = session.evse.evse_id if session.evse else 1
        in_watts = session.pk in dc
        spec = ProfileSpec(
            purpose="Tx",
            unit="W" if in_watts else "A",
            evse_id=evse_id,
            stack_level=MANAGED_STACK_LEVEL,
            kind="Relative",
            periods=[
                {"start": 0, "limit": float(current) * VOLTAGE * PHASES if in_watts else float(current)}
            ],
            transaction_id=session.transaction_id,
            profile_id=LOAD_TX_PROFILE_ID + evse_id,
        )
        with transaction.atomic():
            try:
                command = command_create(
                    station=session.station,
                    action="SetChargingProfile",
                    payload=charging_profile_payload(
                        station=session.station, spec=spec, profile_id=spec.profile_id or 0
                    ),
                )
            except DomainError as exc:
                logger.warning("could not limit session %s: %s", session.pk, exc)
                command = None
            decisions.append(
                AllocationDecision.objects.create(
                    site=site,
                    session=session,
                    station=session.station,
                    current_a=current,
                    reason=reason[:300],
                    trigger=trigger[:60],
                    command=command,
                )
            )
    return decisions


def site_capacities_refresh(*, now: datetime | None = None) -> int:
    """Put each site's capacity for `now` in force (its capacity windows, in the location's time
    zone) and rebalance the sites whose capacity changed; returns how many changed. Run by the
    schedule tick."""
    now = now or timezone.now()
    changed = 0
    for site in SiteCapacity.objects.filter(enabled=True).select_related("location"):
        amps, why = site_capacity_at(site=site, now=now)
        if site.capacity_in_force_a == amps:
            continue
        with transaction.atomic():
            SiteCapacity.objects.filter(pk=site.pk).update(capacity_in_force_a=amps)
            site_rebalance_request(location_id=site.location_id, trigger=f"{why}: {amps} A")
        changed += 1
    return changed


def site_rebalance_due() -> list[int]:
    """The locations whose rebalance was requested and has not run (a lost enqueue); beat runs them."""
    from django.db.models import F

    return list(
        SiteCapacity.objects.filter(enabled=True, rebalance_requested_at__isnull=False)
        .filter(Q(rebalanced_at__isnull=True) | Q(rebalance_requested_at__gt=F("rebalanced_at")))
        .values_list("location_id", flat=True)
    )


# --- the EV's charging needs (ISO 15118 through OCPP 2.0.1) ------------------------------------------

PHASES_OF_TRANSFER = {"AC_single_phase": 1, "AC_two_phase": 2, "AC_three_phase": 3, "DC": 3}


def _needs_parse(needs: dict[str, Any]) -> dict[str, Any]:
    try:
        return _needs_read(needs)
    except (ArithmeticError, TypeError, ValueError):
        raise SmartChargingError("the charging needs carry a value that is not a number or a date") from None


def _needs_read(needs: dict[str, Any]) -> dict[str, Any]:
    transfer = needs.get("requestedEnergyTransfer")
    if transfer not in PHASES_OF_TRANSFER:
        raise SmartChargingError(f"unknown requestedEnergyTransfer {str(transfer)[:30]!r}")
    phases = PHASES_OF_TRANSFER[transfer]
    ac, dc = needs.get("acChargingParameters") or {}, needs.get("dcChargingParameters") or {}
    energy = ac.get("energyAmount", dc.get("energyAmount"))
    max_a: float | None = None
    if transfer == "DC":
        power = dc.get("evMaxPower") or (
            float(dc["evMaxCurrent"]) * float(dc["evMaxVoltage"]) if dc.get("evMaxVoltage") else None
        )
        max_a = float(power) / (VOLTAGE * PHASES) if power else None
    elif ac.get("evMaxCurrent") is not None:
        max_a = float(ac["evMaxCurrent"])
    departure = needs.get("departureTime")
    departure_at = None
    if departure:
        from django.utils.dateparse import parse_datetime

        departure_at = parse_datetime(str(departure))
        if departure_at is None or departure_at.tzinfo is None:
            raise SmartChargingError("departureTime is not a date and time with a zone")
    if energy is not None and (not isinstance(energy, int | float) or not 0 <= energy <= MAX_NEEDS_ENERGY_WH):
        raise SmartChargingError(f"energyAmount must be 0 to {MAX_NEEDS_ENERGY_WH} Wh")
    if max_a is not None and not 0 < max_a < 10_000:
        raise SmartChargingError("the EV's maximum must be positive and below 10 000 A")
    return {
        "transfer": transfer,
        "phases": phases,
        "energy_wh": round(energy) if energy is not None else None,
        "departure_at": departure_at,
        "max_current_a": Decimal(str(round(max_a, 1))) if max_a is not None else None,
    }


@transaction.atomic
def ev_charging_needs_answer(*, station_id: int, evse_id: int | None, payload: dict[str, Any]) -> str:
    """An EV told its charging needs (2.0.1 NotifyEVChargingNeeds, K15). Accepted when ChargeNet
    manages the load of the station's site and a session runs on the EVSE: the needs are stored and
    the site is rebalanced, which sends the session a TxProfile that fits them. Rejected ("service
    not available") otherwise, with the reason stored. Returns the status to answer."""
    station = Station.objects.get(pk=station_id)
    session = (
        Session.objects.filter(station=station, evse__evse_id=evse_id, status=Session.Status.ACTIVE)
        .order_by("-started_at")
        .first()
        if evse_id
        else None
    )
    need = ChargingNeed(station=station, session=session, evse_id=evse_id or 0)
    try:
        if session is None:
            raise SmartChargingError(f"no transaction runs on EVSE {evse_id}")
        site = SiteCapacity.objects.filter(location__stations=station, enabled=True).first()
        if site is None:
            raise SmartChargingError("ChargeNet does not manage the load of this station's site")
        for key, value in _needs_parse(payload.get("chargingNeeds") or {}).items():
            setattr(need, key, value)
    except SmartChargingError as exc:
        need.status, need.reason = ChargingNeed.Status.REJECTED, str(exc)[:200]
        need.save()
        return need.status
    max_tuples = payload.get("maxScheduleTuples")
    need.max_schedule_tuples = (
        max_tuples if isinstance(max_tuples, int) and 0 < max_tuples < 100_000 else None
    )
    need.session_energy_wh = session.energy_wh
    need.status = ChargingNeed.Status.ACCEPTED
    need.save()
    site_rebalance_request(location_id=site.location_id, trigger="EV charging needs")
    return need.status


def _schedule_watts(schedule: dict[str, Any]) -> list[tuple[int, float]]:
    """A chargingSchedule's periods as (startPeriod, limit in W): amperes count per phase at 230 V."""
    unit = schedule.get("chargingRateUnit")
    periods = []
    for period in schedule.get("chargingSchedulePeriod") or []:
        limit = float(period["limit"])
        if unit == "A":
            limit *= VOLTAGE * int(period.get("numberPhases") or PHASES)
        periods.append((int(period.get("startPeriod", 0)), limit))
    return sorted(periods)


def _limit_at(periods: Sequence[tuple[int, float]], second: int) -> float | None:
    in_force = [limit for start, limit in periods if start <= second]
    return in_force[-1] if in_force else None


@transaction.atomic
def ev_charging_schedule_answer(*, station_id: int, evse_id: int | None, payload: dict[str, Any]) -> str:
    """An EV's charging schedule (2.0.1 NotifyEVChargingSchedule, K15.FR.10, K16, K17) checked
    against the TxProfile ChargeNet last gave its session: Accepted when every period stays within
    it (or none was given), Rejected when one exceeds it, and the TxProfile is sent again so the EV
    renegotiates (K15.FR.13). Returns the status to answer."""
    session = (
        Session.objects.filter(station_id=station_id, evse__evse_id=evse_id, status=Session.Status.ACTIVE)
        .order_by("-started_at")
        .first()
        if evse_id
        else None
    )
    if session is None:
        return "Accepted"
    given = (
        Command.objects.filter(
            station_id=station_id,
            action="SetChargingProfile",
            status__in=[Command.Status.QUEUED, Command.Status.SENT, Command.Status.ACCEPTED],
            payload__evseId=evse_id,
            payload__chargingProfile__chargingProfilePurpose="TxProfile",
            payload__chargingProfile__transactionId=session.transaction_id,
        )
        .order_by("-created_at", "-id")
        .first()
    )
    if given is None:
        return "Accepted"
    try:
        ours = _schedule_watts(given.payload["chargingProfile"]["chargingSchedule"][0])
        theirs = _schedule_watts(payload.get("chargingSchedule") or {})
    except (KeyError, IndexError, TypeError, ValueError):
        logger.warning("station %s sent an EV charging schedule that cannot be read", station_id)
        return "Rejected"
    # Rounding to 0.1 A may leave the EV's copy a few watts off ours.
    exceeds = any(
        (limit_w := _limit_at(ours, start)) is not None and watts > limit_w + 1 for start, watts in theirs
    )
    if not exceeds:
        return "Accepted"
    command_create(station=given.station, action="SetChargingProfile", payload=given.payload)
    return "Rejected"


# --- schedules ------------------------------------------------------------------------------------


def _rule_window_active(rule: ScheduleRule, local: datetime) -> bool:
    """Whether a recurring rule's window contains the local wall-clock moment `local`."""
    if rule.start_time is None or rule.end_time is None:
        return False
    return _window_active(weekdays=rule.weekdays, start=rule.start_time, end=rule.end_time, local=local)


def schedule_rule_active(*, rule: ScheduleRule, now: datetime, tz: ZoneInfo) -> bool:
    """Whether the rule is in force at `now` (aware UTC), read in the location's time zone, so a
    17:00 rule starts at 17:00 local time in winter and in summer."""
    if rule.kind == ScheduleRule.Kind.MAINTENANCE:
        return bool(rule.starts_at and rule.ends_at and rule.starts_at <= now < rule.ends_at)
    return _rule_window_active(rule, now.astimezone(tz))


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except Exception:
        return ZoneInfo("UTC")


def _station_tz(station: Station) -> ZoneInfo:
    return _zone(station.location.time_zone if station.location is not None else "UTC")


@dataclass(frozen=True)
class Desired:
    limit_w: int | None
    inoperative: bool
    reason: str
    stop_sessions: bool = False


def station_schedule_desired(*, station: Station, now: datetime) -> Desired:
    """What the rules want for the station at `now`. Overlaps resolve strictly: the lowest power
    limit wins; Inoperative wins (outside opening hours or inside maintenance)."""
    rules = ScheduleRule.objects.filter(rules_for_station_q(station), is_active=True)
    tz = _station_tz(station)
    limit: int | None = None
    reasons: list[str] = []
    inoperative = stop = False
    has_opening_hours = open_now = False
    for rule in rules:
        active = schedule_rule_active(rule=rule, now=now, tz=tz)
        if rule.kind == ScheduleRule.Kind.POWER_LIMIT and active and rule.limit_w is not None:
            if limit is None or rule.limit_w < limit:
                limit = rule.limit_w
                reasons.append(f"{rule.name}: {rule.limit_w / 1000:g} kW")
        elif rule.kind == ScheduleRule.Kind.OPENING_HOURS:
            has_opening_hours = True
            open_now = open_now or active
            stop = stop or (rule.stop_sessions and not active)
        elif rule.kind == ScheduleRule.Kind.MAINTENANCE and active:
            inoperative = True
            stop = stop or rule.stop_sessions
            reasons.append(f"{rule.name}: maintenance")
    if has_opening_hours and not open_now:
        inoperative = True
        reasons.append("outside opening hours")
    return Desired(limit, inoperative, "; ".join(reasons)[:200], stop and inoperative)


def schedules_apply(
    *, now: datetime | None = None, station_ids: Sequence[int] | None = None, force: bool = False
) -> int:
    """Bring every station with schedule rules (or those named) to what the rules want at `now`,
    and (unless stations are named) every site to its capacity at `now` (site_capacities_refresh):
    a station maximum profile for a power limit (cleared when it ends), ChangeAvailability
    Inoperative / Operative (a running session goes on unless the rule says stop). Sends only
    changes unless `force` (a station that rebooted). Returns how many stations got commands."""
    now = now or timezone.now()
    stations = Station.objects.select_related("location").exclude(
        registration_status=Station.RegistrationStatus.REJECTED
    )
    if station_ids is not None:
        stations = stations.filter(pk__in=station_ids)
    else:
        stations = stations.filter(
            Q(schedule_rules__is_active=True)
            | Q(location__schedule_rules__is_active=True)
            | Q(tags__schedule_rules__is_active=True)
            | Q(schedule_state__isnull=False)
        ).distinct()
    changed = 0
    for station in stations:
        if _station_schedule_apply(station=station, now=now, force=force):
            changed += 1
    if station_ids is None:
        site_capacities_refresh(now=now)
    return changed


@transaction.atomic
def _station_schedule_apply(*, station: Station, now: datetime, force: bool) -> bool:
    desired = station_schedule_desired(station=station, now=now)
    state, created = StationScheduleState.objects.select_for_update().get_or_create(station=station)
    if created and desired.limit_w is None and not desired.inoperative:
        state.applied_at = now
        state.save()
        return False
    sent = False
    if force or created or desired.limit_w != state.limit_w:
        if desired.limit_w is not None:
            spec = ProfileSpec(
                purpose="StationMax",
                unit="W",
                evse_id=0,
                stack_level=MANAGED_STACK_LEVEL,
                kind="Absolute",
                start_schedule=timezone.now().replace(microsecond=0),
                periods=[{"start": 0, "limit": desired.limit_w}],
                profile_id=SCHEDULE_PROFILE_ID,
            )
            command_create(
                station=station,
                action="SetChargingProfile",
                payload=charging_profile_payload(station=station, spec=spec, profile_id=SCHEDULE_PROFILE_ID),
            )
            sent = True
        elif state.limit_w is not None or force:
            key = "id" if station.ocpp_version == "1.6" else "chargingProfileId"
            command_create(station=station, action="ClearChargingProfile", payload={key: SCHEDULE_PROFILE_ID})
            sent = True
    if force or created or desired.inoperative != state.inoperative:
        if desired.inoperative and desired.stop_sessions:
            from stations.services import session_remote_stop

            for session in Session.objects.filter(station=station, status=Session.Status.ACTIVE):
                try:
                    session_remote_stop(session=session)
                except DomainError as exc:
                    logger.info("schedule could not stop session %s: %s", session.pk, exc)
        if desired.inoperative or state.inoperative or force:
            kind = "Inoperative" if desired.inoperative else "Operative"
            if station.ocpp_version == "1.6":
                payload: dict[str, Any] = {"connectorId": 0, "type": kind}
            else:
                payload = {"operationalStatus": kind}
            command_create(station=station, action="ChangeAvailability", payload=payload)
            sent = True
    state.limit_w, state.inoperative, state.reason, state.applied_at = (
        desired.limit_w,
        desired.inoperative,
        desired.reason,
        now,
    )
    state.save()
    return sent


@transaction.atomic
def schedule_rule_create(
    *,
    name: str,
    kind: str,
    location: Location | None = None,
    station: Station | None = None,
    tag: Tag | None = None,
    weekdays: list[int] | None = None,
    start_time: time | None = None,
    end_time: time | None = None,
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
    limit_w: int | None = None,
    stop_sessions: bool = False,
    notice: str = "",
) -> ScheduleRule:
    """Create a schedule rule after checking it is complete for its kind; it takes effect at the
    next tick (SMART_SCHEDULE_TICK). Raises SmartChargingError."""
    if sum(target is not None for target in (location, station, tag)) != 1:
        raise SmartChargingError("a rule applies to one station, one location or one tag")
    if kind not in ScheduleRule.Kind.values:
        raise SmartChargingError(f"kind must be one of {', '.join(ScheduleRule.Kind.values)}")
    days = list(weekdays or [])
    if any(not isinstance(d, int) or not 0 <= d <= 6 for d in days):
        raise SmartChargingError("weekdays are 0 (Monday) to 6 (Sunday)")
    if kind == ScheduleRule.Kind.MAINTENANCE:
        if starts_at is None or ends_at is None or ends_at <= starts_at:
            raise SmartChargingError("a maintenance window needs starts_at before ends_at")
    else:
        if start_time is None or end_time is None or start_time == end_time:
            raise SmartChargingError("a recurring rule needs start_time and end_time (different)")
    if kind == ScheduleRule.Kind.POWER_LIMIT and (limit_w is None or limit_w < 0):
        raise SmartChargingError("a power limit needs limit_w (W)")
    rule = ScheduleRule.objects.create(
        name=name[:100],
        kind=kind,
        location=location,
        station=station,
        tag=tag,
        weekdays=sorted(set(days)),
        start_time=start_time,
        end_time=end_time,
        starts_at=starts_at,
        ends_at=ends_at,
        limit_w=limit_w,
        stop_sessions=stop_sessions,
        notice=notice[:200],
    )
    return rule


@transaction.atomic
def schedule_rule_delete(*, rule: ScheduleRule) -> None:
    """Delete a rule; the next tick lifts what it imposed."""
    rule.delete()


def station_reapply(*, station_id: int) -> int:
    """A station booted: it may have lost its charging profiles. Send every profile ChargeNet
    holds as installed there since before its last boot again (not TxProfiles: its sessions ended
    with the reboot), the availability its schedules want, and rebalance its site. Runs in the
    event's transaction; returns how many commands were queued."""
    station = Station.objects.select_related("location").filter(pk=station_id).first()
    if station is None:
        return 0
    sent = 0
    active = ChargingProfile.objects.filter(station=station, is_active=True)
    installed = active.exclude(purpose="TxProfile")
    if station.last_boot_at is not None:
        # The boot event may reach us late (a busy worker, the sweep): what the station accepted
        # after it booted is still there, and sending it again could undo a newer change.
        installed = installed.filter(created_at__lt=station.last_boot_at)
    for row in installed.order_by("id"):
        if station.ocpp_version == "1.6":
            payload: dict[str, Any] = {"connectorId": row.connector_id, "csChargingProfiles": row.profile}
        else:
            payload = {"evseId": row.connector_id, "chargingProfile": row.profile}
        command_create(station=station, action="SetChargingProfile", payload=payload)
        sent += 1
    state = StationScheduleState.objects.filter(station=station).first()
    if state is not None and state.inoperative:
        kind_payload = (
            {"connectorId": 0, "type": "Inoperative"}
            if station.ocpp_version == "1.6"
            else {"operationalStatus": "Inoperative"}
        )
        command_create(station=station, action="ChangeAvailability", payload=kind_payload)
        sent += 1
    if station.location_id is not None:
        if not active.filter(charging_profile_id=LOAD_DEFAULT_PROFILE_ID).exists():
            site = SiteCapacity.objects.filter(location_id=station.location_id, enabled=True).first()
            if site is not None and site_fallback_install(site=site, station=station):
                sent += 1
        site_rebalance_request(location_id=station.location_id, trigger="station booted")
    return sent
