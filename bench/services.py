"""The OCPP server's database work per message, without sockets: the session mix's service calls run
through the group commit's own transaction function (`stations.protocol.batch._commit`), one batch
per round of the fleet, and each kind of message is counted apart. Each message brings its two
message log rows (the CALL in and the CALLRESULT out) to the batch, as the consumer does.

    python bench/services.py                       # 50 stations, 48 rounds, a table per message kind
    python bench/services.py --profile 30          # and cProfile's 30 costliest functions
    python bench/services.py --dispatch            # and the worker's share: the events they published,
                                                   # dispatched as the Celery worker does, per event type

Queries per message are exact and repeatable (they include the savepoints around each call and the
message log's share of the batch); CPU
per message is noisy like every timing here. A throw-away embedded database in a temporary
directory; run by hand, never in CI. The yardstick for the whole server is `bench/compare.py`.
"""

import argparse
import cProfile
import os
import pstats
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
DATA_DIR = tempfile.mkdtemp(prefix="cn-bench-services-")
os.environ["CHARGENET_DATA_DIR"] = DATA_DIR
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chargenet.settings")
os.environ.pop("DATABASE_URL", None)

import django  # noqa: E402

CARD = "BENCH0001"
# One charging session per station every 12 rounds, the shape of loadgen.py's session mix.
PHASES = ["Preparing", "Start", "Charging", *["MeterValues"] * 7, "Stop", "Available"]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--stations", type=int, default=50, help="stations, one message each per round")
    parser.add_argument("--rounds", type=int, default=48, help="rounds measured (after 12 to warm up)")
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="print cProfile's N costliest")
    parser.add_argument(
        "--dispatch", action="store_true", help="then dispatch the events as the worker does, per type"
    )
    args = parser.parse_args()
    try:
        run(args)
    finally:
        shutil.rmtree(DATA_DIR, ignore_errors=True)


def run(args: argparse.Namespace) -> None:
    django.setup()
    from django.conf import settings

    from chargenet import embedded

    # The live feed and the Celery tasks that subscribers queue need the embedded Redis, as in a worker.
    redis = embedded.redis_start(socket_path=settings.EMBEDDED_REDIS_SOCKET, data_dir=settings.DATA_DIR)
    try:
        measure(args)
    finally:
        redis.terminate()
        redis.wait(timeout=10)


def measure(args: argparse.Namespace) -> None:
    import asyncio

    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from rfid.services import id_token_create
    from stations import services
    from stations.protocol.batch import Item, _commit, _thread_init

    call_command("migrate", verbosity=0)
    stations = [
        services.station_create(identity=f"BENCH-{n:05d}", password="bench-station-password-0001", evses=1)[0]
        for n in range(1, args.stations + 1)
    ]
    id_token_create(uid=CARD, label="Benchmark card")
    _thread_init(asyncio.new_event_loop())  # as on the writer thread: no DEBUG query log
    meter = [0] * len(stations)
    transaction_ids: list[int | None] = [None] * len(stations)

    def item(kind: str, index: int) -> Item:
        station_id, now = stations[index].pk, timezone.now()
        if kind == "Start":

            def start() -> None:
                session, _ = services.session_start(
                    station_id=station_id,
                    connector_id=1,
                    id_tag=CARD,
                    meter_start=meter[index],
                    timestamp=now,
                )
                transaction_ids[index] = int(session.transaction_id)

            return Item(start, (), {}, None)  # type: ignore[arg-type]
        if kind == "Stop":
            kwargs: dict[str, Any] = {
                "station_id": station_id,
                "transaction_id": transaction_ids[index],
                "meter_stop": meter[index],
                "timestamp": now,
                "id_tag": CARD,
                "reason": "Local",
            }
            return Item(services.session_stop, (), kwargs, None)  # type: ignore[arg-type]
        if kind == "MeterValues":
            meter[index] += 500
            sample = {"timestamp": now, "measurand": "Energy.Active.Import.Register", "unit": "Wh"}
            kwargs = {
                "station_id": station_id,
                "connector_id": 1,
                "transaction_id": transaction_ids[index],
                "samples": [
                    {**sample, "value": meter[index], "context": "Sample.Periodic", "location": "Outlet"}
                ],
            }
            return Item(services.meter_values_record, (), kwargs, None)  # type: ignore[arg-type]
        kwargs = {"station_id": station_id, "connector_id": 1, "status": kind, "error_code": "NoError"}
        return Item(services.connector_status_record, (), {**kwargs, "timestamp": now}, None)  # type: ignore[arg-type]

    def log_entries(kind: str, index: int) -> list[dict[str, Any]]:
        """The CALL and CALLRESULT rows the consumer logs for one message (BATCH.append)."""
        station = stations[index]
        action = "StatusNotification" if kind in ("Preparing", "Charging", "Available") else kind
        action = {"Start": "StartTransaction", "Stop": "StopTransaction"}.get(action, action)
        message_id = f"{index}-{kind}"
        common = {"station_id": station.pk, "identity": station.identity, "message_id": message_id}
        return [
            {
                **common,
                "direction": "in",
                "message_type": 2,
                "action": action,
                "payload": f'[2,"{message_id}","{action}",{{"connectorId":1,"meterValue":[]}}]',
            },
            {
                **common,
                "direction": "out",
                "message_type": 3,
                "action": "",
                "payload": f'[3,"{message_id}",{{}}]',
            },
        ]

    counted: dict[str, list[float]] = defaultdict(lambda: [0, 0, 0.0])  # messages, queries, CPU seconds
    profile = cProfile.Profile() if args.profile else None

    def one_round(number: int, measure: bool) -> None:
        kind = PHASES[number % len(PHASES)]
        items = [item(kind, index) for index in range(len(stations))]
        entries = [entry for index in range(len(stations)) for entry in log_entries(kind, index)]
        queries = [0]

        def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
            queries[0] += 1
            return execute(sql, params, many, context)

        started = time.process_time()
        with connection.execute_wrapper(count):
            if profile and measure:
                profile.enable()
            results, _ = _commit(items, entries, {})
            if profile and measure:
                profile.disable()
        cpu = time.process_time() - started
        for ok, value in results:
            if not ok:
                raise value
        if measure:
            label = "StatusNotification" if kind in ("Preparing", "Charging", "Available") else kind
            row = counted[label]
            row[0] += len(items)
            row[1] += queries[0]
            row[2] += cpu

    for number in range(len(PHASES)):
        one_round(number, measure=False)
    for number in range(args.rounds):
        one_round(number, measure=True)

    total = [sum(row[i] for row in counted.values()) for i in range(3)]
    print(f"\n{args.stations} stations, {args.rounds} rounds, one group commit per round (SQLite)\n")
    print("| message | count | queries per message | CPU ms per message |")
    print("| --- | --- | --- | --- |")
    for label, (messages, queries, cpu) in [*sorted(counted.items()), ("all", total)]:
        print(f"| {label} | {messages:.0f} | {queries / messages:.2f} | {cpu / messages * 1000:.2f} |")
    if profile:
        pstats.Stats(profile).sort_stats("cumulative").print_stats(args.profile)
    if args.dispatch:
        dispatch(args)


