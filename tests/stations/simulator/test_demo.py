"""Demo behaviour: stations that live on their own, keep charging and come back after an outage."""

import asyncio

from stations.simulator import DemoBehaviour, SimulatedStation
from tests.stations.simulator.conftest import PASSWORD
from tests.stations.simulator.csms import TinyCsms
from tests.support import free_port

FAST = DemoBehaviour(
    id_tags=("CARD0001",),
    session_gap=(0.01, 0.05),
    session_duration=(0.3, 0.4),
    fault_probability=0.0,
    backoff_initial=0.05,
    backoff_maximum=0.2,
)


def demo_station(url: str) -> SimulatedStation:
    station = SimulatedStation(url=url, identity="SIM-001", password=PASSWORD, meter_interval=0.05)
    station.time_scale = 3600
    return station


async def run_until(station, behaviour, condition, timeout=10.0):
    stop = asyncio.Event()
    runner = asyncio.create_task(behaviour.run(station, stop))
    try:
        return await station.wait_for(condition, timeout=timeout)
    finally:
        stop.set()
        await asyncio.wait_for(runner, 5)


async def test_a_demo_station_boots_reports_its_connectors_and_lets_drivers_charge(csms):
    csms.heartbeat_interval = 1
    station = demo_station(csms.url)

    def charged_and_beat():
        side = csms.stations.get("SIM-001")
        return side and "StopTransaction" in side.actions() and "Heartbeat" in side.actions()

    await run_until(station, FAST, charged_and_beat)

    actions = csms.stations["SIM-001"].actions()
    assert actions[:4] == [
        "BootNotification",
        "StatusNotification",
        "StatusNotification",
        "StatusNotification",
    ]
    assert actions.index("Authorize") < actions.index("StartTransaction") < actions.index("MeterValues")
    stop = next(p for a, p in csms.stations["SIM-001"].received if a == "StopTransaction")
    assert stop["reason"] == "EVDisconnected"
    assert not station.connected


async def test_a_demo_station_reports_a_fault_and_recovers_from_it(csms):
    behaviour = DemoBehaviour(session_gap=(0.01, 0.02), fault_probability=1.0, fault_duration=(0.05, 0.1))
    station = demo_station(csms.url)

    def recovered():
        side = csms.stations.get("SIM-001")
        found = [p for a, p in (side.received if side else []) if a == "StatusNotification"]
        faulted = next((p for p in found if p["status"] == "Faulted"), None)
        after = found[found.index(faulted) + 1 :] if faulted else []
        return faulted and any(p["connectorId"] == faulted["connectorId"] for p in after) and (faulted, after)

    faulted, after = await run_until(station, behaviour, recovered)

    assert faulted["errorCode"] != "NoError"
    recovery = next(p for p in after if p["connectorId"] == faulted["connectorId"])
    assert (recovery["status"], recovery["errorCode"]) == ("Available", "NoError")


async def test_a_station_chosen_to_fault_at_boot_reports_a_fault_that_clears(csms):
    behaviour = DemoBehaviour(
        session_gap=(60, 60),
        fault_probability=0.0,
        fault_duration=(0.05, 0.1),
        fault_at_boot=frozenset({"SIM-001"}),
    )
    station = demo_station(csms.url)

    def statuses():
        side = csms.stations.get("SIM-001")
        found = [p["status"] for a, p in (side.received if side else []) if a == "StatusNotification"]
        return "Faulted" in found and found[-1] == "Available" and found

    found = await run_until(station, behaviour, statuses)

    # the boot's three statuses, then the fault, then its clearing
    assert found[3:] == ["Faulted", "Available"]


async def test_a_demo_station_reconnects_and_boots_again_after_the_server_drops_it(csms):
    station = demo_station(csms.url)
    first = None

    def reconnected():
        nonlocal first
        side = csms.stations.get("SIM-001")
        if first is None and side and side.actions()[:1] == ["BootNotification"]:
            first = side
            asyncio.ensure_future(first._connection.close())
        return side is not None and side is not first and "BootNotification" in side.actions()

    await run_until(station, FAST, reconnected)

    assert csms.connections == 2


async def test_a_demo_station_keeps_trying_until_the_server_is_up():
    port = free_port()
    station = demo_station(f"ws://127.0.0.1:{port}/ocpp/")
    stop = asyncio.Event()
    runner = asyncio.create_task(FAST.run(station, stop))
    try:
        await asyncio.sleep(0.2)  # the server is not there yet: the station's first attempts fail
        async with TinyCsms({"SIM-001": PASSWORD}, port=port) as csms:
            side = await csms.station("SIM-001", timeout=10)
            await station.wait_for(lambda: "BootNotification" in side.actions())
    finally:
        stop.set()
        await asyncio.wait_for(runner, 5)


async def test_the_demo_fleet_mixes_1_6_and_2_0_1_stations_every_third_speaking_2_0_1():
    from stations.simulator.demo import demo_ocpp_version, fleet_run
    from stations.simulator.v201 import Simulated201Station

    # nothing listens on this port: the stations only retry until the run ends
    url = f"ws://127.0.0.1:{free_port()}/ocpp/"
    identities = [f"DEMO-{n:03d}" for n in range(1, 7)]
    stations = await fleet_run(
        url=url,
        identities=identities,
        password=PASSWORD,
        ocpp_version_for=demo_ocpp_version,
        behaviour=FAST,
        duration=0.2,
    )
    versions = {s.identity: s.ocpp_version for s in stations}
    assert versions == {
        "DEMO-001": "1.6",
        "DEMO-002": "1.6",
        "DEMO-003": "2.0.1",
        "DEMO-004": "1.6",
        "DEMO-005": "1.6",
        "DEMO-006": "2.0.1",
    }
    assert [type(s) is Simulated201Station for s in stations] == [False, False, True, False, False, True]
