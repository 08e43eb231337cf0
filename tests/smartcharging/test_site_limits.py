"""Load management beyond one fixed capacity: a site's capacity by time of day, circuits with limits
of their own, priority by the driver's plan, and what an ISO 15118 EV said it needs. Services and
the API on the real database; the stations' answers are outside what these tests look at."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from billing.services import subscription_plan_create, subscription_start
from rfid.services import id_token_create
from smartcharging.models import AllocationDecision, ChargingNeed, Circuit, SiteCapacity
from smartcharging.services import (
    SmartChargingError,
    circuit_set,
    ev_charging_needs_answer,
    schedules_apply,
    site_capacity_set,
    site_rebalance,
)
from stations.models import Command, Connector, Evse, Session, Station
from stations.services import location_create, station_create
from tests.api.conftest import _client_for

pytestmark = pytest.mark.django_db

# Monday 2 March 2026 in Amsterdam (UTC+1): 12:00 and 23:30 local.
MONDAY_NOON = datetime(2026, 3, 2, 11, 0, tzinfo=UTC)
MONDAY_LATE = datetime(2026, 3, 2, 22, 30, tzinfo=UTC)


@pytest.fixture(autouse=True)
def stations_answer_at_once(settings):
    # Nobody answers the commands here: a rebalance must not wait for lowered limits to be taken.
    settings.SMART_STEP_TIMEOUT = 0


@pytest.fixture
def depot():
    return location_create(name="Depot", time_zone="Europe/Amsterdam")


def online(location, identity: str, **fields) -> Station:
    station = station_create(identity=identity, evses=1, location=location, **fields)[0]
    Station.objects.filter(pk=station.pk).update(is_online=True)
    station.refresh_from_db()
    return station


def charging(station: Station, id_tag: str = "", minutes_ago: int = 10, energy_wh: int = 0) -> Session:
    evse = Evse.objects.get(station=station, evse_id=1)
    return Session.objects.create(
        station=station,
        evse=evse,
        connector=Connector.objects.filter(evse=evse).first(),
        transaction_id=f"tx-{station.identity}",
        id_tag=id_tag,
        id_token=id_token_create(uid=id_tag) if id_tag else None,
        started_at=timezone.now() - timedelta(minutes=minutes_ago),
        energy_wh=energy_wh,
    )


def limits(location) -> dict[str, tuple[float, str]]:
    """Station identity → (A, reason) of the latest decision for its session."""
    latest: dict[str, tuple[float, str]] = {}
    for decision in AllocationDecision.objects.filter(site__location=location).select_related("station"):
        latest.setdefault(decision.station.identity, (float(decision.current_a), decision.reason))
    return latest


def test_a_site_with_less_capacity_by_day_shares_less_by_day_and_all_of_it_at_night(depot):
    # given a 100 kW grid contract that is 50 kW on weekdays from 07:00 to 23:00, three cars charging
    cars = [charging(online(depot, f"TV-{n}"), minutes_ago=n) for n in (1, 2, 3)]
    site_capacity_set(
        location=depot,
        capacity_kw=Decimal(100),
        capacity_windows=[{"weekdays": [0, 1, 2, 3, 4], "start": "07:00", "end": "23:00", "capacity_kw": 50}],
    )

    # when the schedule tick runs on Monday at noon
    schedules_apply(now=MONDAY_NOON)
    site_rebalance(location_id=depot.pk, trigger="tick")

    # then 50 kW (72.5 A) is in force and shared equally
    assert SiteCapacity.objects.get(location=depot).capacity_in_force_a == Decimal("72.5")
    by_day = limits(depot)
    assert [by_day[f"TV-{n}"][0] for n in (1, 2, 3)] == [24.1, 24.1, 24.1]
    assert by_day["TV-1"][1] == "equal share of 72.5 A among 3 session(s)"

    # when it runs again at 23:30 the whole 100 kW is back and every car gets its connector's maximum
    schedules_apply(now=MONDAY_LATE)
    site_rebalance(location_id=depot.pk, trigger="tick")

    at_night = limits(depot)
    assert [at_night[f"TV-{n}"][0] for n in (1, 2, 3)] == [31.9, 31.9, 31.9]
    assert at_night["TV-1"][1].startswith("full speed")
    assert len(cars) == Session.objects.filter(status=Session.Status.ACTIVE).count()


def test_a_morning_window_starts_at_the_same_wall_clock_time_after_the_clocks_go_forward(depot):
    # given a window of 30 A every day from 07:00, Amsterdam, around Sunday 29 March 2026 (DST)
    charging(online(depot, "DST-1"))
    site_capacity_set(
        location=depot,
        capacity_a=Decimal(60),
        capacity_windows=[{"start": "07:00", "end": "12:00", "capacity_a": 30}],
    )
    in_force = lambda: SiteCapacity.objects.get(location=depot).capacity_in_force_a  # noqa: E731

    # 06:30 UTC is 07:30 in winter (Saturday) and 08:30 in summer (Sunday): in force both days
    schedules_apply(now=datetime(2026, 3, 28, 6, 30, tzinfo=UTC))
    assert in_force() == 30
    schedules_apply(now=datetime(2026, 3, 28, 11, 30, tzinfo=UTC))
    assert in_force() == 60
    # 05:30 UTC is 06:30 in winter (not yet) but 07:30 in summer (already)
    schedules_apply(now=datetime(2026, 3, 28, 5, 30, tzinfo=UTC))
    assert in_force() == 60
    schedules_apply(now=datetime(2026, 3, 29, 5, 30, tzinfo=UTC))
    assert in_force() == 30


def test_a_window_that_leaves_no_room_for_the_idle_reserve_is_refused_and_nothing_changes(depot):
    online(depot, "TV-9")
    site_capacity_set(location=depot, capacity_a=Decimal(32))

    with pytest.raises(SmartChargingError, match="lower the fallback current"):
        site_capacity_set(
            location=depot,
            capacity_a=Decimal(32),
            capacity_windows=[{"start": "17:00", "end": "21:00", "capacity_a": 4}],
        )
    with pytest.raises(SmartChargingError, match="capacity window 1 needs start and end"):
        site_capacity_set(
            location=depot, capacity_a=Decimal(32), capacity_windows=[{"start": "5pm", "capacity_a": 10}]
        )
    assert SiteCapacity.objects.get(location=depot).capacity_windows == []


def test_a_feeder_holds_back_the_stations_it_feeds_and_the_others_get_the_rest_of_the_site(depot):
    # given a 64 A site whose feeder A (20 A) feeds two of its three chargers
    a1, a2, b = (online(depot, identity) for identity in ("FA-1", "FA-2", "FB-1"))
    for station in (a1, a2, b):
        charging(station)
    site = site_capacity_set(location=depot, capacity_a=Decimal(64))
    circuit_set(site=site, name="Feeder A", capacity_a=Decimal(20), stations=[a1, a2])

    # when the site is shared out
    site_rebalance(location_id=depot.pk, trigger="test")

    # then feeder A's two cars share its 20 A and the third car is not held back by them
    shares = limits(depot)
    assert (
        shares["FA-1"]
        == shares["FA-2"]
        == (10.0, "equal share of circuit Feeder A's 20 A among 2 session(s)")
    )
    assert shares["FB-1"][0] == 31.9
    assert sum(float(c.payload["csChargingProfiles"]["chargingSchedule"]["chargingSchedulePeriod"][0]["limit"])
               for c in Command.objects.filter(station__in=[a1, a2], action="SetChargingProfile")
               if c.payload["csChargingProfiles"]["chargingProfilePurpose"] == "TxProfile") <= 20  # fmt: skip


def test_a_sub_circuit_hangs_from_a_feeder_and_every_level_holds(depot):
    stations = [online(depot, f"NC-{n}") for n in (1, 2, 3)]
    for station in stations:
        charging(station)
    site = site_capacity_set(location=depot, capacity_a=Decimal(90))
    board = circuit_set(site=site, name="Board", capacity_a=Decimal(40), stations=[stations[0]])
    circuit_set(site=site, name="Bay", capacity_a=Decimal(12), parent=board, stations=[stations[1]])

    site_rebalance(location_id=depot.pk, trigger="test")

    shares = limits(depot)
    assert shares["NC-2"] == (12.0, "equal share of circuit Bay's 12 A among 1 session(s)")
    assert shares["NC-1"][0] == 28.0  # the board's 40 A less what the bay below it takes
    assert shares["NC-3"][0] == 31.9


def test_circuits_that_cannot_hold_are_refused_over_the_api_and_nothing_is_stored(depot, operator):
    api = _client_for(operator)
    elsewhere = location_create(name="Elsewhere", time_zone="UTC")
    station_create(identity="FAR-1", location=elsewhere)
    online(depot, "NEAR-1")
    site_capacity_set(location=depot, capacity_a=Decimal(32))

    too_small = api.post(
        f"/api/v1/locations/{depot.pk}/circuits/",
        {"name": "Tiny", "capacity_a": 4, "stations": ["NEAR-1"]},
        format="json",
    )
    foreign = api.post(
        f"/api/v1/locations/{depot.pk}/circuits/",
        {"name": "Far", "capacity_a": 16, "stations": ["FAR-1"]},
        format="json",
    )
    made = api.post(
        f"/api/v1/locations/{depot.pk}/circuits/", {"name": "Main", "capacity_kw": 11, "stations": ["NEAR-1"]}, format="json"
    )  # fmt: skip

    assert too_small.status_code == 400 and "more than its 4.0 A" in too_small.json()["error"]["message"]
    assert foreign.status_code == 400 and "FAR-1 is not at this site" in foreign.json()["error"]["message"]
    assert made.status_code == 201, made.json()
    assert made.json()["capacity_a"] == "15.9" and made.json()["stations"] == ["NEAR-1"]
    assert list(Circuit.objects.values_list("name", flat=True)) == ["Main"]
    listed = api.get(f"/api/v1/locations/{depot.pk}/circuits/").json()
    assert [c["name"] for c in listed["results"]] == ["Main"]
    assert api.delete(f"/api/v1/locations/{depot.pk}/circuits/{made.json()['id']}/").status_code == 204
    assert not Circuit.objects.exists()


def test_members_of_the_fleet_plan_are_served_first(depot, driver):
    # given a 40 A site where fleet members have priority, a fleet driver arriving last
    fleet = subscription_plan_create(
        name="Fleet", monthly_fee=Decimal(0), vat_percent=Decimal(0), tariff=None
    )
    subscription_start(driver=driver, plan=fleet, started_on=date(2026, 1, 1))
    charging(online(depot, "PP-1"), id_tag="04PP0001", minutes_ago=3)
    charging(online(depot, "PP-2"), id_tag="04PP0002", minutes_ago=2)
    fleet_session = charging(online(depot, "PP-3"), id_tag="04PP0003", minutes_ago=1)
    fleet_session.id_token.driver = driver
    fleet_session.id_token.save()
    site_capacity_set(location=depot, capacity_a=Decimal(40), plan_priorities={"Fleet": 10})

    # when the site is shared out
    site_rebalance(location_id=depot.pk, trigger="test")

    # then the fleet car gets all but the others' minimum, and the reason says why
    shares = limits(depot)
    assert shares["PP-3"] == (28.0, "equal share of 40 A among 3 session(s), priority 10")
    assert shares["PP-1"][0] == shares["PP-2"][0] == 6.0
    # and the operator's page form, which knows nothing of plans, keeps them
    site_capacity_set(location=depot, capacity_a=Decimal(40))
    assert SiteCapacity.objects.get(location=depot).plan_priorities == {"Fleet": 10}


NEEDS = {
    "evseId": 1,
    "chargingNeeds": {
        "requestedEnergyTransfer": "AC_three_phase",
        "acChargingParameters": {"energyAmount": 10000, "evMinCurrent": 6, "evMaxCurrent": 32, "evMaxVoltage": 400},
    },
}  # fmt: skip


def needs_by(departure: datetime, energy_wh: int = 10000) -> dict:
    needs = {**NEEDS["chargingNeeds"], "departureTime": departure.isoformat()}
    needs["acChargingParameters"] = {**needs["acChargingParameters"], "energyAmount": energy_wh}
    return {**NEEDS, "chargingNeeds": needs}


def test_a_car_that_needs_little_by_its_departure_gets_little_and_the_other_car_the_rest(depot):
    # given a 48 A site with two cars; the first needs 10 kWh within 2 hours
    patient = charging(online(depot, "EN-1", ocpp_version="2.0.1"), energy_wh=500)
    charging(online(depot, "EN-2", ocpp_version="2.0.1"))
    site_capacity_set(location=depot, capacity_a=Decimal(48))

    # when its EV tells its needs
    status = ev_charging_needs_answer(
        station_id=patient.station_id, evse_id=1, payload=needs_by(timezone.now() + timedelta(hours=2))
    )
    site_rebalance(location_id=depot.pk, trigger="EV charging needs")

    # then they are accepted and it gets the rate that delivers 10 kWh in 2 h (7.3 A on three phases)
    assert status == "Accepted"
    need = ChargingNeed.objects.get(session=patient)
    assert (need.energy_wh, need.session_energy_wh, need.phases, need.max_current_a) == (10000, 500, 3, 32)
    shares = limits(depot)
    assert shares["EN-1"][0] == 7.3 and shares["EN-1"][1].startswith("the EV's needs: 10 kWh by ")
    assert shares["EN-2"][0] == 31.9
    sent = Command.objects.filter(station=patient.station, action="SetChargingProfile")
    (profile,) = [c for c in sent if c.payload["chargingProfile"]["chargingProfilePurpose"] == "TxProfile"]
    assert profile.payload["chargingProfile"]["chargingSchedule"][0]["chargingSchedulePeriod"] == [
        {"startPeriod": 0, "limit": 7.3}
    ]


def test_needs_without_a_transaction_or_outside_load_management_are_rejected_with_the_reason(depot):
    station = online(depot, "EN-9", ocpp_version="2.0.1")
    elsewhere = station_create(identity="EN-10", ocpp_version="2.0.1")[0]
    charging(elsewhere)
    site_capacity_set(location=depot, capacity_a=Decimal(32))

    assert ev_charging_needs_answer(station_id=station.pk, evse_id=1, payload=NEEDS) == "Rejected"
    assert ev_charging_needs_answer(station_id=elsewhere.pk, evse_id=1, payload=NEEDS) == "Rejected"
    charging(station)
    bad = {**NEEDS, "chargingNeeds": {"requestedEnergyTransfer": "Wireless"}}
    assert ev_charging_needs_answer(station_id=station.pk, evse_id=1, payload=bad) == "Rejected"
    absurd = needs_by(timezone.now() + timedelta(hours=1), energy_wh=10**12)
    assert ev_charging_needs_answer(station_id=station.pk, evse_id=1, payload=absurd) == "Rejected"
    late = {**NEEDS, "chargingNeeds": {**NEEDS["chargingNeeds"], "departureTime": "2026-13-45T25:00:00Z"}}
    assert ev_charging_needs_answer(station_id=station.pk, evse_id=1, payload=late) == "Rejected"

    reasons = list(ChargingNeed.objects.order_by("id").values_list("status", "reason"))
    assert reasons == [
        ("Rejected", "no transaction runs on EVSE 1"),
        ("Rejected", "ChargeNet does not manage the load of this station's site"),
        ("Rejected", "unknown requestedEnergyTransfer 'Wireless'"),
        ("Rejected", "energyAmount must be 0 to 10000000 Wh"),
        ("Rejected", "the charging needs carry a value that is not a number or a date"),
    ]
    assert not AllocationDecision.objects.exists()


def test_a_dc_ev_that_told_its_needs_gets_its_share_in_watts(depot):
    # given a DC charger whose EV needs 20 kWh within the hour, at a 64 A site
    session = charging(online(depot, "DC-1", ocpp_version="2.0.1"))
    site_capacity_set(location=depot, capacity_a=Decimal(64))
    needs = {
        "requestedEnergyTransfer": "DC",
        "departureTime": (timezone.now() + timedelta(hours=1)).isoformat(),
        "dcChargingParameters": {
            "evMaxCurrent": 125,
            "evMaxVoltage": 400,
            "evMaxPower": 50000,
            "energyAmount": 20000,
        },
    }

    # when it tells them
    status = ev_charging_needs_answer(
        station_id=session.station_id, evse_id=1, payload={"evseId": 1, "chargingNeeds": needs}
    )
    site_rebalance(location_id=depot.pk, trigger="EV charging needs")

    # then the TxProfile says 20 kW in W (a DC charger would read amperes as DC current)
    assert status == "Accepted"
    sent = Command.objects.filter(station=session.station, action="SetChargingProfile")
    (profile,) = [c for c in sent if c.payload["chargingProfile"]["chargingProfilePurpose"] == "TxProfile"]
    schedule = profile.payload["chargingProfile"]["chargingSchedule"][0]
    assert schedule["chargingRateUnit"] == "W"
    assert schedule["chargingSchedulePeriod"] == [{"startPeriod": 0, "limit": 20010}]


def test_a_session_at_a_managed_site_asks_for_a_rebalance_and_one_elsewhere_asks_nothing(depot):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from chargenet.events import event_publish, events_dispatch_due
    from stations.common import _session_event

    site_capacity_set(location=depot, capacity_a=Decimal(32))
    at_depot = charging(online(depot, "CP-DEPOT"))
    elsewhere = charging(online(location_create(name="Street"), "CP-STREET"))
    SiteCapacity.objects.update(rebalance_requested_at=None)
    for session in (at_depot, elsewhere):
        event_publish("session.started", _session_event(session))

    with CaptureQueriesContext(connection) as queries:
        events_dispatch_due()

    assert SiteCapacity.objects.get(location=depot).rebalance_requested_at is not None
    # The depot's station: its site, then its limit marked; the street's none of the two.
    asked = [q["sql"] for q in queries if 'UPDATE "smartcharging_sitecapacity"' in q["sql"]]
    assert len(asked) == 1
