"""One command per row of the performance table: the bare baseline and ChargeNet, side by side.

    python bench/compare.py mix                     # session mix, 200 stations, closed loop
    python bench/compare.py rate                    # 3,000 stations × 1 msg / 10 s
    python bench/compare.py idle                    # 10,000 idle stations: boot time, memory each
    python bench/compare.py realistic --duration 1800 --baseline-duration 600   # 10,000, realistic
    python bench/compare.py storm                   # server killed (-9) and restarted mid-run
    python bench/compare.py nodes --processes 2     # ChargeNet with N ASGI processes (no baseline)

Each row starts the bare server (`bench/baseline.py`), runs `bench/loadgen.py` against it, stops it,
then starts a fresh ChargeNet (`manage.py run`, its own data directory, its stations created first)
and runs the same fleet against it; both results go in one table. Both run in the same invocation so
that a machine shared with other work affects them alike. ChargeNet runs in the embedded mode unless
`--database-url`/`--redis-url` are given (PostgreSQL mode). `--before DIR` adds a column for another
source tree (an older commit, exported with `git archive`), run the same way. Sizes are parameters (`--stations`,
`--duration`, `--interval`); anything else after `--` goes to loadgen.py. Loopback only, bounded in
time and count; run by hand, never in CI.
"""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from loadgen import boot_all, percentile, process_tree  # noqa: E402

