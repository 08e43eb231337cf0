"""A simulated OCPP 1.6 charge point: the station side of the protocol, for demos, tests and benchmarks.

`SimulatedStation` speaks OCPP-J 1.6 (with the security-whitepaper actions) over a real WebSocket,
using the `ocpp` library's client-side ChargePoint. It keeps the state a real charger keeps
(connectors, sessions, meter registers, configuration keys, local list, reservations, charging
profiles, certificates), answers every Central System command sensibly by default, and records
everything it receives so tests can assert on it. Behaviour is adjustable per station:

    station.responses["RemoteStartTransaction"] = "Rejected"   # answer with this status
    station.delays["Reset"] = 2.0                              # answer after 2 s
    station.errors["UnlockConnector"] = "InternalError"        # answer with a CALLERROR

It imports nothing from Django, so it also runs against a ChargeNet somewhere else.
"""

import asyncio
import base64
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any
from urllib.parse import quote

from ocpp.v16 import call, call_result
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.typing import Subprotocol

from stations.simulator import operations
from stations.simulator.profiles import FollowsProfiles
from stations.simulator.profiles import parse_time as _parse_time
from stations.simulator.v16 import INTEGER_KEYS, ReceivedCall, StationChargePoint, default_configuration

logger = logging.getLogger("stations.simulator")

SUBPROTOCOLS = {"1.6": "ocpp1.6"}
IDLE = {"Available", "Reserved"}


