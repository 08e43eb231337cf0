"""The pricing engine: charging periods and an OCPI 2.2.1 tariff in, a cost breakdown out.

Pure: no ORM, no I/O, no clock, no binary floating point. Every amount is an exact `Decimal`;
nothing is rounded here (rounding happens once, when a CDR or invoice is finalised, see `money.py`).

Interpretation of OCPI 2.2.1 tariffs (docs/billing.md has the full list):
- Energy accrues linearly within a charging period. A period is cut at every instant where a
  restriction could change its verdict: local times named by restrictions, local midnights, UTC
  offset changes (DST), session durations named by min/max_duration and the moments the session's
  energy crosses min/max_kwh. Each slice is then priced with the state at its start.
- For each dimension (ENERGY, TIME, PARKING_TIME) the first element, in tariff order, whose
  restrictions all hold and that has a component of that dimension prices the slice. TIME is charged
  while charging, PARKING_TIME while connected but idle, ENERGY for every Wh delivered.
- FLAT is charged once per session by the first element with a FLAT component that holds at the
  start of the session.
- Step size: the total each price component bills in the session is rounded up to a multiple of
  its step size (Wh for ENERGY, seconds for TIME and PARKING_TIME). This keeps the price monotonic
  (a session that goes on never costs less) which OCPI's "last component's step size rounds the
  dimension total" rule does not guarantee.
- Minimums are inclusive, maximums exclusive; start_time > end_time wraps past midnight; end_date
  is exclusive; a restriction on a quantity we do not know (e.g. current) does not hold.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal, InvalidOperation, localcontext
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

ENERGY = "ENERGY"
FLAT = "FLAT"
PARKING_TIME = "PARKING_TIME"
TIME = "TIME"
DIMENSIONS = (ENERGY, FLAT, PARKING_TIME, TIME)
DAYS = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")
RESTRICTION_KEYS = frozenset(
    {
        "start_time",
        "end_time",
        "start_date",
        "end_date",
        "min_kwh",
        "max_kwh",
        "min_current",
        "max_current",
        "min_power",
        "max_power",
        "min_duration",
        "max_duration",
        "day_of_week",
        "reservation",
    }
)
_TIME_RE = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ZERO = Decimal(0)
_US_PER_HOUR = Decimal(3_600_000_000)
_US_PER_SECOND = Decimal(1_000_000)
_PRECISION = 50
_MICRO = Decimal("0.000001")


class TariffInvalid(ValueError):
    """The tariff elements are not a valid OCPI 2.2.1 tariff; the message says what is wrong."""


@dataclass(frozen=True)
class ChargingPeriod:
    """A stretch of a session with one state: charging (energy flows) or idle (connected only)."""

    start: datetime
    end: datetime
    energy_wh: Decimal
    charging: bool
    power_w: Decimal | None = None
    current_a: Decimal | None = None


@dataclass(frozen=True)
class TariffTerms:
    """What pricing needs of a tariff: currency, VAT and OCPI elements (prices as decimal strings)."""

    currency: str
    vat_percent: Decimal
    elements: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class ComponentCost:
    """What one price component of the tariff billed in a session."""

    type: str
    element: int  # index into the tariff's elements
    price: Decimal  # excl. VAT per kWh, per hour or per session
    step_size: int
    measured: Decimal  # kWh or hours actually used (1 for FLAT)
    billed: Decimal  # after rounding up to the step size
    cost_excl_vat: Decimal
    cost_incl_vat: Decimal


@dataclass(frozen=True)
class PricedPeriod:
    """A slice of the session with the price components that applied to it (an OCPI ChargingPeriod)."""

    start: datetime
    end: datetime
    energy_wh: Decimal
    charging: bool
    components: tuple[tuple[str, int], ...]  # (dimension, element index)


@dataclass(frozen=True)
class CostBreakdown:
    """The exact, unrounded cost of a session per component, with totals excl. and incl. VAT."""

    currency: str
    vat_percent: Decimal
    components: tuple[ComponentCost, ...]
    periods: tuple[PricedPeriod, ...]
    energy_wh: Decimal
    charging_seconds: Decimal
    parking_seconds: Decimal
    total_excl_vat: Decimal = field(default=_ZERO)
    total_incl_vat: Decimal = field(default=_ZERO)

    def cost_of(self, dimension: str) -> Decimal:
        """The cost excl. VAT of one dimension (ENERGY, FLAT, PARKING_TIME or TIME)."""
        return sum((c.cost_excl_vat for c in self.components if c.type == dimension), _ZERO)


# --- validation ----------------------------------------------------------------------------------


def decimal_parse(value: Any, *, what: str) -> Decimal:
    """A Decimal from a decimal string or an int; binary floats are refused (they cannot hold 0.10)."""
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise TariffInvalid(f'{what} must be a decimal string such as "0.30"')
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise TariffInvalid(f"{what} is not a number: {value!r}") from None
    if not number.is_finite():
        raise TariffInvalid(f"{what} must be finite")
    return number


def elements_normalise(elements: Any) -> list[dict[str, Any]]:
    """Validate OCPI 2.2.1 tariff elements and return them with prices as canonical decimal strings.

    Raises TariffInvalid naming the first problem found.
    """
    if not isinstance(elements, list) or not elements:
        raise TariffInvalid("a tariff needs at least one element")
    normalised = []
    for number, element in enumerate(elements, start=1):
        where = f"element {number}"
        if not isinstance(element, dict):
            raise TariffInvalid(f"{where} must be an object")
        unknown = set(element) - {"price_components", "restrictions"}
        if unknown:
            raise TariffInvalid(f"{where} has unknown fields: {', '.join(sorted(unknown))}")
        components = element.get("price_components")
        if not isinstance(components, list) or not components:
            raise TariffInvalid(f"{where} needs at least one price component")
        out_components = []
        for c_number, component in enumerate(components, start=1):
            c_where = f"{where}, price component {c_number}"
            if not isinstance(component, dict):
                raise TariffInvalid(f"{c_where} must be an object")
            unknown = set(component) - {"type", "price", "step_size"}
            if unknown:
                raise TariffInvalid(f"{c_where} has unknown fields: {', '.join(sorted(unknown))}")
            if component.get("type") not in DIMENSIONS:
                raise TariffInvalid(f"{c_where}: type must be one of {', '.join(DIMENSIONS)}")
            price = decimal_parse(component.get("price"), what=f"{c_where}: price")
            if price < 0:
                raise TariffInvalid(f"{c_where}: price must not be negative")
            step = component.get("step_size", 1)
            if isinstance(step, bool) or not isinstance(step, int) or step < 1:
                raise TariffInvalid(f"{c_where}: step_size must be a whole number of at least 1")
            out_components.append({"type": component["type"], "price": str(price), "step_size": step})
        out: dict[str, Any] = {"price_components": out_components}
        restrictions = element.get("restrictions")
        if restrictions:
            out["restrictions"] = _restrictions_normalise(restrictions, where=where)
        normalised.append(out)
    return normalised


def _restrictions_normalise(restrictions: Any, *, where: str) -> dict[str, Any]:
    if not isinstance(restrictions, dict):
        raise TariffInvalid(f"{where}: restrictions must be an object")
    unknown = set(restrictions) - RESTRICTION_KEYS
    if unknown:
        raise TariffInvalid(f"{where}: unknown restrictions: {', '.join(sorted(unknown))}")
    out: dict[str, Any] = {}
    for key in ("start_time", "end_time"):
        if key in restrictions:
            if not isinstance(restrictions[key], str) or not _TIME_RE.match(restrictions[key]):
                raise TariffInvalid(f"{where}: {key} must be a local time HH:MM")
            out[key] = restrictions[key]
    for key in ("start_date", "end_date"):
        if key in restrictions:
            value = restrictions[key]
            try:
                if not isinstance(value, str) or not _DATE_RE.match(value):
                    raise ValueError
                date.fromisoformat(value)
            except ValueError:
                raise TariffInvalid(f"{where}: {key} must be a local date YYYY-MM-DD") from None
            out[key] = value
    for low, high in (
        ("min_kwh", "max_kwh"),
        ("min_current", "max_current"),
        ("min_power", "max_power"),
        ("min_duration", "max_duration"),
    ):
        bounds = {}
        for key in (low, high):
            if key in restrictions:
                value = decimal_parse(restrictions[key], what=f"{where}: {key}")
                if value < 0:
                    raise TariffInvalid(f"{where}: {key} must not be negative")
                bounds[key] = value
                out[key] = int(value) if key.endswith("duration") and value == int(value) else str(value)
        if low in bounds and high in bounds and bounds[low] >= bounds[high]:
            raise TariffInvalid(f"{where}: {low} must be below {high}")
    if "start_date" in out and "end_date" in out and out["start_date"] >= out["end_date"]:
        raise TariffInvalid(f"{where}: start_date must be before end_date")
    if "day_of_week" in restrictions:
        days = restrictions["day_of_week"]
        if not isinstance(days, list) or not days or any(day not in DAYS for day in days):
            raise TariffInvalid(f"{where}: day_of_week must list days such as MONDAY, SATURDAY")
        out["day_of_week"] = [day for day in DAYS if day in days]
    if "reservation" in restrictions:
        if restrictions["reservation"] not in ("RESERVATION", "RESERVATION_EXPIRES"):
            raise TariffInvalid(f"{where}: reservation must be RESERVATION or RESERVATION_EXPIRES")
        out["reservation"] = restrictions["reservation"]
    return out


def zone_get(name: str) -> ZoneInfo:
    """The IANA time zone; TariffInvalid when the name is unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise TariffInvalid(f"unknown time zone {name!r}") from None


