"""`make run` with the demo on: the supervisor starts the simulated demo stations next to the server,
and within a minute the demo operator finds them online, reporting their connectors; every third
demo station speaks OCPP 2.0.1."""

import json
import time

from tests.support import demo_login_read, login_opener, run_command_started

DEADLINE_S = 60


def test_make_run_with_the_demo_brings_its_stations_online_for_the_demo_operator(tmp_path):
    # given `manage.py run` with DEMO=1 DEMO_STATIONS=3 on an empty data directory
    with run_command_started(tmp_path / "data", DEMO="1", DEMO_STATIONS="3") as (process, base_url):
        # when the demo operator logs in with the printed login
        opener, status, url, page = login_opener(base_url, *demo_login_read(process))
        assert url.endswith("/dashboard/"), url

        # then within a minute the demo stations are online, booted, and have reported the status
        # of their connectors (StatusNotification reached the server)
        deadline = time.monotonic() + DEADLINE_S
        stations: dict = {}
        while time.monotonic() < deadline:
            with opener.open(f"{base_url}/api/v1/stations/?ordering=identity", timeout=15) as response:
                stations = {s["identity"]: s for s in json.loads(response.read())["results"]}
            if set(stations) == {"DEMO-001", "DEMO-002", "DEMO-003"} and all(
                s["is_online"]
                and s["registration_status"] == "Accepted"
                and s["last_boot_at"]
                and all(c["status"] != "Unknown" for e in s["evses"] for c in e["connectors"])
                for s in stations.values()
            ):
                break
            time.sleep(1)
        else:
            raise AssertionError(f"demo stations not online within {DEADLINE_S} s: {stations}")

        # and the overview counts them online
        with opener.open(f"{base_url}/dashboard/?fragment=summary", timeout=15) as response:
            summary = response.read().decode()
        assert 'data-k="stations_online">3<' in summary, summary
        # and the third speaks OCPP 2.0.1, the others 1.6
        assert {i: s["ocpp_version"] for i, s in stations.items()} == {
            "DEMO-001": "1.6",
            "DEMO-002": "1.6",
            "DEMO-003": "2.0.1",
        }
