"""The group commit (stations/protocol/batch.py): many stations' messages in one transaction, yet each
message's work is stored exactly once, alone if it fails, and in each station's own order."""

import asyncio
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from asgiref.sync import sync_to_async
from django.db import IntegrityError, connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from chargenet import sql
from stations import services
from stations.models import Connector, ConnectorStatusChange, OcppMessage, Station
from stations.protocol.batch import Batcher, Item, _commit
from tests.stations.connection.helpers import station_make


@pytest.mark.django_db(transaction=True)
def test_a_message_whose_work_fails_is_rolled_back_alone_and_the_others_are_stored_once():
    station = station_make()
    calls: list[str] = []

    def firmware_report(*, version: str) -> str:
        calls.append(version)
        Station.objects.filter(pk=station.pk).update(firmware_version=version)
        Station.objects.create(identity=f"NEW-{version}")
        return version

    @transaction.atomic
    def refused() -> None:
        Station.objects.create(identity="HALF-DONE")
        raise ValueError("refused")

    items = [
        Item(firmware_report, (), {"version": "a"}, None),
        Item(refused, (), {}, None),
        Item(firmware_report, (), {"version": "b"}, None),
    ]
    results, _ = _commit(items, [], {})

    assert [ok for ok, _ in results] == [True, False, True]
    assert str(results[1][1]) == "refused"
    assert not Station.objects.filter(identity="HALF-DONE").exists()
    assert Station.objects.filter(identity__startswith="NEW-").count() == 2
    assert Station.objects.get(pk=station.pk).firmware_version == "b"


@pytest.mark.django_db(transaction=True)
def test_work_that_catches_its_own_database_error_does_not_cost_the_batch_its_commit():
    # given a service that tries an insert, catches the refusal and goes on (as get_or_create does)
    taken = station_make()

    def identity_claim(*, identity: str) -> bool:
        try:
            with transaction.atomic():
                Station.objects.create(identity=identity)
        except IntegrityError:
            return False
        return True

    def firmware_report(*, version: str) -> str:
        Station.objects.filter(pk=taken.pk).update(firmware_version=version)
        return version

    # when it shares a group commit with other work
    items = [
        Item(firmware_report, (), {"version": "x"}, None),
        Item(identity_claim, (), {"identity": "FRESH-1"}, None),
        Item(identity_claim, (), {"identity": taken.identity}, None),  # last: nothing runs after it
    ]
    results, _ = _commit(items, [], {})

    # then everything it and the others did is stored, and it got its own answer
    assert results == [(True, "x"), (True, True), (True, False)]
    assert Station.objects.get(pk=taken.pk).firmware_version == "x"
    assert Station.objects.filter(identity="FRESH-1").exists()


def _firmware_item(station: Station, version: str) -> Item:
    """A message's work for the group commit: the station reports its firmware version."""

    def firmware_report() -> str:
        Station.objects.filter(pk=station.pk).update(firmware_version=version)
        return version

    return Item(firmware_report, (), {}, None)  # type: ignore[arg-type]


def _frame(station: Station, message_id: str, payload: str | None) -> dict:
    return {
        "station_id": station.pk,
        "identity": station.identity,
        "direction": "in",
        "message_id": message_id,
        "payload": payload,
    }


@pytest.mark.django_db(transaction=True)
def test_a_message_and_its_frames_are_committed_without_a_savepoint():
    # given a station's message and its frames, the everyday batch
    station = station_make()

    # when it is committed
    with CaptureQueriesContext(connection) as queries:
        results, _ = _commit([_firmware_item(station, "s1")], [_frame(station, "s1", "[2]")], {})

    # then both are stored, with no savepoint's two round trips on the way
    assert results == [(True, "s1")]
    assert OcppMessage.objects.filter(station=station, message_id="s1").count() == 1
    assert Station.objects.get(pk=station.pk).firmware_version == "s1"
    assert not [q["sql"] for q in queries.captured_queries if "SAVEPOINT" in q["sql"].upper()]


