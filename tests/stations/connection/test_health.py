"""A node holding charger sockets must still report itself healthy to the load balancer."""

import asyncio

import pytest

from tests.stations.connection.helpers import booted, station_make
from tests.support import http_get_json

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_server_is_healthy_while_stations_are_connected(ocpp_server, run):
    station = station_make()

    async def scenario():
        async with booted(ocpp_server, station):
            return await asyncio.to_thread(http_get_json, f"{ocpp_server.base_url}/healthz")

    status, body = run(scenario())

    assert status == 200, body
    assert body["channel_layer"] == "ok"
