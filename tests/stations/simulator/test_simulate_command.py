"""`manage.py simulate` as the run supervisor starts it: a separate process against a CSMS."""

import asyncio
import signal
import sys

from ocpp.v16 import call

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


async def test_simulate_can_be_told_to_fail_every_firmware_install_and_refuses_a_share_above_one(
    csms,
    file_server,
):
    # given simulated stations told that every install fails
    process = await simulate(
        "--url", csms.url, "--stations", "1", "--password", PASSWORD, "--duration", "30",
        "--fail-firmware-install", "1",
    )  # fmt: skip
    try:
        side = await csms.station("SIM-001", timeout=30)
        # when the CSMS sends a firmware update
        await side.call(
            call.UpdateFirmware(location=f"{file_server}/fw.bin", retrieve_date="2020-01-01T00:00:00Z")
        )

        # then the image is downloaded and its install reported as failed
        def reported() -> list[str]:
            return [p["status"] for a, p in side.received if a == "FirmwareStatusNotification"]

        await asyncio.wait_for(_until(lambda: reported()[-1:] == ["InstallationFailed"]), 20)
        assert reported()[:2] == ["Downloading", "Downloaded"]
    finally:
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.communicate(), 20)

    # and a share that is not one gets a clear error
    bad = await simulate("--url", csms.url, "--fail-upload", "1.5")
    output, _ = await asyncio.wait_for(bad.communicate(), 60)
    assert bad.returncode != 0 and b"--fail-upload must be between 0 and 1" in output


async def _until(condition) -> None:
    while not condition():
        await asyncio.sleep(0.02)