# row → loadgen.py arguments (sizes can be overridden on the command line)
ROWS: dict[str, dict] = {
    "mix": {"stations": 200, "duration": 30, "interval": 0, "fleet": ["--mix", "session"]},
    "rate": {"stations": 3000, "duration": 60, "interval": 10, "fleet": ["--mix", "session"]},
    "idle": {"stations": 10000, "duration": 10, "interval": 300, "fleet": ["--mix", "heartbeat"]},
    "realistic": {"stations": 10000, "duration": 300, "interval": 0, "fleet": ["--mix", "realistic"]},
    "storm": {
        "stations": 2500,
        "duration": 120,
        "interval": 60,
        "fleet": ["--mix", "heartbeat", "--reconnect"],
    },
    "nodes": {"stations": 200, "duration": 30, "interval": 0, "fleet": ["--mix", "session"]},
}
KILL_AFTER = 5.0  # storm: seconds into the steady phase when the server is killed


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_listening(port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise SystemExit(f"nothing listens on port {port} after {timeout:.0f} s")


class Server:
    """A server under test: how to start it, its pid tree, and how to kill its socket holders."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], port: int, cwd: Path = ROOT):
        self.name, self.argv, self.env, self.port, self.cwd = name, argv, env, port, cwd
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.argv, env=self.env, cwd=self.cwd, stdout=subprocess.DEVNULL, start_new_session=True
        )
        wait_listening(self.port, 120)
        time.sleep(2)  # let every ASGI process of a multi-process server come up

    def web_pids(self) -> list[int]:
        """The processes that hold the WebSockets (the baseline itself; ChargeNet's ASGI servers)."""
        assert self.process is not None
        if self.name == "baseline":
            return [self.process.pid]
        pids: list[int] = []
        for pid in process_tree(self.process.pid):
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if ("daphne" in cmdline or "uvicorn" in cmdline) and pid not in pids:
                pids.extend(p for p in process_tree(pid) if p not in pids)  # the server and its workers
        return pids

    def kill_web(self) -> None:
        """kill -9 the socket holders; the baseline is started again at once, ChargeNet's supervisor
        restarts its own ASGI servers."""
        for pid in self.web_pids():
            os.kill(pid, signal.SIGKILL)
        if self.name == "baseline":
            assert self.process is not None
            self.process.wait()
            self.process = subprocess.Popen(
                self.argv, env=self.env, cwd=self.cwd, stdout=subprocess.DEVNULL, start_new_session=True
            )

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def chargenet_env(args: argparse.Namespace, data_dir: Path, port: int) -> dict[str, str]:
    env = {**os.environ, "CHARGENET_DATA_DIR": str(data_dir), "PORT": str(port), "DEMO": "0"}
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    if args.database_url:
        env.update(
            DATABASE_URL=args.database_url,
            SECRET_KEY="bench-only-secret-key-not-for-production-use-0123456789",
            ALLOWED_HOSTS="127.0.0.1,localhost",
        )
    if args.redis_url:
        env["REDIS_URL"] = args.redis_url
    if args.processes:
        env["WEB_PROCESSES"] = str(args.processes)
    return env


def chargenet_prepare(args: argparse.Namespace, env: dict[str, str], tree: Path) -> None:
    """The stations and the card, created while the server runs (it migrated the database first): the
    station.created events then reach its Redis and worker instead of failing one by one."""
    subprocess.run(
        [sys.executable, str(tree / "bench" / "create_stations.py"), "--count", str(args.stations)],
        env=env,
        cwd=tree,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    time.sleep(5)  # the worker dispatches the creation events before the fleet connects
    if args.database_url:
        # Planner statistics, as an operator's database has them (autovacuum analyzes a table once
        # a tenth of it changed, within a minute): without them PostgreSQL plans the fresh tables
        # as empty, scanning the connectors for every status and the events' index through
        # every event dispatched in the run (docs/performance.md).
        import psycopg

        with psycopg.connect(args.database_url, autocommit=True) as connection:
            connection.execute("ANALYZE")


def database_recreate(url: str) -> None:
    """Drop and create the PostgreSQL database of `url`, so that every tree of a row starts from an
    empty database (the second would otherwise find the first one's sessions, log and events)."""
    import psycopg

    base, _, name = url.rpartition("/")
    name = name.split("?")[0]
    with psycopg.connect(f"{base}/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


def chargenet_run(args: argparse.Namespace, row: dict, tree: Path) -> dict:
    """A fresh ChargeNet from source tree `tree` (its own data directory, database and stations),
    measured."""
    if args.database_url:
        database_recreate(args.database_url)
    port = free_port()
    data_dir = Path(tempfile.mkdtemp(prefix="cn-bench-"))
    env = {**chargenet_env(args, data_dir, port), "PYTHONPATH": str(tree)}
    server = Server("chargenet", [sys.executable, "manage.py", "run", "--no-seed"], env, port, cwd=tree)
    server.start()
    try:
        chargenet_prepare(args, env, tree)
        return fleet_run(args, server, row)
    finally:
        server.stop()
        if not args.keep:
            shutil.rmtree(data_dir, ignore_errors=True)


def fleet_run(args: argparse.Namespace, server: Server, row: dict) -> dict:
    """Run loadgen.py against `server`; in the storm row, kill the server's socket holders mid-run."""
    argv = [
        sys.executable,
        str(HERE / "loadgen.py"),
        "--url",
        f"ws://127.0.0.1:{server.port}/ocpp/",
        "--stations",
        str(args.stations),
        "--duration",
        str(args.duration),
        "--interval",
        str(args.interval),
        "--server-pid",
        str(server.process.pid if server.process else 0),
        # memory per connection: of the processes that hold the sockets, not of the worker and beat
        *(["--rss-match", "uvicorn"] if server.name != "baseline" else []),
        "--json",
        *row["fleet"],
        *args.fleet_args,
    ]
    fleet = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert fleet.stderr is not None and fleet.stdout is not None
    killed_at: list[float] = []

    def watch() -> None:
        assert fleet.stderr is not None
        for line in fleet.stderr:
            if "steady phase started" in line and args.row == "storm":
                time.sleep(KILL_AFTER)
                server.kill_web()
                killed_at.append(time.monotonic())
            elif "steady phase started" not in line:
                sys.stderr.write(line)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    out = fleet.stdout.read()
    fleet.wait()
    watcher.join(timeout=5)
    table, _, raw = out.partition("\n{")
    result = json.loads("{" + raw)
    result["table"] = table
    return result


def summary(row: str, result: dict) -> dict[str, str]:
    """The figures of the issue's table for one server."""
    lat = result.get("latency_ms", {})
    rate = result["steady_messages"] / result["steady_seconds"] if result["steady_seconds"] else 0
    cpu = sum(result.get("server_cpu_seconds", {}).values())
    figures = {
        "booted / requested": f"{result['booted']} / {result['stations']}",
        "held at the end": str(result["held_at_end"]),
        "time to boot all (from the first connection)": boot_all(result),
        "msg/s answered (steady)": f"{rate:.1f}",
        "server CPU per message": f"{cpu / result['steady_messages'] * 1000:.2f} ms"
        if result["steady_messages"]
        else "—",
    }
    rss = result.get("rss_kib", {})
    if rss.get("before") is not None and result["booted"]:
        figures["memory per connection"] = f"{(rss['connected'] - rss['before']) / result['booted']:.0f} KiB"
    for action in ("Heartbeat", "StatusNotification", "StartTransaction", "StopTransaction", "MeterValues"):
        if action in lat:
            figures[f"{action} p50 / p99"] = f"{lat[action]['p50']:.0f} / {lat[action]['p99']:.0f} ms"
    if result.get("pending_boots"):
        figures["BootNotification Pending (paced)"] = str(result["pending_boots"])
    if row == "storm":
        back = result.get("back_seconds", [])
        figures["dropped / back"] = f"{result.get('dropped', 0)} / {result.get('back', 0)}"
        if back:
            figures["back after p50 / all"] = f"{percentile(back, 50):.1f} / {back[-1]:.1f} s"
    if len(result.get("server_cpu_seconds", {})) > 1:
        figures["CPU s per process"] = ", ".join(
            f"{label} {s:.1f}" for label, s in sorted(result["server_cpu_seconds"].items())
        )
    errors = result.get("errors", {})
    figures["errors"] = ", ".join(f"{k}: {v}" for k, v in sorted(errors.items())) or "none"
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("row", choices=sorted(ROWS))
    parser.add_argument("--stations", type=int)
    parser.add_argument("--duration", type=float)
    parser.add_argument("--interval", type=float)
    parser.add_argument(
        "--baseline-duration", type=float, help="a shorter steady phase for the bare server (long rows)"
    )
    parser.add_argument("--processes", type=int, default=0, help="ChargeNet ASGI processes (WEB_PROCESSES)")
    parser.add_argument(
        "--database-url",
        default="",
        help="PostgreSQL URL for ChargeNet (else embedded); the database is dropped and created anew for each run",
    )
    parser.add_argument("--redis-url", default="", help="Redis URL for ChargeNet (with --database-url)")
    parser.add_argument("--only", choices=["baseline", "chargenet"], help="run one server only")
    parser.add_argument(
        "--before", help="another ChargeNet source tree (e.g. `git archive` of an older commit) to run too"
    )
    parser.add_argument("--keep", action="store_true", help="keep ChargeNet's data directory")
    parser.add_argument("fleet_args", nargs="*", help="more loadgen.py arguments, after --")
    args = parser.parse_args()
    row = ROWS[args.row]
    for size in ("stations", "duration", "interval"):
        if getattr(args, size) is None:
            setattr(args, size, row[size])
    if args.row == "nodes":
        args.only = "chargenet"
        args.processes = args.processes or os.cpu_count() or 1

    results: dict[str, dict] = {}
    if args.only in (None, "baseline"):
        port = free_port()
        baseline = Server(
            "baseline",
            [sys.executable, str(HERE / "baseline.py"), "--port", str(port)],
            dict(os.environ),
            port,
        )
        baseline.start()
        duration = args.duration
        args.duration = args.baseline_duration or duration
        try:
            results["bare server"] = fleet_run(args, baseline, row)
        finally:
            baseline.stop()
            args.duration = duration
    if args.before:
        results["ChargeNet before"] = chargenet_run(args, row, Path(args.before).resolve())
    if args.only in (None, "chargenet"):
        results["ChargeNet"] = chargenet_run(args, row, ROOT)

    for name, result in results.items():
        print(f"\n## {name}\n\n{result['table']}")
    figures = {name: summary(args.row, result) for name, result in results.items()}
    names = list(figures)
    keys = list(dict.fromkeys(k for f in figures.values() for k in f))
    print(f"\n## {args.row}: {args.stations} stations, {args.duration:g} s, interval {args.interval:g} s\n")
    print("| | " + " | ".join(names) + " |")
    print("| --- | " + " | ".join("---" for _ in names) + " |")
    for key in keys:
        print(f"| {key} | " + " | ".join(figures[name].get(key, "—") for name in names) + " |")


if __name__ == "__main__":
    main()
