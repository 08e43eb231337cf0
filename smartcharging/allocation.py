"""Site load management: how a site's capacity is shared among its charging sessions. Pure, no Django.

Rules (docs/smart-charging.md): every session counts on every phase (a conservative reading for
single-phase cars); a reserve of `fallback_current_a` is kept for each idle connector, because a car
that plugs in there draws its TxDefault limit before ChargeNet hears of it; each session either gets
at least `min_current_a` or is paused (0 A), lower priority and later sessions paused first; what is
left is shared equally, higher priority tiers first, no session above what its EV wants.

A site may have circuits (feeders, sub-distribution boards) with limits of their own, nested in a
tree; every limit holds at once: the site's and that of each circuit a session hangs from. The
sharing is max-min fair (progressive filling): all sessions of a tier rise together until one
reaches what its EV wants or a circuit it hangs from is full; those stop, the others go on.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

SITE = ""  # the node key of the site itself
EPSILON = 1e-9


@dataclass(frozen=True)
class Demand:
    """A running session that wants current."""

    session_id: int
    max_current_a: float  # what the EV / connector can take (or needs) per phase
    priority: int = 0
    fixed_current_a: float | None = None  # an offline station keeps what it was given last
    circuits: tuple[str, ...] = ()  # keys of every circuit the session hangs from
    wants: str = ""  # why max_current_a is what it is, when it is not the connector's maximum


@dataclass(frozen=True)
class Circuit:
    """A circuit within the site: its own limit, and how many idle connectors hang from it."""

    key: str
    name: str
    capacity_a: float
    idle_connectors: int = 0


@dataclass(frozen=True)
class Allocation:
    session_id: int
    current_a: float
    reason: str


def _floor(value: float) -> float:
    return float(Decimal(str(max(0.0, value) + EPSILON)).quantize(Decimal("0.1"), rounding=ROUND_DOWN))


def allocate(
    *,
    capacity_a: float,
    demands: Sequence[Demand],
    min_current_a: float = 6.0,
    idle_connectors: int = 0,
    fallback_current_a: float = 0.0,
    circuits: Sequence[Circuit] = (),
) -> list[Allocation]:
    """Share `capacity_a` (per phase) among `demands` (in start order). For the site and for every
    circuit, the sum of the allocations below it plus its idle connectors' reserve never exceeds
    its capacity."""
    names = {SITE: "the site", **{c.key: f"circuit {c.name}" for c in circuits}}
    capacity = {SITE: capacity_a, **{c.key: c.capacity_a for c in circuits}}
    idle = {SITE: idle_connectors, **{c.key: c.idle_connectors for c in circuits}}
    reserve = {key: count * fallback_current_a for key, count in idle.items()}
    available = {key: capacity[key] - reserve[key] for key in capacity}

    def path(demand: Demand) -> list[str]:
        return [SITE, *(key for key in demand.circuits if key in capacity)]

    result: dict[int, Allocation] = {}
    fixed = [d for d in demands if d.fixed_current_a is not None]
    for demand in fixed:
        current = demand.fixed_current_a or 0.0
        for key in path(demand):
            available[key] -= current
        result[demand.session_id] = Allocation(
            demand.session_id, current, f"station offline: keeps its last limit of {current:g} A"
        )
    flexible = [d for d in demands if d.fixed_current_a is None]

    def need(demand: Demand) -> float:
        return min(min_current_a, demand.max_current_a)

    # Admission: in priority order (then start order), each admitted session needs its minimum
    # below every limit it hangs from.
    admitted: list[Demand] = []
    minimums = dict.fromkeys(capacity, 0.0)
    for index in sorted(range(len(flexible)), key=lambda i: (-flexible[i].priority, i)):
        demand = flexible[index]
        short = next(
            (key for key in path(demand) if minimums[key] + need(demand) > available[key] + EPSILON), None
        )
        if short is None:
            admitted.append(demand)
            for key in path(demand):
                minimums[key] += need(demand)
            continue
        left = f"{available[short]:g} A left after the reserve" if short == SITE else (
            f"{names[short]} has {available[short]:g} A left after its reserve"
        )  # fmt: skip
        result[demand.session_id] = Allocation(
            demand.session_id,
            0.0,
            f"paused: {left} is not enough for a minimum of {min_current_a:g} A for one more car",
        )
    # Progressive filling by priority tier: each tier shares what is left, lower tiers keep their
    # minimum.
    given = dict.fromkeys(capacity, 0.0)
    for priority in sorted({d.priority for d in admitted}, reverse=True):
        tier = [d for d in admitted if d.priority == priority]
        headroom = dict(available)
        for key in capacity:
            headroom[key] -= given[key]
        for d in admitted:
            if d.priority < priority:
                for key in path(d):
                    headroom[key] -= need(d)
        level = {d.session_id: 0.0 for d in tier}
        bound: dict[int, str | None] = {}
        open_ = list(tier)
        while open_:
            counts = dict.fromkeys(capacity, 0)
            for d in open_:
                for key in path(d):
                    counts[key] += 1
            step = min(
                [headroom[key] / n for key, n in counts.items() if n]
                + [d.max_current_a - level[d.session_id] for d in open_]
            )
            step = max(0.0, step)
            for d in open_:
                level[d.session_id] += step
                for key in path(d):
                    headroom[key] -= step
            full = {key for key, n in counts.items() if n and headroom[key] <= EPSILON}
            still = []
            for d in open_:
                if level[d.session_id] >= d.max_current_a - EPSILON:
                    bound[d.session_id] = None
                elif full.intersection(path(d)):
                    # The innermost full circuit is the one that holds it back.
                    bound[d.session_id] = [key for key in path(d) if key in full][-1]
                else:
                    still.append(d)
            open_ = still
        for d in tier:
            amps = _floor(level[d.session_id])
            for key in path(d):
                given[key] += amps
            result[d.session_id] = Allocation(
                d.session_id,
                amps,
                _reason(
                    d, amps, bound.get(d.session_id), [*admitted, *fixed], capacity, reserve, idle, names
                ),
            )
    return [result[d.session_id] for d in demands]


def _reason(
    demand: Demand,
    amps: float,
    limit: str | None,
    sharing: Sequence[Demand],
    capacity: dict[str, float],
    reserve: dict[str, float],
    idle: dict[str, int],
    names: dict[str, str],
) -> str:
    if limit is None or amps >= demand.max_current_a:
        return demand.wants or f"full speed: the EV's maximum of {demand.max_current_a:g} A fits"
    count = sum(1 for d in sharing if limit == SITE or limit in d.circuits)
    where = "" if limit == SITE else f"{names[limit]}'s "
    text = f"equal share of {where}{capacity[limit]:g} A among {count} session(s)"
    if reserve[limit]:
        text += f", {reserve[limit]:g} A kept for {idle[limit]} idle connector(s)"
    if demand.priority:
        text += f", priority {demand.priority}"
    return text
