"""The OCPP endpoint ws(s)://HOST/ocpp/<identity>: handshake, framing, boot gate, commands.

A Channels consumer handles one event at a time, so nothing here awaits an OCPP call inside
receive() (docs/architecture.md). receive() parses and checks each frame itself and answers bad ones with the
version's CALLERROR; good CALLs go on a queue that a background task feeds to the library's
ChargePoint; CALLRESULT/CALLERROR frames go straight to the library. Every CSMS-initiated call runs
in its own task. Every database call goes to the process-wide group commit (stations/protocol/batch.py),
which also writes the message log and liveness; an answer to a station's CALL goes out only once the
frames received before it are committed.
"""

import asyncio
import base64
import contextlib
import functools
import json
import logging
import os
import re
import socket
import time
from typing import Any

from channels.consumer import get_handler_name
from channels.exceptions import ChannelFull, StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import get_channel_layer
from django.conf import settings
from django.utils import timezone

from chargenet.metrics import ocpp_frame_logged
from stations import services
from stations.connection.selectors import commands_waiting
from stations.models import Command, Station
from stations.protocol.base import CallErrorReceived, CallNotSent, ConnectionClosed, QueueConnection
from stations.protocol.batch import BATCH
from stations.protocol.framing import (
    CALL,
    CALLERROR,
    CALLRESULT,
    KNOWN_ACTIONS,
    ErrorCode,
    FrameError,
    action_check,
    call_error,
    frame_parse,
    nul_free,
    payload_violations,
)
from stations.protocol.handshake import handshake_refuse
from stations.protocol.v16 import ChargePoint16
from stations.protocol.v201 import ChargePoint201

logger = logging.getLogger(__name__)
# The library logs every frame at INFO; we keep our own message log instead.
library_logger = logging.getLogger("stations.protocol.library")
library_logger.setLevel(logging.WARNING)

NODE = f"{socket.gethostname()}:{os.getpid()}"


def node_gone(node: str) -> bool:
    """Whether `node` (a NODE value) was a process of this machine that no longer runs. A node of
    another machine, or one that cannot be told, counts as alive."""
    host, _, pid = node.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:  # alive, someone else's
        return False
    return False


# Subprotocol → OCPP version, in our order of preference when a station offers several.
SUBPROTOCOLS = {"ocpp1.6": "1.6", "ocpp2.0.1": "2.0.1"}
CHARGE_POINTS: dict[str, type[ChargePoint16 | ChargePoint201]] = {
    "1.6": ChargePoint16,
    "2.0.1": ChargePoint201,
}
# 1.6 §4.2 / 2.0.1 B02.FR.05: no remote start/stop to a Pending station.
PENDING_FORBIDDEN = frozenset(
    {"RemoteStartTransaction", "RemoteStopTransaction", "RequestStartTransaction", "RequestStopTransaction"}
)
# TriggerMessage requestedMessage → the CALL it lets a Pending station send.
TRIGGERED_ACTIONS = {
    "SignChargePointCertificate": "SignCertificate",
    "SignChargingStationCertificate": "SignCertificate",
    "SignV2GCertificate": "SignCertificate",
}
# CSMS calls whose answer the station sends as CALLs of its own: while Pending these are "triggered"
# by the CSMS too (2.0.1 B02.FR.02/B02.FR.09), e.g. GetBaseReport → NotifyReport.
FOLLOW_UP_ACTIONS = {
    "GetBaseReport": "NotifyReport",
    "GetReport": "NotifyReport",
    "GetMonitoringReport": "NotifyMonitoringReport",
    "CustomerInformation": "NotifyCustomerInformation",
    "GetDisplayMessages": "NotifyDisplayMessages",
    "GetChargingProfiles": "ReportChargingProfiles",
    "GetLog": "LogStatusNotification",
    "UpdateFirmware": "FirmwareStatusNotification",
    "PublishFirmware": "PublishFirmwareStatusNotification",
    "SetVariableMonitoring": "NotifyEvent",
}
# How long disconnect() lets the command loop settle (finish a claim, record the outcome) before it
# cancels what is left; daphne gives the whole disconnect 10 s (--application-close-timeout).
SETTLE_SECONDS = 5.0
LAYER_RETRY_SECONDS = 1.0
CLOSE_REPLACED = 4000
# RFC 6455 §7.4.1: 1011 "unexpected condition"; 1000 after an unagreeable subprotocol (OCPP-J §3.2
# only asks us to close; daphne/autobahn would refuse 1002 and leave the socket open).
CLOSE_INTERNAL_ERROR = 1011
CLOSE_NO_SUBPROTOCOL = 1000
OVERSIZE_ID = re.compile(r'^\s*\[\s*2\s*,\s*"([^"\\]{1,36})"')


