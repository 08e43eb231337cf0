"""The yardstick: a bare OCPP 1.6 server (`websockets` + `ocpp`) that persists nothing.

    python bench/baseline.py --port 8801

It answers every station → CSMS message the benchmark sends (BootNotification, StatusNotification,
Authorize, Start/StopTransaction, MeterValues, Heartbeat) with the `ocpp` library's own routing and
schema validation, and stores nothing. It accepts any identity and password on `/ocpp/<identity>`.
Whatever a Python CSMS does on top of this (authentication, a database, events) costs more; this is
the floor it is compared with (`bench/compare.py`). Benchmark tool, never product code: loopback only.
"""

import argparse
import asyncio
import contextlib
import itertools
import logging
import signal
from datetime import UTC, datetime

from ocpp.routing import on
from ocpp.v16 import ChargePoint, call_result
from ocpp.v16.enums import Action
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

logging.getLogger("ocpp").setLevel(logging.WARNING)
TRANSACTION_IDS = itertools.count(1)
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class BareChargePoint(ChargePoint):
    """Answers what a station sends; keeps nothing."""

    @on(Action.boot_notification)
    async def on_boot(self, **_):
        return call_result.BootNotification(current_time=now(), interval=300, status="Accepted")

    @on(Action.heartbeat)
    async def on_heartbeat(self, **_):
        return call_result.Heartbeat(current_time=now())

    @on(Action.status_notification)
    async def on_status(self, **_):
        return call_result.StatusNotification()

    @on(Action.authorize)
    async def on_authorize(self, **_):
        return call_result.Authorize(id_tag_info={"status": "Accepted"})

    @on(Action.start_transaction)
    async def on_start(self, **_):
        return call_result.StartTransaction(
            transaction_id=next(TRANSACTION_IDS), id_tag_info={"status": "Accepted"}
        )

    @on(Action.stop_transaction)
    async def on_stop(self, **_):
        return call_result.StopTransaction(id_tag_info={"status": "Accepted"})

    @on(Action.meter_values)
    async def on_meter_values(self, **_):
        return call_result.MeterValues()


async def handler(connection: ServerConnection) -> None:
    path = connection.request.path if connection.request else ""
    identity = path.rstrip("/").rsplit("/", 1)[-1]
    charge_point = BareChargePoint(identity, connection)
    with contextlib.suppress(ConnectionClosed):  # a closed socket ends the loop; nothing to clean up
        await charge_point.start()


async def main(host: str, port: int) -> None:
    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set_result, None)
    # Compression off and a 1 MiB frame limit: the settings ChargeNet's server uses too.
    async with serve(
        handler,
        host,
        port,
        subprotocols=[Subprotocol("ocpp1.6")],
        compression=None,
        max_size=1 << 20,
        ping_interval=20,
        backlog=4096,
    ):
        print(f"baseline listening on ws://{host}:{port}/ocpp/", flush=True)
        await stop


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8801)
    args = parser.parse_args()
    if args.host not in LOOPBACK:
        parser.error("--host must be a loopback address")
    asyncio.run(main(args.host, args.port))
