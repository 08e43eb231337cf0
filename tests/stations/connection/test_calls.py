"""A CSMS call on the queue-backed connection ends the moment the socket closes, and a cancelled
call stays cancelled (no waiting out the timeout, no swallowed cancellation)."""

import asyncio
import json

import pytest
from ocpp.routing import create_route_map

from stations.protocol.base import CallNotSent, ConnectionClosed, QueueConnection
from stations.protocol.v16 import ChargePoint16
from stations.protocol.v201 import ChargePoint201

HOUR = 3600


def charge_point(sent: list[str]) -> tuple[ChargePoint16, QueueConnection]:
    async def send(text: str) -> None:
        sent.append(text)

    connection = QueueConnection(send)
    return ChargePoint16("CP-CALLS", connection, station_id=0, response_timeout=HOUR), connection


def test_closing_the_connection_ends_a_call_waiting_for_its_answer():
    async def scenario():
        sent: list[str] = []
        cp, connection = charge_point(sent)
        call = asyncio.ensure_future(cp.call_action("ClearCache", {}, "id-1"))
        while not sent:
            await asyncio.sleep(0)
        connection.close()
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(call, 5)  # far less than the hour-long call timeout
        assert not isinstance(call.exception(), CallNotSent)

    asyncio.run(scenario())


def test_a_call_on_a_closed_connection_is_never_sent():
    async def scenario():
        sent: list[str] = []
        cp, connection = charge_point(sent)
        connection.close()
        with pytest.raises(CallNotSent):
            await cp.call_action("ClearCache", {}, "id-1")
        assert sent == []

    asyncio.run(scenario())


def test_the_answer_is_returned_and_a_cancelled_call_stays_cancelled_even_when_the_answer_arrives():
    async def scenario():
        sent: list[str] = []
        cp, _ = charge_point(sent)
        call = asyncio.ensure_future(cp.call_action("ClearCache", {}, "id-1"))
        while not sent:
            await asyncio.sleep(0)
        await cp.route_message(json.dumps([3, "id-1", {"status": "Accepted"}]))
        assert await call == {"status": "Accepted"}

        # the answer and the cancellation arrive in the same loop iteration
        call = asyncio.ensure_future(cp.call_action("ClearCache", {}, "id-2"))
        while len(sent) < 2:
            await asyncio.sleep(0)
        await cp.route_message(json.dumps([3, "id-2", {"status": "Accepted"}]))
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call

    asyncio.run(scenario())


@pytest.mark.parametrize("charge_point_class", [ChargePoint16, ChargePoint201])
def test_every_action_is_routed_to_the_handlers_the_library_would_use(charge_point_class):
    async def scenario():
        cp = charge_point_class(
            "CP-ROUTES", QueueConnection(lambda text: None), station_id=0, response_timeout=HOUR
        )
        library = create_route_map(cp)
        assert set(cp.route_map) == set(library)
        for action, handlers in library.items():
            assert cp.route_map[action] == handlers
        with pytest.raises(KeyError):
            cp.route_map["NoSuchAction"]

    asyncio.run(scenario())


def test_an_answer_that_arrives_before_anyone_waits_is_kept_until_read():
    async def scenario():
        sent: list[str] = []
        cp, _ = charge_point(sent)
        await cp.route_message(json.dumps([3, "id-1", {"status": "Accepted"}]))
        assert (await cp._get_specific_response("id-1", 5)).payload == {"status": "Accepted"}

    asyncio.run(scenario())
