"""Fleet benchmark: M lightweight OCPP 1.6 stations against a running ChargeNet on this machine.

    python bench/create_stations.py --count 1000
    python bench/loadgen.py --stations 1000 --duration 60 --interval 10 --server-pid <daphne pid>

Each station is one WebSocket with plain JSON frames (no schema validation on this side, so the
client stays cheap): it connects with HTTP Basic auth, boots, reports its connector, then for
`--duration` seconds sends one CALL every `--interval` seconds (0 = as fast as the server answers)
from the chosen mix, and answers any CALL the server sends. Printed at the end: connections held,
messages per second, CALL→CALLRESULT latency percentiles per action, server memory per connection
(RSS delta of `--server-pid` and its children) and every error. Loopback only, bounded in count
and time; run by hand, never in CI.
"""

import argparse
import asyncio
import base64
import contextlib
import itertools
import json
import os
import random
import sys
import time
import uuid
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Subprotocol

MAX_STATIONS = 20000
MAX_DURATION = 3600
LOOPBACK = {"127.0.0.1", "localhost", "::1"}

# What a healthy charger answers to CSMS-initiated calls; enough to keep a CSMS's boot routine happy.
ANSWERS = {
    "GetConfiguration": {"configurationKey": []},
    "GetLocalListVersion": {"listVersion": 0},
    "UnlockConnector": {"status": "Unlocked"},
    "UpdateFirmware": {},
    "GetDiagnostics": {},
    "GetCompositeSchedule": {"status": "Rejected"},
}


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


def process_tree(pid: int) -> list[int]:
    """`pid` and its descendants (Linux /proc)."""
    found, pids = [], [pid]
    while pids:
        current = pids.pop()
        if current in found:
            continue
        found.append(current)
        try:
            for task in Path(f"/proc/{current}/task").iterdir():
                pids.extend(int(child) for child in (task / "children").read_text().split())
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return found


def rss_kib(pid: int, match: str = "") -> int:
    """Resident memory of `pid` and its descendants in KiB (Linux /proc); with `match`, only of the
    processes whose command line contains it (ChargeNet's connection holders: "uvicorn")."""
    total = 0
    for current in process_tree(pid):
        try:
            if match and match not in Path(f"/proc/{current}/cmdline").read_bytes().decode(errors="replace"):
                continue
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return total


def cpu_seconds(pid: int) -> dict[int, float]:
    """CPU time (user + system) used so far by `pid` and each descendant, per pid."""
    ticks = os.sysconf("SC_CLK_TCK")
    used = {}
    for current in process_tree(pid):
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        used[current] = (int(fields[11]) + int(fields[12])) / ticks
    return used


ROLES = (
    ("uvicorn", "web"),
    ("daphne", "web"),
    (" worker", "worker"),
    (" beat", "beat"),
    ("redis-server", "redis"),
    ("fleet_ftp", "ftp"),
    ("manage.py run", "supervisor"),
)