def now_iso() -> str:
    """The current UTC time as RFC 3339 with milliseconds and a 'Z' (what OCPP asks for)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


async def cancel_and_wait(tasks: list[asyncio.Task]) -> None:
    """Cancel tasks and wait until they have ended.

    Cancels again while any is still running: on Python 3.11 `asyncio.wait_for` (inside the
    library's `call()`) swallows a cancellation that arrives together with the response.
    """
    pending = {task for task in tasks if not task.done()}
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=0.5)


@dataclass
class SentCall:
    """A CALL this station sent, with the CSMS's answer (a call_result dataclass, or the error)."""

    action: str
    payload: Any
    response: Any = None
    error: BaseException | None = None
    latency: float | None = None


@dataclass
class Connector:
    """The state of one connector: status, meter register and the session on it, if any."""

    connector_id: int
    status: str = "Available"
    error_code: str = "NoError"
    energy_wh: float = 0.0
    power_w: float = 0.0
    transaction_id: int | None = None
    id_tag: str | None = None
    reservation: dict[str, Any] | None = None
    pending_availability: str | None = None
    stop_at: float | None = None
    meter_task: asyncio.Task | None = None
    started_at: datetime | None = None  # when the transaction began (anchors Relative profiles)


class SimulatedStation(operations.FleetOperations, FollowsProfiles):
    """One simulated charge point (OCPP 1.6). Create, `await connect()`, `await boot()`, then drive it
    with the message methods or let it react to the CSMS; `await close()` when done."""

    def __init__(
        self,
        *,
        url: str,
        identity: str,
        password: str | None = None,
        ocpp_version: str = "1.6",
        connectors: int = 2,
        meter_interval: float = 10.0,
        response_timeout: float = 30.0,
        vendor: str = "ChargeNet",
        model: str = "Simulator",
        firmware_version: str = "1.0.0",
        max_power_w: float = 22000.0,
        rng: random.Random | None = None,
    ):
        if ocpp_version not in SUBPROTOCOLS:
            raise ValueError(
                f"OCPP {ocpp_version} is not simulated yet (supported: {', '.join(SUBPROTOCOLS)})"
            )
        self.url = url
        self.identity = identity
        self.password = password
        self.ocpp_version = ocpp_version
        self.subprotocol = SUBPROTOCOLS[ocpp_version]
        self.response_timeout = response_timeout
        self.vendor, self.model, self.firmware_version = vendor, model, firmware_version
        self.max_power_w = max_power_w
        self.rng = rng or random.Random()
        self.meter_interval = meter_interval
        # Simulated seconds per real second for the energy a session adds (demos and tests speed up).
        self.time_scale = 1.0
        self.heartbeat_interval: float = 300.0
        self.registration_status: str | None = None
        self.connector_zero = Connector(0)
        self.connectors = {n: Connector(n) for n in range(1, connectors + 1)}
        self.configuration = default_configuration(connectors)
        self.configuration["MeterValueSampleInterval"][0] = str(max(1, int(meter_interval)))
        self.local_list: dict[str, dict] = {}
        self.local_list_version = 0
        self.charging_profiles: list[dict[str, Any]] = []
        # The EV plugged in: its maximum current per phase (None: the station's maximum) and phases.
        self.ev_max_current_a: float | None = None
        self.ev_phases = 3
        # A charger that keeps its charging profiles over a reboot; False plays one that loses them.
        self.keeps_profiles = False
        self.certificates: list[dict[str, str]] = []
        self.firmware_status = "Idle"
        self.diagnostics_status = "Idle"
        # Seconds a remote-started session charges before the "driver" unplugs; None = until stopped.
        self.remote_session_duration: Callable[[], float] | None = None
        # Pauses between the steps of a firmware update or upload, so a CSMS sees each status.
        self.step_delay = 0.2
        self.reboot_delay = 0.5
        # Fleet operations: shares (0..1) of firmware downloads/installs that fail, and the last files.
        self.firmware_download_failure_rate = 0.0
        self.firmware_install_failure_rate = 0.0
        self.upload_failure_rate = 0.0  # diagnostics/log uploads that fail (UploadFailed)
        self.firmware_downloads: list[bytes] = []
        self.uploads: list[tuple[str, str]] = []  # (location without credentials, file name)

        # Test hooks: answer overrides, delays and CALLERRORs per action (see the module docstring).
        self.responses: dict[str, str | dict[str, Any]] = {}
        self.delays: dict[str, float] = {}
        self.errors: dict[str, str] = {}
        self.received: list[ReceivedCall] = []
        self.sent: list[SentCall] = []

        self.supervised = False  # True while a behaviour loop owns reconnecting (see demo.py)
        self.disconnected = asyncio.Event()
        self.disconnected.set()
        self._ws: ClientConnection | None = None
        self._cp: StationChargePoint | None = None
        self._reader: asyncio.Task | None = None
        self._tasks: set[asyncio.Task] = set()
        self._followups: list[Callable[[], Awaitable[Any]]] = []

    # ---- connection -------------------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        """The station's own WebSocket URL: the CSMS endpoint plus the identity."""
        return f"{self.url.rstrip('/')}/{quote(self.identity, safe='')}"

    @property
    def connected(self) -> bool:
        return self._ws is not None and not self.disconnected.is_set()

    async def connect(self, *, open_timeout: float = 10.0) -> None:
        """Open the WebSocket (HTTP Basic auth when a password is set) and start reading from it.

        Raises OSError / websockets.InvalidHandshake / TimeoutError when the CSMS refuses or is down.
        """
        headers = {}
        if self.password is not None:
            token = base64.b64encode(f"{self.identity}:{self.password}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        ws = await ws_connect(
            self.endpoint,
            subprotocols=[Subprotocol(self.subprotocol)],
            additional_headers=headers,
            open_timeout=open_timeout,
            compression=None,
        )
        if ws.subprotocol != self.subprotocol:
            await ws.close()
            raise ConnectionError(f"the CSMS did not accept subprotocol {self.subprotocol}")
        self._ws = ws
        self._cp = StationChargePoint(self, ws)
        self.disconnected.clear()
        self._reader = asyncio.create_task(self._read(self._cp), name=f"{self.identity}-reader")

    async def _read(self, cp: StationChargePoint) -> None:
        try:
            await cp.start()
        except Exception as exc:  # ConnectionClosed ends every connection; anything else is logged
            if not type(exc).__name__.startswith("ConnectionClosed"):
                logger.warning("%s: reader stopped: %r", self.identity, exc)
        finally:
            if self._cp is cp:
                self.disconnected.set()
                self._stop_meter_loops()

    async def close(self) -> None:
        """Close the connection and stop every background task of this station."""
        for task in list(self._tasks):
            if task is not asyncio.current_task():
                task.cancel()
        self._stop_meter_loops()
        ws, reader = self._ws, self._reader
        self._ws = None
        if ws is not None:
            await ws.close()
        if reader is not None and reader is not asyncio.current_task():
            await cancel_and_wait([reader])
        self.disconnected.set()

    async def wait_closed(self) -> None:
        await self.disconnected.wait()

    def _spawn(self, coro: Awaitable[Any]) -> asyncio.Task:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            # Losing the connection mid-way is normal for a charger; the behaviour loop reconnects.
            if not isinstance(exc, ConnectionError) and not type(exc).__name__.startswith("ConnectionClosed"):
                logger.warning("%s: background task failed: %r", self.identity, exc)

    # ---- station-initiated messages -----------------------------------------------------------

    async def send(self, payload: Any) -> Any:
        """Send one CALL (a `ocpp.v16.call` dataclass) and return the CSMS's answer.

        Raises ConnectionError when not connected, OCPPError on a CALLERROR, TimeoutError on silence.
        """
        if self._cp is None or self.disconnected.is_set():
            raise ConnectionError(f"{self.identity} is not connected")
        record = SentCall(action=type(payload).__name__, payload=payload)
        self.sent.append(record)
        started = time.perf_counter()
        # The library's call() waits out its whole timeout when the socket drops; a charger notices.
        answer = asyncio.ensure_future(self._cp.call(payload, suppress=False))
        closed = asyncio.ensure_future(self.disconnected.wait())
        try:
            await asyncio.wait({answer, closed}, return_when=asyncio.FIRST_COMPLETED)
            if not answer.done():
                raise ConnectionError(f"{self.identity}: connection closed before the {record.action} answer")
            record.response = answer.result()
        except BaseException as exc:
            record.error = exc
            raise
        finally:
            record.latency = time.perf_counter() - started
            if not answer.done() or not closed.done():
                await cancel_and_wait([answer, closed])
        return record.response

    async def boot(self) -> call_result.BootNotification:
        """BootNotification; on Accepted the heartbeat interval becomes what the CSMS said."""
        response = await self.send(
            call.BootNotification(
                charge_point_vendor=self.vendor,
                charge_point_model=self.model,
                charge_point_serial_number=self.identity[:25],
                firmware_version=self.firmware_version,
            )
        )
        self.registration_status = response.status
        if response.status == "Accepted" and response.interval > 0:
            self.heartbeat_interval = float(response.interval)
            self.configuration["HeartbeatInterval"][0] = str(response.interval)
        return response

    async def heartbeat(self) -> call_result.Heartbeat:
        return await self.send(call.Heartbeat())

    async def status(
        self, connector_id: int, status: str, error_code: str = "NoError", info: str | None = None
    ) -> call_result.StatusNotification:
        """StatusNotification for connector `connector_id` (0 = the whole station); also sets it locally."""
        connector = self.connector(connector_id)
        connector.status, connector.error_code = status, error_code
        return await self.send(
            call.StatusNotification(
                connector_id=connector_id,
                error_code=error_code,
                status=status,
                timestamp=now_iso(),
                info=info,
            )
        )

    async def status_all(self) -> None:
        """Report the current status of the station (connector 0) and of every connector."""
        for connector in [self.connector_zero, *self.connectors.values()]:
            await self.status(connector.connector_id, connector.status, connector.error_code)

    async def authorize(self, uid: str) -> call_result.Authorize:
        return await self.send(call.Authorize(id_tag=uid))

    async def start_transaction(
        self,
        connector_id: int,
        id_tag: str,
        meter_start: int | None = None,
        reservation_id: int | None = None,
    ) -> call_result.StartTransaction:
        """StartTransaction; remembers the transaction id on the connector. Returns the answer."""
        connector = self.connector(connector_id)
        if meter_start is None:
            meter_start = int(connector.energy_wh)
        connector.energy_wh = float(meter_start)
        response = await self.send(
            call.StartTransaction(
                connector_id=connector_id,
                id_tag=id_tag,
                meter_start=meter_start,
                timestamp=now_iso(),
                reservation_id=reservation_id,
            )
        )
        connector.transaction_id = response.transaction_id
        connector.id_tag = id_tag
        connector.started_at = datetime.now(UTC)
        return response

    async def meter_values(
        self, connector_id: int, transaction_id: int | None, energy_wh: int, power_w: float | None = None
    ) -> call_result.MeterValues:
        """MeterValues with the energy register (Wh) and, when given, the active power (W)."""
        sampled = [
            {
                "value": str(int(energy_wh)),
                "context": "Sample.Periodic",
                "measurand": "Energy.Active.Import.Register",
                "location": "Outlet",
                "unit": "Wh",
            }
        ]
        if power_w is not None:
            sampled.append(
                {
                    "value": str(int(power_w)),
                    "context": "Sample.Periodic",
                    "measurand": "Power.Active.Import",
                    "location": "Outlet",
                    "unit": "W",
                }
            )
        return await self.send(
            call.MeterValues(
                connector_id=connector_id,
                transaction_id=transaction_id,
                meter_value=[{"timestamp": now_iso(), "sampled_value": sampled}],
            )
        )

    async def stop_transaction(
        self, transaction_id: int, meter_stop: int, reason: str | None = "Local", id_tag: str | None = None
    ) -> call_result.StopTransaction:
        """StopTransaction; frees the connector that held the transaction (locally)."""
        for connector in self.connectors.values():
            if connector.transaction_id == transaction_id:
                self._drop_tx_profiles(connector.connector_id)
                connector.transaction_id = None
                connector.id_tag = None
                connector.power_w = 0.0
                connector.stop_at = None
        return await self.send(
            call.StopTransaction(
                transaction_id=transaction_id,
                meter_stop=meter_stop,
                timestamp=now_iso(),
                reason=reason,
                id_tag=id_tag,
            )
        )

    async def data_transfer(self, vendor_id: str, message_id: str | None = None, data: str | None = None):
        return await self.send(call.DataTransfer(vendor_id=vendor_id, message_id=message_id, data=data))

    async def security_event(self, type: str, tech_info: str | None = None):
        return await self.send(
            call.SecurityEventNotification(type=type, timestamp=now_iso(), tech_info=tech_info)
        )

    async def send_firmware_status(self, status: str):
        self.firmware_status = status
        return await self.send(call.FirmwareStatusNotification(status=status))

    async def send_diagnostics_status(self, status: str):
        self.diagnostics_status = status
        return await self.send(call.DiagnosticsStatusNotification(status=status))

    # ---- sessions (what a driver does) ------------------------------------------------------------

    def connector(self, connector_id: int) -> Connector:
        if connector_id == 0:
            return self.connector_zero
        try:
            return self.connectors[connector_id]
        except KeyError:
            raise ValueError(f"{self.identity} has no connector {connector_id}") from None

    def connector_for_transaction(self, transaction_id: int) -> Connector | None:
        return next((c for c in self.connectors.values() if c.transaction_id == transaction_id), None)

    def idle_connectors(self) -> list[Connector]:
        return [c for c in self.connectors.values() if c.status == "Available" and c.transaction_id is None]

    async def session_start(
        self,
        connector_id: int,
        id_tag: str,
        *,
        power_w: float | None = None,
        authorize: bool = False,
        duration: float | None = None,
        reservation_id: int | None = None,
    ) -> int | None:
        """A driver plugs in and charges: (Authorize,) Preparing, StartTransaction, Charging, then
        MeterValues every `meter_interval` s until `session_stop` (or for `duration` s).

        Returns the transaction id, or None when the CSMS refused the card (the station then
        stops the transaction with reason DeAuthorized, as OCPP 1.6 §5.11 describes)."""
        connector = self.connector(connector_id)
        if authorize:
            answer = await self.authorize(id_tag)
            if answer.id_tag_info["status"] != "Accepted":
                return None
        await self.status(connector_id, "Preparing")
        connector.reservation = None
        response = await self.start_transaction(connector_id, id_tag, reservation_id=reservation_id)
        if response.id_tag_info["status"] != "Accepted":
            await self.stop_transaction(response.transaction_id, int(connector.energy_wh), "DeAuthorized")
            await self.status(connector_id, "Finishing")
            await self.status(connector_id, "Available")
            return None
        connector.power_w = power_w if power_w is not None else self.max_power_w
        connector.stop_at = time.monotonic() + duration if duration is not None else None
        await self.status(connector_id, "Charging")
        self._start_meter_loop(connector)
        return response.transaction_id

    async def session_stop(self, connector_id: int, reason: str = "Local") -> int | None:
        """End the session on the connector: StopTransaction, Finishing, then Available (or Unavailable
        if an availability change was scheduled). Returns the transaction id, None if idle."""
        connector = self.connector(connector_id)
        transaction_id = connector.transaction_id
        if transaction_id is None:
            return None
        self._stop_meter_loop(connector)
        id_tag = connector.id_tag
        await self.stop_transaction(transaction_id, int(connector.energy_wh), reason, id_tag=id_tag)
        await self.status(connector_id, "Finishing")
        final = connector.pending_availability or "Available"
        connector.pending_availability = None
        await self.status(connector_id, final)
        return transaction_id

    def resume_sessions(self) -> None:
        """After a reconnect, keep metering the sessions that went on while the CSMS was away."""
        for connector in self.connectors.values():
            if connector.transaction_id is not None:
                self._start_meter_loop(connector)

    def _start_meter_loop(self, connector: Connector) -> None:
        self._stop_meter_loop(connector)
        connector.meter_task = self._spawn(self._meter_loop(connector))

    def _stop_meter_loop(self, connector: Connector) -> None:
        task, connector.meter_task = connector.meter_task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()

    def _stop_meter_loops(self) -> None:
        for connector in self.connectors.values():
            self._stop_meter_loop(connector)

    async def _meter_loop(self, connector: Connector) -> None:
        last = time.monotonic()
        while connector.transaction_id is not None:
            wait = self.meter_interval
            if connector.stop_at is not None:
                wait = max(0.0, min(wait, connector.stop_at - time.monotonic()))
            await asyncio.sleep(wait)
            now = time.monotonic()
            # Real power wobbles a little around the rate the vehicle and the profiles allow.
            power = self.present_power_w(connector) * self.rng.uniform(0.96, 1.0)
            connector.energy_wh += power * (now - last) * self.time_scale / 3600
            last = now
            if connector.stop_at is not None and now >= connector.stop_at:
                connector.meter_task = None
                await self.session_stop(connector.connector_id, "EVDisconnected")
                return
            if connector.transaction_id is not None:
                await self.meter_values(
                    connector.connector_id, connector.transaction_id, int(connector.energy_wh), power
                )

    async def fault(
        self, connector_id: int, error_code: str = "GroundFailure", info: str | None = None
    ) -> None:
        """Report a fault on a connector; a session on it ends first (reason Other)."""
        connector = self.connector(connector_id)
        if connector.transaction_id is not None:
            await self.session_stop(connector_id, "Other")
        await self.status(connector_id, "Faulted", error_code, info=info)

    async def recover(self, connector_id: int) -> None:
        """Clear a fault: the connector reports Available with NoError again."""
        await self.status(connector_id, "Available")

    # ---- charging profiles (what limits the power) ------------------------------------------------

    def _drop_tx_profiles(self, connector_id: int) -> None:
        # OCPP 1.6 §3.13.4: a TxProfile ends with its transaction.
        self.charging_profiles = [
            p
            for p in self.charging_profiles
            if not (
                p.get("connector_id") == connector_id and p.get("charging_profile_purpose") == "TxProfile"
            )
        ]

    # ---- waiting helpers for tests and scripts ----------------------------------------------------

    async def wait_for(
        self, predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.01
    ) -> Any:
        """Poll `predicate()` until it returns something truthy; return it. TimeoutError otherwise."""
        deadline = time.monotonic() + timeout
        while True:
            result = predicate()
            if result:
                return result
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{self.identity}: condition not met within {timeout} s")
            await asyncio.sleep(interval)

    async def wait_received(self, action: str, count: int = 1, timeout: float = 10.0) -> ReceivedCall:
        """Wait until `count` CALLs of `action` have arrived; return the latest."""
        found = await self.wait_for(
            lambda: (calls := [c for c in self.received if c.action == action])
            and len(calls) >= count
            and calls,
            timeout,
        )
        return found[-1]

    async def wait_sent(self, action: str, count: int = 1, timeout: float = 10.0) -> SentCall:
        """Wait until `count` CALLs of `action` were sent and answered; return the latest."""
        found = await self.wait_for(
            lambda: (
                (calls := [c for c in self.sent if c.action == action and c.response is not None])
                and len(calls) >= count
                and calls
            ),
            timeout,
        )
        return found[-1]

    # ---- answers to CSMS commands ---------------------------------------------------------------

    def _answer(self, action: str, default: dict[str, Any]) -> Any:
        override = self.responses.get(action)
        if isinstance(override, str):
            default = {**default, "status": override}
            self._followups = []  # a refused command has no consequences
        elif isinstance(override, dict):
            default = override
            self._followups = []
        return getattr(call_result, action)(**default)

    def _later(self, coro_fn: Callable[[], Awaitable[Any]]) -> None:
        self._followups.append(coro_fn)

    def _change_availability(self, connector_id: int, type: str, **_) -> dict:
        wanted = "Available" if type == "Operative" else "Unavailable"
        found: list[Connector | None] = (
            list(self.connectors.values()) if connector_id == 0 else [self.connectors.get(connector_id)]
        )
        targets = [connector for connector in found if connector is not None]
        if len(targets) != len(found):
            return {"status": "Rejected"}
        scheduled = False
        changed: list[int] = [0] if connector_id == 0 else []
        for connector in targets:
            if connector.transaction_id is not None and wanted == "Unavailable":
                connector.pending_availability = wanted
                scheduled = True
            elif connector.transaction_id is not None:
                # Operative again while charging: the session goes on and ends Available.
                connector.pending_availability = None
            elif connector.status != wanted and connector.status != "Faulted":
                changed.append(connector.connector_id)

        async def report():
            for number in changed:
                await self.status(number, wanted)

        self._later(report)
        return {"status": "Scheduled" if scheduled else "Accepted"}

    def _change_configuration(self, key: str, value: str, **_) -> dict:
        entry = self.configuration.get(key)
        if entry is None:
            return {"status": "NotSupported"}
        if entry[1]:
            return {"status": "Rejected"}
        if key in INTEGER_KEYS:
            try:
                number = int(value)
            except ValueError:
                return {"status": "Rejected"}
            if number < 0:
                return {"status": "Rejected"}
            if key == "HeartbeatInterval" and number > 0:
                self.heartbeat_interval = float(number)
            if key == "MeterValueSampleInterval" and number > 0:
                self.meter_interval = float(number)
        elif value.lower() in ("true", "false") and entry[0] in ("true", "false"):
            value = value.lower()
        elif entry[0] in ("true", "false"):
            return {"status": "Rejected"}
        entry[0] = value
        return {"status": "Accepted"}

    def _get_configuration(self, key: list[str] | None = None, **_) -> dict:
        names = key if key else sorted(self.configuration)
        known = [
            {"key": name, "readonly": self.configuration[name][1], "value": self.configuration[name][0]}
            for name in names
            if name in self.configuration
        ]
        unknown = [name for name in names if name not in self.configuration]
        return {"configuration_key": known, "unknown_key": unknown or None}

    def _remote_start(self, id_tag: str, connector_id: int | None = None, charging_profile=None, **_) -> dict:
        if connector_id is not None:
            connector = self.connectors.get(connector_id)
            usable = (
                connector is not None
                and connector.transaction_id is None
                and (
                    connector.status == "Available"
                    or (
                        connector.status == "Reserved"
                        and (connector.reservation or {}).get("id_tag") == id_tag
                    )
                )
            )
        else:
            reserved = [
                c
                for c in self.connectors.values()
                if c.status == "Reserved" and (c.reservation or {}).get("id_tag") == id_tag
            ]
            idle = reserved or self.idle_connectors()
            connector = idle[0] if idle else None
            usable = connector is not None
        if not usable or connector is None:
            return {"status": "Rejected"}
        if charging_profile:
            self.charging_profiles.append({"connector_id": connector.connector_id, **charging_profile})
        reservation_id = (connector.reservation or {}).get("reservation_id")
        authorize = self.configuration["AuthorizeRemoteTxRequests"][0] == "true"
        duration = self.remote_session_duration() if self.remote_session_duration else None
        power = self.rng.uniform(7000, self.max_power_w) if self.max_power_w > 7000 else self.max_power_w
        self._later(
            lambda: self.session_start(
                connector.connector_id,
                id_tag,
                power_w=round(power),
                authorize=authorize,
                duration=duration,
                reservation_id=reservation_id,
            )
        )
        return {"status": "Accepted"}

    def _remote_stop(self, transaction_id: int, **_) -> dict:
        connector = self.connector_for_transaction(transaction_id)
        if connector is None:
            return {"status": "Rejected"}
        self._later(lambda: self.session_stop(connector.connector_id, "Remote"))
        return {"status": "Accepted"}

    def _reset(self, type: str, **_) -> dict:
        self._later(lambda: self.reboot("HardReset" if type == "Hard" else "SoftReset"))
        return {"status": "Accepted"}

    async def reboot(self, reason: str = "Reboot") -> None:
        """Restart: end running sessions, drop the connection, come back and boot again.

        When a behaviour loop supervises this station it reconnects by itself; otherwise this
        method reconnects, boots and reports every connector's status."""
        for connector in self.connectors.values():
            if connector.transaction_id is not None:
                try:
                    await self.session_stop(connector.connector_id, reason)
                except Exception as exc:
                    logger.info("%s: could not stop the session before rebooting: %r", self.identity, exc)
        await asyncio.sleep(0.05)  # let the last frames leave before the socket goes
        await self.close()
        if not self.keeps_profiles:
            self.charging_profiles = []
        if self.supervised:
            return
        await asyncio.sleep(self.reboot_delay)
        await self.connect()
        await self.boot()
        await self.status_all()

    def _unlock(self, connector_id: int, **_) -> dict:
        connector = self.connectors.get(connector_id)
        if connector is None:
            return {"status": "NotSupported"}
        if connector.transaction_id is not None:
            # OCPP 1.6 §5.17: unlocking a connector with a transaction stops the transaction first.
            self._later(lambda: self.session_stop(connector_id, "UnlockCommand"))
        return {"status": "Unlocked"}

    def _get_diagnostics(self, location: str, **_) -> dict:
        name = f"diagnostics-{self.identity}-{datetime.now(UTC):%Y%m%dT%H%M%S}.log"

        async def upload():
            await asyncio.sleep(self.step_delay)
            await self.send_diagnostics_status("Uploading")
            uploaded = await self._upload_file(location, name)
            await asyncio.sleep(self.step_delay)
            await self.send_diagnostics_status("Uploaded" if uploaded else "UploadFailed")
            self.diagnostics_status = "Idle"

        self._later(upload)
        return {"file_name": name}

    def _update_firmware(self, location: str, retrieve_date: str, **_) -> dict:
        self._later(self._firmware_steps(_parse_time(retrieve_date), self.send_firmware_status, location))
        return {}

    def _signed_update_firmware(self, request_id: int, firmware: dict, **_) -> dict:
        async def send_status(status: str):
            self.firmware_status = status
            return await self.send(
                call.SignedFirmwareStatusNotification(status=status, request_id=request_id)
            )

        retrieve = firmware.get("retrieve_date_time")
        self._later(
            self._firmware_steps(
                _parse_time(retrieve) if retrieve else None, send_status, firmware.get("location", "")
            )
        )
        return {"status": "Accepted"}

    def _get_log(self, log: dict, log_type: str, request_id: int, **_) -> dict:
        name = f"{log_type.lower()}-{self.identity}-{request_id}.log"

        async def upload():
            await asyncio.sleep(self.step_delay)
            await self.send(call.LogStatusNotification(status="Uploading", request_id=request_id))
            uploaded = await self._upload_file(log.get("remote_location", ""), name)
            await asyncio.sleep(self.step_delay)
            status = "Uploaded" if uploaded else "UploadFailure"
            await self.send(call.LogStatusNotification(status=status, request_id=request_id))

        self._later(upload)
        return {"status": "Accepted", "filename": name}

    def _diagnostics_content(self) -> bytes:
        lines = [f"{now_iso()} {self.identity} {self.vendor} {self.model} firmware {self.firmware_version}"]
        for connector in self.connectors.values():
            lines.append(
                f"{now_iso()} connector {connector.connector_id} {connector.status} {connector.error_code}"
                f" {int(connector.energy_wh)} Wh"
            )
        return ("\n".join(lines) + "\n").encode()

    def _send_local_list(
        self, list_version: int, update_type: str, local_authorization_list=None, **_
    ) -> dict:
        if self.configuration["LocalAuthListEnabled"][0] != "true":
            return {"status": "NotSupported"}
        entries = local_authorization_list or []
        if len(entries) > int(self.configuration["SendLocalListMaxLength"][0]):
            return {"status": "Failed"}
        if update_type == "Full":
            self.local_list = {e["id_tag"]: e.get("id_tag_info", {}) for e in entries if e.get("id_tag_info")}
        else:
            if list_version <= self.local_list_version:
                return {"status": "VersionMismatch"}
            for entry in entries:
                if entry.get("id_tag_info"):
                    self.local_list[entry["id_tag"]] = entry["id_tag_info"]
                else:
                    self.local_list.pop(entry["id_tag"], None)
        self.local_list_version = list_version
        return {"status": "Accepted"}

    def _reserve_now(
        self, connector_id: int, expiry_date: str, id_tag: str, reservation_id: int, parent_id_tag=None, **_
    ) -> dict:
        connector: Connector | None
        if connector_id == 0:
            candidates = self.idle_connectors()
            if not candidates:
                return {"status": "Occupied"}
            connector = candidates[0]
        else:
            connector = self.connectors.get(connector_id)
            if connector is None:
                return {"status": "Rejected"}
            existing = connector.reservation or {}
            if connector.status == "Reserved" and existing.get("reservation_id") != reservation_id:
                return {"status": "Occupied"}
            if connector.status == "Faulted":
                return {"status": "Faulted"}
            if connector.status == "Unavailable":
                return {"status": "Unavailable"}
            if connector.transaction_id is not None or connector.status not in IDLE:
                return {"status": "Occupied"}
        connector.reservation = {"reservation_id": reservation_id, "id_tag": id_tag, "expiry": expiry_date}
        self._later(lambda: self._reserve(connector, reservation_id, _parse_time(expiry_date)))
        return {"status": "Accepted"}

    async def _reserve(self, connector: Connector, reservation_id: int, expiry: datetime) -> None:
        await self.status(connector.connector_id, "Reserved")
        await asyncio.sleep(max(0.0, (expiry - datetime.now(UTC)).total_seconds()))
        if (connector.reservation or {}).get("reservation_id") == reservation_id:
            connector.reservation = None
            await self.status(connector.connector_id, "Available")

    def _cancel_reservation(self, reservation_id: int, **_) -> dict:
        for connector in self.connectors.values():
            if (connector.reservation or {}).get("reservation_id") == reservation_id:
                connector.reservation = None
                if connector.status == "Reserved":
                    self._later(partial(self.status, connector.connector_id, "Available"))
                return {"status": "Accepted"}
        return {"status": "Rejected"}

    def _set_charging_profile(self, connector_id: int, cs_charging_profiles: dict, **_) -> dict:
        if connector_id != 0 and connector_id not in self.connectors:
            return {"status": "Rejected"}
        profile = cs_charging_profiles
        if profile.get("charging_profile_purpose") == "TxProfile":
            connector = self.connectors.get(connector_id)
            if connector is None or connector.transaction_id is None:
                return {"status": "Rejected"}
        self.charging_profiles = [
            p
            for p in self.charging_profiles
            if not (
                p.get("connector_id") == connector_id
                and p.get("charging_profile_purpose") == profile.get("charging_profile_purpose")
                and p.get("stack_level") == profile.get("stack_level")
            )
            and p.get("charging_profile_id") != profile.get("charging_profile_id")
        ]
        self.charging_profiles.append({"connector_id": connector_id, **profile})
        return {"status": "Accepted"}

    def _clear_charging_profile(
        self, id=None, connector_id=None, charging_profile_purpose=None, stack_level=None, **_
    ) -> dict:
        def matches(p):
            if id is not None:
                return p.get("charging_profile_id") == id
            return (
                (connector_id is None or p.get("connector_id") == connector_id)
                and (
                    charging_profile_purpose is None
                    or p.get("charging_profile_purpose") == charging_profile_purpose
                )
                and (stack_level is None or p.get("stack_level") == stack_level)
            )

        kept = [p for p in self.charging_profiles if not matches(p)]
        removed = len(kept) != len(self.charging_profiles)
        self.charging_profiles = kept
        return {"status": "Accepted" if removed else "Unknown"}

    def _get_composite_schedule(self, connector_id: int, duration: int, charging_rate_unit=None, **_) -> dict:
        if connector_id != 0 and connector_id not in self.connectors:
            return {"status": "Rejected"}
        unit = charging_rate_unit or "W"
        limit_w = self.profile_limit_w(connector_id)
        if limit_w is None:
            limit_w = self.max_power_w
        limit = limit_w if unit == "W" else limit_w / 230 / self.ev_phases
        return {
            "status": "Accepted",
            "connector_id": connector_id,
            "schedule_start": now_iso(),
            "charging_schedule": {
                "duration": duration,
                "charging_rate_unit": unit,
                "charging_schedule_period": [{"start_period": 0, "limit": round(float(limit), 1)}],
            },
        }

    def _trigger(self, requested_message: str, connector_id: int | None = None, **_) -> dict:
        if connector_id is not None and connector_id != 0 and connector_id not in self.connectors:
            return {"status": "Rejected"}
        numbers = [connector_id] if connector_id else list(self.connectors)
        senders: dict[str, Callable[[], Awaitable[Any]]] = {
            "BootNotification": self.boot,
            "Heartbeat": self.heartbeat,
            "FirmwareStatusNotification": lambda: self.send(
                call.FirmwareStatusNotification(status=self.firmware_status)
            ),
            "DiagnosticsStatusNotification": lambda: self.send(
                call.DiagnosticsStatusNotification(status=self.diagnostics_status)
            ),
            "LogStatusNotification": lambda: self.send(call.LogStatusNotification(status="Idle")),
            "SignChargePointCertificate": lambda: self.send(call.SignCertificate(csr=self._fake_csr())),
        }

        async def statuses():
            targets = [0, *self.connectors] if connector_id is None else [connector_id]
            for number in targets:
                c = self.connector(number)
                await self.send(
                    call.StatusNotification(
                        connector_id=number, error_code=c.error_code, status=c.status, timestamp=now_iso()
                    )
                )

        async def meters():
            for number in numbers:
                c = self.connector(number)
                await self.meter_values(number, c.transaction_id, int(c.energy_wh), c.power_w)

        senders["StatusNotification"] = statuses
        senders["MeterValues"] = meters
        sender = senders.get(requested_message)
        if sender is None:
            return {"status": "NotImplemented"}
        self._later(sender)
        return {"status": "Accepted"}

    def _fake_csr(self) -> str:
        body = base64.b64encode(f"simulated CSR for {self.identity}".encode()).decode()
        return f"-----BEGIN CERTIFICATE REQUEST-----\n{body}\n-----END CERTIFICATE REQUEST-----"

    def _installed_certificates(self, certificate_type: str, **_) -> dict:
        found = [
            operations.certificate_hash_data(c["pem"])
            for c in self.certificates
            if c["type"] == certificate_type
        ]
        if not found:
            return {"status": "NotFound"}
        return {"status": "Accepted", "certificate_hash_data": found}

    def _delete_certificate(self, certificate_hash_data: dict, **_) -> dict:
        serial = certificate_hash_data.get("serial_number")
        for cert in list(self.certificates):
            if operations.certificate_hash_data(cert["pem"])["serial_number"] == serial:
                self.certificates.remove(cert)
                return {"status": "Accepted"}
        return {"status": "NotFound"}
