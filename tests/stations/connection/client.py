"""A small OCPP-J test station on `websockets`: raw frames for framing tests, calls for flows.

It answers the CSMS's CALLs from `responders` (action → payload or fn(payload) → payload; default
{"status": "Accepted"}) and records them in `received`.
"""

import asyncio
import base64
import contextlib
import itertools
import json
from collections.abc import Callable
from typing import Any

import websockets
from websockets.asyncio.client import connect

_ids = itertools.count(1)


def basic_auth(username: str, password: str | bytes) -> str:
    raw = username.encode() + b":" + (password if isinstance(password, bytes) else password.encode())
    return "Basic " + base64.b64encode(raw).decode()


BOOT = {"chargePointVendor": "ChargeNet Test", "chargePointModel": "TS-1"}


class TestStation:
    """One test charge point connected over a real socket."""

    __test__ = False

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.pending: dict[str, asyncio.Future] = {}
        self.inbox: asyncio.Queue = asyncio.Queue()
        self.received: list[tuple[str, dict]] = []
        self.call_seen = asyncio.Event()
        self.responders: dict[str, Any] = {}
        self.silent: set[str] = set()
        self.reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for text in self.ws:
                try:
                    frame = json.loads(text)
                except ValueError:
                    await self.inbox.put(text)
                    continue
                if frame and frame[0] == 2:
                    await self._answer(frame)
                elif frame and frame[0] in (3, 4) and frame[1] in self.pending:
                    self.pending.pop(frame[1]).set_result(frame)
                else:
                    await self.inbox.put(frame)

    async def _answer(self, frame: list) -> None:
        _, message_id, action, payload = frame
        self.received.append((action, payload))
        self.call_seen.set()
        if action in self.silent:
            return
        responder = self.responders.get(action, {"status": "Accepted"})
        answer = responder(payload) if callable(responder) else responder
        if isinstance(answer, tuple):  # (code, description): answer with a CALLERROR
            await self.ws.send(json.dumps([4, message_id, answer[0], answer[1], {}]))
        else:
            await self.ws.send(json.dumps([3, message_id, answer]))

    async def send_raw(self, text: str) -> None:
        await self.ws.send(text)

    async def next_frame(self, timeout: float = 10) -> Any:
        return await asyncio.wait_for(self.inbox.get(), timeout)

    async def call(
        self, action: str, payload: dict, timeout: float = 10, message_id: str | None = None
    ) -> list:
        """Send a CALL and return the whole answer frame ([3, id, payload] or [4, id, code, ...])."""
        message_id = message_id or f"m{next(_ids)}"
        future = asyncio.get_running_loop().create_future()
        self.pending[message_id] = future
        await self.ws.send(json.dumps([2, message_id, action, payload]))
        return await asyncio.wait_for(future, timeout)

    async def ok(self, action: str, payload: dict) -> dict:
        """Send a CALL that must succeed; return the CALLRESULT payload."""
        frame = await self.call(action, payload)
        assert frame[0] == 3, frame
        return frame[2]

    async def boot(self, **extra: Any) -> dict:
        return await self.ok("BootNotification", {**BOOT, **extra})

    async def wait_call(self, action: str, timeout: float = 10) -> dict:
        """Wait until the CSMS sent `action`; return its payload."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            for name, payload in self.received:
                if name == action:
                    self.received.remove((name, payload))
                    return payload
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise AssertionError(f"the CSMS sent no {action}; got {self.received}")
            self.call_seen.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.call_seen.wait(), remaining)

    async def close(self) -> None:
        await self.ws.close()
        self.reader.cancel()


@contextlib.asynccontextmanager
async def station_connection(
    url: str,
    identity: str,
    password: str | bytes | None,
    subprotocols: tuple[str, ...] = ("ocpp1.6",),
    responders: dict[str, Any] | None = None,
    **connect_options: Any,  # e.g. ssl=<SSLContext> for wss://
):
    headers = {"Authorization": basic_auth(identity, password)} if password is not None else {}
    ws = await connect(
        url + identity,
        subprotocols=list(subprotocols),
        additional_headers=headers,
        open_timeout=10,
        **connect_options,
    )
    station = TestStation(ws)
    station.responders.update(responders or {})
    try:
        yield station
    finally:
        await station.close()


def eventually(check: Callable[[], Any], timeout: float = 10.0) -> Any:
    """Poll a synchronous check (e.g. a database read) until it returns something truthy."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            assert result, "condition not met in time"
            return result
        time.sleep(0.1)