def process_label(pid: int) -> str:
    """`<role>-<pid>`: which part of a ChargeNet node a process is, by its command line."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return str(pid)
    role = next((name for needle, name in ROLES if needle in cmdline), "process")
    return f"{role}-{pid}"


def cpu_delta(before: dict[int, float], after: dict[int, float]) -> dict[int, float]:
    """CPU seconds each process used between two cpu_seconds() readings."""
    return {pid: after[pid] - before.get(pid, 0.0) for pid in after}


class Stats:
    def __init__(self) -> None:
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.errors: Counter[str] = Counter()
        self.connect_times: list[float] = []
        self.server_calls: Counter[str] = Counter()
        self.connected = 0
        self.held = 0
        self.booted_at: list[float] = []  # perf_counter() of each station's first accepted boot
        self.steady_messages = 0
        self.steady = False
        self.closing = False
        self.pending_boots = 0
        # Reconnect storms (--reconnect): when each dropped station was first seen gone, and back.
        self.dropped: dict[str, float] = {}
        self.back: dict[str, float] = {}


class Station:
    """One benchmark station: a socket, a reader task and the CALLs it is waiting on."""

    def __init__(self, args: argparse.Namespace, identity: str, stats: Stats, rng: random.Random):
        self.args, self.identity, self.stats, self.rng = args, identity, stats, rng
        self.pending: dict[str, asyncio.Future] = {}
        self.ws: Any = None  # a websockets ClientConnection once connected
        self.closed = asyncio.Event()  # set when the reader sees the connection end
        self.meter_wh = rng.randrange(0, 1_000_000)
        self.transaction_id: int | None = None

    async def connect(self, label: str = "connect") -> bool:
        token = base64.b64encode(f"{self.identity}:{self.args.password}".encode()).decode()
        started = time.perf_counter()
        try:
            self.closed.clear()
            self.ws = await connect(
                f"{self.args.url.rstrip('/')}/{self.identity}",
                subprotocols=[Subprotocol("ocpp1.6")],
                additional_headers={"Authorization": f"Basic {token}"},
                open_timeout=self.args.timeout,
                compression=None,
                ping_interval=None,  # the server pings; a charger need not
                max_queue=4,
            )
        except InvalidStatus as exc:
            self.stats.errors[f"{label}: HTTP {exc.response.status_code}"] += 1
            return False
        except (OSError, TimeoutError) as exc:
            self.stats.errors[f"{label}: {type(exc).__name__}"] += 1
            return False
        self.stats.connect_times.append(time.perf_counter() - started)
        asyncio.create_task(self.read())
        return True

    async def read(self) -> None:
        try:
            async for raw in self.ws:
                message = json.loads(raw)
                if message[0] == 2:
                    self.stats.server_calls[message[2]] += 1
                    answer = ANSWERS.get(message[2], {"status": "Accepted"})
                    await self.ws.send(json.dumps([3, message[1], answer]))
                elif message[0] in (3, 4) and message[1] in self.pending:
                    self.pending.pop(message[1]).set_result(message)
        except ConnectionClosed:
            pass
        finally:
            self.closed.set()
            for future in self.pending.values():
                if not future.done():
                    future.set_exception(ConnectionError("closed"))
            self.pending.clear()

    async def pause(self, stop: asyncio.Event, seconds: float) -> None:
        """Wait `seconds`, or less if the run stops; a connection that ends meanwhile raises
        ConnectionError at once, as a charger's WebSocket client sees the close and starts its
        reconnection back-off then, not at its next message."""
        ended = asyncio.ensure_future(self.closed.wait())
        stopped = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait(
                (ended, stopped), timeout=max(0.0, seconds), return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            ended.cancel()
            stopped.cancel()
        if self.closed.is_set() and not stop.is_set():
            if not self.stats.closing:
                self.stats.errors["connection closed while idle"] += 1
            raise ConnectionError("closed")

    async def call(self, action: str, payload: dict) -> dict | None:
        unique_id = str(uuid.uuid4())
        future = asyncio.get_running_loop().create_future()
        self.pending[unique_id] = future
        started = time.perf_counter()
        try:
            await self.ws.send(json.dumps([2, unique_id, action, payload]))
            reply = await asyncio.wait_for(future, self.args.timeout)
        except TimeoutError:
            self.pending.pop(unique_id, None)
            self.stats.errors[f"{action}: timeout"] += 1
            return None
        except (ConnectionClosed, ConnectionError):
            if not self.stats.closing:  # our own shutdown is not the server's fault
                self.stats.errors[f"{action}: connection closed"] += 1
            raise ConnectionError from None
        if reply[0] == 4:
            self.stats.errors[f"{action}: CALLERROR {reply[2]}"] += 1
            return None
        self.stats.latency[action].append(time.perf_counter() - started)
        if self.stats.steady:
            self.stats.steady_messages += 1
        return reply[2]

    def status(self, status: str) -> tuple[str, dict]:
        return "StatusNotification", {
            "connectorId": 1,
            "errorCode": "NoError",
            "status": status,
            "timestamp": now_iso(),
        }

    def script(self):
        """The endless sequence of CALLs this station sends, by mix."""
        if self.args.mix == "heartbeat":
            while True:
                yield "Heartbeat", {}
        while True:  # "session": a charging session with meter values, then a heartbeat
            yield self.status("Preparing")
            yield (
                "StartTransaction",
                {
                    "connectorId": 1,
                    "idTag": self.args.id_tag or self.identity,
                    "meterStart": self.meter_wh,
                    "timestamp": now_iso(),
                },
            )
            yield self.status("Charging")
            for _ in range(self.args.meter_values):
                self.meter_wh += self.rng.randrange(50, 200)
                yield "MeterValues", self.meter_values_payload()
            yield (
                "StopTransaction",
                {
                    "transactionId": self.transaction_id or 0,
                    "meterStop": self.meter_wh,
                    "timestamp": now_iso(),
                    "reason": "EVDisconnected",
                },
            )
            yield self.status("Finishing")
            yield self.status("Available")
            yield "Heartbeat", {}

    async def boot(self) -> bool:
        """BootNotification until Accepted; a Pending answer is retried after its interval (1.6 §4.2)."""
        while True:
            boot = await self.call(
                "BootNotification",
                {
                    "chargePointVendor": "ChargeNet",
                    "chargePointModel": "Bench",
                    "chargePointSerialNumber": self.identity,
                },
            )
            status = boot.get("status") if boot else None
            if boot and status == "Pending":
                self.stats.pending_boots += 1
                interval = boot.get("interval") or 10
                await asyncio.sleep(interval * self.rng.uniform(0.9, 1.1))
                continue
            if status != "Accepted":
                self.stats.errors[f"boot: {status or 'no answer'}"] += 1
                return False
            return True

    async def run(self, start_steady: asyncio.Event, stop: asyncio.Event) -> None:
        if not await self.boot():
            return
        self.stats.booted_at.append(time.perf_counter())
        await self.call(*self.status("Available"))
        self.stats.held += 1
        await start_steady.wait()
        await self.steady(stop)

    async def steady(self, stop: asyncio.Event) -> None:
        if self.args.mix == "realistic":
            await self.realistic(stop)
            return
        # Spread the fleet's first messages over one interval so they do not arrive in lockstep.
        await self.pause(stop, self.rng.uniform(0, self.args.interval))
        for action, payload in self.script():
            if stop.is_set():
                return
            reply = await self.call(action, payload)
            if action == "StartTransaction" and reply:
                self.transaction_id = reply.get("transactionId")
            if self.args.interval:
                await self.pause(stop, self.args.interval * self.rng.uniform(0.9, 1.1))

    async def realistic(self, stop: asyncio.Event) -> None:
        """The realistic profile: a Heartbeat every 300 s; a quarter of the stations charge, with
        MeterValues every 60 s. Every timer starts at a random phase."""
        charging = self.rng.random() < 0.25
        if charging and self.transaction_id is None:
            await self.pause(stop, self.rng.uniform(0, 60))
            if stop.is_set():
                return
            reply = await self.call(
                "StartTransaction",
                {
                    "connectorId": 1,
                    "idTag": self.args.id_tag or self.identity,
                    "meterStart": self.meter_wh,
                    "timestamp": now_iso(),
                },
            )
            self.transaction_id = reply.get("transactionId") if reply else None
            await self.call(*self.status("Charging"))
        loop = asyncio.get_running_loop()
        next_heartbeat = loop.time() + self.rng.uniform(0, 300)
        next_meter = loop.time() + self.rng.uniform(0, 60)
        while not stop.is_set():
            due = min(next_heartbeat, next_meter) if charging else next_heartbeat
            await self.pause(stop, due - loop.time())
            if stop.is_set():
                return
            if loop.time() >= next_heartbeat:
                next_heartbeat += 300
                await self.call("Heartbeat", {})
            if charging and loop.time() >= next_meter:
                next_meter += 60
                self.meter_wh += self.rng.randrange(100, 400)
                await self.call("MeterValues", self.meter_values_payload())

    def meter_values_payload(self) -> dict:
        return {
            "connectorId": 1,
            "transactionId": self.transaction_id or 0,
            "meterValue": [
                {
                    "timestamp": now_iso(),
                    "sampledValue": [
                        {
                            "value": str(self.meter_wh),
                            "measurand": "Energy.Active.Import.Register",
                            "unit": "Wh",
                        },
                        {"value": "11000", "measurand": "Power.Active.Import", "unit": "W"},
                    ],
                }
            ],
        }

    async def come_back(self, stop: asyncio.Event) -> bool:
        """After a dropped connection: reconnect with the jittered, doubling back-off of OCPP 2.0.1
        (RetryBackOffWaitMinimum + random RetryBackOffRandomRange, doubled up to 5 times), boot."""
        self.stats.dropped.setdefault(self.identity, time.perf_counter())
        attempt = 0
        while not stop.is_set():
            wait = self.args.backoff_min * 2 ** min(attempt, 5) + self.rng.uniform(
                0, self.args.backoff_random
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), wait)
            if stop.is_set():
                return False
            attempt += 1
            if await self.connect(label="reconnect attempt"):
                try:
                    if await self.boot():
                        self.stats.back[self.identity] = time.perf_counter()
                        return True
                except ConnectionError:
                    continue
        return False

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()


async def bench(args: argparse.Namespace) -> dict:
    stats = Stats()
    rng = random.Random(args.seed)
    identities = [f"{args.prefix}{n:05d}" for n in range(1, args.stations + 1)]
    stations = [Station(args, identity, stats, random.Random(rng.random())) for identity in identities]
    start_steady, stop = asyncio.Event(), asyncio.Event()
    rss = {"before": rss_kib(args.server_pid, args.rss_match) if args.server_pid else None}

    # Connect at --ramp connections per second, at most --concurrency handshakes at a time.
    gate = asyncio.Semaphore(args.concurrency)
    runners: list[asyncio.Task] = []
    ramp_started = time.perf_counter()

    async def bring_up(station: Station) -> None:
        async with gate:
            ok = await station.connect()
        if not ok:
            return
        stats.connected += 1
        try:
            await station.run(start_steady, stop)
            return
        except ConnectionError:
            pass
        while args.reconnect and not stop.is_set() and await station.come_back(stop):
            try:
                await station.steady(stop)
                return
            except ConnectionError:
                pass

    for index, station in enumerate(stations):
        due = ramp_started + index / args.ramp
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        runners.append(asyncio.create_task(bring_up(station)))
    # Wait until every station has booted or failed (bounded by --boot-wait after the ramp).
    ramp_window = time.perf_counter() - ramp_started + args.timeout
    deadline = time.perf_counter() + max(args.timeout, args.boot_wait)
    while stats.held + sum(stats.errors.values()) < len(stations) and time.perf_counter() < deadline:
        await asyncio.sleep(0.1)
    ramp_seconds = time.perf_counter() - ramp_started
    boot_seconds = sorted(at - ramp_started for at in stats.booted_at)
    await asyncio.sleep(1.0)  # let the server settle before measuring its memory
    rss["connected"] = rss_kib(args.server_pid, args.rss_match) if args.server_pid else None

    boot_latency = {k: list(v) for k, v in stats.latency.items()}
    stats.latency.clear()
    stats.steady = True
    cpu_before = cpu_seconds(args.server_pid) if args.server_pid else {}
    steady_started = time.perf_counter()
    start_steady.set()
    print("steady phase started", file=sys.stderr, flush=True)  # bench/compare.py waits for this line
    await asyncio.sleep(args.duration)
    stop.set()
    steady_seconds = time.perf_counter() - steady_started
    stats.steady = False
    cpu = cpu_delta(cpu_before, cpu_seconds(args.server_pid)) if args.server_pid else {}
    rss["end"] = rss_kib(args.server_pid, args.rss_match) if args.server_pid else None
    held_at_end = sum(1 for s in stations if s.ws is not None and s.ws.state.name == "OPEN")

    # Let the CALLs in flight finish before the sockets close.
    await asyncio.wait(runners, timeout=args.timeout)
    stats.closing = True
    for station in stations:
        await station.close()
    for runner in runners:
        runner.cancel()
    await asyncio.gather(*runners, return_exceptions=True)

    return {
        "stations": len(stations),
        "connected": stats.connected,
        "booted": stats.held,
        "held_at_end": held_at_end,
        "ramp_seconds": ramp_seconds,
        "ramp_window": ramp_window,
        "boot_seconds": boot_seconds,
        "connect_times": stats.connect_times,
        "boot_latency": boot_latency,
        "steady_seconds": steady_seconds,
        "steady_messages": stats.steady_messages,
        "latency": dict(stats.latency),
        "errors": dict(stats.errors),
        "server_calls": dict(stats.server_calls),
        "rss_kib": rss,
        "server_cpu_seconds": {
            process_label(pid): round(seconds, 2) for pid, seconds in cpu.items() if seconds > 0
        },
        "pending_boots": stats.pending_boots,
        "dropped": len(stats.dropped),
        "back": len(stats.back),
        "back_seconds": sorted(stats.back[identity] - min(stats.dropped.values()) for identity in stats.back),
    }


def boot_all(result: dict) -> str:
    """When the last station's boot was accepted (p50 too), or how many never were."""
    booted = result["boot_seconds"]
    if not booted:
        return "none booted"
    if len(booted) < result["stations"]:
        return f"{result['stations'] - len(booted)} not booted after {result['ramp_seconds']:.1f} s"
    return f"p50 {percentile(booted, 50):.1f} s, all {booted[-1]:.1f} s"


