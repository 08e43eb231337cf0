"""Site load management: how a site's capacity is shared among its charging sessions. Pure, no Django.

Rules (docs/smart-charging.md): every session counts on every phase (a conservative reading for
single-phase cars); a reserve of `fallback_current_a` is kept for each idle connector, because a car
that plugs in there draws its TxDefault limit before ChargeNet hears of it; each session either gets
at least `min_current_a` or is paused (0 A), lower priority and later sessions paused first; what is
left is shared equally, higher priority tiers first, no session above its EV's or connector's maximum.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal


@dataclass(frozen=True)
class Demand:
    """A running session that wants current."""

    session_id: int
    max_current_a: float  # what the EV / connector can take per phase
    priority: int = 0
    fixed_current_a: float | None = None  # an offline station keeps what it was given last


@dataclass(frozen=True)
class Allocation:
    session_id: int
    current_a: float
    reason: str


def _floor(value: float) -> float:
    return float(Decimal(str(max(0.0, value))).quantize(Decimal("0.1"), rounding=ROUND_DOWN))


def allocate(
    *,
    capacity_a: float,
    demands: Sequence[Demand],
    min_current_a: float = 6.0,
    idle_connectors: int = 0,
    fallback_current_a: float = 0.0,
) -> list[Allocation]:
    """Share `capacity_a` (per phase) among `demands` (in start order). The sum of the allocations
    plus the idle connectors' reserve never exceeds the capacity."""
    reserve = idle_connectors * fallback_current_a
    available = capacity_a - reserve
    result: dict[int, Allocation] = {}
    fixed = [d for d in demands if d.fixed_current_a is not None]
    for demand in fixed:
        current = demand.fixed_current_a or 0.0
        available -= current
        result[demand.session_id] = Allocation(
            demand.session_id, current, f"station offline: keeps its last limit of {current:g} A"
        )
    flexible = [d for d in demands if d.fixed_current_a is None]
    # Admission: in priority order (then start order), each admitted session needs its minimum.
    admitted: list[Demand] = []
    order = sorted(range(len(flexible)), key=lambda i: (-flexible[i].priority, i))
    for index in order:
        demand = flexible[index]
        need = min(min_current_a, demand.max_current_a)
        if sum(min(min_current_a, d.max_current_a) for d in admitted) + need <= available + 1e-9:
            admitted.append(demand)
        else:
            result[demand.session_id] = Allocation(
                demand.session_id,
                0.0,
                f"paused: {available:g} A left after the reserve is not enough for a minimum of "
                f"{min_current_a:g} A for one more car",
            )
    # Water-filling by priority tier: each tier shares what is left equally, capped at each maximum.
    left = available
    for priority in sorted({d.priority for d in admitted}, reverse=True):
        tier = [d for d in admitted if d.priority == priority]
        lower = [d for d in admitted if d.priority < priority]
        # Lower tiers keep their minimum.
        budget = left - sum(min(min_current_a, d.max_current_a) for d in lower)
        shares: dict[int, float] = {}
        open_ = list(tier)
        while open_:
            share = budget / len(open_)
            capped = [d for d in open_ if d.max_current_a <= share]
            if not capped:
                for d in open_:
                    shares[d.session_id] = share
                break
            for d in capped:
                shares[d.session_id] = d.max_current_a
                budget -= d.max_current_a
                open_.remove(d)
        for d in tier:
            current = _floor(shares[d.session_id])
            left -= current
            if current >= d.max_current_a:
                reason = f"full speed: the EV's maximum of {d.max_current_a:g} A fits"
            else:
                reason = (
                    f"equal share of {capacity_a:g} A among {len(admitted) + len(fixed)} session(s)"
                    + (f", {reserve:g} A kept for {idle_connectors} idle connector(s)" if reserve else "")
                    + (f", priority {priority}" if priority else "")
                )
            result[d.session_id] = Allocation(d.session_id, current, reason)
    return [result[d.session_id] for d in demands]
