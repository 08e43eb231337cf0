"""What every per-version ChargePoint shares: the queue-backed connection the library reads from,
and a raw call that sends a durable command's payload exactly as stored."""

import asyncio
import functools
import inspect
import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from ocpp.charge_point import LOGGER as OCPP_LOGGER
from ocpp.charge_point import remove_nones, serialize_as_dict, snake_to_camel_case
from ocpp.messages import Call, MessageType

from rfid.services import remote_authorizers_registered
from stations import services
from stations.access.services import station_id_token_remote_prefetch
from stations.protocol.batch import BATCH
from stations.protocol.lean import Answers, RouteMap


@functools.lru_cache(maxsize=4096)
def _snake(key: str) -> str:
    """The `ocpp` library's camelCase → snake_case of one key (its camel_to_snake_case), once per key."""
    key = key.replace("ocppCSMSURL", "ocpp_csms_url").replace("V2X", "_v2x").replace("V2G", "_v2g")
    return re.sub("([a-z0-9])([A-Z])(?=\\S)", r"\1_\2", re.sub("(.)([A-Z][a-z]+)", r"\1_\2", key)).lower()


def snake_keys(data: Any) -> Any:
    """Every dict key inside `data` in snake_case, as the library hands payloads to handlers."""
    if isinstance(data, dict):
        return {_snake(key): snake_keys(value) for key, value in data.items()}
    if isinstance(data, list):
        return [snake_keys(value) for value in data]
    return data


@functools.lru_cache(maxsize=256)
def _wants_unique_id(func: Callable[..., Any]) -> bool:
    return "call_unique_id" in inspect.signature(func).parameters


class ConnectionClosed(Exception):
    """The WebSocket closed; the library's start() loop ends with it."""


class CallNotSent(ConnectionClosed):
    """The WebSocket closed before a CSMS call went out: the station never saw it."""


class QueueConnection:
    """The `connection` the `ocpp` library wants (recv/send): recv() reads CALLs the consumer put on
    the inbox; send() writes through the consumer. Responses never pass through the inbox.

    Kept small, as there is one per connected station (docs/performance.md, memory per connection):
    a list instead of an asyncio.Queue (three deques and an Event, ≈ 3 KiB), and the future a reader
    waits on and the `closed_event` a call waits on are created only when someone waits. The
    consumer reads with `next()` from a task it starts when a CALL arrives, so an idle station holds
    no task either.
    """

    __slots__ = ("_send", "_inbox", "_waiter", "_closed_event", "closed")

    def __init__(self, send: Callable[[str], Awaitable[None]]) -> None:
        self._send = send
        self._inbox: list[str] = []
        self._waiter: asyncio.Future | None = None
        self._closed_event: asyncio.Event | None = None
        self.closed = False

    @property
    def closed_event(self) -> asyncio.Event:
        """Set once the connection is closed (wakes a call waiting for its answer)."""
        if self._closed_event is None:
            self._closed_event = asyncio.Event()
            if self.closed:
                self._closed_event.set()
        return self._closed_event

    def feed(self, raw: str) -> None:
        if self.closed:
            return  # nobody will read it (as recv() raises once closed)
        self._inbox.append(raw)
        self._wake()

    def next(self) -> str | None:
        """The next CALL fed, or None if there is none now. Once closed, what was fed before is still
        read, then ConnectionClosed is raised."""
        if self._inbox:
            return self._inbox.pop(0)
        if self.closed:
            raise ConnectionClosed
        return None

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self._closed_event is not None:
            self._closed_event.set()  # wakes a call waiting for its answer
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def recv(self) -> str:
        while (message := self.next()) is None:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return message

    async def send(self, message: str) -> None:
        if self.closed:
            raise ConnectionClosed
        await self._send(message)


class CallErrorReceived(Exception):
    """The station answered a CSMS call with a CALLERROR (any code, known to the library or not)."""

    def __init__(self, code: str, description: str, details: Any) -> None:
        super().__init__(f"{code}: {description}")
        self.code, self.description, self.details = code, description, details


