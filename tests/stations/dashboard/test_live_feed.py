"""The /ws/events/ consumer, spoken to through Channels' test communicator and the real Redis layer."""

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser
from django.db import transaction
from django.utils import timezone

from chargenet.events import FEED_BATCH, live_feed_notify
from rfid.services import id_token_create
from stations.dashboard.live import EventsConsumer
from stations.models import Connector
from stations.services import session_start
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
async def test_the_feed_is_refused_to_anyone_not_signed_in():
    feed, connected, code = await open_feed(AnonymousUser())

    assert not connected
    assert code == 4403


@pytest.mark.django_db(transaction=True)
async def test_a_driver_receives_only_the_session_events_of_their_own_cards(driver, other_driver):
    # given Dana's feed open, and a station where Bob and then Dana charge
    station = await database_sync_to_async(make_station)("LIVE-2")
    await database_sync_to_async(id_token_create)(uid="DANA0001", driver=driver)
    await database_sync_to_async(id_token_create)(uid="BOB00001", driver=other_driver)
    feed, connected, _ = await open_feed(driver.user)
    assert connected

    # when a connector changes status, Bob starts on EVSE 1 and Dana on EVSE 2
    connector = await database_sync_to_async(
        Connector.objects.filter(evse__station=station).select_related("evse__station").first
    )()
    await database_sync_to_async(connector_status_set)(connector=connector, status="Faulted")
    for evse, uid in ((1, "BOB00001"), (2, "DANA0001")):
        await database_sync_to_async(session_start)(
            station_id=station.pk, connector_id=evse, id_tag=uid, meter_start=0, timestamp=timezone.now()
        )

    # then the first thing Dana's feed hears is her own session
    frame = await feed.receive_json_from(timeout=5)
    assert (frame["event"], frame["data"]["id_tag"]) == ("session.started", "DANA0001")
    await feed.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_ping_renews_the_subscription_and_is_answered(viewer):
    feed, connected, _ = await open_feed(viewer)

    await feed.send_json_to({"type": "ping"})

    assert await feed.receive_json_from(timeout=5) == {"type": "pong"}
    await feed.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_driver_hears_when_her_session_is_priced_and_not_when_others_are(driver, other_driver):
    from datetime import timedelta

    from chargenet.events import events_dispatch_due
    from stations.services import session_stop

    # given Dana's feed open, and Bob and then Dana charging at one station
    station = await database_sync_to_async(make_station)("LIVE-3")
    await database_sync_to_async(id_token_create)(uid="DANA0002", driver=driver)
    await database_sync_to_async(id_token_create)(uid="BOB00002", driver=other_driver)
    started = timezone.now() - timedelta(hours=1)
    sessions = [
        (await database_sync_to_async(session_start)(
            station_id=station.pk, connector_id=evse, id_tag=uid, meter_start=0, timestamp=started
        ))[0]
        for evse, uid in ((1, "BOB00002"), (2, "DANA0002"))
    ]  # fmt: skip
    feed, connected, _ = await open_feed(driver.user)
    assert connected

    # when both stop, Bob first, and billing prices each session
    for session in sessions:
        await database_sync_to_async(session_stop)(
            station_id=station.pk, transaction_id=int(session.transaction_id), meter_stop=5000,
            timestamp=timezone.now(),
        )  # fmt: skip

    # (in the server a worker dispatches the events; here the test does)
    await database_sync_to_async(events_dispatch_due)()

    # then the first CDR Dana's feed hears of is her own
    frame = await feed.receive_json_from(timeout=5)
    while frame["event"] != "cdr.created":
        frame = await feed.receive_json_from(timeout=5)
    assert frame["data"]["id_tag"] == "DANA0002"
    assert frame["data"]["session_id"] == sessions[1].pk
    await feed.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_busy_commit_reaches_the_page_whole_in_order_and_repeated_news_once(operator):
    # The server hands the live feed the events of its last commits in batches (chargenet.events):
    # a page must still see every event, in order, and "station 7 logged frames" once, not thrice.
    feed, connected, _ = await open_feed(operator)
    assert connected

    def publish():
        with transaction.atomic():
            for n in range(FEED_BATCH + 50):
                live_feed_notify("test.numbered", {"n": n})
            for _ in range(3):
                live_feed_notify("station.messages_logged", {"station_id": 7})
            for _ in range(2):  # events whose data holds a list (a session's flags) are never merged
                live_feed_notify("session.updated", {"session_id": 1, "flags": ["clock_ahead"]})

    await database_sync_to_async(publish)()

    frames = [await feed.receive_json_from(timeout=5) for _ in range(FEED_BATCH + 53)]
    assert [f["data"]["n"] for f in frames[:-3]] == list(range(FEED_BATCH + 50))
    assert frames[-3] == {"type": "event", "event": "station.messages_logged", "data": {"station_id": 7}}
    assert [f["data"]["flags"] for f in frames[-2:]] == [["clock_ahead"], ["clock_ahead"]]
    assert await feed.receive_nothing(timeout=0.5)
    await feed.disconnect()
