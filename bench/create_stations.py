"""Create (or remove) the stations and the cards `bench/loadgen.py` uses, in ChargeNet's database:
each station has its own card, whose uid is the station's identity (as a real fleet's drivers have
their own cards), and the shared card BENCH0001 is kept for `loadgen.py --id-tag BENCH0001`.

    python bench/create_stations.py --count 1000                 # BENCH-00001 … BENCH-01000
    python bench/create_stations.py --count 1000 --delete        # remove them again

Run it with the same environment as the server (DATABASE_URL / CHARGENET_DATA_DIR), before the
benchmark. Existing stations keep their rows but get the given password again.

New stations also get a past charging session each (`--history`), as a network's database has them:
on PostgreSQL a session table that is empty when the planner statistics are taken has its lookups
prepared as sequential scans, which stay cached while a fleet's first sessions fill it
(docs/performance.md).
"""

import argparse
import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chargenet.settings")

import django  # noqa: E402

DEFAULT_PASSWORD = "bench-station-password-0001"
BENCH_CARD = "BENCH0001"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, required=True, help="how many stations (1-20000)")
    parser.add_argument("--prefix", default="BENCH-", help="identity prefix; identities are <prefix>00001 …")
    parser.add_argument("--password", default=DEFAULT_PASSWORD, help="HTTP Basic password of every station")
    parser.add_argument("--delete", action="store_true", help="delete the stations instead")
    parser.add_argument("--history", type=int, default=1, help="completed past sessions per new station")
    args = parser.parse_args()
    if not 1 <= args.count <= 20000:
        parser.error("--count must be between 1 and 20000")

    django.setup()
    from rfid.models import IdToken
    from rfid.services import id_token_create
    from stations.models import Connector, Station
    from stations.services import station_create, station_delete, station_password_set

    identities = [f"{args.prefix}{n:05d}" for n in range(1, args.count + 1)]
    existing = {s.identity: s for s in Station.objects.filter(identity__in=identities)}
    if args.delete:
        for station in existing.values():
            station_delete(station=station)
        print(f"deleted {len(existing)} stations")
        return
    for identity in identities:
        if identity in existing:
            station_password_set(station=existing[identity], password=args.password)
        else:
            station_create(identity=identity, password=args.password, evses=1)
    if not IdToken.objects.filter(uid=BENCH_CARD).exists():
        id_token_create(uid=BENCH_CARD, label="Benchmark card")
    # The stations' own cards in one statement: through id_token_create, each would publish an event
    # that the worker would still be handing to the local-list subscribers when the fleet connects.
    have = set(IdToken.objects.filter(uid__in=identities).values_list("uid", flat=True))
    IdToken.objects.bulk_create(
        [IdToken(uid=identity, label="Benchmark card") for identity in identities if identity not in have],
        batch_size=1000,
    )
    sessions_past(
        Connector.objects.filter(evse__station__identity__in=set(identities) - set(existing)), args.history
    )
    print(
        f"{len(identities) - len(existing)} created, {len(existing)} updated; a card each, and {BENCH_CARD}"
    )


def sessions_past(connectors: Any, count: int) -> None:  # a QuerySet of Connector
    """`count` completed sessions (10 kWh each) on each of `connectors`, from eight days ago back:
    older than the week the missing-CDR sweep prices, which would otherwise price them all during
    the benchmark."""
    from datetime import timedelta

    from django.utils import timezone

    from stations.models import Session

    now = timezone.now()
    Session.objects.bulk_create(
        [
            Session(
                station_id=connector.evse.station_id,
                evse_id=connector.evse_id,
                connector=connector,
                transaction_id=f"past-{n}",
                id_tag=connector.evse.station.identity,
                status=Session.Status.COMPLETED,
                started_at=now - timedelta(days=n + 8, hours=2),
                stopped_at=now - timedelta(days=n + 8),
                meter_start_wh=0,
                meter_stop_wh=10_000,
                energy_wh=10_000,
            )
            for connector in connectors.select_related("evse__station")
            for n in range(count)
        ],
        batch_size=1000,
    )


if __name__ == "__main__":
    main()
