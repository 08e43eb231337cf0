"""Site load management over real sockets: simulated chargers (OCPP 1.6 and 2.0.1) whose power
follows the profiles ChargeNet sends, a live server and a Celery worker reacting to session starts
and stops."""

import asyncio
import re
import time
from datetime import UTC, datetime, timedelta

import pytest

from rfid.services import id_token_create
from smartcharging.models import AllocationDecision, ChargingNeed
from smartcharging.services import site_capacity_set
from stations.services import location_create, station_create
from stations.simulator.v201 import Simulated201Station
from tests.e2e.conftest import STATION_PASSWORD, in_thread

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SITE_W = 22000


class PowerSampler:
    """Samples what the simulated chargers draw together, every 20 ms, on the stations' loop."""

    def __init__(self, sims):
        self.sims = sims
        self.highest = 0.0
        self.samples = 0
        self.task = None

    def total(self) -> float:
        return sum(sim.present_power_w(c) for sim in self.sims for c in sim.connectors.values())

    async def run(self):
        while True:
            self.highest = max(self.highest, self.total())
            self.samples += 1
            await asyncio.sleep(0.02)


def wait_until(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"not within {timeout} s: {what}")


def connect(stations, version: str, identity: str, location):
    """A single-EVSE simulated charger of that OCPP version, booted, at `location`."""
    if version == "1.6":
        return stations.connect(identity, evses=1, location=location)
    in_thread(
        station_create,
        identity=identity,
        password=STATION_PASSWORD,
        evses=1,
        ocpp_version="2.0.1",
        location=location,
    )
    sim = Simulated201Station(
        url=stations.system.ocpp_url,
        identity=identity,
        password=STATION_PASSWORD,
        evses=1,
        meter_interval=0.5,
    )
    stations.running.append(sim)

    async def bring_up():
        await sim.connect()
        assert (await sim.boot()).status == "Accepted"
        await sim.status_all()

    stations.run(bring_up())
    return sim


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
def test_three_cars_share_a_22_kw_site_and_never_draw_more_than_it(stations, version):
    # given a 22 kW site with three single-connector chargers, each car wanting 11 kW
    site = in_thread(location_create, name="Depot", time_zone="Europe/Amsterdam")
    sims = [connect(stations, version, f"LM-{n}", site) for n in (1, 2, 3)]
    for n in (1, 2, 3):
        in_thread(id_token_create, uid=f"04LM000{n}")
    in_thread(site_capacity_set, location=site, capacity_kw=22)
    for sim in sims:  # every charger got the safe default first
        wait_until(lambda s=sim: any(p.get("stack_level") == 1 for p in s.charging_profiles), 10, "default")
    sampler = PowerSampler(sims)
    sampler.task = asyncio.run_coroutine_threadsafe(sampler.run(), stations.loop.loop)

    def drawing(sim) -> float:
        return sim.present_power_w(sim.connectors[1])

    try:
        # when the first car plugs in it gets full speed
        stations.run(sims[0].session_start(1, "04LM0001", power_w=11000))
        wait_until(lambda: drawing(sims[0]) == 11000, 10, "car 1 at 11 kW")

        # when the second and third arrive, each gets a third of the site within 10 s
        stations.run(sims[1].session_start(1, "04LM0002", power_w=11000))
        wait_until(
            lambda: 8800 <= drawing(sims[1]) <= 8901 and drawing(sims[0]) <= 8901, 10, "two cars sharing"
        )
        stations.run(sims[2].session_start(1, "04LM0003", power_w=11000))
        wait_until(
            lambda: all(7300 <= drawing(sim) <= 7314 for sim in sims),
            10,
            "three cars at 10.6 A (7.3 kW) each",
        )

        # when the first leaves, the other two share its part again within 10 s
        stations.run(sims[0].session_stop(1))
        wait_until(lambda: all(8800 <= drawing(sim) <= 8901 for sim in sims[1:]), 10, "two cars at 12.9 A")
    finally:
        sampler.task.cancel()

    # then the site never drew more than 22 kW, sampled all along
    assert sampler.samples > 100
    assert sampler.highest <= SITE_W
    # and every decision is recorded with its reason
    reasons = list(AllocationDecision.objects.values_list("reason", flat=True))
    assert any("equal share of 31.9 A among 3 session(s)" in r for r in reasons), reasons


def test_an_ev_that_needs_little_by_its_departure_leaves_the_rest_of_the_site_to_the_other_car(stations):
    # given a 22 kW site with two 2.0.1 chargers, both cars wanting 11 kW
    site = in_thread(location_create, name="Depot 15118", time_zone="Europe/Amsterdam")
    sims = [connect(stations, "2.0.1", f"EV-{n}", site) for n in (1, 2)]
    for n in (1, 2):
        in_thread(id_token_create, uid=f"04EV000{n}")
    in_thread(site_capacity_set, location=site, capacity_kw=22)
    for sim in sims:
        wait_until(lambda s=sim: any(p.get("stack_level") == 1 for p in s.charging_profiles), 10, "default")

    def drawing(sim) -> float:
        return sim.present_power_w(sim.connectors[1])

    # when an EV with no transaction tells its needs, they are rejected (no schedule can follow)
    departure = datetime.now(UTC) + timedelta(hours=1)
    assert stations.run(sims[0].charging_needs_send(1, energy_wh=2000, departure=departure)) == "Rejected"

    # when both cars charge, they share the site (15.9 A each, a little under 11 kW)
    for n, sim in enumerate(sims, start=1):
        stations.run(sim.session_start(1, f"04EV000{n}", power_w=11000))
    wait_until(lambda: all(10900 <= drawing(sim) <= 10971 for sim in sims), 10, "two cars sharing")

    # when the first EV says it needs only 2 kWh within the hour (ISO 15118)
    status = stations.run(sims[0].charging_needs_send(1, energy_wh=2000, departure=departure))

    # then ChargeNet accepts, limits it to the minimum current (2 kW would do) and gives the rest
    # to the other car, within 10 s
    assert status == "Accepted"
    wait_until(lambda: drawing(sims[0]) == 6 * 230 * 3 and drawing(sims[1]) == 11000, 10, "needs met")
    need = ChargingNeed.objects.get(status="Accepted")
    assert (need.energy_wh, need.max_current_a) == (2000, 32)
    # and each decision since says what the EV still needs: 2 kWh, less what it took meanwhile (a
    # rebalance after a meter value may already count a few Wh)
    reasons = AllocationDecision.objects.filter(station__identity="EV-1").values_list("reason", flat=True)
    left = [float(m[1]) for r in reasons if (m := re.match(r"the EV's needs: ([\d.]+) kWh by ", r))]
    assert left and all(1.9 <= kwh <= 2 for kwh in left), list(reasons)