# --- pricing -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Component:
    type: str
    element: int
    index: int
    price: Decimal
    step_size: int


@dataclass(frozen=True)
class _Element:
    index: int
    components: dict[str, _Component]
    restrictions: dict[str, Any]


@dataclass(frozen=True)
class _State:
    local: datetime
    duration_s: Decimal
    energy_wh: Decimal
    power_w: Decimal | None
    current_a: Decimal | None


def _elements_parse(elements: tuple[dict[str, Any], ...] | list[dict[str, Any]]) -> list[_Element]:
    parsed = []
    for e_index, element in enumerate(elements_normalise(list(elements))):
        components: dict[str, _Component] = {}
        for c_index, component in enumerate(element["price_components"]):
            # OCPI: within one element, the first component of a dimension counts.
            components.setdefault(
                component["type"],
                _Component(
                    component["type"], e_index, c_index, Decimal(component["price"]), component["step_size"]
                ),
            )
        parsed.append(_Element(e_index, components, element.get("restrictions", {})))
    return parsed


def _holds(restrictions: dict[str, Any], state: _State) -> bool:
    """Whether every restriction of an element holds in `state` (OCPI 2.2.1 §11.4.6)."""
    if not restrictions:
        return True
    if "reservation" in restrictions:
        return False  # reservation prices never apply to a charging session
    local = state.local
    clock = local.strftime("%H:%M")
    start_t, end_t = restrictions.get("start_time"), restrictions.get("end_time")
    if start_t and end_t:
        inside = start_t <= clock < end_t if start_t < end_t else (clock >= start_t or clock < end_t)
        if start_t != end_t and not inside:
            return False
    elif start_t and clock < start_t:
        return False
    elif end_t and clock >= end_t:
        return False
    today = local.date().isoformat()
    if "start_date" in restrictions and today < restrictions["start_date"]:
        return False
    if "end_date" in restrictions and today >= restrictions["end_date"]:
        return False
    if "day_of_week" in restrictions and DAYS[local.weekday()] not in restrictions["day_of_week"]:
        return False
    kwh = state.energy_wh / 1000
    if not _within(kwh, restrictions, "min_kwh", "max_kwh"):
        return False
    if not _within(state.duration_s, restrictions, "min_duration", "max_duration"):
        return False
    power_kw = None if state.power_w is None else state.power_w / 1000
    if not _within(power_kw, restrictions, "min_power", "max_power"):
        return False
    return _within(state.current_a, restrictions, "min_current", "max_current")


