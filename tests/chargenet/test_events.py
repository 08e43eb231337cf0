"""The outbox: an event is stored with the change that caused it and reaches every subscriber once."""

import threading
import time
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from chargenet.events import event_dispatch, event_publish, event_subscribe, events_dispatch_due, events_prune
from chargenet.models import Event
from chargenet.tasks import event_dispatch_task
from chargenet.webhooks.models import WebhookDelivery, WebhookSubscription
from stations.models import Session, Station

pytestmark = pytest.mark.django_db

received: list[tuple[str, dict]] = []
flaky_calls: list[str] = []


def record(event_type: str, data: dict) -> None:
    received.append((event_type, data))


def flaky(event_type: str, data: dict) -> None:
    """Fails on its first call (a mail server down, a bug fixed by a deploy), then works."""
    flaky_calls.append(data["event_id"])
    if len(flaky_calls) == 1:
        raise ConnectionError("the receiver is down")


def remember(event_type: str, data: dict) -> None:
    """Database work of a subscriber: a row per event."""
    get_user_model().objects.create(username=f"event-{data['thing']}")


event_subscribe("test.recorded", record)
event_subscribe("test.flaky", record)
event_subscribe("test.flaky", remember)
event_subscribe("test.flaky", flaky)


def slow(event_type: str, data: dict) -> None:
    """A subscriber with 12 ms of work (a CDR priced from many meter values)."""
    time.sleep(0.012)


event_subscribe("test.slow", slow)


def parent(event_type: str, data: dict) -> None:
    """A subscriber whose work publishes an event of its own (billing's cdr.created)."""
    event_publish("test.recorded", {"child_of": data["n"]})


event_subscribe("test.parent", parent)

held: list[tuple[str, int]] = []  # (the dispatching thread's name, the event's n)
holding, release = threading.Event(), threading.Event()


def hold(event_type: str, data: dict) -> None:
    """Records who delivered the event; in the thread "other-worker" it waits to be released."""
    name = threading.current_thread().name
    held.append((name, data["n"]))
    if name == "other-worker":
        holding.set()
        assert release.wait(10)


event_subscribe("test.held", hold)


@pytest.fixture(autouse=True)
def clear():
    received.clear()
    flaky_calls.clear()


class Rollback(Exception):
    pass