def basic_credentials(headers: list[tuple[bytes, bytes]]) -> tuple[str | None, bytes | None]:
    """(username, password bytes) from an HTTP Basic Authorization header, or (None, None)."""
    for name, value in headers:
        if name.lower() != b"authorization":
            continue
        scheme, _, token = value.partition(b" ")
        if scheme.lower() != b"basic":
            return None, None
        try:
            raw = base64.b64decode(token.strip(), validate=True)
        except ValueError:
            return None, None
        username, sep, password = raw.partition(b":")
        if not sep:
            return None, None
        return username.decode("utf-8", "replace"), password
    return None, None


def client_certificate_subject(scope: dict) -> str | None:
    """The subject of the TLS client certificate a trusted proxy verified (security profile 3), or
    None. Only a peer listed in OCPP_TRUSTED_PROXIES is believed, and only with verify = SUCCESS;
    the shipped nginx configuration always overwrites both headers (docs/security.md)."""
    client = scope.get("client") or ("", 0)
    if str(client[0]) not in settings.OCPP_TRUSTED_PROXIES:
        return None
    headers = {name.lower(): value for name, value in scope.get("headers", [])}
    if headers.get(b"x-ssl-client-verify", b"") != b"SUCCESS":
        return None
    subject = headers.get(b"x-ssl-client-s-dn", b"").decode("utf-8", "replace").strip()
    return subject or None


def subprotocol_choose(offered: list[str]) -> str | None:
    """The first subprotocol the station offers that we speak (the station lists its preference)."""
    for name in offered:
        if name in SUBPROTOCOLS:
            return name
    return None


def _redact(action: str, payload: Any) -> Any:
    if (
        action == "ChangeConfiguration"
        and isinstance(payload, dict)
        and payload.get("key") == "AuthorizationKey"
    ):
        return {**payload, "value": "********"}
    if isinstance(payload, dict) and services.basic_auth_password(action, payload) is not None:
        return {
            **payload,
            "setVariableData": [
                {**item, "attributeValue": "********"}
                if (item.get("variable") or {}).get("name") == "BasicAuthPassword"
                else item
                for item in payload["setVariableData"]
            ],
        }
    return payload


_layer_failure_logged = 0.0


def layer_failure_log() -> None:
    """One warning a minute for the process, not one per connection, while the channel layer is down."""
    global _layer_failure_logged
    if time.monotonic() - _layer_failure_logged >= 60:
        _layer_failure_logged = time.monotonic()
        logger.warning("the channel layer cannot be read; station commands wait until it can", exc_info=True)