def _within(value: Decimal | None, restrictions: dict[str, Any], low: str, high: str) -> bool:
    if low not in restrictions and high not in restrictions:
        return True
    if value is None:
        return False
    if low in restrictions and value < Decimal(restrictions[low]):
        return False
    return not (high in restrictions and value >= Decimal(restrictions[high]))


def _local_cuts(start: datetime, end: datetime, zone: ZoneInfo, clocks: set[time]) -> set[datetime]:
    """Instants in (start, end) where the local clock shows one of `clocks` or the UTC offset changes."""
    cuts: set[datetime] = set()
    first = start.astimezone(zone).date() - timedelta(days=1)
    last = end.astimezone(zone).date() + timedelta(days=1)
    day = first
    while day <= last:
        for clock in clocks:
            for fold in (0, 1):
                naive = datetime.combine(day, clock)
                instant = naive.replace(tzinfo=zone, fold=fold).astimezone(UTC)
                # A wall time skipped by DST does not exist; the offset change below cuts there.
                if instant.astimezone(zone).replace(tzinfo=None) == naive and start < instant < end:
                    cuts.add(instant)
        day += timedelta(days=1)
    # UTC offset changes (DST): found by bisection between instants with different offsets.
    probe = start
    while probe < end:
        nxt = min(probe + timedelta(hours=6), end)
        if probe.astimezone(zone).utcoffset() != nxt.astimezone(zone).utcoffset():
            low, high = probe, nxt
            while high - low > timedelta(seconds=1):
                mid = low + (high - low) / 2
                mid = mid.replace(microsecond=0)
                if mid <= low:
                    break
                if mid.astimezone(zone).utcoffset() == low.astimezone(zone).utcoffset():
                    low = mid
                else:
                    high = mid
            if start < high < end:
                cuts.add(high)
        probe = nxt
    return cuts