@pytest.mark.django_db(transaction=True)
def test_a_frame_the_database_refuses_costs_neither_the_messages_work_nor_the_other_frames():
    # given a batch whose log holds one frame the database refuses (no payload: NOT NULL)
    station = station_make()

    frames = [
        _frame(station, "good-1", "[2]"),
        _frame(station, "bad", None),
        _frame(station, "good-2", "[3]"),
    ]

    # when it is committed
    results, _ = _commit([_firmware_item(station, "r1")], frames, {})

    # then the message's work is stored once and answered, and so is every other frame
    assert results == [(True, "r1")]
    assert Station.objects.get(pk=station.pk).firmware_version == "r1"
    logged = OcppMessage.objects.filter(station=station).values_list("message_id", flat=True)
    assert sorted(logged) == ["good-1", "good-2"]


@pytest.mark.django_db(transaction=True)
def test_twenty_status_notifications_in_one_group_commit_write_their_history_in_one_statement():
    # given twenty stations whose connectors start charging at once
    stations = [station_make() for _ in range(20)]
    items = [
        Item(
            services.connector_status_record,
            (),
            {"station_id": s.pk, "connector_id": 1, "status": "Charging", "error_code": "NoError"},
            None,
        )
        for s in stations
    ]
    # when their StatusNotifications share one group commit
    with CaptureQueriesContext(connection) as queries:
        results, _ = _commit(items, [], {})

    # then every connector is Charging, with its history, written by one INSERT and one UPDATE run
    assert all(ok for ok, _ in results)
    assert Connector.objects.filter(evse__station__in=stations, status="Charging").count() == 20
    assert ConnectorStatusChange.objects.filter(station__in=stations, status="Charging").count() == 20
    statements = [query["sql"] for query in queries.captured_queries]
    assert len([sql for sql in statements if 'INSERT INTO "stations_connectorstatuschange"' in sql]) == 1
    assert len([sql for sql in statements if 'UPDATE "stations_connector" SET' in sql]) == 1


@pytest.mark.django_db(transaction=True)
def test_a_message_whose_work_fails_after_its_writes_leaves_none_of_its_rows():
    # given three stations' StatusNotifications in one group commit, the second failing after its write
    stations = [station_make() for _ in range(3)]

    def fails_after_recording(**kwargs):  # type: ignore[no-untyped-def]
        services.connector_status_record(**kwargs)
        raise ValueError("refused after the write")

    items = [
        Item(
            fails_after_recording if n == 1 else services.connector_status_record,
            (),
            {"station_id": s.pk, "connector_id": 1, "status": "Faulted", "error_code": "GroundFailure"},
            None,
        )
        for n, s in enumerate(stations)
    ]

    # when it is committed
    results, _ = _commit(items, [], {})

    # then the failing one changed nothing, and the others are stored once
    assert [ok for ok, _ in results] == [True, False, True]
    faulted = set(ConnectorStatusChange.objects.filter(status="Faulted").values_list("station_id", flat=True))
    assert faulted == {stations[0].pk, stations[2].pk}
    assert Connector.objects.get(evse__station=stations[1]).status != "Faulted"
    assert Connector.objects.filter(evse__station__in=stations, status="Faulted").count() == 2


@pytest.mark.django_db(transaction=True)
def test_a_row_the_database_refuses_at_the_end_of_the_batch_costs_only_its_own_message():
    # given three messages in one group commit, the second deferring a row the database refuses
    stations = [station_make() for _ in range(3)]
    log_later = sql.Insert(OcppMessage)

    def refused_row(*, station_id: int) -> None:
        log_later.later([{"station_id": station_id, "identity": "X", "direction": "in", "payload": None}])

    items = [
        Item(refused_row, (), {"station_id": s.pk}, None)
        if n == 1
        else Item(
            services.connector_status_record,
            (),
            {"station_id": s.pk, "connector_id": 1, "status": "Unavailable", "error_code": "NoError"},
            None,
        )
        for n, s in enumerate(stations)
    ]

    # when it is committed
    results, _ = _commit(items, [], {})

    # then that message gets the database's refusal, and the others are stored
    assert [ok for ok, _ in results] == [True, False, True]
    assert isinstance(results[1][1], IntegrityError)
    unavailable = Connector.objects.filter(evse__station__in=stations, status="Unavailable")
    assert set(unavailable.values_list("evse__station_id", flat=True)) == {stations[0].pk, stations[2].pk}
    assert not OcppMessage.objects.filter(identity="X").exists()


