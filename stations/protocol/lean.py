"""Lighter stand-ins for two objects the `ocpp` library's ChargePoint builds eagerly for every
connection, so that an idle station costs the server less memory (issue #11: ≤ 64 KiB each at 10,000
idle stations; docs/performance.md).

- `route_map`: the library binds every handler of the class into a dict of dicts per connection
  (≈ 2.5 KiB for 1.6, more for 2.0.1) although the routes are the same for every connection of a
  class. `RouteMap` finds them once per class and binds a handler only when a CALL needs it.
- `_response_queue`: an `asyncio.Queue` (three deques and an Event, ≈ 3 KiB) for the answers to the
  CSMS's own calls, which most stations receive a handful of a day. `Answers` keeps a list and a
  future, created only when an answer arrives or a call waits for one.
"""

import asyncio
from collections.abc import Iterator, Mapping
from typing import Any

from ocpp.routing import routables

# class → action → (skip schema validation, name of the @on handler or None, name of the @after one)
_ROUTES: dict[type, dict[str, tuple[bool, str | None, str | None]]] = {}


def _routes(cls: type) -> dict[str, tuple[bool, str | None, str | None]]:
    """The routes of `cls`, as the library's create_route_map finds them, by attribute name."""
    routes = _ROUTES.get(cls)
    if routes is None:
        found: dict[str, list[Any]] = {}
        for name in dict.fromkeys(routables):
            function = getattr(cls, name, None)
            for slot, option in ((1, "_on_action"), (2, "_after_action")):
                action = getattr(function, option, None)
                if action is None:
                    continue
                entry = found.setdefault(action, [False, None, None])
                entry[slot] = name
                if option == "_on_action":
                    entry[0] = getattr(function, "_skip_schema_validation", False)
        routes = _ROUTES[cls] = {action: (skip, on, after) for action, (skip, on, after) in found.items()}
    return routes


class RouteMap(Mapping):
    """The library's `route_map` (action → {"_on_action", "_after_action", "_skip_schema_validation"}),
    with the handlers bound to the charge point on lookup instead of once per connection."""

    __slots__ = ("_owner",)

    def __init__(self, owner: object) -> None:
        self._owner = owner

    def __getitem__(self, action: str) -> dict[str, Any]:
        skip, on, after = _routes(type(self._owner))[action]
        handlers: dict[str, Any] = {}
        if on is not None:
            handlers["_skip_schema_validation"] = skip
            handlers["_on_action"] = getattr(self._owner, on)
        if after is not None:
            handlers["_after_action"] = getattr(self._owner, after)
        return handlers

    def __iter__(self) -> Iterator[str]:
        return iter(_routes(type(self._owner)))

    def __len__(self) -> int:
        return len(_routes(type(self._owner)))


class Answers:
    """The part of `asyncio.Queue` the library uses for the station's answers (put_nowait, get),
    with nothing allocated while no answer is waiting. One reader at a time (the library's call lock)."""

    __slots__ = ("_items", "_waiter")

    def __init__(self) -> None:
        self._items: list[Any] | None = None
        self._waiter: asyncio.Future | None = None

    def put_nowait(self, item: Any) -> None:
        if self._items is None:
            self._items = []
        self._items.append(item)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def qsize(self) -> int:
        return len(self._items) if self._items else 0

    async def get(self) -> Any:
        # An answer stays in the list until a reader takes it: a get() cancelled (the call's
        # timeout) loses nothing, as with asyncio.Queue.
        while not self._items:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        item = self._items.pop(0)
        if not self._items:
            self._items = None
        return item