def _microseconds(delta: timedelta) -> int:
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def price_session(
    *,
    periods: list[ChargingPeriod] | tuple[ChargingPeriod, ...],
    tariff: TariffTerms,
    time_zone: str,
    session_start: datetime | None = None,
) -> CostBreakdown:
    """Price a session's charging periods with a tariff evaluated in the location's time zone.

    Periods must be in time order and not overlap (aware datetimes). Returns exact Decimals per
    component; raises TariffInvalid for a malformed tariff or time zone.
    """
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        return _price(periods, tariff, time_zone, session_start)


def _price(
    periods: list[ChargingPeriod] | tuple[ChargingPeriod, ...],
    tariff: TariffTerms,
    time_zone: str,
    session_start: datetime | None,
) -> CostBreakdown:
    zone = zone_get(time_zone)
    elements = _elements_parse(tariff.elements)
    periods = sorted(periods, key=lambda p: p.start)
    for period in periods:
        if period.start.tzinfo is None or period.end.tzinfo is None:
            raise ValueError("charging periods need aware datetimes")
        if period.end < period.start or period.energy_wh < 0:
            raise ValueError("a charging period cannot end before it starts or deliver negative energy")
    start = session_start or (periods[0].start if periods else None)
    clocks = {time(0, 0)}
    durations: set[Decimal] = set()
    thresholds_wh: set[Decimal] = set()
    for element in elements:
        r = element.restrictions
        for key in ("start_time", "end_time"):
            if key in r:
                clocks.add(time.fromisoformat(r[key]))
        for key in ("min_duration", "max_duration"):
            if key in r:
                durations.add(Decimal(r[key]))
        for key in ("min_kwh", "max_kwh"):
            if key in r:
                thresholds_wh.add(Decimal(r[key]) * 1000)

    # Measured volume per price component, and the slices for the CDR.
    used: dict[_Component, Decimal] = {}
    priced: list[PricedPeriod] = []
    energy_so_far = _ZERO
    charging_us = _ZERO
    parking_us = _ZERO

    def active(dimension: str, state: _State) -> _Component | None:
        for element in elements:
            component = element.components.get(dimension)
            if component is not None and _holds(element.restrictions, state):
                return component
        return None

    for period in periods:
        length_us = _microseconds(period.end - period.start)
        if length_us == 0:
            continue
        energy = Decimal(period.energy_wh)
        cuts = _local_cuts(period.start, period.end, zone, clocks)
        # Energy at a min/max_kwh cut is the threshold itself, not re-derived from the cut's rounded
        # instant: otherwise where a period happens to be split would move energy across the edge.
        exact_energy: dict[datetime, Decimal] = {}
        if start is not None:
            for seconds in durations:
                at_us = int((seconds * _US_PER_SECOND).to_integral_value(ROUND_CEILING))
                instant = start + timedelta(microseconds=at_us)
                if period.start < instant < period.end:
                    cuts.add(instant)
        if energy > 0:
            for threshold in thresholds_wh:
                if energy_so_far < threshold < energy_so_far + energy:
                    # Round the cut up to a whole microsecond so the slice after it has crossed.
                    offset = ((threshold - energy_so_far) * length_us / energy).to_integral_value(
                        ROUND_CEILING
                    )
                    instant = period.start + timedelta(microseconds=int(offset))
                    if period.start < instant < period.end:
                        cuts.add(instant)
                        exact_energy[instant] = threshold - energy_so_far
        edges = [period.start, *sorted(cuts), period.end]

        def energy_at(
            instant: datetime,
            period: ChargingPeriod = period,
            energy: Decimal = energy,
            length_us: int = length_us,
            exact: dict[datetime, Decimal] = exact_energy,
        ) -> Decimal:
            if instant in exact:
                return exact[instant]
            return energy * _microseconds(instant - period.start) / length_us

        for a, b in zip(edges, edges[1:], strict=False):
            slice_energy = energy_at(b) - energy_at(a)
            slice_us = Decimal(_microseconds(b - a))
            state = _State(
                local=a.astimezone(zone),
                duration_s=Decimal(_microseconds(a - start)) / _US_PER_SECOND if start else _ZERO,
                energy_wh=energy_so_far + energy_at(a),
                power_w=period.power_w,
                current_a=period.current_a,
            )
            applied: list[tuple[str, int]] = []
            if slice_energy > 0:
                component = active(ENERGY, state)
                if component is not None:
                    used[component] = used.get(component, _ZERO) + slice_energy
                    applied.append((ENERGY, component.element))
            time_dimension = TIME if period.charging else PARKING_TIME
            component = active(time_dimension, state)
            if component is not None:
                used[component] = used.get(component, _ZERO) + slice_us
                applied.append((time_dimension, component.element))
            if period.charging:
                charging_us += slice_us
            else:
                parking_us += slice_us
            _append_slice(priced, a, b, slice_energy, period.charging, tuple(applied))
        energy_so_far += energy

    components: list[ComponentCost] = []
    vat_factor = 1 + Decimal(tariff.vat_percent) / 100
    if start is not None:
        flat_state = _State(
            local=start.astimezone(zone),
            duration_s=_ZERO,
            energy_wh=_ZERO,
            power_w=periods[0].power_w if periods else None,
            current_a=periods[0].current_a if periods else None,
        )
        flat = active(FLAT, flat_state)
        if flat is not None:
            components.append(
                ComponentCost(FLAT, flat.element, flat.price, flat.step_size, Decimal(1), Decimal(1),
                              flat.price, flat.price * vat_factor)
            )  # fmt: skip
    for component in sorted(used, key=lambda c: (DIMENSIONS.index(c.type), c.element)):
        amount = used[component]  # Wh or microseconds
        step = Decimal(component.step_size)
        if component.type == ENERGY:
            # Meters resolve Wh; µWh is far below that and hides the last digits of interpolation.
            amount = amount.quantize(_MICRO, ROUND_HALF_UP)
            billed_units = (amount / step).to_integral_value(ROUND_CEILING) * step
            measured, billed = amount / 1000, billed_units / 1000
        else:
            seconds = amount / _US_PER_SECOND
            billed_seconds = (seconds / step).to_integral_value(ROUND_CEILING) * step
            measured, billed = amount / _US_PER_HOUR, billed_seconds * _US_PER_SECOND / _US_PER_HOUR
        cost = billed * component.price
        components.append(
            ComponentCost(component.type, component.element, component.price, component.step_size,
                          measured, billed, cost, cost * vat_factor)
        )  # fmt: skip
    total_excl = sum((c.cost_excl_vat for c in components), _ZERO)
    return CostBreakdown(
        currency=tariff.currency,
        vat_percent=Decimal(tariff.vat_percent),
        components=tuple(components),
        periods=tuple(priced),
        energy_wh=energy_so_far,
        charging_seconds=charging_us / _US_PER_SECOND,
        parking_seconds=parking_us / _US_PER_SECOND,
        total_excl_vat=total_excl,
        total_incl_vat=total_excl * vat_factor,
    )


