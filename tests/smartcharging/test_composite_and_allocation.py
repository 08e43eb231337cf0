"""The pure parts: ChargeNet's composite schedule and the site's allocation."""

from datetime import UTC, datetime, timedelta

from smartcharging.allocation import Circuit, Demand, allocate
from smartcharging.composite import Period, Profile, composite_schedule

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def test_a_tx_profile_overrides_the_tx_default_and_the_station_maximum_caps_both():
    default = Profile(1, 0, "TxDefaultProfile", unit="W", periods=(Period(0, 11000),), start_schedule=T0)
    tx = Profile(2, 0, "TxProfile", kind="Relative", unit="A", periods=(Period(0, 10), Period(600, 32)))
    cap = Profile(3, 0, "ChargePointMaxProfile", unit="W", periods=(Period(0, 16000),), start_schedule=T0)

    composite = composite_schedule([default, tx, cap], start=T0, duration=3600, unit="W", tx_start=T0)

    assert [(s.start, s.limit) for s in composite.slots] == [(0, 6900.0), (600, 16000.0)]
    assert composite.slots[0].source == "TxProfile #2"


def test_without_a_transaction_only_the_default_counts_and_a_higher_stack_level_prevails():
    low = Profile(1, 0, "TxDefaultProfile", unit="A", periods=(Period(0, 32),), start_schedule=T0)
    high = Profile(
        2,
        1,
        "TxDefaultProfile",
        unit="A",
        periods=(Period(0, 16),),
        start_schedule=T0 + timedelta(hours=1),
        duration=1800,
    )
    tx = Profile(3, 5, "TxProfile", kind="Relative", unit="A", periods=(Period(0, 6),))

    composite = composite_schedule([low, high, tx], start=T0, duration=7200, unit="A")

    assert [(s.start, s.limit) for s in composite.slots] == [(0, 32.0), (3600, 16.0), (5400, 32.0)]


def test_a_daily_recurring_profile_repeats_and_validity_ends_it():
    evening = Profile(
        1,
        0,
        "ChargePointMaxProfile",
        kind="Recurring",
        recurrency="Daily",
        unit="W",
        start_schedule=datetime(2026, 3, 1, 16, 0, tzinfo=UTC),
        duration=4 * 3600,
        periods=(Period(0, 11000),),
        valid_to=datetime(2026, 3, 3, 18, 0, tzinfo=UTC),
    )

    composite = composite_schedule([evening], start=T0, duration=2 * 86400, unit="W")

    assert [(s.start, s.limit) for s in composite.slots] == [
        (0, None),
        (4 * 3600, 11000.0),
        (8 * 3600, None),
        (28 * 3600, 11000.0),
        (30 * 3600, None),  # valid_to cut the second evening short
    ]


def test_three_cars_share_a_22_kw_site_equally_and_never_exceed_it():
    capacity = 22000 / (230 * 3)
    demands = [Demand(session_id=n, max_current_a=16) for n in (1, 2, 3)]

    allocations = allocate(capacity_a=capacity, demands=demands)

    assert [a.current_a for a in allocations] == [10.6, 10.6, 10.6]
    assert sum(a.current_a for a in allocations) * 230 * 3 <= 22000
    assert "equal share" in allocations[0].reason


def test_a_car_that_takes_less_leaves_the_rest_to_the_others():
    demands = [Demand(1, max_current_a=8), Demand(2, max_current_a=32), Demand(3, max_current_a=32)]

    allocations = allocate(capacity_a=40, demands=demands)

    assert [a.current_a for a in allocations] == [8.0, 16.0, 16.0]
    assert allocations[0].reason.startswith("full speed")


def test_when_the_minimum_does_not_fit_the_latest_car_is_paused_and_priority_wins():
    demands = [Demand(1, 16), Demand(2, 16), Demand(3, 16, priority=1)]

    allocations = allocate(capacity_a=13, demands=demands, min_current_a=6)

    by_id = {a.session_id: a for a in allocations}
    assert by_id[3].current_a >= 6 and by_id[1].current_a >= 6
    assert by_id[2].current_a == 0 and by_id[2].reason.startswith("paused")
    assert sum(a.current_a for a in allocations) <= 13


def test_idle_connectors_keep_a_reserve_and_offline_stations_keep_their_limit():
    demands = [Demand(1, 32, fixed_current_a=10), Demand(2, 32)]

    allocations = allocate(capacity_a=32, demands=demands, idle_connectors=2, fallback_current_a=6)

    assert [a.current_a for a in allocations] == [10, 10.0]
    assert "offline" in allocations[0].reason


def test_a_full_circuit_holds_back_its_own_sessions_and_the_others_share_the_rest():
    # given a 64 A site whose feeder A is only 20 A: three cars on feeder A, one elsewhere
    feeder = Circuit("a", "Feeder A", capacity_a=20)
    demands = [Demand(n, 32, circuits=("a",)) for n in (1, 2, 3)] + [Demand(4, 32)]

    # when the site is shared out
    allocations = allocate(capacity_a=64, demands=demands, circuits=[feeder])

    # then feeder A's cars share its 20 A and the fourth car gets what the site has left, to its maximum
    assert [a.current_a for a in allocations] == [6.6, 6.6, 6.6, 32.0]
    assert sum(a.current_a for a in allocations[:3]) <= 20
    assert allocations[0].reason == "equal share of circuit Feeder A's 20 A among 3 session(s)"
    assert allocations[3].reason.startswith("full speed")


def test_every_level_of_nested_circuits_holds_and_its_idle_connectors_keep_their_reserve():
    # given a 40 A site, a 30 A board with a 12 A sub-circuit (one idle connector there)
    circuits = [
        Circuit("board", "Board", capacity_a=30, idle_connectors=1),
        Circuit("sub", "Sub", capacity_a=12, idle_connectors=1),
    ]
    demands = [
        Demand(1, 32, circuits=("board", "sub")),
        Demand(2, 32, circuits=("board",)),
        Demand(3, 32),
    ]

    allocations = allocate(
        capacity_a=40, demands=demands, circuits=circuits, idle_connectors=1, fallback_current_a=6
    )

    current = {a.session_id: a.current_a for a in allocations}
    assert current[1] == 6.0  # 12 A less the idle neighbour's 6 A
    assert current[1] + current[2] <= 30 - 6
    assert sum(current.values()) <= 40 - 6
    assert current[2] == current[3] == 14.0
    assert "circuit Sub's 12 A" in allocations[0].reason and "6 A kept for 1 idle" in allocations[0].reason


def test_a_circuit_without_room_for_a_minimum_pauses_the_latest_car_there_only():
    feeder = Circuit("a", "Feeder A", capacity_a=10)
    demands = [Demand(1, 16, circuits=("a",)), Demand(2, 16, circuits=("a",)), Demand(3, 16)]

    allocations = allocate(capacity_a=60, demands=demands, circuits=[feeder], min_current_a=6)

    assert [a.current_a for a in allocations] == [10.0, 0.0, 16.0]
    assert allocations[1].reason.startswith("paused: circuit Feeder A has 10 A left")
