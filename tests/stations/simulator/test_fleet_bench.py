"""The fleet benchmark runs end to end against a CSMS and reports its table (no timings asserted)."""

import importlib.util
import os

import pytest

from tests.stations.simulator.csms import TinyCsms
from tests.support import REPO


def load_fleet():
    spec = importlib.util.spec_from_file_location("bench_loadgen", REPO / "bench" / "loadgen.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_the_fleet_benchmark_holds_its_stations_and_reports_latency_and_memory():
    fleet = load_fleet()
    password = "bench-station-password-0001"
    async with TinyCsms({f"BENCH-{n:05d}": password for n in range(1, 4)}) as csms:
        args = fleet.parse_args(
            ["--url", csms.url, "--stations", "3", "--duration", "1", "--interval", "0.02"]
            + ["--timeout", "5", "--server-pid", str(os.getpid())]
        )

        result = await fleet.bench(args)

    assert (result["connected"], result["booted"], result["held_at_end"]) == (3, 3, 3)
    assert result["errors"] == {}
    assert result["steady_messages"] > 0
    assert {"StartTransaction", "MeterValues"} <= set(result["latency"])
    table = fleet.report(args, result)
    assert "msg/s" in table and "server memory per connection" in table
    for identity in ("BENCH-00001", "BENCH-00002", "BENCH-00003"):
        assert "StopTransaction" in csms.stations[identity].actions()


def test_the_fleet_benchmark_refuses_a_server_that_is_not_this_machine():
    fleet = load_fleet()

    with pytest.raises(SystemExit) as refused:
        fleet.parse_args(["--url", "ws://example.com/ocpp/"])

    assert refused.value.code == 2


async def test_the_bare_baseline_server_answers_the_fleets_whole_session_mix():
    # given the yardstick of bench/compare.py on a free port
    import asyncio
    import sys

    from tests.support import free_port

    port = free_port()
    server = await asyncio.create_subprocess_exec(
        sys.executable,
        str(REPO / "bench" / "baseline.py"),
        "--port",
        str(port),
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert b"listening" in await asyncio.wait_for(server.stdout.readline(), 30)
        fleet = load_fleet()
        args = fleet.parse_args(
            [
                "--url",
                f"ws://127.0.0.1:{port}/ocpp/",
                "--stations",
                "3",
                "--duration",
                "1",
                "--interval",
                "0.02",
            ]
            + ["--timeout", "5"]
        )

        # when the fleet runs its session mix against it
        result = await fleet.bench(args)
    finally:
        server.terminate()
        await server.wait()

    # then every station boots and every kind of message is answered
    assert (result["booted"], result["errors"]) == (3, {})
    assert {"StartTransaction", "MeterValues", "StopTransaction", "StatusNotification"} <= set(
        result["latency"]
    )


async def test_a_dropped_fleet_station_reconnects_at_once_not_at_its_next_message():
    # given three stations of the reconnect mix, idle between heartbeats a minute apart
    import asyncio

    fleet = load_fleet()
    password = "bench-station-password-0001"
    async with TinyCsms({f"BENCH-{n:05d}": password for n in range(1, 4)}) as csms:
        args = fleet.parse_args(
            ["--url", csms.url, "--stations", "3", "--duration", "5", "--interval", "60"]
            + ["--mix", "heartbeat", "--reconnect", "--backoff-min", "0.2", "--backoff-random", "0.2"]
            + ["--timeout", "5", "--server-pid", str(os.getpid())]
        )
        run = asyncio.ensure_future(fleet.bench(args))
        while csms.connections < 3:
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.5)  # booted, in the steady phase

        # when the server drops every connection
        await csms.disconnect_all()
        result = await run

    # then each station saw its connection end and came back within the run, as a charger's
    # WebSocket client does, instead of finding out at a heartbeat due a minute later
    assert (result["dropped"], result["back"]) == (3, 3)
    assert csms.connections == 6
    assert result["errors"] == {"connection closed while idle": 3}