def _append_slice(
    priced: list[PricedPeriod],
    a: datetime,
    b: datetime,
    energy: Decimal,
    charging: bool,
    applied: tuple[tuple[str, int], ...],
) -> None:
    """Merge a slice into the previous one when nothing relevant for the price changed."""
    if priced:
        last = priced[-1]
        if last.end == a and last.charging == charging and last.components == applied:
            priced[-1] = PricedPeriod(last.start, b, last.energy_wh + energy, charging, applied)
            return
    priced.append(PricedPeriod(a, b, energy, charging, applied))


def session_simulate(
    *,
    tariff: TariffTerms,
    time_zone: str,
    start_local: datetime,
    energy_kwh: Decimal,
    power_kw: Decimal,
    parking_minutes: int = 0,
) -> CostBreakdown:
    """Price a hypothetical session: `energy_kwh` at a constant `power_kw` from a local start time,
    then `parking_minutes` connected but idle. Backs the tariff editor's preview."""
    if power_kw <= 0 or energy_kwh < 0 or parking_minutes < 0:
        raise ValueError("power must be positive; energy and parking time must not be negative")
    zone = zone_get(time_zone)
    start = start_local.replace(tzinfo=zone).astimezone(UTC)
    charge_us = int((energy_kwh / power_kw * _US_PER_HOUR).to_integral_value(ROUND_CEILING))
    charged = start + timedelta(microseconds=charge_us)
    periods = [ChargingPeriod(start, charged, energy_kwh * 1000, True, power_kw * 1000)]
    if parking_minutes:
        periods.append(ChargingPeriod(charged, charged + timedelta(minutes=parking_minutes), _ZERO, False))
    return price_session(periods=periods, tariff=tariff, time_zone=time_zone, session_start=start)


