"""The group commit's hand-over alone: a service call handed from the event loop to its writer thread
and the answer back, with the commit itself replaced by a stand-in that holds no lock and releases
the GIL for `--commit-ms` (the database's round trips). Beside it, in the same run, the bare
round trip any thread hand-over costs: `loop.run_in_executor` on a one-thread executor, one call per
"commit".

    python bench/handover.py                  # 1 and 200 callers at once, 5 s each
    python bench/handover.py --commit-ms 2    # a commit that takes 2 ms

CPU per call is the whole process's (the event loop and the writer) divided by the calls answered:
noisy like every timing here. A throw-away embedded database is configured but never written. Run
by hand, never in CI; the yardstick for the whole server is `bench/compare.py`.
"""

import argparse
import asyncio
import concurrent.futures
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ["CHARGENET_DATA_DIR"] = tempfile.mkdtemp(prefix="cn-bench-handover-")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chargenet.settings")
os.environ.pop("DATABASE_URL", None)

import django  # noqa: E402

django.setup()

import uvloop  # noqa: E402

from stations.protocol import batch  # noqa: E402


async def measure(call: Any, callers: int, seconds: float) -> tuple[float, float]:
    """(calls answered per second, CPU µs per call) of `callers` tasks calling `call(n)` in a loop."""
    answered = 0
    end = 0.0

    async def caller(n: int) -> None:
        nonlocal answered
        while time.monotonic() < end:
            await call(n)
            answered += 1

    end = time.monotonic() + 1.0  # warm-up
    await asyncio.gather(*(caller(n) for n in range(callers)))
    answered, end = 0, time.monotonic() + seconds
    cpu = time.process_time()
    await asyncio.gather(*(caller(n) for n in range(callers)))
    cpu = time.process_time() - cpu
    return answered / seconds, cpu / max(answered, 1) * 1e6


async def main(args: argparse.Namespace) -> None:
    pause = args.commit_ms / 1000

    def commit(items: list[batch.Item], entries: list, seen: dict) -> tuple[list, list]:
        time.sleep(pause)
        return [(True, None) for _ in items], []

    batch._commit = commit
    batcher = batch.Batcher()
    executor = concurrent.futures.ThreadPoolExecutor(1)
    loop = asyncio.get_running_loop()

    async def bare(n: int) -> None:
        await loop.run_in_executor(executor, time.sleep, pause)

    async def grouped(n: int) -> None:
        await batcher.run_for(n, lambda: None)

    rows = []
    for callers in (1, 200):
        for name, call in (("bare: run_in_executor per call", bare), ("group commit", grouped)):
            rate, cpu = await measure(call, callers, args.seconds)
            rows.append((name, callers, rate, cpu))
    batcher.stop()
    print(
        f"\ncommit stand-in {args.commit_ms:g} ms, group-commit window {batch.settings.OCPP_GROUP_COMMIT_MS} ms\n"
    )
    print("| hand-over | callers at once | calls/s | CPU per call |")
    print("| --- | --- | --- | --- |")
    for name, callers, rate, cpu in rows:
        print(f"| {name} | {callers} | {rate:,.0f} | {cpu:.1f} µs |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--commit-ms", type=float, default=0.0, help="the commit stand-in's duration")
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds per row")
    uvloop.run(main(parser.parse_args()))
