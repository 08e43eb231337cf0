"""`manage.py simulate` as the run supervisor starts it: a separate process against a CSMS."""

import asyncio
import signal
import sys

from tests.stations.simulator.conftest import PASSWORD
from tests.stations.simulator.csms import TinyCsms
from tests.support import REPO, free_port


async def simulate(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        str(REPO / "manage.py"),
        "simulate",
        *args,
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )


async def test_simulate_runs_the_stations_for_the_given_duration_and_exits_cleanly(csms):
    process = await simulate(
        "--url",
        csms.url,
        "--stations",
        "2",
        "--identity-prefix",
        "SIM-",
        "--password",
        PASSWORD,
        "--duration",
        "4",
    )

    output, _ = await asyncio.wait_for(process.communicate(), 60)

    assert process.returncode == 0, output.decode()
    assert b"Simulator stopped." in output
    for identity in ("SIM-001", "SIM-002"):
        assert csms.stations[identity].actions()[0] == "BootNotification"


async def test_simulate_waits_for_the_server_and_stops_on_sigterm():
    port = free_port()
    process = await simulate(
        "--url", f"ws://127.0.0.1:{port}/ocpp/", "--stations", "1", "--password", PASSWORD
    )
    try:
        async with TinyCsms({"SIM-001": PASSWORD}, port=port) as csms:
            side = await csms.station("SIM-001", timeout=30)
            await asyncio.wait_for(_until(lambda: "StatusNotification" in side.actions()), 10)

            process.send_signal(signal.SIGTERM)
            output, _ = await asyncio.wait_for(process.communicate(), 20)
    finally:
        if process.returncode is None:
            process.kill()

    assert process.returncode == 0, output.decode()
    assert b"Simulator stopped." in output


async def _until(condition) -> None:
    while not condition():
        await asyncio.sleep(0.02)
