"""The embedded database's writer turn (chargenet/sqlite): every transaction holds an exclusive lock
on a file beside the SQLite database from BEGIN to COMMIT or ROLLBACK, so a writer of another process
waiting for its turn is woken the moment it ends instead of sleeping in SQLite's busy handler."""

import fcntl
import threading
import time

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, connections, transaction

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "sqlite", reason="the writer turn is the embedded (SQLite) mode's"
    ),
]


def turn_free() -> bool:
    """Whether another process could take the writer turn now."""
    with open(f"{connection.settings_dict['NAME']}.writer-lock", "a+b") as probe:
        try:
            fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(probe, fcntl.LOCK_UN)
        return True


def in_thread(work) -> None:
    """Run `work` on its own thread, with its own database connection, and wait for it."""
    failure: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as exc:  # handed to the test
            failure.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=30)
    assert not thread.is_alive(), "the other writer never got its turn"
    if failure:
        raise failure[0]


def test_a_transaction_holds_the_writer_turn_from_begin_to_commit():
    assert turn_free()
    with transaction.atomic():
        get_user_model().objects.create_user(username="first")
        # another writer (another process) waits now
        assert not turn_free()
        with transaction.atomic():  # a savepoint: the same transaction, the same turn
            get_user_model().objects.create_user(username="second")
        assert not turn_free()
    # and gets its turn the moment the transaction commits
    assert turn_free()
    assert get_user_model().objects.filter(username__in=["first", "second"]).count() == 2


def test_a_transaction_that_raised_gives_the_turn_back_and_the_next_writer_commits():
    with pytest.raises(ValueError), transaction.atomic():
        get_user_model().objects.create_user(username="rolled-back")
        raise ValueError("a service refused")
    assert turn_free()

    # a writer on another connection gets through, and the rolled-back row is not there
    in_thread(lambda: get_user_model().objects.create_user(username="next"))
    assert list(get_user_model().objects.values_list("username", flat=True)) == ["next"]


def test_two_writers_on_two_connections_take_turns_without_database_is_locked():
    # given a transaction open on this connection
    started = threading.Event()
    with transaction.atomic():
        get_user_model().objects.create_user(username="holder")

        def other() -> None:
            started.set()
            with transaction.atomic():
                get_user_model().objects.create_user(username="waiter")

        thread = threading.Thread(target=lambda: (other(), connections.close_all()))
        thread.start()
        assert started.wait(5)
        time.sleep(0.2)
        # the other writer waits for its turn: nothing of it is committed
        assert not get_user_model().objects.filter(username="waiter").exists()
        assert not turn_free()
    # when this transaction commits, the waiter gets its turn and commits
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert set(get_user_model().objects.values_list("username", flat=True)) == {"holder", "waiter"}
