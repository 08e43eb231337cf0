"""Django's PostgreSQL backend (psycopg 3), with one change: a statement's "%s" placeholders are
converted to PostgreSQL's "$1" once per statement, not at every execution.

psycopg converts a query's placeholders by splitting the whole SQL with a regular expression, and
remembers the result only for statements of at most 4,096 bytes and 50 parameters (its last 128).
The group commit's multi-row inserts (the message log, status history, meter samples of a batch of
stations) have hundreds of parameters, so each was split again at every commit: 12 % of an ASGI
process's Python in the session mix (docs/performance.md). Here the conversion of each statement
text is remembered whatever its length; a statement's text is reused as the same string, so looking
it up costs no rehash. A conversion holds about 180 bytes per parameter, so what is remembered is
bounded by parameters (CACHED_PARAMETERS, about 12 MB), and forgotten all at once when full: the
statements in use are converted again as they come. psycopg's own conversion function is private;
psycopg is pinned (pyproject.toml), and a rename would fail every statement, never pass unnoticed.
"""

import threading
from typing import Any

from django.db.backends.postgresql import base
from psycopg import _queries

CACHED_PARAMETERS = 65_536
_converted: dict[tuple[str, str], Any] = {}
_converted_parameters = 0
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
            _remember(key, converted)
        self.query, self._want_formats, self._order, self._parts = converted
        self.dump(vars)


def _remember(key: tuple[str, str], converted: Any) -> None:
    global _converted_parameters
    parameters = len(converted[3])  # the statement's parts, one per parameter
    if parameters > CACHED_PARAMETERS:
        return  # larger than everything remembered: converted at every execution, as psycopg does
    with _converted_lock:
        if key in _converted:  # another thread converted it meanwhile
            return
        if _converted_parameters + parameters > CACHED_PARAMETERS:
            _converted.clear()
            _converted_parameters = 0
        _converted[key] = converted
        _converted_parameters += parameters


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
