"""The /ws/events/ consumer, spoken to through Channels' test communicator and the real Redis layer."""

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser

from stations.dashboard.live import EventsConsumer
from stations.models import Connector
from tests.stations.dashboard.conftest import connector_status_set, make_station


async def open_feed(user):
    communicator = WebsocketCommunicator(EventsConsumer.as_asgi(), "/ws/events/")
    communicator.scope["user"] = user
    connected, code = await communicator.connect()
    return communicator, connected, code


@pytest.mark.django_db(transaction=True)
async def test_an_operator_receives_a_status_change_after_it_is_committed(operator):
    station = await database_sync_to_async(make_station)("LIVE-1")
    connector = await database_sync_to_async(
        Connector.objects.filter(evse__station=station).select_related("evse__station").first
    )()
    feed, connected, _ = await open_feed(operator)
    assert connected

    await database_sync_to_async(connector_status_set)(
        connector=connector, status="Faulted", error_code="GroundFailure"
    )

    frame = await feed.receive_json_from(timeout=5)
    while frame["event"] != "connector.status_changed":
        frame = await feed.receive_json_from(timeout=5)
    assert frame["data"]["station_id"] == station.pk
    assert frame["data"]["status"] == "Faulted"
    await feed.disconnect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("who", ["anonymous", "driver"])
async def test_the_feed_is_refused_to_anyone_but_operators(who, driver):
    user = AnonymousUser() if who == "anonymous" else driver.user

    feed, connected, code = await open_feed(user)

    assert not connected
    assert code == 4403


@pytest.mark.django_db(transaction=True)
async def test_a_ping_renews_the_subscription_and_is_answered(viewer):
    feed, connected, _ = await open_feed(viewer)

    await feed.send_json_to({"type": "ping"})

    assert await feed.receive_json_from(timeout=5) == {"type": "pong"}
    await feed.disconnect()
