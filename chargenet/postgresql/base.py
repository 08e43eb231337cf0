"""Django's PostgreSQL backend (psycopg 3), with one change: a statement's "%s" placeholders are
converted to PostgreSQL's "$1" once per statement, not at every execution.

psycopg converts a query's placeholders by splitting the whole SQL with a regular expression, and
remembers the result only for statements of at most 4,096 bytes and 50 parameters (its last 128).
The group commit's multi-row inserts (the message log, status history, meter samples of a batch of
stations) have hundreds of parameters, so each was split again at every commit: 12 % of an ASGI
process's Python in the session mix (docs/performance.md). Here the conversion of each statement
text is remembered (the last 4,096), whatever its length; a statement's text is reused as the same
string, so looking it up costs no rehash.
"""

import threading
from typing import Any

from django.db.backends.postgresql import base
from psycopg import _queries

CACHED = 4096
_converted: dict[tuple[str, str], Any] = {}
_converted_lock = threading.Lock()


class PostgresQuery(_queries.PostgresQuery):
    """psycopg's server-side-bound query, its conversion remembered per statement text."""

    __slots__ = ()

    def convert(self, query: Any, vars: Any) -> None:
        if vars is None or type(query) is not str:
            super().convert(query, vars)
            return
        key = (query, self._encoding)
        converted = _converted.get(key)
        if converted is None:
            converted = _queries._query2pg_nocache(query.encode(self._encoding), self._encoding)
            with _converted_lock:
                if len(_converted) >= CACHED:
                    _converted.clear()
                _converted[key] = converted
        self.query, self._want_formats, self._order, self._parts = converted
        self.dump(vars)


# Django defines it only with psycopg 3 (which the project requires), so its stubs do not know it.
DjangoServerBindingCursor: Any = base.ServerBindingCursor  # type: ignore[attr-defined]


class ServerBindingCursor(DjangoServerBindingCursor):
    _query_cls = PostgresQuery


class DatabaseWrapper(base.DatabaseWrapper):
    def get_connection_params(self) -> dict[str, Any]:
        params = super().get_connection_params()
        if params.get("cursor_factory") is DjangoServerBindingCursor:
            params["cursor_factory"] = ServerBindingCursor
        return params
