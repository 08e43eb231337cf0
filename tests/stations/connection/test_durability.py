"""What a station was told is stored survives a kill -9 of the ASGI server: the answer to a CALL goes
out only after its data and its frame in the message log are committed."""

import asyncio
import signal

import pytest

from stations.models import OcppMessage, Session
from tests.stations.connection.conftest import server_start, server_stop
from tests.stations.connection.helpers import booted, now_iso, station_make

pytestmark = pytest.mark.django_db(transaction=True)


def test_every_answered_frame_is_in_the_message_log_after_the_server_is_killed(
    test_db_name, redis_server, run
):
    # given a server of its own, and a station that sends a stream of CALLs and waits for each answer
    server = server_start(test_db_name)
    station = station_make()
    answered: list[str] = []
    transaction_ids: list[int] = []

    async def scenario():
        async with booted(server, station) as cp:
            for number in range(30):
                if number % 10 == 0:
                    reply = await cp.call(
                        "StartTransaction",
                        {"connectorId": 1, "idTag": "NO-CARD", "meterStart": number, "timestamp": now_iso()},
                    )
                    transaction_ids.append(reply[2]["transactionId"])
                else:
                    reply = await cp.call("Heartbeat", {})
                answered.append(reply[1])
            # when the server is killed right after the last answer, before any periodic flush
            server.process.send_signal(signal.SIGKILL)
            await asyncio.to_thread(server.process.wait, 10)

    try:
        run(scenario())
    finally:
        server_stop(server)

    # then every CALL that got an answer is in the log, and every acknowledged start is stored
    logged = set(
        OcppMessage.objects.filter(station=station, direction="in", message_type=2).values_list(
            "message_id", flat=True
        )
    )
    assert set(answered) <= logged
    stored = set(Session.objects.filter(station=station).values_list("transaction_id", flat=True))
    assert {str(tid) for tid in transaction_ids} <= stored