class CentralSystemMixin:
    """Per-connection state the handlers need, mixed in front of the library's ChargePoint."""

    def __init__(
        self,
        identity: str,
        connection: QueueConnection,
        *,
        station_id: int,
        response_timeout: int,
        on_registration: Callable[[str], None] = lambda status: None,
    ) -> None:
        # The library's own __init__ (ocpp.ChargePoint, pinned) sets these, and builds a route map by
        # walking every attribute of the class, for every connection: a storm's thousand handshakes
        # a second paid for it. Its attributes are set here instead, with a lighter route map and
        # answer queue (stations/protocol/lean.py).
        self.id = identity
        self._connection: QueueConnection = connection
        self._response_timeout = response_timeout
        self._call_lock = asyncio.Lock()
        self._unique_id_generator = uuid.uuid4
        self.logger = OCPP_LOGGER
        self.route_map = RouteMap(self)
        self._response_queue = Answers()
        self.station_id = station_id
        self.on_registration = on_registration

    def committed(self, fn: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
        """`await self.committed(service)(**kwargs)`: the service call in the next group commit of this
        station's writer, after everything the station handed in before; its result (or exception)
        once that transaction has committed (stations/protocol/batch.py)."""
        return functools.partial(BATCH.run_for, self.station_id, fn)

    async def _handle_call(self, msg: Call) -> None:
        """The library's own CALL handling (ocpp.ChargePoint._handle_call) without its per-call
        costs: it read every handler's signature anew (a third of the event loop's OCPP time) and
        converted every key with two regular expressions. Every route here skips the library's schema
        validation (the framing layer validated the payload) and has no after-hook; anything else is
        left to the library."""
        handlers = self.route_map.get(msg.action, {})
        handler = handlers.get("_on_action")
        if handler is None or "_after_action" in handlers or not handlers.get("_skip_schema_validation"):
            await super()._handle_call(msg)  # type: ignore[misc]
            return
        kwargs = snake_keys(msg.payload)
        if _wants_unique_id(handler.__func__):
            kwargs["call_unique_id"] = msg.unique_id
        try:
            response = handler(**kwargs)
            if inspect.isawaitable(response):
                response = await response
        except Exception as exc:
            self.logger.exception("Error while handling request '%s'", msg)
            await self._send(msg.create_call_error(exc).to_json())  # type: ignore[attr-defined]
            return
        payload = snake_to_camel_case(remove_nones(serialize_as_dict(response)))
        await self._send(msg.create_call_result(payload).to_json())  # type: ignore[attr-defined]

    async def boot_record(self, info: dict[str, Any]) -> tuple[str, int]:
        """(status, interval) for a BootNotification: recorded by station_boot in the group commit, or,
        while this process's writer is too far behind, Pending with a randomised interval and nothing
        written. The station boots again after the interval (1.6 §4.2, 2.0.1 B02), so a reconnect storm
        is spread out instead of its handshakes being refused."""
        interval = BATCH.boot_pacing_interval()
        if interval:
            # Nothing recorded and the connection's state unchanged (no command queue check either):
            # a paced boot must cost the busy writer nothing.
            return "Pending", interval
        status, interval = await self.committed(services.station_boot)(station_id=self.station_id, info=info)
        self.on_registration(status)
        return status, interval

    async def remote_authorization_prefetch(self, uid: str) -> None:
        """Before a card's decision goes into the group commit, let its remote authorizer (an eMSP
        asked in real time over OCPI) answer on the database pool: a partner that takes seconds then
        holds only this station's answer, never the transaction every connection shares."""
        if uid and remote_authorizers_registered():
            await BATCH.db_call(station_id_token_remote_prefetch, identity=self.id, uid=uid)

    async def call_action(self, action: str, payload: dict[str, Any], unique_id: str) -> dict[str, Any]:
        """Send one CALL with the payload as given (no case conversion, which would mangle
        DataTransfer data) and return the CALLRESULT payload. One outstanding CALL at a time (the
        library's lock). Raises CallErrorReceived, TimeoutError, CallNotSent (closed before sending)
        or ConnectionClosed (closed while waiting for the answer)."""
        call = Call(unique_id=unique_id, action=action, payload=payload)
        connection = self._connection
        async with self._call_lock:
            if connection.closed:
                raise CallNotSent
            try:
                await self._send(call.to_json())  # type: ignore[attr-defined]
            except ConnectionClosed:
                raise CallNotSent from None
            response = await self._response_or_close(unique_id)
        if response.message_type_id == MessageType.CallError:
            raise CallErrorReceived(response.error_code, response.error_description, response.error_details)
        return response.payload

    async def _response_or_close(self, unique_id: str) -> Any:
        """The answer to `unique_id`, or TimeoutError, or ConnectionClosed as soon as the socket closes.

        The library's own call() keeps waiting out its timeout on a closed socket, and its bare
        asyncio.wait_for may, on Python 3.11, swallow a cancellation that arrives together with the
        answer; asyncio.wait never swallows the caller's cancellation.
        """
        connection = self._connection
        answer = asyncio.ensure_future(
            self._get_specific_response(unique_id, self._response_timeout)  # type: ignore[attr-defined]
        )
        closed = asyncio.ensure_future(connection.closed_event.wait())
        try:
            await asyncio.wait({answer, closed}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            closed.cancel()
            if not answer.done():
                answer.cancel()
        if answer.done() and not answer.cancelled():
            return answer.result()  # the answer, or the library's TimeoutError
        raise ConnectionClosed
