"""The outbox: an event is stored with the change that caused it and reaches every subscriber once."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from chargenet.events import event_dispatch, event_publish, event_subscribe, events_prune
from chargenet.models import Event
from chargenet.tasks import event_dispatch_task

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


event_subscribe("test.recorded", record)
event_subscribe("test.flaky", record)
event_subscribe("test.flaky", flaky)


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

    # then the other has it, and the event waits for its retry with the error noted
    event = Event.objects.get(type="test.flaky")
    assert len(received) == 1 and len(flaky_calls) == 1
    assert event.dispatched_at is None and event.attempts == 1
    assert "the receiver is down" in event.last_error
    assert event.next_attempt_at > timezone.now()

    # when the sweep runs before the back-off is over, nothing happens
    event_dispatch_task.apply()
    assert len(flaky_calls) == 1

    # when it runs after the back-off
    Event.objects.filter(pk=event.pk).update(next_attempt_at=timezone.now())
    event_dispatch_task.apply()

    # then the failed subscriber gets the same event, and the one that had it is not called again
    event.refresh_from_db()
    assert event.dispatched_at is not None
    assert flaky_calls == [str(event.uuid)] * 2
    assert len(received) == 1


def test_dispatched_events_are_pruned_after_the_retention_and_pending_ones_are_kept():
    old = timezone.now() - timedelta(days=8)
    Event.objects.create(type="test.old", data={}, created_at=old, dispatched_at=old)
    Event.objects.create(type="test.pending", data={}, created_at=old)
    Event.objects.create(type="test.recent", data={}, dispatched_at=timezone.now())

    assert events_prune(older_than=timedelta(days=7)) == 1
    assert set(Event.objects.values_list("type", flat=True)) == {"test.pending", "test.recent"}
