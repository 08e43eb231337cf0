"""A firmware campaign reaching OCPP 2.0.1 stations over real sockets: the simulated 2.0.1 stations
download the image fleet serves, report each step with FirmwareStatusNotification under the
campaign's requestId, reboot and boot with the new version, which completes the campaign."""

import hashlib

import pytest

from stations.simulator.v201 import Simulated201Station
from tests.e2e.conftest import STATION_PASSWORD
from tests.fleet.conftest import in_thread
from tests.fleet.test_campaign_e2e import campaign_status, wait_for

IMAGE = b"CNFW 201 3.0.0\n" + bytes(range(256)) * 200


@pytest.fixture
def stations_201(live_system, station_loop, transactional_db):
    """Registers 2.0.1 stations and connects a booted Simulated201Station under each identity."""
    from stations.services import station_create

    running: list[Simulated201Station] = []

    def connect(identity: str) -> Simulated201Station:
        in_thread(station_create, identity=identity, password=STATION_PASSWORD, evses=1, ocpp_version="2.0.1")
        sim = Simulated201Station(
            url=live_system.ocpp_url, identity=identity, password=STATION_PASSWORD, evses=1, model="SIM-201"
        )
        sim.step_delay, sim.reboot_delay = 0, 0.2
        running.append(sim)

        async def bring_up():
            await sim.connect()
            assert (await sim.boot()).status == "Accepted"
            await sim.status_all()

        station_loop.run(bring_up())
        return sim

    yield connect
    for sim in running:
        station_loop.run(sim.close())


@pytest.mark.slow
def test_a_campaign_brings_2_0_1_stations_to_the_new_version_step_by_step(api, stations_201):
    # given four 2.0.1 stations on firmware 1.0.0
    sims = {f"FW201-{n}": stations_201(f"FW201-{n}") for n in range(1, 5)}
    # and an image for their vendor and model
    status, image = api.upload(
        "/api/v1/firmware-images/",
        {
            "vendor": "ChargeNet Simulator",
            "model": "SIM-201",
            "version": "3.0.0",
            "sha256": hashlib.sha256(IMAGE).hexdigest(),
        },
        "sim-201-3.0.0.bin",
        IMAGE,
    )
    assert status == 201, image

    # when a campaign runs a canary, then the rest
    status, campaign = api.post(
        "/api/v1/firmware-campaigns/",
        {"name": "2.0.1 rollout", "image": image["id"], "waves": ["1", "rest"], "max_retries": 0},
    )
    assert status == 201, campaign
    assert len(campaign["stations"]) == 4

    # then it completes with every station rebooted on the new version
    done = wait_for(campaign_status(api, campaign["id"], "completed"), "the campaign to complete")
    assert done["counts"]["succeeded"] == 4
    for identity, sim in sims.items():
        assert sim.firmware_version == "3.0.0", identity
        assert sim.firmware_downloads == [IMAGE], identity
        # each got a 2.0.1 UpdateFirmware with a requestId and the firmware's location, once
        updates = [payload for action, payload in sim.received if action == "UpdateFirmware"]
        assert len(updates) == 1 and updates[0]["requestId"] > 0, identity
        assert updates[0]["firmware"]["location"].startswith("http"), identity
    status, listed = api.get("/api/v1/stations/?limit=100&search=FW201-")
    assert {s["identity"]: s["firmware_version"] for s in listed["results"]} == dict.fromkeys(sims, "3.0.0")