def report(args: argparse.Namespace, result: dict) -> str:
    def ms(values: list[float]) -> str:
        return " / ".join(f"{percentile(values, p) * 1000:.1f}" for p in (50, 95, 99))

    rows = [
        (
            "stations requested / connected / booted",
            f"{result['stations']} / {result['connected']} / {result['booted']}",
        ),
        ("connections held at the end", str(result["held_at_end"])),
        ("ramp-up (connect + boot all)", boot_all(result)),
        (
            f"booted within the ramp + {args.timeout:g} s ({result['ramp_window']:.0f} s)",
            str(sum(1 for at in result["boot_seconds"] if at <= result["ramp_window"])),
        ),
        ("WebSocket handshake p50 / p95 / p99", f"{ms(result['connect_times'])} ms"),
    ]
    boot = result["boot_latency"].get("BootNotification", [])
    rows.append(("BootNotification p50 / p95 / p99", f"{ms(boot)} ms"))
    rate = result["steady_messages"] / result["steady_seconds"] if result["steady_seconds"] else 0
    rows.append(
        (
            f"steady phase ({args.mix}, interval {args.interval:g} s)",
            f"{result['steady_messages']} CALLs in {result['steady_seconds']:.0f} s = {rate:.1f} msg/s",
        )
    )
    everything = list(itertools.chain.from_iterable(result["latency"].values()))
    rows.append(("CALL→CALLRESULT, all, p50 / p95 / p99", f"{ms(everything)} ms"))
    for action, values in sorted(result["latency"].items()):
        rows.append((f"  {action} ({len(values)})", f"{ms(values)} ms"))
    rss = result["rss_kib"]
    if rss["before"] is not None:
        rows.append(
            (
                "server RSS before / connected / end",
                f"{rss['before'] / 1024:.1f} / {rss['connected'] / 1024:.1f} / {rss['end'] / 1024:.1f} MiB",
            )
        )
        if result["booted"]:
            per = (rss["connected"] - rss["before"]) / result["booted"]
            rows.append(("server memory per connection", f"{per:.0f} KiB"))
    cpu = sum(result["server_cpu_seconds"].values())
    if cpu and result["steady_messages"]:
        rows.append(
            (
                "server CPU per message (steady)",
                f"{cpu / result['steady_messages'] * 1000:.2f} ms ({cpu:.1f} s CPU)",
            )
        )
    if len(result["server_cpu_seconds"]) > 1:
        rows.append(
            (
                "server CPU per process (steady)",
                ", ".join(f"{pid}: {seconds:.1f} s" for pid, seconds in result["server_cpu_seconds"].items()),
            )
        )
    if result["pending_boots"]:
        rows.append(("BootNotification answered Pending (retried)", str(result["pending_boots"])))
    if result["dropped"]:
        back = result["back_seconds"]
        rows.append(
            (
                "dropped / back and booted again",
                f"{result['dropped']} / {result['back']}"
                + (f"; back after p50 {percentile(back, 50):.1f} s, all {back[-1]:.1f} s" if back else ""),
            )
        )
    errors = result["errors"]
    rows.append(("errors", ", ".join(f"{k}: {v}" for k, v in sorted(errors.items())) or "none"))
    if result["server_calls"]:
        rows.append(
            (
                "CALLs from the server",
                ", ".join(f"{k}: {v}" for k, v in sorted(result["server_calls"].items())),
            )
        )
    width = max(len(label) for label, _ in rows)
    lines = [f"| {'measure':<{width}} | value |", f"| {'-' * width} | --- |"]
    lines += [f"| {label:<{width}} | {value} |" for label, value in rows]
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", default="ws://127.0.0.1:8000/ocpp/", help="OCPP endpoint (loopback only)")
    parser.add_argument("--stations", type=int, default=100, help=f"how many stations (1-{MAX_STATIONS})")
    parser.add_argument("--prefix", default="BENCH-", help="identity prefix, as given to create_stations.py")
    parser.add_argument("--password", default="bench-station-password-0001", help="HTTP Basic password")
    parser.add_argument(
        "--id-tag",
        default="",
        help="card used for StartTransaction (default: the station's own, its identity; BENCH0001 is one card for all)",
    )
    parser.add_argument(
        "--duration", type=float, default=30, help=f"steady phase seconds (max {MAX_DURATION})"
    )
    parser.add_argument(
        "--interval", type=float, default=10, help="seconds between a station's CALLs; 0 = flat out"
    )
    parser.add_argument(
        "--mix",
        choices=["session", "heartbeat", "realistic"],
        default="session",
        help="what stations send (realistic: Heartbeat every 300 s, a quarter charging with MeterValues every 60 s)",
    )
    parser.add_argument(
        "--meter-values", type=int, default=6, help="MeterValues per session in the session mix"
    )
    parser.add_argument("--ramp", type=float, default=200, help="new connections per second")
    parser.add_argument("--concurrency", type=int, default=100, help="handshakes in flight at most")
    parser.add_argument("--timeout", type=float, default=30, help="seconds to wait for any answer")
    parser.add_argument(
        "--boot-wait",
        type=float,
        default=300,
        help="after the ramp, seconds to wait at most for every station to boot before the steady phase",
    )
    parser.add_argument(
        "--server-pid", type=int, default=None, help="server pid, for its RSS (children counted)"
    )
    parser.add_argument(
        "--rss-match",
        default="",
        help="count the memory of only those of the server's processes whose command line contains this",
    )
    parser.add_argument(
        "--reconnect", action="store_true", help="a dropped station reconnects with back-off and boots again"
    )
    parser.add_argument("--backoff-min", type=float, default=5, help="first reconnect wait, seconds")
    parser.add_argument("--backoff-random", type=float, default=10, help="random extra wait, up to seconds")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="print the raw result as JSON as well")
    args = parser.parse_args(argv)
    if not 1 <= args.stations <= MAX_STATIONS:
        parser.error(f"--stations must be 1 to {MAX_STATIONS}")
    if not 0 < args.duration <= MAX_DURATION:
        parser.error(f"--duration must be more than 0 and at most {MAX_DURATION}")
    if urlsplit(args.url).hostname not in LOOPBACK:
        parser.error("--url must point at this machine (127.0.0.1, localhost or ::1)")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    result = asyncio.run(bench(args))
    print(report(args, result))
    if args.json:
        summary = {k: v for k, v in result.items() if k not in ("latency", "connect_times", "boot_latency")}
        summary["latency_ms"] = {
            action: {f"p{p}": round(percentile(values, p) * 1000, 2) for p in (50, 95, 99)}
            for action, values in result["latency"].items()
        }
        print(json.dumps(summary, indent=2))
    sys.exit(0 if not result["errors"] else 1)


if __name__ == "__main__":
    main()
