"""The pure pricing engine: OCPI tariff semantics, edges in local time, and its invariants."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from billing.money import money_round
from billing.pricing import (
    ChargingPeriod,
    Sample,
    TariffInvalid,
    TariffTerms,
    elements_normalise,
    periods_from_samples,
    price_session,
    session_simulate,
)

AMS = "Europe/Amsterdam"


def terms(*elements, vat="25"):
    return TariffTerms(currency="EUR", vat_percent=D(vat), elements=tuple(elements))


def energy(price, step=1, **restrictions):
    element = {"price_components": [{"type": "ENERGY", "price": price, "step_size": step}]}
    if restrictions:
        element["restrictions"] = restrictions
    return element


def component(kind, price, step=1, **restrictions):
    element = {"price_components": [{"type": kind, "price": price, "step_size": step}]}
    if restrictions:
        element["restrictions"] = restrictions
    return element


def local(*args, zone=AMS):
    return datetime(*args, tzinfo=ZoneInfo(zone)).astimezone(UTC)


def test_ten_kwh_at_thirty_cents_plus_one_euro_is_four_excl_and_five_incl_vat():
    tariff = terms(energy("0.30"), component("FLAT", "1.00"))
    start = local(2026, 10, 6, 9, 0)

    cost = price_session(
        periods=[ChargingPeriod(start, start + timedelta(hours=1), D(10000), True)],
        tariff=tariff,
        time_zone=AMS,
    )

    assert money_round(cost.total_excl_vat, "EUR") == D("4.00")
    assert money_round(cost.total_incl_vat, "EUR") == D("5.00")
    assert cost.cost_of("ENERGY") == D("3.00") and cost.cost_of("FLAT") == D("1.00")


def test_time_is_charged_while_charging_and_parking_time_while_idle():
    tariff = terms(component("TIME", "1.20"), component("PARKING_TIME", "6.00"))
    start = local(2026, 10, 6, 9, 0)
    charged = start + timedelta(minutes=30)

    cost = price_session(
        periods=[
            ChargingPeriod(start, charged, D(5000), True),
            ChargingPeriod(charged, charged + timedelta(minutes=20), D(0), False),
        ],
        tariff=tariff,
        time_zone=AMS,
    )

    assert cost.cost_of("TIME") == D("0.60")
    assert cost.cost_of("PARKING_TIME") == D("2.00")


def test_a_step_size_rounds_the_time_up_to_whole_blocks():
    tariff = terms(component("PARKING_TIME", "6.00", step=900))
    start = local(2026, 10, 6, 9, 0)

    cost = price_session(
        periods=[ChargingPeriod(start, start + timedelta(minutes=16), D(0), False)],
        tariff=tariff,
        time_zone=AMS,
    )

    assert cost.cost_of("PARKING_TIME") == D("3.00")  # 30 minutes billed


def test_a_night_rate_applies_from_22_00_local_time_across_midnight():
    tariff = terms(energy("0.20", start_time="22:00", end_time="06:00"), energy("0.40"))
    start = local(2026, 10, 6, 21, 0)

    # 3 kWh evenly over 21:00–00:00 local: 1 kWh at day rate, 2 kWh at night rate.
    cost = price_session(
        periods=[ChargingPeriod(start, start + timedelta(hours=3), D(3000), True)],
        tariff=tariff,
        time_zone=AMS,
    )

    assert cost.cost_of("ENERGY") == D("0.80")


def test_weekend_prices_start_at_local_midnight_not_utc_midnight():
    tariff = terms(energy("0.10", day_of_week=["SATURDAY", "SUNDAY"]), energy("0.50"))
    # Friday 23:00 to Saturday 01:00 Amsterdam (UTC+2 in October): one hour each side.
    start = local(2026, 10, 9, 23, 0)

    cost = price_session(
        periods=[ChargingPeriod(start, start + timedelta(hours=2), D(2000), True)],
        tariff=tariff,
        time_zone=AMS,
    )

    assert cost.cost_of("ENERGY") == D("0.60")


def test_an_evening_rate_follows_the_wall_clock_across_the_autumn_dst_change():
    # 25 October 2026: clocks go back at 03:00 CEST. 00:00–06:00 local lasts 7 real hours.
    tariff = terms(component("TIME", "1.00", start_time="00:00", end_time="06:00"), component("TIME", "0"))
    start = local(2026, 10, 24, 23, 0)

    cost = price_session(
        periods=[ChargingPeriod(start, start + timedelta(hours=9), D(9000), True)],
        tariff=tariff,
        time_zone=AMS,
    )

    assert cost.cost_of("TIME") == D("7.00")


def test_a_rate_from_02_30_starts_when_spring_dst_skips_that_hour():
    # 29 March 2026: 02:00 CET jumps to 03:00 CEST; a 02:30 start means "from the jump on".
    tariff = terms(component("TIME", "1.00", start_time="02:30", end_time="05:00"), component("TIME", "0"))
    start = local(2026, 3, 29, 1, 0)

    cost = price_session(
        periods=[ChargingPeriod(start, start + timedelta(hours=5), D(1000), True)],
        tariff=tariff,
        time_zone=AMS,
    )

    assert cost.cost_of("TIME") == D("2.00")  # 03:00–05:00 CEST


def test_energy_above_a_threshold_gets_the_cheaper_bulk_price():
    tariff = terms(energy("0.50", max_kwh="10"), energy("0.20"))
    start = local(2026, 10, 6, 9, 0)

    cost = price_session(
        periods=[ChargingPeriod(start, start + timedelta(hours=2), D(30000), True)],
        tariff=tariff,
        time_zone=AMS,
    )

    assert cost.cost_of("ENERGY") == D("9.00")  # 10 × 0.50 + 20 × 0.20


def test_a_fast_charging_price_applies_only_above_its_power():
    tariff = terms(energy("0.60", min_power="50"), energy("0.30"))
    start = local(2026, 10, 6, 9, 0)
    slow = ChargingPeriod(start, start + timedelta(hours=1), D(11000), True, power_w=D(11000))
    fast = ChargingPeriod(start, start + timedelta(hours=1), D(60000), True, power_w=D(60000))

    assert price_session(periods=[slow], tariff=tariff, time_zone=AMS).cost_of("ENERGY") == D("3.30")
    assert price_session(periods=[fast], tariff=tariff, time_zone=AMS).cost_of("ENERGY") == D("36.00")


def test_a_blocking_fee_starts_after_a_session_duration():
    tariff = terms(component("PARKING_TIME", "12.00", min_duration=7200), component("PARKING_TIME", "0"))
    start = local(2026, 10, 6, 9, 0)
    charged = start + timedelta(hours=1)

    cost = price_session(
        periods=[
            ChargingPeriod(start, charged, D(10000), True),
            ChargingPeriod(charged, charged + timedelta(hours=2), D(0), False),
        ],
        tariff=tariff,
        time_zone=AMS,
    )

    assert cost.cost_of("PARKING_TIME") == D("12.00")  # only the hour after 2 h


def test_a_date_range_restriction_ends_at_the_local_end_date():
    tariff = terms(energy("0.00", start_date="2026-10-01", end_date="2026-10-07"), energy("0.40"))
    start = local(2026, 10, 6, 23, 0)

    cost = price_session(
        periods=[ChargingPeriod(start, start + timedelta(hours=2), D(2000), True)],
        tariff=tariff,
        time_zone=AMS,
    )

    assert cost.cost_of("ENERGY") == D("0.40")


def test_the_preview_prices_thirty_kwh_at_22_kw_on_a_saturday_evening():
    tariff = terms(
        energy("0.25", day_of_week=["SATURDAY", "SUNDAY"]),
        energy("0.35"),
        component("FLAT", "0.50"),
        vat="21",
    )

    cost = session_simulate(
        tariff=tariff,
        time_zone=AMS,
        start_local=datetime(2026, 10, 10, 18, 0),
        energy_kwh=D(30),
        power_kw=D(22),
    )

    assert money_round(cost.total_excl_vat, "EUR") == D("8.00")
    assert money_round(cost.total_incl_vat, "EUR") == D("9.68")


@pytest.mark.parametrize(
    "elements, message",
    [
        ([], "at least one element"),
        ([{"price_components": []}], "at least one price component"),
        ([component("KWH", "0.3")], "type must be one of"),
        ([{"price_components": [{"type": "ENERGY", "price": 0.3, "step_size": 1}]}], "decimal string"),
        ([component("ENERGY", "-1")], "must not be negative"),
        ([component("ENERGY", "0.3", step=0)], "step_size"),
        ([energy("0.3", start_time="25:00")], "HH:MM"),
        ([energy("0.3", day_of_week=["FUNDAY"])], "day_of_week"),
        ([energy("0.3", min_kwh="10", max_kwh="5")], "min_kwh must be below max_kwh"),
        ([energy("0.3", start_date="2026-13-01")], "YYYY-MM-DD"),
        ([energy("0.3", colour="red")], "unknown restrictions"),
    ],
)
def test_an_invalid_tariff_is_refused_with_the_reason(elements, message):
    with pytest.raises(TariffInvalid, match=message):
        elements_normalise(elements)


def test_the_demo_tariff_is_valid_and_prices_as_written():
    demo = [
        {"price_components": [{"type": "ENERGY", "price": "0.30", "step_size": 1}]},
        {"price_components": [{"type": "FLAT", "price": "1.00", "step_size": 1}]},
    ]
    assert elements_normalise(demo) == demo


def test_periods_from_samples_find_the_idle_tail_of_a_session():
    start = datetime(2026, 10, 6, 9, 0, tzinfo=UTC)
    samples = [
        Sample(start + timedelta(minutes=30), "Energy.Active.Import.Register", D(105000)),
        Sample(start + timedelta(minutes=60), "Energy.Active.Import.Register", D(110000)),
        Sample(start + timedelta(minutes=90), "Energy.Active.Import.Register", D(110000)),
        Sample(start + timedelta(minutes=10), "Power.Active.Import", D(11000)),
    ]

    periods = periods_from_samples(
        started_at=start, stopped_at=start + timedelta(minutes=120), meter_start_wh=100000, energy_wh=10000,
        samples=samples,
    )  # fmt: skip

    assert [(p.charging, p.energy_wh) for p in periods] == [(True, 5000), (True, 5000), (False, 0)]
    assert periods[-1].start == start + timedelta(minutes=60)
    assert periods[0].power_w == D(11000)


# --- properties ----------------------------------------------------------------------------------

# Pricing divides by 3600 (hours) at 50 significant digits; "equal" means equal far below a cent.
EXACT = D("1e-20")
ZONES = ["Europe/Amsterdam", "America/New_York", "Australia/Lord_Howe", "UTC", "Asia/Kolkata"]
DAYS = ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"]
prices = st.decimals(min_value=0, max_value=5, places=2).map(str)
clock = st.builds(lambda h, m: f"{h:02d}:{m:02d}", st.integers(0, 23), st.sampled_from([0, 15, 30, 59]))


@st.composite
def restrictions(draw, energy_dependent=True):
    r = {}
    if draw(st.booleans()):
        r["start_time"] = draw(clock)
    if draw(st.booleans()):
        r["end_time"] = draw(clock)
    if draw(st.booleans()):
        r["day_of_week"] = draw(st.lists(st.sampled_from(DAYS), min_size=1, unique=True))
    if draw(st.booleans()):
        low = draw(st.integers(0, 7200))
        r["min_duration"] = low
        if draw(st.booleans()):
            r["max_duration"] = low + draw(st.integers(1, 7200))
    if energy_dependent and draw(st.booleans()):
        r["min_kwh"] = str(draw(st.integers(0, 20)))
    if energy_dependent and draw(st.booleans()):
        r["max_kwh"] = str(draw(st.integers(21, 60)))
    if energy_dependent and draw(st.booleans()):
        r["min_power"] = str(draw(st.integers(0, 22)))
    return r


@st.composite
def tariffs(draw, energy_dependent=True, steps=True):
    elements = []
    for _ in range(draw(st.integers(1, 4))):
        kinds = draw(
            st.lists(st.sampled_from(["ENERGY", "TIME", "PARKING_TIME", "FLAT"]), min_size=1, unique=True)
        )
        step = (lambda k: draw(st.sampled_from([1, 60, 300, 1000]))) if steps else (lambda k: 1)
        element = {
            "price_components": [{"type": k, "price": draw(prices), "step_size": step(k)} for k in kinds]
        }
        r = draw(restrictions(energy_dependent))
        if r:
            element["restrictions"] = r
        elements.append(element)
    return terms(*elements, vat=draw(st.sampled_from(["0", "21", "25"])))


@st.composite
def sessions(draw):
    zone = draw(st.sampled_from(ZONES))
    # Around DST changes and midnights in 2026.
    base = draw(st.sampled_from([datetime(2026, 3, 28, tzinfo=UTC), datetime(2026, 10, 24, tzinfo=UTC),
                                 datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 4, 4, tzinfo=UTC)]))  # fmt: skip
    start = base + timedelta(minutes=draw(st.integers(0, 48 * 60)))
    periods = []
    at = start
    for _ in range(draw(st.integers(1, 4))):
        length = timedelta(seconds=draw(st.integers(1, 6 * 3600)))
        charging = draw(st.booleans())
        wh = D(draw(st.integers(0, 40000))) if charging else D(0)
        power = D(draw(st.integers(1000, 50000))) if charging else None
        periods.append(ChargingPeriod(at, at + length, wh, charging, power))
        at += length
    return zone, start, periods


@settings(max_examples=150, deadline=None)
@given(tariff=tariffs(), session=sessions(), extra=sessions())
def test_a_session_that_goes_on_never_costs_less(tariff, session, extra):
    zone, start, periods = session
    _, _, more = extra
    # Append `extra`'s first period right after the session: more time and/or more energy.
    last_end = periods[-1].end
    added = more[0]
    appended = ChargingPeriod(last_end, last_end + (added.end - added.start), added.energy_wh, added.charging,
                              added.power_w)  # fmt: skip

    before = price_session(periods=periods, tariff=tariff, time_zone=zone, session_start=start)
    after = price_session(periods=[*periods, appended], tariff=tariff, time_zone=zone, session_start=start)

    assert after.total_excl_vat >= before.total_excl_vat


@settings(max_examples=150, deadline=None)
@given(tariff=tariffs(energy_dependent=False), session=sessions(), index=st.integers(0, 3),
       extra_wh=st.integers(1, 20000))  # fmt: skip
def test_more_energy_in_the_same_time_never_costs_less(tariff, session, index, extra_wh):
    zone, start, periods = session
    index %= len(periods)
    assume(periods[index].charging)
    p = periods[index]
    richer = [*periods[:index], ChargingPeriod(p.start, p.end, p.energy_wh + extra_wh, True, p.power_w),
              *periods[index + 1:]]  # fmt: skip

    before = price_session(periods=periods, tariff=tariff, time_zone=zone, session_start=start)
    after = price_session(periods=richer, tariff=tariff, time_zone=zone, session_start=start)

    assert after.total_excl_vat >= before.total_excl_vat


def _split(period, fraction_us):
    length = (period.end - period.start) // timedelta(microseconds=1)
    at_us = max(1, min(length - 1, fraction_us % max(length, 1)))
    cut = period.start + timedelta(microseconds=at_us)
    first_wh = (period.energy_wh * at_us / length).quantize(D("1e-12"))
    return [
        ChargingPeriod(period.start, cut, first_wh, period.charging, period.power_w),
        ChargingPeriod(cut, period.end, period.energy_wh - first_wh, period.charging, period.power_w),
    ]


@settings(max_examples=150, deadline=None)
@given(tariff=tariffs(), session=sessions(), index=st.integers(0, 3), at=st.integers(0, 10**12))
def test_splitting_a_session_at_any_instant_prices_the_same(tariff, session, index, at):
    zone, start, periods = session
    index %= len(periods)
    assume(periods[index].end - periods[index].start >= timedelta(microseconds=2))
    split = [*periods[:index], *_split(periods[index], at), *periods[index + 1 :]]

    whole = price_session(periods=periods, tariff=tariff, time_zone=zone, session_start=start)
    parts = price_session(periods=split, tariff=tariff, time_zone=zone, session_start=start)

    assert abs(parts.total_excl_vat - whole.total_excl_vat) < EXACT
    assert money_round(parts.total_incl_vat, "EUR") == money_round(whole.total_incl_vat, "EUR")


@settings(max_examples=100, deadline=None)
@given(tariff=tariffs(energy_dependent=False, steps=False), session=sessions(), at=st.integers(1, 3))
def test_two_halves_of_a_session_price_to_the_whole_when_step_sizes_allow(tariff, session, at):
    # Step size 1 s / 1 Wh, and no FLAT fee or duration restriction (each half would restart them).
    zone, start, periods = session
    elements = []
    for element in tariff.elements:
        components = [c for c in element["price_components"] if c["type"] != "FLAT"]
        restriction = {k: v for k, v in element.get("restrictions", {}).items() if "duration" not in k}
        if components:
            elements.append(
                {"price_components": components, **({"restrictions": restriction} if restriction else {})}
            )
    assume(elements and len(periods) > 1)
    tariff = TariffTerms(tariff.currency, tariff.vat_percent, tuple(elements))
    at %= len(periods)
    assume(at > 0)
    # Whole seconds and watt-hours: energy per second is an integer so the halves round identically.
    periods = [
        ChargingPeriod(p.start, p.end, D((p.end - p.start).seconds + (p.end - p.start).days * 86400) if p.charging
                       else D(0), p.charging, p.power_w)
        for p in periods
    ]  # fmt: skip

    whole = price_session(periods=periods, tariff=tariff, time_zone=zone, session_start=start)
    first = price_session(periods=periods[:at], tariff=tariff, time_zone=zone, session_start=start)
    second = price_session(
        periods=periods[at:], tariff=tariff, time_zone=zone, session_start=periods[at].start
    )

    assert abs(first.total_excl_vat + second.total_excl_vat - whole.total_excl_vat) < EXACT


def test_energy_up_to_a_kwh_limit_is_the_limit_wherever_the_period_was_split():
    # A 40 kWh burst crossing a 21 kWh limit: the cut instant is rounded to a whole microsecond, but
    # the energy billed before it must be exactly 21 kWh, whether or not the period was split first.
    start = datetime(2026, 3, 28, 0, 0, tzinfo=UTC)
    end = start + timedelta(seconds=6)
    tariff = TariffTerms(
        "EUR",
        D("0"),
        (
            {"price_components": [{"type": "TIME", "price": "0.00", "step_size": 1}]},
            {
                "price_components": [{"type": "ENERGY", "price": "0.01", "step_size": 1}],
                "restrictions": {"max_kwh": "21"},
            },
        ),
    )
    whole = [ChargingPeriod(start, end, D("40000"), True, D("1000"))]
    cut = start + timedelta(microseconds=2)
    split = [
        ChargingPeriod(start, cut, D("0.013333333333"), True, D("1000")),
        ChargingPeriod(cut, end, D("39999.986666666667"), True, D("1000")),
    ]

    for periods in (whole, split):
        cost = price_session(
            periods=periods, tariff=tariff, time_zone="Europe/Amsterdam", session_start=start
        )
        assert cost.total_excl_vat == D("0.21")