class OcppConsumer(AsyncWebsocketConsumer):
    """One station's WebSocket connection."""

    station_id: int | None = None

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        """Channels' consumer loop without its task per frame. Channels waits for the WebSocket and
        the channel layer together (`asyncio.wait`) and starts a new task for the next frame after
        each one: a task, a coroutine and their context per frame, alive until the station's next
        frame seconds or minutes later, so the cycle collector promoted them into its old
        generations and, as they piled up, stopped the event loop for full collections
        (docs/performance.md). Here the frames are awaited directly, and the channel layer (a few
        messages a day per station) by one task for the connection's life; both hand their messages
        to `dispatch` one at a time, as Channels does."""
        self.scope = scope
        self.channel_layer = get_channel_layer(self.channel_layer_alias)
        self.channel_name = await self.channel_layer.new_channel()
        self.base_send = send
        self.dispatching = asyncio.Lock()
        layer = asyncio.ensure_future(self.layer_receive())
        try:
            while True:
                message = await receive()
                async with self.dispatching:
                    await self.dispatch(message)
        except StopConsumer:
            pass
        finally:
            layer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await layer

    async def layer_receive(self) -> None:
        """The channel layer's messages for this connection (commands waiting, replaced), one at a
        time between frames. A failing handler, or a channel layer that cannot be read, is logged and
        the connection stays up (its commands stay queued in the database)."""
        while True:
            try:
                message = await self.channel_layer.receive(self.channel_name)
            except Exception:
                layer_failure_log()
                await asyncio.sleep(LAYER_RETRY_SECONDS)
                continue
            async with self.dispatching:
                try:
                    await self.dispatch(message)
                except Exception:
                    logger.exception(
                        "channel layer message %s for %s failed", message.get("type"), self.scope["path"]
                    )

    async def dispatch(self, message: dict) -> None:
        # Channels' own dispatch first closes "old" database connections, a hop to its one shared
        # database thread for every frame; this consumer's database work runs on the group commit's
        # threads, which look after their own connections.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def websocket_disconnect(self, message: dict) -> None:
        await self.disconnect(message["code"])  # no groups to leave, no thread hop (see dispatch)
        raise StopConsumer()

    async def connect(self) -> None:
        self.identity = self.scope["url_route"]["kwargs"]["identity"]
        username, password = basic_credentials(self.scope.get("headers", []))
        client = self.scope.get("client") or ("", 0)
        try:
            station = await BATCH.db_call(
                services.station_connect_authenticate,
                identity=self.identity,
                username=username,
                password=password,
                remote_address=str(client[0]),
                client_subject=client_certificate_subject(self.scope),
            )
        except services.StationError as exc:
            logger.info("refused %s from %s: %s", self.identity, client[0], exc)
            locked = exc if isinstance(exc, services.StationAuthLocked) else None
            await handshake_refuse(
                self,
                status=429 if locked else 401,
                message=str(exc),
                retry_after=locked.retry_after if locked else 0,
            )
            return
        subprotocol = subprotocol_choose(self.scope.get("subprotocols", []))
        if subprotocol is None:
            # OCPP-J §3.2: complete the handshake without a subprotocol, then close at once. (With
            # 1000: daphne/autobahn let an application send only 1000 or 3000-4999, never 1002.)
            await self.accept()
            await self.close(code=CLOSE_NO_SUBPROTOCOL)
            return
        await self.accept(subprotocol=subprotocol)
        self.version = SUBPROTOCOLS[subprotocol]
        self.station_id = station.pk
        self.lenient = station.lenient
        self.heartbeat_interval = station.heartbeat_interval or settings.OCPP_HEARTBEAT_INTERVAL
        # A station that booted Accepted before may reconnect without a new BootNotification
        # (1.6 J §5.4 "SHOULD NOT resend"); one that never booted must boot first.
        accepted = station.registration_status == Station.RegistrationStatus.ACCEPTED
        self.registration: str | None = (
            station.registration_status if accepted and station.last_boot_at else None
        )
        self.triggered: set[str] = set()
        self.tasks: set[asyncio.Task] = set()
        self.in_actions: dict[str, str] = {}
        self.out_actions: dict[str, str] = {}
        self.last_seen = timezone.now()
        # Liveness is written by the process-wide batch at most every seen_every seconds.
        self.last_flushed_seen = self.last_seen
        self.seen_every = min(30.0, self.heartbeat_interval / 2)
        self.seen_flushed_at = time.monotonic()
        self.drain_task: asyncio.Task | None = None
        # The task feeding queued CALLs to the library, while there are some (see serve()).
        self.serve_task: asyncio.Task | None = None
        self.drain_again = False
        self.command_in_flight: int | None = None
        self.connection = QueueConnection(self.send_frame)
        self.cp = CHARGE_POINTS[self.version](
            self.identity,
            self.connection,
            station_id=station.pk,
            response_timeout=settings.OCPP_CALL_TIMEOUT,
            on_registration=self.registration_set,
        )
        self.cp.logger = library_logger
        BATCH.attach(self)
        # The presence write is not awaited here: Channels hands this consumer no frame before
        # connect() returns, and in a reconnect storm thousands of presence writes queue at the
        # writer, so a BootNotification that waited behind them would time out at the station
        # instead of being paced with Pending at once. The write still enters the writer's queue
        # before any frame of this connection can (both go through the same FIFO), so nothing the
        # connection stores is committed before it.
        self.spawn(self.presence_record())

    async def presence_record(self) -> None:
        """Record the connection (which node and channel hold the station); the connection it
        replaces is told to go; the commands waiting for the station start to flow."""
        assert self.station_id is not None
        previous, previous_node = await BATCH.run(
            services.station_connected,
            station_id=self.station_id,
            channel_name=self.channel_name,
            node=NODE,
            ocpp_version=self.version,
        )
        # The new authenticated connection wins; the old one, perhaps half-open, is told to go. Not
        # when its process has ended (after a crash nothing holds its socket, and a storm would send
        # thousands of notices to channels no one reads), and at most: a full channel (a process
        # that died on another machine) or a layer error must not keep the station's commands back.
        if previous and not node_gone(previous_node):
            try:
                await self.channel_layer.send(previous, {"type": "station.replaced"})
            except ChannelFull:
                logger.info("%s: its previous connection's channel is full (no one reads it)", self.identity)
            except Exception:
                logger.warning(
                    "%s: could not tell its previous connection to close", self.identity, exc_info=True
                )
        if self.registration is not None:
            self.commands_drain()

    # --- incoming frames -------------------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.station_id is None:
            return
        text = text_data if text_data is not None else (bytes_data or b"").decode("utf-8", "replace")
        self.last_seen = timezone.now()  # any frame is proof of life (2.0.1 G02.FR.04)
        if len(text) > settings.OCPP_MAX_FRAME_BYTES or len(text.encode()) > settings.OCPP_MAX_FRAME_BYTES:
            # Never parse an oversize frame; answer it with the id read from its head, if any.
            # (daphne/autobahn only let an application close with 1000 or 3000-4999, not 1009.)
            self.log("in", text[:2000])
            head = OVERSIZE_ID.match(text[:100])
            await self.send_frame(
                call_error(
                    head.group(1) if head else "-1",
                    ErrorCode.formation(self.version),
                    f"frame exceeds {settings.OCPP_MAX_FRAME_BYTES} bytes",
                )
            )
            return
        try:
            frame = frame_parse(text, version=self.version)
        except FrameError as exc:
            self.log("in", text)
            if exc.reply:
                await self.send_frame(exc.to_frame())
            return
        if frame.message_type in (CALLRESULT, CALLERROR):
            self.log(
                "in", text, frame.message_type, frame.message_id, self.out_actions.pop(frame.message_id, "")
            )
            await self.cp.route_message(text)  # only puts it on the library's response queue
            return
        self.log("in", text, CALL, frame.message_id, frame.action)
        error = self.call_check(frame.action, frame.message_id, frame.payload)
        if error is not None:
            await self.send_frame(error)
            return
        self.in_actions[frame.message_id] = frame.action
        if frame.action in getattr(self.cp, "RAW_ACTIONS", ()):
            # 2.0.1 handlers that store a message as sent read it from here (and take it out).
            self.cp.raw_calls[frame.message_id] = frame.payload
        self.connection.feed(nul_free(text, frame))
        if self.serve_task is None and not self.connection.closed:
            self.serve_task = self.spawn(self.serve())

    def call_check(self, action: str, message_id: str, payload: dict) -> str | None:
        """The CALLERROR frame for a CALL we must not serve, or None (serve it)."""
        # The boot gate comes before "not supported": a Pending station's NotifyEvent gets
        # SecurityError (2.0.1 B02.FR.09); only a name the version does not define is NotImplemented.
        known = action in KNOWN_ACTIONS[self.version]
        if known and not self.gate_allows(action):
            return call_error(
                message_id,
                ErrorCode.SECURITY_ERROR,
                f"{action} before the station's BootNotification was accepted",
            )
        try:
            action_check(action, version=self.version)
        except FrameError as exc:
            return call_error(message_id, exc.code, exc.description)
        violations = payload_violations(action, payload, version=self.version)
        if not violations:
            return None
        if self.lenient and all(v.harmless for v in violations):
            self.spawn(
                BATCH.run(
                    services.protocol_violation_record,
                    station_id=self.station_id,
                    action=action,
                    message_id=message_id,
                    causes=[v.cause for v in violations],
                )
            )
            return None
        first = violations[0]
        return call_error(message_id, first.code, first.cause, {"violations": len(violations)})

    def gate_allows(self, action: str) -> bool:
        # Before Accepted only BootNotification (1.6 errata 3.10; 2.0.1 B01.FR.10/B02.FR.09), plus, while
        # Pending, what the CSMS asked for with TriggerMessage (B02.FR.02).
        if action == "BootNotification" or self.registration == Station.RegistrationStatus.ACCEPTED:
            return True
        return self.registration == Station.RegistrationStatus.PENDING and action in self.triggered

    def registration_set(self, status: str) -> None:
        self.registration = status
        if status != Station.RegistrationStatus.PENDING:
            self.triggered.clear()
        if status in (Station.RegistrationStatus.ACCEPTED, Station.RegistrationStatus.PENDING):
            self.commands_drain()

    # --- outgoing frames ---------------------------------------------------------------------------

    async def send_frame(self, text: str) -> None:
        """Send one frame (ours or the library's), logged, with 1.6 error names restored. An answer
        to a station's CALL waits until the frames received before it are committed to the log."""
        try:
            message = json.loads(text)
        except ValueError:
            message = []
        message_type = message[0] if message else None
        message_id = str(message[1]) if len(message) > 1 else ""
        action = ""
        if message_type == CALLERROR and self.version == "1.6" and message[2] in ("FormatViolation",):
            message[2] = ErrorCode.formation("1.6")
            text = json.dumps(message, separators=(",", ":"))
        if message_type == CALL:
            action = message[2]
            self.out_actions[message_id] = action
            logged = json.dumps(
                [CALL, message_id, action, _redact(action, message[3])], separators=(",", ":")
            )
        else:
            action = self.in_actions.pop(message_id, "")
            logged = text
        if message_type in (CALLRESULT, CALLERROR):
            await BATCH.durable(self.station_id)
        self.log("out", logged, message_type, message_id, action)
        await self.send(text_data=text)

    def log(
        self,
        direction: str,
        text: str,
        message_type: int | None = None,
        message_id: str = "",
        action: str = "",
    ) -> None:
        ocpp_frame_logged(
            connection=self,
            direction=direction,
            message_type=message_type,
            message_id=message_id,
            action=action,
        )
        BATCH.append(
            {
                "station_id": self.station_id,
                "identity": self.identity[:48],
                "direction": direction,
                "message_type": message_type,
                "message_id": message_id[:64],
                "action": action[:50],
                "payload": text,
            }
        )

    # --- background work ---------------------------------------------------------------------------

    def spawn(self, coroutine: Any) -> asyncio.Task:
        task = asyncio.ensure_future(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    async def serve(self) -> None:
        """Feed the queued CALLs to the library's ChargePoint, one at a time in arrival order, and
        end when none is left (receive() starts it again with the next CALL): an idle station holds
        no task, where the library's own start() loop would wait in one for ever. A crash closes the
        socket (never a silent dead loop)."""
        try:
            while (message := self.connection.next()) is not None:
                await self.cp.route_message(message)
        except ConnectionClosed:
            pass
        except Exception:
            logger.exception("OCPP handler loop of %s crashed", self.identity)
            self.connection.close()
            await self.close(code=CLOSE_INTERNAL_ERROR)
        finally:
            self.serve_task = None

    # --- commands ----------------------------------------------------------------------------------

    async def station_commands(self, event: dict) -> None:
        """channel-layer nudge from command_dispatch: there is something in the queue."""
        if self.station_id is not None and self.registration is not None:
            self.commands_drain()

    async def station_replaced(self, event: dict) -> None:
        # No answer will be read from this socket any more: a call in flight ends now.
        self.connection.close()
        await self.close(code=CLOSE_REPLACED)

    def commands_drain(self) -> None:
        if self.drain_task is not None and not self.drain_task.done():
            self.drain_again = True
            return
        self.drain_task = self.spawn(self.drain_loop())
        self.drain_task.add_done_callback(self.drain_done)

    def drain_done(self, task: asyncio.Task) -> None:
        # A finished task (and its coroutine) is not kept for the life of the connection.
        if self.drain_task is task:
            self.drain_task = None

    async def drain_loop(self) -> None:
        """Send queued commands one at a time (one outstanding CALL per station)."""
        while not self.connection.closed:
            self.drain_again = False
            if self.registration not in (
                Station.RegistrationStatus.ACCEPTED,
                Station.RegistrationStatus.PENDING,
            ):
                return
            if not await BATCH.db_call(commands_waiting, station_id=self.station_id):
                if self.drain_again:
                    continue
                return
            exclude = (
                PENDING_FORBIDDEN if self.registration == Station.RegistrationStatus.PENDING else frozenset()
            )
            command = await BATCH.run(
                services.command_claim_next, station_id=self.station_id, exclude_actions=exclude
            )
            if command is None:
                if self.drain_again:
                    continue
                return
            await self.command_run(command)

    async def command_run(self, command: Command) -> None:
        """Send one claimed command and record how it ended. `command_in_flight` stays set until the
        outcome is stored, so a disconnect that cancels this task still finalises the command."""
        if command.action in ("TriggerMessage", "ExtendedTriggerMessage"):
            # Allow the triggered message before the station's answer can race it.
            requested = str(command.payload.get("requestedMessage", ""))
            self.triggered.add(TRIGGERED_ACTIONS.get(requested, requested))
        if command.action in FOLLOW_UP_ACTIONS:
            self.triggered.add(FOLLOW_UP_ACTIONS[command.action])
        complete = functools.partial(BATCH.run_for, self.station_id, services.command_complete)
        self.command_in_flight = command.pk
        try:
            response = await self.cp.call_action(command.action, command.payload, command.message_id)
        except CallErrorReceived as exc:
            await complete(command_id=command.pk, error_code=exc.code, error_description=exc.description)
        except TimeoutError:
            await complete(command_id=command.pk, timed_out=True)
        except CallNotSent:
            # Claimed, but the socket closed before it went out: back in the queue for the next
            # connection.
            await BATCH.run_for(self.station_id, services.command_release, command_id=command.pk)
        except ConnectionClosed:
            await complete(command_id=command.pk, disconnected=True)
        else:
            await complete(command_id=command.pk, response=response)
        self.command_in_flight = None

    # --- closing -----------------------------------------------------------------------------------

    async def disconnect(self, code: int) -> None:
        if self.station_id is None:
            return
        # Closing the connection ends a call waiting for its answer at once (the command is marked
        # "station disconnected"); let the command loop record that, and finish a claim it has
        # running in a thread, before cancelling it: a cancelled claim would leave a command "sent".
        self.connection.close()
        if self.drain_task is not None and not self.drain_task.done():
            await asyncio.wait({self.drain_task}, timeout=SETTLE_SECONDS)
        for task in list(self.tasks):
            task.cancel()
        BATCH.detach(self)
        # In one commit with every frame logged so far: this connection's frames before its disconnect.
        await BATCH.run(
            services.station_disconnected,
            station_id=self.station_id,
            channel_name=self.channel_name,
            last_seen_at=self.last_seen,
            command_id=self.command_in_flight,  # still set only if its outcome was never stored
        )
