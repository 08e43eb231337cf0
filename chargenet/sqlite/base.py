"""Django's SQLite backend, with two changes: a transaction waits for its turn on a file lock, and
a statement's placeholders are converted once (`CursorWrapper`).

SQLite lets one connection write at a time, across every process (the ASGI processes, the Celery
worker, beat, management commands). A connection that finds the database busy is put to sleep by
SQLite's busy handler for 1, 2, 5 … up to 100 ms at a time and tries again, so writers that take
turns mostly sleep: the OCPP writer of one ASGI process, holding its turn, spent 40 % of its working
time in BEGIN IMMEDIATE while the Celery worker committed (docs/performance.md). Here every transaction
(`BEGIN IMMEDIATE`, which every `transaction.atomic()` opens) first takes an exclusive lock on a file
beside the database; the kernel wakes the next waiter the moment the lock is released at COMMIT or
ROLLBACK, so the turn passes on at once. The lock follows SQLite's own write lock exactly: a
transaction that holds one holds the other, so no new waits and no new deadlocks arise. It only
orders the writers: SQLite's own lock still guards the data, so a writer that missed the file lock (a
descriptor inherited across a fork) would only wait the old way.
"""

import fcntl
import functools
from typing import IO, Any

from django.db.backends.sqlite3 import base


@functools.lru_cache(maxsize=4096)
def _qmark(query: str) -> str:
    return base.FORMAT_QMARK_REGEX.sub("?", query).replace("%%", "%")


class CursorWrapper(base.SQLiteCursorWrapper):
    """Django's cursor, which rewrites every statement's "%s" placeholders as sqlite3's "?" with a
    regular expression over the whole SQL at each execution (7 % of the OCPP writer's time); here
    each statement's rewrite is remembered (the last 4,096)."""

    def convert_query(self, query: str, *, param_names: list[str] | None = None) -> str:
        if param_names is not None:
            return super().convert_query(query, param_names=param_names)  # type: ignore[misc]
        return _qmark(query)


class DatabaseWrapper(base.DatabaseWrapper):
    turn_file: IO[bytes] | None = None  # this connection's own descriptor: its lock is its own

    def create_cursor(self, name: str | None = None) -> CursorWrapper:
        return self.connection.cursor(factory=CursorWrapper)

    def _turn_take(self) -> None:
        if self.is_in_memory_db():
            return
        if self.turn_file is None:
            self.turn_file = open(f"{self.settings_dict['NAME']}.writer-lock", "a+b")  # noqa: SIM115
        fcntl.flock(self.turn_file, fcntl.LOCK_EX)

    def _turn_release(self) -> None:
        if self.turn_file is not None:  # unlocking a lock not held does nothing
            fcntl.flock(self.turn_file, fcntl.LOCK_UN)

    def _start_transaction_under_autocommit(self) -> None:
        self._turn_take()
        try:
            super()._start_transaction_under_autocommit()  # type: ignore[misc]  # not in the stubs
        except BaseException:
            self._turn_release()
            raise

    def _commit(self) -> Any:
        try:
            return super()._commit()  # type: ignore[misc]
        finally:
            self._turn_release()

    def _rollback(self) -> Any:
        try:
            return super()._rollback()  # type: ignore[misc]
        finally:
            self._turn_release()

    def _close(self) -> Any:
        try:
            return super()._close()  # type: ignore[misc]
        finally:
            self._turn_release()
            if self.turn_file is not None:
                self.turn_file.close()
                self.turn_file = None
