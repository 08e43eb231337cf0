"""What the simulated stations of both OCPP versions share for smart charging: the composite limit
of the charging profiles they installed, and the power they draw under it. `SimulatedStation` (1.6)
and `Simulated201Station` mix in `FollowsProfiles`; the 2.0.1 station keeps its profiles in the 1.6
shape (snake_case, `charging_profile_id`, one `charging_schedule`, ChargePointMaxProfile).

Like the rest of the simulator it imports nothing from Django.
"""

from datetime import UTC, datetime
from typing import Any


def parse_time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class FollowsProfiles:
    """The power a station draws under its profiles; the station class supplies the attributes
    below (each connector with `connector_id`, `transaction_id`, `started_at` and `power_w`)."""

    connectors: dict[int, Any]
    charging_profiles: list[dict[str, Any]]
    ev_max_current_a: float | None
    ev_phases: int

    def present_power_w(self, connector: Any) -> float:
        """What the connector (EVSE) draws now: the EV's wish, capped by the EV's maximum current and
        by the composite of the installed charging profiles."""
        if connector.transaction_id is None:
            return 0.0
        power = float(connector.power_w)
        if self.ev_max_current_a is not None:
            power = min(power, self.ev_max_current_a * 230 * self.ev_phases)
        limit = self.profile_limit_w(connector.connector_id)
        return power if limit is None else max(0.0, min(power, limit))

    def profile_limit_w(self, connector_id: int, at: datetime | None = None) -> float | None:
        """The composite limit (W) on a connector now (profiles_limit_w)."""
        connector = self.connectors.get(connector_id)
        started = None
        if connector is not None and connector.transaction_id is not None:
            started = connector.started_at
        return profiles_limit_w(
            self.charging_profiles,
            connector_id,
            started=started,
            ev_phases=self.ev_phases,
            at=at,
        )


def profiles_limit_w(
    profiles: list[dict[str, Any]],
    connector_id: int,
    *,
    started: datetime | None,
    ev_phases: int = 3,
    at: datetime | None = None,
) -> float | None:
    """The composite limit (W) of installed profiles (1.6 shape, snake_case) on a connector: per
    purpose the valid profile with the highest stack level that has a period now; TxProfile (only
    while a transaction runs, since `started`) over TxDefaultProfile; ChargePointMaxProfile caps."""
    at = at or datetime.now(UTC)

    def prevailing(purpose: str) -> float | None:
        candidates = [
            p
            for p in profiles
            if p.get("charging_profile_purpose") == purpose and p.get("connector_id") in (0, connector_id)
        ]
        candidates.sort(key=lambda p: (p.get("stack_level", 0), p.get("connector_id") != 0), reverse=True)
        for profile in candidates:
            limit = _profile_period_limit_w(profile, at, started, ev_phases)
            if limit is not None:
                return limit
        return None

    tx = (prevailing("TxProfile") if started else None) or prevailing("TxDefaultProfile")
    cap = prevailing("ChargePointMaxProfile")
    limits = [x for x in (tx, cap) if x is not None]
    return min(limits) if limits else None


def _profile_period_limit_w(
    profile: dict[str, Any], at: datetime, started: datetime | None, ev_phases: int
) -> float | None:
    if profile.get("valid_from") and at < parse_time(profile["valid_from"]):
        return None
    if profile.get("valid_to") and at >= parse_time(profile["valid_to"]):
        return None
    schedule = profile.get("charging_schedule") or {}
    kind = profile.get("charging_profile_kind")
    anchor = schedule.get("start_schedule")
    start = started if kind == "Relative" or not anchor else parse_time(anchor)
    if start is None:
        return None
    elapsed = (at - start).total_seconds()
    if kind == "Recurring":
        cycle = 7 * 86400 if profile.get("recurrency_kind") == "Weekly" else 86400
        elapsed %= cycle
    if elapsed < 0 or (schedule.get("duration") and elapsed >= schedule["duration"]):
        return None
    periods = sorted(schedule.get("charging_schedule_period") or [], key=lambda p: p["start_period"])
    current = next((p for p in reversed(periods) if p["start_period"] <= elapsed), None)
    if current is None:
        return None
    limit = float(current["limit"])
    if schedule.get("charging_rate_unit") == "A":
        phases = min(current.get("number_phases") or 3, ev_phases)
        limit *= 230 * phases
    return limit
