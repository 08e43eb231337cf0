"""A tiny CSMS for testing the simulator: the `ocpp` library's server-side ChargePoint over websockets.

It stands in for ChargeNet's own OCPP endpoint (built elsewhere) so the station side can be tested
on its own: it authenticates with HTTP Basic, accepts boots, hands out transaction ids, records
every CALL it receives, and lets a test send any command to a connected station.
"""

import asyncio
import base64
import contextlib
import itertools
from datetime import UTC, datetime
from http import HTTPStatus

from ocpp.routing import on
from ocpp.v16 import ChargePoint, call_result
from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class CsmsSide(ChargePoint):
    """One station's connection as the CSMS sees it."""

    def __init__(self, csms: "TinyCsms", identity: str, connection):
        super().__init__(identity, connection, response_timeout=5)
        self.csms = csms
        self.received: list[tuple[str, dict]] = []

    async def _handle_call(self, msg):
        self.received.append((msg.action, msg.payload))
        return await super()._handle_call(msg)

    @on("BootNotification")
    def on_boot_notification(self, **_):
        return call_result.BootNotification(
            current_time=_now(), interval=self.csms.heartbeat_interval, status=self.csms.boot_status
        )

    @on("Heartbeat")
    def on_heartbeat(self, **_):
        return call_result.Heartbeat(current_time=_now())

    @on("StatusNotification")
    def on_status_notification(self, **_):
        return call_result.StatusNotification()

    @on("Authorize")
    def on_authorize(self, id_tag, **_):
        return call_result.Authorize(id_tag_info={"status": self.csms.card_status(id_tag)})

    @on("StartTransaction")
    def on_start_transaction(self, id_tag, **_):
        return call_result.StartTransaction(
            transaction_id=next(self.csms.transaction_ids),
            id_tag_info={"status": self.csms.card_status(id_tag)},
        )

    @on("MeterValues")
    def on_meter_values(self, **_):
        return call_result.MeterValues()

    @on("StopTransaction")
    def on_stop_transaction(self, **_):
        return call_result.StopTransaction(id_tag_info={"status": "Accepted"})

    @on("DataTransfer")
    def on_data_transfer(self, **_):
        return call_result.DataTransfer(status="Accepted")

    @on("FirmwareStatusNotification")
    def on_firmware_status_notification(self, **_):
        return call_result.FirmwareStatusNotification()

    @on("DiagnosticsStatusNotification")
    def on_diagnostics_status_notification(self, **_):
        return call_result.DiagnosticsStatusNotification()

    @on("SecurityEventNotification")
    def on_security_event_notification(self, **_):
        return call_result.SecurityEventNotification()

    @on("SignCertificate")
    def on_sign_certificate(self, **_):
        return call_result.SignCertificate(status="Accepted")

    @on("LogStatusNotification")
    def on_log_status_notification(self, **_):
        return call_result.LogStatusNotification()

    @on("SignedFirmwareStatusNotification")
    def on_signed_firmware_status_notification(self, **_):
        return call_result.SignedFirmwareStatusNotification()

    def actions(self) -> list[str]:
        return [action for action, _ in self.received]


class TinyCsms:
    """Serve `ws://127.0.0.1:<port>/ocpp/<identity>` for the stations in `passwords`."""

    def __init__(self, passwords: dict[str, str], port: int = 0):
        self.passwords = passwords
        self.port = port
        self.heartbeat_interval = 60
        self.boot_status = "Accepted"
        self.blocked: set[str] = set()
        self.transaction_ids = itertools.count(1001)
        self.stations: dict[str, CsmsSide] = {}
        self.connections = 0
        self._server = None
        self.url = ""

    def card_status(self, uid: str) -> str:
        return "Blocked" if uid in self.blocked else "Accepted"

    async def __aenter__(self) -> "TinyCsms":
        self._server = await serve(
            self._handle,
            "127.0.0.1",
            self.port,
            subprotocols=["ocpp1.6"],
            process_request=self._authenticate,
        )
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"ws://127.0.0.1:{port}/ocpp/"
        return self

    async def __aexit__(self, *exc) -> None:
        self._server.close()
        await self._server.wait_closed()

    def _authenticate(self, connection, request):
        identity = request.path.rstrip("/").rsplit("/", 1)[-1]
        expected = base64.b64encode(f"{identity}:{self.passwords.get(identity)}".encode()).decode()
        if identity not in self.passwords or request.headers.get("Authorization") != f"Basic {expected}":
            return connection.respond(HTTPStatus.UNAUTHORIZED, "Unauthorized\n")
        return None

    async def _handle(self, connection):
        identity = connection.request.path.rstrip("/").rsplit("/", 1)[-1]
        side = CsmsSide(self, identity, connection)
        self.stations[identity] = side
        self.connections += 1
        with contextlib.suppress(ConnectionClosed):  # the station went away
            await side.start()

    async def station(self, identity: str, timeout: float = 5.0) -> CsmsSide:
        """The connection of `identity`, waiting for it to connect."""
        deadline = asyncio.get_running_loop().time() + timeout
        while identity not in self.stations:
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"{identity} did not connect")
            await asyncio.sleep(0.01)
        return self.stations[identity]

    async def disconnect_all(self) -> None:
        for side in list(self.stations.values()):
            await side._connection.close()
        self.stations.clear()