def test_an_event_of_a_rolled_back_change_is_neither_stored_nor_delivered(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(Rollback):
        with transaction.atomic():
            event_publish("test.recorded", {"thing": 1})
            raise Rollback

    assert not Event.objects.filter(type="test.recorded").exists()
    assert received == []


def test_a_committed_event_reaches_its_subscriber_with_the_event_id(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            event_publish("test.recorded", {"thing": 1})

    event = Event.objects.get(type="test.recorded")
    assert received == [("test.recorded", {"thing": 1, "event_id": str(event.uuid)})]
    assert event.dispatched_at is not None


def test_an_event_dispatched_twice_reaches_its_subscriber_once(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        event_publish("test.recorded", {"thing": 2})
    event = Event.objects.get(type="test.recorded")

    # a second dispatcher (the sweep, a redelivered task) finds nothing left to do
    assert event_dispatch(event_id=event.pk) is False
    assert len(received) == 1


def test_an_event_whose_dispatch_was_lost_is_delivered_by_the_sweep():
    # given an event committed while nothing dispatched it (the nudge got lost, the process died)
    event_publish("test.recorded", {"thing": 3})
    received.clear()
    Event.objects.filter(type="test.recorded").update(dispatched_at=None, done=[])

    # when the periodic sweep runs
    event_dispatch_task.apply()

    # then the subscriber has it
    assert [data["thing"] for _, data in received] == [3]
    assert Event.objects.get(type="test.recorded").dispatched_at is not None


def test_a_failing_subscriber_is_retried_later_and_the_others_are_not_called_again(
    django_capture_on_commit_callbacks,
):
    # when the event is dispatched and one of its two subscribers fails
    with django_capture_on_commit_callbacks(execute=True):
        event_publish("test.flaky", {"thing": 4})

    # then the others have it, their work committed once (a first attempt without savepoints was
    # rolled back when one raised), the failing one was called once, and the event waits for its
    # retry with the error noted
    event = Event.objects.get(type="test.flaky")
    assert len(flaky_calls) == 1
    assert get_user_model().objects.filter(username="event-4").count() == 1
    assert {"tests.chargenet.test_events.record", "tests.chargenet.test_events.remember"} <= set(event.done)
    assert "tests.chargenet.test_events.flaky" not in event.done
    assert event.dispatched_at is None and event.attempts == 1
    assert "the receiver is down" in event.last_error
    assert event.next_attempt_at > timezone.now()

    # when the sweep runs before the back-off is over, nothing happens
    event_dispatch_task.apply()
    assert len(flaky_calls) == 1

    # when it runs after the back-off
    calls = len(received)
    Event.objects.filter(pk=event.pk).update(next_attempt_at=timezone.now())
    event_dispatch_task.apply()

    # then the failed subscriber gets the same event, and the ones that had it are not called again
    event.refresh_from_db()
    assert event.dispatched_at is not None
    assert flaky_calls == [str(event.uuid)] * 2
    assert len(received) == calls
    assert get_user_model().objects.filter(username="event-4").count() == 1


def test_dispatched_events_are_pruned_after_the_retention_and_pending_ones_are_kept():
    old = timezone.now() - timedelta(days=8)
    Event.objects.create(type="test.old", data={}, created_at=old, dispatched_at=old)
    Event.objects.create(type="test.pending", data={}, created_at=old)
    Event.objects.create(type="test.recent", data={}, dispatched_at=timezone.now())

    assert events_prune(older_than=timedelta(days=7)) == 1
    assert set(Event.objects.values_list("type", flat=True)) == {"test.pending", "test.recent"}


def _meter_value_events(count: int) -> list[Event]:
    """What a charging 1.6 station's MeterValues leave behind: one session.updated event each."""
    station = Station.objects.create(identity=f"CP-QUIET-{Station.objects.count()}", ocpp_version="1.6")
    session = Session.objects.create(
        station=station, transaction_id="1", id_tag="TAG", started_at=timezone.now()
    )
    data = {"session_id": session.pk, "station_id": station.pk, "status": "active", "energy_wh": 10}
    return [Event.objects.create(type="session.updated", data=data) for _ in range(count)]


def test_meter_value_events_nobody_subscribed_to_cost_the_dispatcher_no_reads_of_their_own(
    django_assert_max_num_queries,
):
    # given 100 meter-value events of a network without webhooks, roaming partners or managed sites
    events = _meter_value_events(100)

    # when the dispatcher takes them, each costs its subscribers' savepoints and its done-mark: the
    # subscribers' settings (webhooks, partners, sites, 2.0.1 stations) are read once per chunk
    # (2 chunks here), not once per event (which was 5 more queries per event)
    with django_assert_max_num_queries(100 * (2 * 4 + 1) + 2 * 10):
        assert events_dispatch_due() == 100

    # and every one of them is done
    assert not Event.objects.filter(pk__in=[e.pk for e in events], dispatched_at__isnull=True).exists()


def test_a_webhook_subscription_made_between_two_dispatches_gets_the_next_event():
    _meter_value_events(1)
    events_dispatch_due()
    assert not WebhookDelivery.objects.exists()

    # when an integrator subscribes, the settings the dispatcher read before are not reused
    WebhookSubscription.objects.create(
        user=get_user_model().objects.create_user("integrator"),
        url="https://example.com/hook",
        events=["session.updated"],
        secret="s" * 32,
    )
    _meter_value_events(1)
    events_dispatch_due()

    assert WebhookDelivery.objects.filter(event_type="session.updated").count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_group_commit_stores_the_events_of_the_changes_that_committed_and_only_those():
    # given the OCPP group commit's transaction: three messages' work, the second one failing after
    # it published, the third one publishing inside a savepoint it rolls back itself
    from stations.protocol.batch import Item, _commit

    def publishes(thing: int) -> int:
        event_publish("test.recorded", {"thing": thing})
        return thing

    @transaction.atomic  # a service: its own savepoint is all that isolates it
    def fails() -> None:
        Station.objects.create(identity="HALF-DONE")
        event_publish("test.recorded", {"thing": "refused"})
        raise Rollback

    def undoes_a_part() -> None:
        with pytest.raises(Rollback), transaction.atomic():
            event_publish("test.recorded", {"thing": "undone"})
            raise Rollback
        event_publish("test.recorded", {"thing": 3})

    items = [Item(publishes, (1,), {}, None), Item(fails, (), {}, None), Item(undoes_a_part, (), {}, None)]
    results, hooks = _commit(items, [], {})

    # then the failing message gets its error back, and only what committed is stored, in order
    assert [ok for ok, _ in results] == [True, False, True]
    stored = list(Event.objects.filter(type="test.recorded").order_by("pk"))
    assert [event.data["thing"] for event in stored] == [1, 3]
    assert not Station.objects.filter(identity="HALF-DONE").exists()
    # and once the answers are out, each stored event reaches its subscriber with its own id
    for hook in hooks:
        hook()
    assert received == [
        ("test.recorded", {"thing": e.data["thing"], "event_id": str(e.uuid)}) for e in stored
    ]


@pytest.mark.django_db(transaction=True)
def test_slow_events_are_dispatched_a_few_per_transaction_on_sqlite_so_the_stations_writes_wait_little():
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    if connection.vendor != "sqlite":
        pytest.skip("PostgreSQL has no single write lock: its dispatch keeps 50 events per transaction")
    for n in range(12):
        event_publish("test.slow", {"n": n})  # outside a transaction: each is dispatched at once…
    Event.objects.update(dispatched_at=None, done=[])  # …so they are made due again, as after a crash

    with CaptureQueriesContext(connection) as queries:
        assert events_dispatch_due() == 12

    # 12 events of 12 ms: a first chunk of 4, then one a transaction (about 20 ms of work each),
    # where one transaction for all 12 held SQLite's write lock (and every station's write) 144 ms
    transactions = [q["sql"] for q in queries if q["sql"].startswith("BEGIN")]
    assert len(transactions) == 1 + 8
    assert not Event.objects.filter(type="test.slow", dispatched_at__isnull=True).exists()


@pytest.mark.django_db(transaction=True)
def test_events_a_subscriber_publishes_are_dispatched_in_the_same_run_a_chunk_at_a_time():
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for n in range(6):
        event_publish("test.parent", {"n": n})
    received.clear()
    Event.objects.filter(type="test.recorded").delete()  # as if the parents were never dispatched
    Event.objects.update(dispatched_at=None, done=[])

    with CaptureQueriesContext(connection) as queries:
        events_dispatch_due()

    # every child reached its subscriber in this run, after its parent…
    assert [data["child_of"] for _, data in received] == list(range(6))
    assert not Event.objects.filter(dispatched_at__isnull=True).exists()
    # …in the chunks of the run (each reads the webhook subscriptions once), not a transaction each
    reads = [q for q in queries if 'FROM "chargenet_webhooksubscription"' in q["sql"]]
    assert 1 < len(reads) <= 3


@pytest.mark.django_db(transaction=True)
def test_a_dispatcher_beside_another_takes_the_events_the_other_does_not_hold():
    import threading

    from django.db import connection, connections

    if connection.vendor == "sqlite":
        pytest.skip("SQLite lets one transaction write at a time: a second dispatcher waits for the first")
    for n in range(10):
        event_publish("test.held", {"n": n})
    held.clear()
    holding.clear()
    release.clear()
    Event.objects.update(dispatched_at=None, done=[])

    def other_worker() -> None:
        # another worker's run of four events, stuck in a subscriber of its first one
        try:
            events_dispatch_due(limit=4)
        finally:
            connections.close_all()

    other = threading.Thread(target=other_worker, name="other-worker")
    other.start()
    assert holding.wait(10)
    try:
        # this dispatcher delivers every event the other does not hold, without waiting for it: it
        # holds its four, and the one it looked at to know its run had more
        assert events_dispatch_due() == 5
        assert sorted(n for thread, n in held if thread == "MainThread") == list(range(5, 10))
    finally:
        release.set()
        other.join()

    # and once the other's transaction commits, its four are delivered once, by it
    assert sorted(n for thread, n in held if thread == "other-worker") == [0, 1, 2, 3]
    assert Event.objects.filter(dispatched_at__isnull=True).count() == 1
