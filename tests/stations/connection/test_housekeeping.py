"""Liveness and housekeeping: silent stations go offline, old log frames are pruned."""

from datetime import timedelta

import pytest
from django.utils import timezone

from chargenet.events import event_subscribe
from stations.models import OcppMessage, Station
from stations.services import ocpp_messages_store, station_seen_flush
from stations.tasks import ocpp_message_prune_task, station_mark_offline_task
from tests.stations.connection.helpers import station_make


@pytest.mark.django_db(transaction=True)
def test_a_station_silent_for_two_intervals_plus_grace_is_marked_offline(settings):
    settings.OCPP_OFFLINE_GRACE = 60
    silent, alive = station_make(heartbeat_interval=60), station_make(heartbeat_interval=60)
    now = timezone.now()
    Station.objects.filter(pk=silent.pk).update(is_online=True, last_seen_at=now - timedelta(seconds=181))
    Station.objects.filter(pk=alive.pk).update(is_online=True, last_seen_at=now - timedelta(seconds=170))
    events = []
    event_subscribe("station.disconnected", lambda _type, data: events.append(data["identity"]))

    assert station_mark_offline_task() == 1

    assert not Station.objects.get(pk=silent.pk).is_online
    assert Station.objects.get(pk=alive.pk).is_online
    assert silent.identity in events


@pytest.mark.django_db
def test_last_seen_times_are_written_for_connected_stations_only_and_to_the_microsecond():
    connected, gone = station_make(), station_make()
    Station.objects.filter(pk=connected.pk).update(channel_name="specific.abc", is_online=False)
    Station.objects.filter(pk=gone.pk).update(channel_name="", is_online=False, last_seen_at=None)
    at = timezone.now() - timedelta(seconds=7, microseconds=123)

    station_seen_flush(seen={connected.pk: at, gone.pk: at})

    connected.refresh_from_db()
    gone.refresh_from_db()
    assert (connected.last_seen_at, connected.is_online) == (at, True)
    # A station whose connection closed meanwhile is not brought back online by a late flush.
    assert (gone.last_seen_at, gone.is_online) == (None, False)


@pytest.mark.django_db
def test_logged_frames_older_than_the_retention_are_pruned(settings):
    settings.OCPP_MESSAGE_RETENTION_DAYS = 30
    station = station_make()
    old = OcppMessage.objects.create(station=station, identity=station.identity, direction="in", payload="[]")
    OcppMessage.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=31))
    recent = OcppMessage.objects.create(
        station=station, identity=station.identity, direction="in", payload="[]"
    )

    assert ocpp_message_prune_task() == 1
    assert list(OcppMessage.objects.values_list("pk", flat=True)) == [recent.pk]


def test_the_housekeeping_tasks_are_on_the_beat_schedule(settings):
    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {
        "stations.station_mark_offline_task",
        "stations.command_expire_task",
        "stations.ocpp_message_prune_task",
    } <= tasks


@pytest.mark.django_db(transaction=True)
def test_a_log_batch_holding_frames_of_a_deleted_station_keeps_the_other_stations_frames():
    # given one process-wide batch with frames of two stations, one deleted meanwhile
    kept, gone = station_make(), station_make()
    entries = [
        {
            "station_id": station.pk,
            "identity": station.identity,
            "direction": "in",
            "message_type": 2,
            "message_id": f"m-{station.pk}",
            "action": "Heartbeat",
            "payload": f'[2,"m-{station.pk}","Heartbeat",{{}}]',
        }
        for station in (kept, gone)
    ]
    gone_pk = gone.pk
    Station.objects.filter(pk=gone_pk).delete()

    # when the batch is written
    assert ocpp_messages_store(entries=entries) == 1

    # then the live station's frame is in the log and nothing of the deleted one
    stored = OcppMessage.objects.filter(message_id__in=[f"m-{kept.pk}", f"m-{gone_pk}"])
    assert list(stored.values_list("station_id", flat=True)) == [kept.pk]


@pytest.mark.django_db(transaction=True)
def test_a_nul_character_in_one_stations_frame_is_logged_escaped_and_costs_no_other_frame():
    # given a batch where one station sent a NUL (PostgreSQL text refuses it) and another a clean frame
    dirty, clean = station_make(), station_make()
    entries = [
        {
            "station_id": dirty.pk,
            "identity": dirty.identity,
            "direction": "in",
            "message_type": 2,
            "message_id": "nul\x00id",
            "action": "Heartbeat",
            "payload": '[2,"nul\x00id","Heartbeat",{}]',
        },
        {
            "station_id": clean.pk,
            "identity": clean.identity,
            "direction": "in",
            "message_type": 2,
            "message_id": "clean-1",
            "action": "Heartbeat",
            "payload": '[2,"clean-1","Heartbeat",{}]',
        },
    ]

    # when the batch is written
    assert ocpp_messages_store(entries=entries) == 2

    # then both frames are in the log, the NUL written as its JSON escape
    logged = dict(OcppMessage.objects.values_list("station_id", "payload"))
    assert logged[dirty.pk] == '[2,"nul\\u0000id","Heartbeat",{}]'
    assert logged[clean.pk] == '[2,"clean-1","Heartbeat",{}]'
