"""Fixtures: a tiny CSMS on a free port and a simulated station connected to it."""

import pytest

from stations.simulator import SimulatedStation
from tests.stations.simulator.csms import TinyCsms

PASSWORD = "sim-password-0001-abcdef"


@pytest.fixture
async def csms():
    async with TinyCsms({f"SIM-{n:03d}": PASSWORD for n in range(1, 4)}) as server:
        yield server


@pytest.fixture
async def station(csms):
    station = SimulatedStation(
        url=csms.url, identity="SIM-001", password=PASSWORD, meter_interval=0.05, response_timeout=5
    )
    station.step_delay = 0
    station.reboot_delay = 0
    station.time_scale = 3600  # one second charges for an hour, so every sample adds energy
    await station.connect()
    await station.boot()
    yield station
    await station.close()