# --- charging periods from meter samples ---------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    """A meter sample as pricing needs it: energy register (Wh) or active power (W) at a time."""

    timestamp: datetime
    measurand: str
    value: Decimal


ENERGY_REGISTER = "Energy.Active.Import.Register"
POWER_ACTIVE = "Power.Active.Import"
# Below this average power a stretch between samples counts as idle (rounding noise of the meter).
IDLE_BELOW_W = Decimal(50)


def periods_from_samples(
    *,
    started_at: datetime,
    stopped_at: datetime,
    meter_start_wh: int,
    energy_wh: int,
    samples: list[Sample] | tuple[Sample, ...],
) -> list[ChargingPeriod]:
    """Charging and idle periods of a session from its energy-register and power samples.

    Energy between consecutive register readings is charging when it averages at least 50 W (or a
    power sample says so), idle otherwise. The session's final `energy_wh` is authoritative: readings
    are clamped to [0, energy_wh] and made monotonic, so the periods add up to exactly `energy_wh`.
    """
    total = Decimal(max(energy_wh, 0))
    points: list[tuple[datetime, Decimal]] = [(started_at, _ZERO)]
    for sample in sorted(samples, key=lambda s: s.timestamp):
        if sample.measurand != ENERGY_REGISTER or not (started_at < sample.timestamp < stopped_at):
            continue
        reading = min(max(Decimal(sample.value) - meter_start_wh, points[-1][1]), total)
        points.append((sample.timestamp, reading))
    points.append((stopped_at, total))
    powers = sorted(
        (s for s in samples if s.measurand == POWER_ACTIVE and started_at <= s.timestamp <= stopped_at),
        key=lambda s: s.timestamp,
    )
    periods: list[ChargingPeriod] = []
    for (a, ea), (b, eb) in zip(points, points[1:], strict=False):
        if b <= a:
            continue
        energy = eb - ea
        hours = Decimal(_microseconds(b - a)) / _US_PER_HOUR
        average_w = energy / hours
        sampled = [s.value for s in powers if a <= s.timestamp < b]
        power = max(sampled) if sampled else average_w
        charging = energy > 0 and (average_w >= IDLE_BELOW_W or power >= IDLE_BELOW_W)
        previous = periods[-1] if periods else None
        if previous is not None and not charging and not previous.charging:
            periods[-1] = ChargingPeriod(previous.start, b, previous.energy_wh + energy, False)
            continue
        periods.append(ChargingPeriod(a, b, energy, charging, power if charging else None))
    return periods
