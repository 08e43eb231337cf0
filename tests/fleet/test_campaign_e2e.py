"""A firmware campaign over real sockets: 20 simulated stations, three waves, a halt when the second
wave fails too often, a fix, retry and resume, and every station on the new version."""

import hashlib
import time

import pytest

from tests.fleet.conftest import in_thread

IMAGE = b"CNFW 2.0.0\n" + bytes(range(256)) * 400
DEADLINE = 150.0


def wait_for(predicate, what: str, timeout: float = DEADLINE):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.5)
    raise AssertionError(f"gave up waiting for {what}: {getattr(predicate, 'last', None)}")


def campaign_status(api, campaign_id: int, wanted: str):
    def check():
        status, body = api.get(f"/api/v1/firmware-campaigns/{campaign_id}/")
        assert status == 200, body
        check.last = body  # type: ignore[attr-defined]
        return body if body["status"] == wanted else None

    return check


@pytest.mark.slow
def test_a_campaign_of_20_stations_halts_on_failed_installs_and_after_a_fix_brings_every_station_to_the_new_version(
    api, stations
):
    # given 20 stations of one model on firmware 1.0.0
    sims = {f"FW-{n:02d}": stations.connect(f"FW-{n:02d}", evses=1) for n in range(1, 21)}
    # and an image of version 2.0.0 uploaded with the vendor's checksum
    status, image = api.upload(
        "/api/v1/firmware-images/",
        {
            "vendor": "ChargeNet",
            "model": "Simulator",
            "version": "2.0.0",
            "sha256": hashlib.sha256(IMAGE).hexdigest(),
        },
        "cn-2.0.0.bin",
        IMAGE,
    )
    assert status == 201, image
    assert image["sha256"] == hashlib.sha256(IMAGE).hexdigest() and image["size"] == len(IMAGE)
    # and two of the second wave's stations that will fail to install (waves follow the identities)
    for identity in ("FW-02", "FW-03"):
        sims[identity].firmware_install_failure_rate = 1.0

    # when a campaign starts: a canary, then 25 %, then the rest; halt above 20 % failed; no retries
    status, campaign = api.post(
        "/api/v1/firmware-campaigns/",
        {
            "name": "2.0.0 rollout",
            "image": image["id"],
            "waves": ["1", "25%", "rest"],
            "max_failure_rate": 20,
            "max_retries": 0,
        },
    )
    assert status == 201, campaign
    waves = {row["identity"]: row["wave"] for row in campaign["stations"]}
    assert sorted(waves.values()).count(1) == 1 and list(waves.values()).count(2) == 5
    assert list(waves.values()).count(3) == 14
    assert waves["FW-01"] == 1 and waves["FW-02"] == 2 and waves["FW-20"] == 3

    # then it halts in the second wave: 2 of 5 failed is more than 20 %
    halted = wait_for(campaign_status(api, campaign["id"], "halted"), "the campaign to halt")
    assert "wave 2" in halted["halted_reason"]
    rows = {row["identity"]: row for row in halted["stations"]}
    assert rows["FW-01"]["status"] == "succeeded"
    assert rows["FW-02"]["status"] == "failed" and "InstallationFailed" in rows["FW-02"]["failure_reason"]
    # and the canary runs the new firmware after downloading the very image
    assert sims["FW-01"].firmware_version == "2.0.0"
    assert sims["FW-01"].firmware_downloads == [IMAGE]
    # and a halted campaign sends nothing more: the third wave never heard of it
    time.sleep(2)
    for identity, wave in waves.items():
        if wave == 3:
            assert not [c for c in sims[identity].received if c.action == "UpdateFirmware"], identity
            assert sims[identity].firmware_version == "1.0.0"

    # when the operator fixes the stations, retries the failed ones and resumes
    for identity in ("FW-02", "FW-03"):
        sims[identity].firmware_install_failure_rate = 0.0
    status, body = api.post(f"/api/v1/firmware-campaigns/{campaign['id']}/retry-failed/")
    assert status == 200, body
    status, body = api.post(f"/api/v1/firmware-campaigns/{campaign['id']}/resume/")
    assert status == 200 and body["status"] == "running", body

    # then the campaign completes with every station on the new version
    done = wait_for(campaign_status(api, campaign["id"], "completed"), "the campaign to complete")
    assert done["counts"]["succeeded"] == 20 and done["counts"]["failed"] == 0
    assert all(sim.firmware_version == "2.0.0" for sim in sims.values())
    status, listed = api.get("/api/v1/stations/?limit=100&search=FW-")
    versions = {s["identity"]: s["firmware_version"] for s in listed["results"]}
    assert versions == {identity: "2.0.0" for identity in sims}

    # and each station's firmware history shows the update
    from fleet.selectors import station_firmware_history
    from stations.models import Station

    history = in_thread(lambda: list(station_firmware_history(station=Station.objects.get(identity="FW-02"))))
    assert [row.status for row in history] == ["succeeded"]


@pytest.mark.slow
def test_a_worker_killed_in_the_middle_of_a_campaign_changes_nothing_in_its_outcome(
    api, stations, live_system
):
    # given 8 stations that take their time over each step
    sims = {f"WK-{n}": stations.connect(f"WK-{n}", evses=1) for n in range(1, 9)}
    for sim in sims.values():
        sim.vendor, sim.model = "ChargeNet", "Slow"
        sim.step_delay = 0.4
        stations.run(sim.boot())
    status, image = api.upload(
        "/api/v1/firmware-images/",
        {"vendor": "ChargeNet", "model": "Slow", "version": "3.1"},
        "slow.bin",
        IMAGE,
    )
    assert status == 201, image
    status, campaign = api.post(
        "/api/v1/firmware-campaigns/",
        {"name": "kill", "image": image["id"], "waves": ["1", "50%", "rest"], "max_retries": 0},
    )
    assert status == 201, campaign

    # when the worker is killed while the second wave is under way, and a new one starts later
    wait_for(
        lambda: any(c.action == "UpdateFirmware" for sim in list(sims.values())[1:] for c in sim.received),
        "the second wave to start",
    )
    live_system.worker_kill()
    time.sleep(3)
    live_system.worker_start()

    # then the campaign completes as if nothing happened: every station updated once, none twice
    done = wait_for(campaign_status(api, campaign["id"], "completed"), "the campaign to complete")
    assert done["counts"]["succeeded"] == 8
    for identity, sim in sims.items():
        assert sim.firmware_version == "3.1", identity
        assert len([c for c in sim.received if c.action == "UpdateFirmware"]) == 1, identity