@pytest.mark.django_db(transaction=True)
async def test_with_four_writers_each_stations_messages_are_stored_in_the_order_they_arrived(settings):
    # given four group-commit writers (PostgreSQL's default) and eight stations sending at once
    settings.OCPP_WRITER_LANES = 4
    batcher = Batcher()
    stations = [await sync_to_async(station_make)() for _ in range(8)]
    applied: list[tuple[int, int, str]] = []

    def firmware_report(*, station_id: int, n: int) -> int:
        applied.append((station_id, n, threading.current_thread().name))
        Station.objects.filter(pk=station_id).update(firmware_version=f"v{n}")
        return n

    # when each sends twenty messages, interleaved with the others'
    answers = await asyncio.gather(
        *(batcher.run(firmware_report, station_id=s.pk, n=n) for n in range(20) for s in stations)
    )
    batcher.stop()

    # then every message is answered, each station's in the order sent, by its own writer
    assert answers == [n for n in range(20) for _ in stations]
    for station in stations:
        mine = [(n, thread) for station_id, n, thread in applied if station_id == station.pk]
        assert [n for n, _ in mine] == list(range(20))
        assert len({thread for _, thread in mine}) == 1
        assert (await Station.objects.aget(pk=station.pk)).firmware_version == "v19"
    # and the four writers all took part
    assert len({thread for _, _, thread in applied}) == 4


@pytest.mark.django_db(transaction=True)
async def test_frames_logged_before_the_writers_restart_on_a_new_event_loop_are_still_stored():
    # given frames logged for two stations while no writer runs (its event loop ended)
    batcher = Batcher()
    stations = [await sync_to_async(station_make)() for _ in range(2)]
    for station in stations:
        batcher.append(
            {"station_id": station.pk, "identity": station.identity, "direction": "in", "payload": "[2]"}
        )

    # when the writers start on this loop and an answer waits for the log
    await batcher.durable()
    batcher.stop()

    # then both frames are stored
    for station in stations:
        assert await OcppMessage.objects.filter(station=station, payload="[2]").acount() == 1


@dataclass(eq=False)
class Live:
    """What the batcher reads of a connection to write its station's last-seen time."""

    station_id: int
    last_seen: datetime
    last_flushed_seen: datetime | None = None
    seen_every: float = 0.0
    seen_flushed_at: float = 0.0


@pytest.mark.django_db(transaction=True)
async def test_an_attached_connections_last_seen_time_is_written_within_seconds_while_no_call_comes():
    # given a connected station the dashboard last saw an hour ago, whose charger is heard now
    batcher = Batcher()
    station = await sync_to_async(station_make)()
    await Station.objects.filter(pk=station.pk).aupdate(
        channel_name="specific.abc", last_seen_at=timezone.now() - timedelta(hours=1)
    )
    heard = timezone.now()

    # when the connection is attached, and no call of any station wakes the writer
    batcher.attach(Live(station_id=station.pk, last_seen=heard))
    try:
        for _ in range(50):
            await asyncio.sleep(0.1)
            if (await Station.objects.aget(pk=station.pk)).last_seen_at == heard:
                break
    finally:
        batcher.stop()

    # then the station's last-seen time is the connection's, within the few seconds of the cadence
    assert (await Station.objects.aget(pk=station.pk)).last_seen_at == heard


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="a server that drops connections is PostgreSQL's case"
)
@pytest.mark.django_db(transaction=True)
def test_a_batch_after_the_database_dropped_the_writers_connection_is_stored_on_a_new_one():
    # given a writer that has just committed (so it skips the per-commit health check)
    station = station_make()

    def firmware_report(*, version: str) -> str:
        Station.objects.filter(pk=station.pk).update(firmware_version=version)
        return version

    assert _commit([Item(firmware_report, (), {"version": "a"}, None)], [], {})[0] == [(True, "a")]

    # when the database ends that connection (a restart, an idle-connection reaper)
    backend = transaction.get_connection().connection.info.backend_pid
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [backend])
    finally:
        other.close()

    # then the next batch, a Heartbeat's frames (nothing but the log), is stored all the same
    frames = [
        {"station_id": station.pk, "identity": station.identity, "direction": d, "payload": p}
        for d, p in (("in", '[2,"h1","Heartbeat",{}]'), ("out", '[3,"h1",{}]'))
    ]
    results, _ = _commit([], frames, {})
    assert results == []
    assert OcppMessage.objects.filter(station=station, payload__contains='"h1"').count() == 2
    # and so is a message's work after it
    assert _commit([Item(firmware_report, (), {"version": "b"}, None)], [], {})[0] == [(True, "b")]
    assert Station.objects.get(pk=station.pk).firmware_version == "b"
