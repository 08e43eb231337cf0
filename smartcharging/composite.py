"""ChargeNet's own composite schedule: what limit a connector is under at each moment, from the
charging profiles installed on its station. Pure functions, no Django.

The stacking rules follow OCPP 1.6 §3.13 / 2.0.1 K08: within one purpose the valid profile with the
highest stack level that has a period at that moment prevails; a TxProfile overrides the
TxDefaultProfile; the station maximum (ChargePointMax / ChargingStationMax) caps the result. Limits
in A and W are converted with the nominal voltage and the number of phases.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

NOMINAL_VOLTAGE = 230.0
STATION_MAX = "ChargePointMaxProfile"
TX_DEFAULT = "TxDefaultProfile"
TX = "TxProfile"
# 2.0.1 spells the station maximum differently; both mean the same cap.
PURPOSE_ALIASES = {"ChargingStationMaxProfile": STATION_MAX}
CYCLES = {"Daily": timedelta(days=1), "Weekly": timedelta(days=7)}


@dataclass(frozen=True)
class Period:
    """One period of a schedule: from `start` seconds after the schedule's start, `limit` in its unit."""

    start: int
    limit: float
    phases: int | None = None


@dataclass(frozen=True)
class Profile:
    """A charging profile, version-neutral."""

    profile_id: int
    stack_level: int
    purpose: str
    kind: str = "Absolute"  # Absolute | Recurring | Relative
    unit: str = "W"  # W | A
    periods: tuple[Period, ...] = ()
    recurrency: str | None = None  # Daily | Weekly (Recurring only)
    start_schedule: datetime | None = None
    duration: int | None = None
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    connector_id: int = 0

    @property
    def normalised_purpose(self) -> str:
        return PURPOSE_ALIASES.get(self.purpose, self.purpose)


@dataclass(frozen=True)
class Slot:
    """From `start` (seconds after the composite's start) the limit is `limit` (None: no profile limits)."""

    start: int
    limit: float | None
    source: str = ""  # which profile decided, e.g. "TxProfile #3"


@dataclass
class Composite:
    start: datetime
    duration: int
    unit: str
    slots: list[Slot] = field(default_factory=list)

    def limit_at(self, offset: int) -> float | None:
        current = None
        for slot in self.slots:
            if slot.start <= offset:
                current = slot.limit
        return current


def convert(
    limit: float, *, from_unit: str, to_unit: str, phases: int, voltage: float = NOMINAL_VOLTAGE
) -> float:
    """A limit in A (per phase) as W, or the other way round."""
    if from_unit == to_unit:
        return limit
    if from_unit == "A":
        return limit * voltage * phases
    return limit / (voltage * phases)


def _schedule_start(profile: Profile, at: datetime, tx_start: datetime | None) -> datetime | None:
    if profile.kind == "Relative":
        return tx_start
    anchor = profile.start_schedule or profile.valid_from
    if anchor is None:
        return tx_start
    if profile.kind == "Recurring":
        cycle = CYCLES.get(profile.recurrency or "Daily", CYCLES["Daily"])
        if at < anchor:
            return anchor
        return anchor + cycle * ((at - anchor) // cycle)
    return anchor


def profile_limit_at(profile: Profile, at: datetime, *, tx_start: datetime | None = None) -> Period | None:
    """The period of `profile` in force at `at`, or None when the profile says nothing then."""
    if profile.valid_from is not None and at < profile.valid_from:
        return None
    if profile.valid_to is not None and at >= profile.valid_to:
        return None
    start = _schedule_start(profile, at, tx_start)
    if start is None or at < start:
        return None
    elapsed = (at - start).total_seconds()
    if profile.duration is not None and elapsed >= profile.duration:
        return None
    found = None
    for period in sorted(profile.periods, key=lambda p: p.start):
        if period.start <= elapsed:
            found = period
    return found


def _boundaries(
    profile: Profile, begin: datetime, end: datetime, tx_start: datetime | None
) -> Iterable[datetime]:
    yield from (t for t in (profile.valid_from, profile.valid_to) if t is not None)
    starts: list[datetime] = []
    if profile.kind == "Recurring":
        cycle = CYCLES.get(profile.recurrency or "Daily", CYCLES["Daily"])
        first = _schedule_start(profile, begin, tx_start)
        if first is not None:
            first -= cycle  # the occurrence that may still run into the window
            while first < end:
                starts.append(first)
                first += cycle
    else:
        start = _schedule_start(profile, begin, tx_start)
        if start is not None:
            starts.append(start)
    for start in starts:
        for period in profile.periods:
            yield start + timedelta(seconds=period.start)
        if profile.duration is not None:
            yield start + timedelta(seconds=profile.duration)


def composite_schedule(
    profiles: Sequence[Profile],
    *,
    start: datetime,
    duration: int,
    unit: str = "W",
    phases: int = 3,
    connector_id: int | None = None,
    tx_start: datetime | None = None,
    voltage: float = NOMINAL_VOLTAGE,
) -> Composite:
    """The composite schedule of a connector (or the station, `connector_id` 0/None) from `start` for
    `duration` seconds, in `unit`. `tx_start` anchors Relative profiles (None: no transaction, so
    TxProfiles do not apply)."""
    end = start + timedelta(seconds=duration)
    relevant = [
        p
        for p in profiles
        if connector_id in (None, 0) or p.connector_id in (0, connector_id)
        if tx_start is not None or p.normalised_purpose != TX
    ]
    moments = {start}
    for profile in relevant:
        moments.update(t for t in _boundaries(profile, start, end, tx_start) if start <= t < end)
    composite = Composite(start=start, duration=duration, unit=unit)
    for moment in sorted(moments):
        limit, source = _limit_at(
            relevant, moment, unit=unit, phases=phases, tx_start=tx_start, voltage=voltage
        )
        offset = int((moment - start).total_seconds())
        if composite.slots and (composite.slots[-1].limit, composite.slots[-1].source) == (limit, source):
            continue
        if composite.slots and composite.slots[-1].start == offset:
            composite.slots[-1] = Slot(offset, limit, source)
        else:
            composite.slots.append(Slot(offset, limit, source))
    return composite


def _limit_at(
    profiles: Sequence[Profile],
    at: datetime,
    *,
    unit: str,
    phases: int,
    tx_start: datetime | None,
    voltage: float,
) -> tuple[float | None, str]:
    def prevailing(purpose: str) -> tuple[float, str] | None:
        # Per connector, the highest stack level with a period now; a connector-specific profile is
        # preferred over a station-wide one of the same purpose and stack level.
        candidates = sorted(
            (p for p in profiles if p.normalised_purpose == purpose),
            key=lambda p: (p.stack_level, p.connector_id != 0),
            reverse=True,
        )
        for profile in candidates:
            period = profile_limit_at(profile, at, tx_start=tx_start)
            if period is not None:
                used_phases = period.phases or phases
                value = convert(
                    period.limit, from_unit=profile.unit, to_unit=unit, phases=used_phases, voltage=voltage
                )
                return value, f"{profile.purpose} #{profile.profile_id}"
        return None

    tx = prevailing(TX) or prevailing(TX_DEFAULT)
    cap = prevailing(STATION_MAX)
    if tx is None and cap is None:
        return None, ""
    if tx is None:
        assert cap is not None
        return round(cap[0], 1), cap[1]
    if cap is None or tx[0] <= cap[0]:
        return round(tx[0], 1), tx[1]
    return round(cap[0], 1), cap[1]