def dispatch(args: argparse.Namespace) -> None:
    """The events the rounds published, handed to their subscribers the way the Celery worker does
    (`events_dispatch_due`), one event type at a time (the others wait) so each gets its own row;
    the events their subscribers publish (a priced session's cdr.created) count in the row of the
    event that caused them."""
    from asgiref.sync import SyncToAsync
    from django.db import connection
    from django.utils import timezone

    from chargenet import events
    from chargenet.models import Event

    # A worker, not the ASGI server's writer thread: the live feed is sent inline, not handed to a loop.
    SyncToAsync.threadlocal.main_event_loop = None

    by_type: dict[str, list[int]] = defaultdict(list)
    for pk, kind in Event.objects.filter(dispatched_at__isnull=True).order_by("id").values_list("id", "type"):
        by_type[kind].append(pk)
    profile = cProfile.Profile() if args.profile else None
    rows = []
    queries = [0]

    def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        queries[0] += 1
        return execute(sql, params, many, context)

    later = timezone.now() + timedelta(days=1)
    for kind, ids in sorted(by_type.items()):
        # The other types' events wait (not due yet) while this type's are dispatched.
        pending = Event.objects.filter(dispatched_at__isnull=True)
        pending.exclude(type=kind).update(next_attempt_at=later)
        pending.filter(type=kind).update(next_attempt_at=timezone.now())
        queries[0] = 0
        started = time.process_time()
        with connection.execute_wrapper(count):
            if profile:
                profile.enable()
            while events.events_dispatch_due():  # and the events their subscribers publish (cdr.created)
                pass
            if profile:
                profile.disable()
        rows.append((kind, len(ids), queries[0], time.process_time() - started))
    left = Event.objects.filter(dispatched_at__isnull=True).count()
    print(
        f"\nThe worker's share: the events above dispatched as events_dispatch_due does ({left} left undone)\n"
    )
    print("| event | count | queries per event | CPU ms per event |")
    print("| --- | --- | --- | --- |")
    for kind, count_, queries_, cpu in rows:
        print(f"| {kind} | {count_} | {queries_ / count_:.2f} | {cpu / count_ * 1000:.2f} |")
    total_cpu, sessions = sum(row[3] for row in rows), len(by_type["session.stopped"])
    print(
        f"\nper charging session ({sessions}, warm-up rounds too): {sum(r[2] for r in rows) / sessions:.1f} queries, "
        f"{total_cpu / sessions * 1000:.2f} ms CPU"
    )
    if profile:
        pstats.Stats(profile).sort_stats("cumulative").print_stats(args.profile)


if __name__ == "__main__":
    main()
