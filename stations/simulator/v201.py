"""A simulated OCPP 2.0.1 charging station, for `manage.py simulate --ocpp-version 2.0.1`, the demo and tests.

`Simulated201Station` offers the interface `DemoBehaviour` drives (connect, boot, status_all,
heartbeat, session_start, fault, recover, close …), so a fleet may mix 1.6 and 2.0.1 stations. It
keeps a small device model and reports it (GetBaseReport → NotifyReport), answers Get/SetVariables
from it, reports every status change with StatusNotification and NotifyEvent, runs sessions as
TransactionEvent Started/Updated/Ended with seqNo and meter values, and starts and stops them on
RequestStart/StopTransaction. It updates its firmware (UpdateFirmware → FirmwareStatusNotification
steps, then a reboot into the new version), uploads logs (GetLog → LogStatusNotification), asks for a
certificate (SignCertificate with a real CSR, CertificateSigned) and keeps the ones installed. It
reports its variable monitors (GetMonitoringReport → NotifyMonitoringReport) and what it holds about
an id token, its sessions (CustomerInformation → NotifyCustomerInformation, erased on clear). While
the network is away sessions go on and their TransactionEvents are queued; after the next accepted
boot they are sent in order with `offline` true and their seqNo. Like the 1.6 simulator it imports
nothing from Django.
"""

import asyncio
import base64
import logging
import random
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from ocpp.routing import on
from ocpp.v201 import ChargePoint, call, call_result
from ocpp.v201.enums import Action
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from stations.simulator import operations
from stations.simulator.profiles import FollowsProfiles
from stations.simulator.profiles import parse_time as _parse_time
from stations.simulator.station import cancel_and_wait, now_iso

logger = logging.getLogger("stations.simulator")

SUBPROTOCOL = "ocpp2.0.1"


@dataclass
class Connector201:
    """EVSE `connector_id` with one connector (number 1), its meter and its transaction."""

    connector_id: int
    status: str = "Available"
    energy_wh: float = 0.0
    power_w: float = 0.0
    transaction_id: str | None = None
    id_tag: str | None = None
    seq_no: int = 0
    remote_start_id: int | None = None
    faulted: bool = False
    started_at: datetime | None = None
    ends_at: float = 0.0  # time.monotonic() when the driver unplugs


@dataclass
class BootAnswer:
    status: str
    interval: int


@dataclass
class Variable:
    value: str
    mutability: str = "ReadWrite"
    unit: str = ""
    data_type: str = "string"


def default_device_model(evses: int) -> dict[tuple[str, int | None, str], Variable]:
    """(component, EVSE id, variable) → Variable: what a small AC charger reports."""
    model: dict[tuple[str, int | None, str], Variable] = {
        ("ChargingStation", None, "Model"): Variable("SIM-201", "ReadOnly"),
        ("ChargingStation", None, "VendorName"): Variable("ChargeNet Simulator", "ReadOnly"),
        ("OCPPCommCtrlr", None, "HeartbeatInterval"): Variable("300", unit="s", data_type="integer"),
        ("SampledDataCtrlr", None, "TxUpdatedInterval"): Variable("10", unit="s", data_type="integer"),
        ("AuthCtrlr", None, "Enabled"): Variable("true", data_type="boolean"),
        ("AuthCtrlr", None, "AuthorizeRemoteStart"): Variable("false", data_type="boolean"),
        ("TxCtrlr", None, "EVConnectionTimeOut"): Variable("60", unit="s", data_type="integer"),
    }
    for evse in range(1, evses + 1):
        model[("EVSE", evse, "AvailabilityState")] = Variable("Available", "ReadOnly")
        model[("EVSE", evse, "Power")] = Variable("0", "ReadOnly", unit="W", data_type="decimal")
    return model


class _StationCP(ChargePoint):
    """The library's ChargePoint on the station side: routes the CSMS's CALLs to the station."""

    def __init__(self, station: "Simulated201Station", ws: Any) -> None:
        super().__init__(station.identity, ws, response_timeout=30)
        self.station = station

    @on(Action.set_charging_profile)
    async def on_set_charging_profile(self, evse_id: int, charging_profile: dict, **_: Any):
        return call_result.SetChargingProfile(
            status=self.station.charging_profile_set(evse_id, charging_profile)
        )

    @on(Action.clear_charging_profile)
    async def on_clear_charging_profile(
        self, charging_profile_id: int | None = None, charging_profile_criteria: dict | None = None, **_: Any
    ):
        status = self.station.charging_profile_clear(charging_profile_id, charging_profile_criteria or {})
        return call_result.ClearChargingProfile(status=status)

    async def _handle_call(self, msg: Any) -> Any:
        self.station.received.append((msg.action, msg.payload))
        return await super()._handle_call(msg)

    @on(Action.get_base_report)
    async def on_get_base_report(self, request_id: int, report_base: str, **_: Any):
        self.station._spawn(self.station.report_send(request_id))
        return call_result.GetBaseReport(status="Accepted")

    @on(Action.get_variables)
    async def on_get_variables(self, get_variable_data: list, **_: Any):
        return call_result.GetVariables(
            get_variable_result=[self.station.variable_get(i) for i in get_variable_data]
        )

    @on(Action.set_variables)
    async def on_set_variables(self, set_variable_data: list, **_: Any):
        return call_result.SetVariables(
            set_variable_result=[self.station.variable_set(i) for i in set_variable_data]
        )

    @on(Action.request_start_transaction)
    async def on_request_start_transaction(
        self, id_token: dict, remote_start_id: int, evse_id: int | None = None, **_: Any
    ):
        idle = [c for c in self.station.idle_connectors() if evse_id in (None, c.connector_id)]
        if not idle:
            return call_result.RequestStartTransaction(status="Rejected")
        connector = idle[0]
        self.station._spawn(
            self.station.session_start(
                connector.connector_id,
                id_token["id_token"],
                duration=self.station.remote_session_duration(),
                remote_start_id=remote_start_id,
            )
        )
        return call_result.RequestStartTransaction(status="Accepted")

    @on(Action.request_stop_transaction)
    async def on_request_stop_transaction(self, transaction_id: str, **_: Any):
        for connector in self.station.connectors.values():
            if connector.transaction_id == transaction_id:
                self.station._spawn(self.station.session_stop(connector.connector_id, "Remote", "RemoteStop"))
                return call_result.RequestStopTransaction(status="Accepted")
        return call_result.RequestStopTransaction(status="Rejected")

    @on(Action.get_transaction_status)
    async def on_get_transaction_status(self, transaction_id: str | None = None, **_: Any):
        ongoing = any(c.transaction_id == transaction_id for c in self.station.connectors.values())
        return call_result.GetTransactionStatus(messages_in_queue=False, ongoing_indicator=ongoing)

    @on(Action.trigger_message)
    async def on_trigger_message(self, requested_message: str, evse: dict | None = None, **_: Any):
        if requested_message == "Heartbeat":
            self.station._spawn(self.station.heartbeat())
        elif requested_message == "StatusNotification":
            self.station._spawn(self.station.status_all())
        elif requested_message == "BootNotification":
            self.station._spawn(self.station.boot())
        elif requested_message in ("SignChargingStationCertificate", "SignV2GCertificate"):
            kind = requested_message.removeprefix("Sign")
            self.station._spawn(self.station.sign_certificate(kind))
        elif requested_message == "FirmwareStatusNotification":
            self.station._spawn(self.station.firmware_status_send(self.station.firmware_status))
        elif requested_message == "LogStatusNotification":
            self.station._spawn(self.station._call(call.LogStatusNotification(status="Idle")))
        else:
            return call_result.TriggerMessage(status="NotImplemented")
        return call_result.TriggerMessage(status="Accepted")

    @on(Action.reset)
    async def on_reset(self, type: str, **_: Any):
        return call_result.Reset(status="Accepted")

    @on(Action.change_availability)
    async def on_change_availability(self, operational_status: str, **_: Any):
        return call_result.ChangeAvailability(status="Accepted")

    @on(Action.unlock_connector)
    async def on_unlock_connector(self, evse_id: int, connector_id: int, **_: Any):
        return call_result.UnlockConnector(status="Unlocked")

    @on(Action.clear_cache)
    async def on_clear_cache(self, **_: Any):
        return call_result.ClearCache(status="Accepted")

    @on(Action.set_display_message)
    async def on_set_display_message(self, message: dict, **_: Any):
        self.station.display_messages[int(message["id"])] = message
        return call_result.SetDisplayMessage(status="Accepted")

    @on(Action.reserve_now)
    async def on_reserve_now(self, id: int, **_: Any):
        return call_result.ReserveNow(status="Accepted")

    @on(Action.cancel_reservation)
    async def on_cancel_reservation(self, reservation_id: int, **_: Any):
        return call_result.CancelReservation(status="Accepted")

    @on(Action.data_transfer)
    async def on_data_transfer(self, vendor_id: str, **_: Any):
        return call_result.DataTransfer(status="UnknownVendorId")

    @on(Action.cost_updated)
    async def on_cost_updated(self, total_cost: float, transaction_id: str, **_: Any):
        self.station.running_costs[transaction_id] = total_cost
        return call_result.CostUpdated()

    @on(Action.set_variable_monitoring)
    async def on_set_variable_monitoring(self, set_monitoring_data: list, **_: Any):
        results = []
        for item in set_monitoring_data:
            monitor_id = item.get("id") or max(self.station.monitors, default=999) + 1
            self.station.monitors[monitor_id] = item
            results.append(
                {
                    "id": monitor_id,
                    "status": "Accepted",
                    "type": item["type"],
                    "severity": item["severity"],
                    "component": item["component"],
                    "variable": item["variable"],
                }
            )
        return call_result.SetVariableMonitoring(set_monitoring_result=results)

    @on(Action.clear_variable_monitoring)
    async def on_clear_variable_monitoring(self, id: list, **_: Any):
        results = [
            {"id": i, "status": "Accepted" if self.station.monitors.pop(i, None) is not None else "NotFound"}
            for i in id
        ]
        return call_result.ClearVariableMonitoring(clear_monitoring_result=results)

    @on(Action.get_monitoring_report)
    async def on_get_monitoring_report(
        self,
        request_id: int,
        monitoring_criteria: list | None = None,
        component_variable: list | None = None,
        **_: Any,
    ):
        monitors = self.station.monitors_matching(monitoring_criteria or [], component_variable or [])
        if not monitors:
            return call_result.GetMonitoringReport(status="EmptyResultSet")
        self.station._spawn(self.station.monitoring_report_send(request_id, monitors))
        return call_result.GetMonitoringReport(status="Accepted")

    @on(Action.set_monitoring_base)
    async def on_set_monitoring_base(self, monitoring_base: str, **_: Any):
        return call_result.SetMonitoringBase(status="Accepted")

    @on(Action.set_monitoring_level)
    async def on_set_monitoring_level(self, severity: int, **_: Any):
        return call_result.SetMonitoringLevel(status="Accepted")

    @on(Action.update_firmware)
    async def on_update_firmware(self, request_id: int, firmware: dict, **_: Any):
        station = self.station
        retrieve = firmware.get("retrieve_date_time")
        station.firmware_request_id = request_id
        steps = station._firmware_steps(
            _parse_time(retrieve) if retrieve else None,
            station.firmware_status_send,
            firmware.get("location", ""),
            verified=bool(firmware.get("signature")),
        )
        station._spawn(steps())
        return call_result.UpdateFirmware(status="Accepted")

    @on(Action.get_log)
    async def on_get_log(self, log: dict, log_type: str, request_id: int, **_: Any):
        name = f"{log_type.lower()}-{self.station.identity}-{request_id}.log"
        self.station._spawn(self.station.log_upload(log.get("remote_location", ""), name, request_id))
        return call_result.GetLog(status="Accepted", filename=name)

    @on(Action.certificate_signed)
    async def on_certificate_signed(
        self, certificate_chain: str, certificate_type: str = "ChargingStationCertificate", **_: Any
    ):
        if "BEGIN CERTIFICATE" not in certificate_chain:
            return call_result.CertificateSigned(status="Rejected")
        self.station.certificates.append({"type": certificate_type, "pem": certificate_chain})
        return call_result.CertificateSigned(status="Accepted")

    @on(Action.install_certificate)
    async def on_install_certificate(self, certificate_type: str, certificate: str, **_: Any):
        self.station.certificates.append({"type": certificate_type, "pem": certificate})
        return call_result.InstallCertificate(status="Accepted")

    @on(Action.get_installed_certificate_ids)
    async def on_get_installed_certificate_ids(self, certificate_type: list | None = None, **_: Any):
        # The station's own ChargingStationCertificate is not listed; its V2G one is a V2GCertificateChain.
        uses = {"V2GCertificate": "V2GCertificateChain"}
        listed = [(uses.get(c["type"], c["type"]), c["pem"]) for c in self.station.certificates]
        chain = [
            {"certificate_type": use, "certificate_hash_data": operations.certificate_hash_data(pem)}
            for use, pem in listed
            if use != "ChargingStationCertificate" and (not certificate_type or use in certificate_type)
        ]
        if not chain:
            return call_result.GetInstalledCertificateIds(status="NotFound")
        return call_result.GetInstalledCertificateIds(status="Accepted", certificate_hash_data_chain=chain)

    @on(Action.delete_certificate)
    async def on_delete_certificate(self, certificate_hash_data: dict, **_: Any):
        serial = certificate_hash_data.get("serial_number")
        for certificate in list(self.station.certificates):
            if operations.certificate_hash_data(certificate["pem"])["serial_number"] == serial:
                self.station.certificates.remove(certificate)
                return call_result.DeleteCertificate(status="Accepted")
        return call_result.DeleteCertificate(status="NotFound")

    @on(Action.customer_information)
    async def on_customer_information(
        self,
        request_id: int,
        report: bool,
        clear: bool,
        id_token: dict | None = None,
        customer_identifier: str | None = None,
        customer_certificate: dict | None = None,
        **_: Any,
    ):
        if not (id_token or customer_identifier or customer_certificate):
            return call_result.CustomerInformation(status="Invalid")
        # It keeps data about id tokens only (its sessions); other customers it knows nothing of.
        uid = (id_token or {}).get("id_token", "")
        held = list(self.station.customer_data.get(uid, [])) if uid else []
        if clear and uid:
            self.station.customer_data.pop(uid, None)
        if report:
            self.station._spawn(self.station.customer_information_send(request_id, held))
        return call_result.CustomerInformation(status="Accepted")


@dataclass
class Simulated201Station(operations.FleetOperations, FollowsProfiles):
    """One simulated OCPP 2.0.1 charging station (see the module docstring)."""

    url: str
    identity: str
    password: str | None = None
    evses: int = 2
    meter_interval: float = 10.0
    rng: random.Random = field(default_factory=random.Random)
    ocpp_version: str = "2.0.1"
    vendor: str = "ChargeNet Simulator"
    model: str = "SIM-201"
    firmware_version: str = "1.0.0"
    organization: str | None = None  # the O of its CSR (a CSMS may require its operator's name)

    def __post_init__(self) -> None:
        self.endpoint = self.url.rstrip("/") + "/" + self.identity
        self.connectors = {n: Connector201(n) for n in range(1, self.evses + 1)}
        self.device_model = default_device_model(self.evses)
        self.display_messages: dict[int, dict] = {}
        self.running_costs: dict[str, float] = {}  # transactionId → the last CostUpdated
        self.monitors: dict[int, dict] = {}
        # What it holds about each id token (CustomerInformation reports and clears it): its sessions.
        self.customer_data: dict[str, list[str]] = {}
        # Installed charging profiles in the 1.6 simulator's shape (FollowsProfiles), and the EV.
        self.charging_profiles: list[dict[str, Any]] = []
        self.ev_max_current_a: float | None = None
        self.ev_phases = 3
        self.heartbeat_interval = 300.0
        self.disconnected = asyncio.Event()
        self.supervised = False
        self.remote_session_duration = lambda: 120.0
        self._tasks: set[asyncio.Task] = set()
        self._ws: Any = None
        self._cp: _StationCP | None = None
        self._reader: asyncio.Task | None = None
        self._event_id = 0
        self._boot_reason = "PowerUp"
        self.received: list[tuple[str, dict]] = []  # every CSMS CALL: (action, payload as on the wire)
        # Fleet operations (operations.FleetOperations): pauses between steps, failure shares, files.
        self.firmware_status = "Idle"
        self.firmware_request_id: int | None = None
        self.step_delay = 0.2
        self.reboot_delay = 0.5
        self.firmware_download_failure_rate = 0.0
        self.upload_failure_rate = 0.0  # log uploads that fail (UploadFailure)
        self.firmware_install_failure_rate = 0.0
        self.firmware_downloads: list[bytes] = []
        self.uploads: list[tuple[str, str]] = []
        self.certificates: list[dict[str, str]] = []  # {"type": certificateType, "pem": …}
        self._key: ec.EllipticCurvePrivateKey | None = None
        # TransactionEvents generated while offline (or whose sending failed), sent after the next boot.
        self.offline_queue: list[call.TransactionEvent] = []

    # --- connection ----------------------------------------------------------------------------------

    async def connect(self, *, open_timeout: float = 10.0) -> None:
        headers = {}
        if self.password is not None:
            token = base64.b64encode(f"{self.identity}:{self.password}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        ws = await ws_connect(
            self.endpoint,
            subprotocols=[Subprotocol(SUBPROTOCOL)],
            additional_headers=headers,
            open_timeout=open_timeout,
            compression=None,
        )
        if ws.subprotocol != SUBPROTOCOL:
            await ws.close()
            raise ConnectionError(f"the CSMS did not accept subprotocol {SUBPROTOCOL}")
        self._ws, self._cp = ws, _StationCP(self, ws)
        self.disconnected.clear()
        self._reader = asyncio.create_task(self._read(self._cp))

    async def _read(self, cp: _StationCP) -> None:
        try:
            await cp.start()
        except Exception as exc:
            if not type(exc).__name__.startswith("ConnectionClosed"):
                logger.warning("%s: reader stopped: %r", self.identity, exc)
        finally:
            if self._cp is cp:
                self.disconnected.set()

    @property
    def connected(self) -> bool:
        return self._cp is not None and not self.disconnected.is_set()

    async def close(self) -> None:
        await cancel_and_wait([t for t in self._tasks if t is not asyncio.current_task()])
        await self.network_down()

    async def network_down(self) -> None:
        """The connection goes but the station does not: sessions charge on, and their
        TransactionEvents wait in `offline_queue` until the next accepted boot."""
        ws, reader, self._ws, self._cp = self._ws, self._reader, None, None
        self.disconnected.set()
        if ws is not None:
            await ws.close()
        if reader is not None and reader is not asyncio.current_task():
            await cancel_and_wait([reader])

    async def reboot(self, reason: str = "Reboot") -> None:
        """Restart (after a firmware update): running sessions end, the connection drops; unless a
        behaviour loop supervises the station it reconnects, boots with `reason` and reports."""
        for connector in self.connectors.values():
            if connector.transaction_id is not None:
                await self.session_stop(connector.connector_id, "Reboot", "ResetCommand")
        await asyncio.sleep(0.05)  # let the last frames leave before the socket goes
        self._boot_reason = reason
        await self.close()
        if self.supervised:
            return
        await asyncio.sleep(self.reboot_delay)
        await self.connect()
        await self.boot()
        await self.status_all()

    def _spawn(self, coro: Any) -> asyncio.Task:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _call(self, payload: Any) -> Any:
        if self._cp is None or not self.connected:
            raise ConnectionError("not connected")
        return await self._cp.call(payload)

    # --- messages ------------------------------------------------------------------------------------

    async def boot(self) -> BootAnswer:
        answer = await self._call(
            call.BootNotification(
                charging_station={
                    "vendor_name": self.vendor,
                    "model": self.model,
                    "firmware_version": self.firmware_version,
                },
                reason=self._boot_reason,
            )
        )
        if answer.status == "Accepted":
            self._boot_reason = "PowerUp"
            self.heartbeat_interval = float(answer.interval or 300)
            self.device_model[("OCPPCommCtrlr", None, "HeartbeatInterval")].value = str(answer.interval)
            await self.offline_replay()
        return BootAnswer(answer.status, answer.interval)

    async def offline_replay(self) -> None:
        """Send the queued TransactionEvents in the order they happened (E12: offline ones carry
        `offline` true); one the CSMS does not answer stays queued."""
        while self.offline_queue:
            await self._call(self.offline_queue[0])
            self.offline_queue.pop(0)

    async def firmware_status_send(self, status: str) -> None:
        self.firmware_status = status
        await self._call(call.FirmwareStatusNotification(status=status, request_id=self.firmware_request_id))

    async def log_upload(self, location: str, name: str, request_id: int) -> None:
        """GetLog's follow-up: Uploading, the file sent to `location`, Uploaded or UploadFailure."""
        await asyncio.sleep(self.step_delay)
        await self._call(call.LogStatusNotification(status="Uploading", request_id=request_id))
        uploaded = await self._upload_file(location, name)
        await asyncio.sleep(self.step_delay)
        status = "Uploaded" if uploaded else "UploadFailure"
        await self._call(call.LogStatusNotification(status=status, request_id=request_id))

    def _diagnostics_content(self) -> bytes:
        lines = [f"{now_iso()} {self.identity} {self.vendor} {self.model} firmware {self.firmware_version}"]
        for c in self.connectors.values():
            lines.append(f"{now_iso()} EVSE {c.connector_id} {c.status} {int(c.energy_wh)} Wh")
        return ("\n".join(lines) + "\n").encode()

    def csr(self) -> str:
        """A PKCS#10 request for the station's own EC P-256 key, CN = the identity (A02/A03)."""
        if self._key is None:
            self._key = ec.generate_private_key(ec.SECP256R1())
        attributes = [x509.NameAttribute(NameOID.COMMON_NAME, self.identity)]
        if self.organization:
            attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, self.organization))
        subject = x509.Name(attributes)
        request = (
            x509.CertificateSigningRequestBuilder().subject_name(subject).sign(self._key, hashes.SHA256())
        )
        return request.public_bytes(serialization.Encoding.PEM).decode()

    async def sign_certificate(self, certificate_type: str = "ChargingStationCertificate") -> str:
        """SignCertificate with a fresh CSR; the CSMS's status (the certificate follows in CertificateSigned)."""
        answer = await self._call(call.SignCertificate(csr=self.csr(), certificate_type=certificate_type))
        return str(answer.status)

    async def heartbeat(self) -> None:
        await self._call(call.Heartbeat())

    async def status_all(self) -> None:
        for connector in self.connectors.values():
            await self._status(connector)

    def resume_sessions(self) -> None:
        """After a reconnect the sessions that were charging go on until their driver unplugs."""
        for connector in self.connectors.values():
            if connector.transaction_id is not None:
                remaining = max(0.0, connector.ends_at - time.monotonic())
                self._spawn(self._charge(connector, connector.transaction_id, remaining))

    async def _status(self, connector: Connector201) -> None:
        status = "Faulted" if connector.faulted else "Occupied" if connector.transaction_id else "Available"
        connector.status = status
        self.device_model[("EVSE", connector.connector_id, "AvailabilityState")].value = status
        if not self.connected:
            return  # status_all after the next boot reports it
        await self._call(
            call.StatusNotification(
                timestamp=now_iso(), connector_status=status, evse_id=connector.connector_id, connector_id=1
            )
        )
        await self._notify_event(connector.connector_id, "AvailabilityState", status)

    async def _notify_event(self, evse_id: int, variable: str, value: str, **extra: Any) -> None:
        self._event_id += 1
        if not self.connected:
            return
        await self._call(
            call.NotifyEvent(
                generated_at=now_iso(),
                seq_no=0,
                event_data=[
                    {
                        "event_id": self._event_id,
                        "timestamp": now_iso(),
                        "trigger": extra.pop("trigger", "Delta"),
                        "actual_value": value,
                        "event_notification_type": "HardWiredNotification",
                        "component": {
                            "name": "EVSE" if variable != "Problem" else "Connector",
                            "evse": {"id": evse_id},
                        },
                        "variable": {"name": variable},
                        **extra,
                    }
                ],
            )
        )

    async def report_send(self, request_id: int) -> None:
        """The device model as one NotifyReport per component kind (tbc until the last)."""
        items = list(self.device_model.items())
        chunks = [items[i : i + 5] for i in range(0, len(items), 5)]
        for seq_no, chunk in enumerate(chunks):
            report_data = []
            for (component, evse, name), variable in chunk:
                component_data: dict[str, Any] = {"name": component}
                if evse is not None:
                    component_data["evse"] = {"id": evse}
                report_data.append(
                    {
                        "component": component_data,
                        "variable": {"name": name},
                        "variable_attribute": [
                            {"type": "Actual", "value": variable.value, "mutability": variable.mutability}
                        ],
                        "variable_characteristics": {
                            "data_type": variable.data_type,
                            "supports_monitoring": False,
                            **({"unit": variable.unit} if variable.unit else {}),
                        },
                    }
                )
            await self._call(
                call.NotifyReport(
                    request_id=request_id,
                    generated_at=now_iso(),
                    seq_no=seq_no,
                    tbc=seq_no < len(chunks) - 1,
                    report_data=report_data,
                )
            )

    def monitors_matching(
        self, criteria: list[str], component_variables: list[dict]
    ) -> list[tuple[int, dict]]:
        """Its monitors of the criteria's kinds on the named components (and variables), by id."""
        kinds = {
            "ThresholdMonitoring": ("UpperThreshold", "LowerThreshold"),
            "DeltaMonitoring": ("Delta",),
            "PeriodicMonitoring": ("Periodic", "PeriodicClockAligned"),
        }
        types = {t for c in criteria for t in kinds.get(c, ())}

        def named(monitor: dict, wanted: dict) -> bool:
            component, asked = monitor.get("component") or {}, wanted.get("component") or {}
            if component.get("name") != asked.get("name"):
                return False
            evse = (asked.get("evse") or {}).get("id")
            if evse is not None and (component.get("evse") or {}).get("id") != evse:
                return False
            variable = (wanted.get("variable") or {}).get("name")
            return variable is None or (monitor.get("variable") or {}).get("name") == variable

        return [
            (monitor_id, monitor)
            for monitor_id, monitor in sorted(self.monitors.items())
            if (not types or monitor["type"] in types)
            and (not component_variables or any(named(monitor, w) for w in component_variables))
        ]

    async def monitoring_report_send(self, request_id: int, monitors: list[tuple[int, dict]]) -> None:
        """NotifyMonitoringReport: the monitors grouped per component and variable, a few per part."""
        grouped: dict[str, dict[str, Any]] = {}
        for monitor_id, monitor in monitors:
            key = repr((monitor["component"], monitor["variable"]))
            entry = grouped.setdefault(
                key,
                {
                    "component": monitor["component"],
                    "variable": monitor["variable"],
                    "variable_monitoring": [],
                },
            )
            entry["variable_monitoring"].append(
                {
                    "id": monitor_id,
                    "transaction": bool(monitor.get("transaction", False)),
                    "value": monitor["value"],
                    "type": monitor["type"],
                    "severity": monitor["severity"],
                }
            )
        items = list(grouped.values())
        chunks = [items[i : i + 4] for i in range(0, len(items), 4)]
        for seq_no, chunk in enumerate(chunks):
            await self._call(
                call.NotifyMonitoringReport(
                    request_id=request_id,
                    seq_no=seq_no,
                    generated_at=now_iso(),
                    tbc=seq_no < len(chunks) - 1,
                    monitor=chunk,
                )
            )

    async def customer_information_send(self, request_id: int, held: list[str]) -> None:
        """NotifyCustomerInformation: what it held, in parts of at most 512 characters (one empty
        part when it held nothing)."""
        text = "\n".join(held)
        parts = [text[i : i + 512] for i in range(0, len(text), 512)] or [""]
        for seq_no, part in enumerate(parts):
            await self._call(
                call.NotifyCustomerInformation(
                    data=part,
                    seq_no=seq_no,
                    generated_at=now_iso(),
                    request_id=request_id,
                    tbc=seq_no < len(parts) - 1,
                )
            )

    def _variable(self, item: dict) -> tuple[tuple[str, int | None, str], Variable | None]:
        component = item.get("component") or {}
        key = (component.get("name", ""), (component.get("evse") or {}).get("id"), item["variable"]["name"])
        return key, self.device_model.get(key)

    def variable_get(self, item: dict) -> dict:
        _, variable = self._variable(item)
        result = {"component": item["component"], "variable": item["variable"]}
        if variable is None or variable.mutability == "WriteOnly":
            return {**result, "attribute_status": "UnknownVariable" if variable is None else "Rejected"}
        return {**result, "attribute_status": "Accepted", "attribute_value": variable.value}

    def variable_set(self, item: dict) -> dict:
        _, variable = self._variable(item)
        result = {"component": item["component"], "variable": item["variable"]}
        if variable is None:
            return {**result, "attribute_status": "UnknownVariable"}
        value = str(item["attribute_value"])
        if variable.mutability == "ReadOnly" or (variable.data_type == "integer" and not value.isdigit()):
            return {**result, "attribute_status": "Rejected"}
        variable.value = value
        return {**result, "attribute_status": "Accepted"}

    # --- sessions ------------------------------------------------------------------------------------

    def idle_connectors(self) -> list[Connector201]:
        return [c for c in self.connectors.values() if c.status == "Available" and c.transaction_id is None]

    def _meter(self, connector: Connector201, context: str) -> list[dict]:
        return [
            {
                "timestamp": now_iso(),
                "sampled_value": [
                    {"value": round(connector.energy_wh), "context": context,
                     "measurand": "Energy.Active.Import.Register", "unit_of_measure": {"unit": "Wh"}},
                    {"value": round(self.present_power_w(connector)), "context": context,
                     "measurand": "Power.Active.Import", "unit_of_measure": {"unit": "W"}},
                ],
            }
        ]  # fmt: skip

    async def _transaction_event(
        self, connector: Connector201, event_type: str, trigger: str, **extra: Any
    ) -> Any:
        """Send a TransactionEvent; offline (or when the connection fails under it) queue it for
        `offline_replay` and return None."""
        info: dict[str, Any] = {"transaction_id": connector.transaction_id, **extra.pop("info", {})}
        event = call.TransactionEvent(
            event_type=event_type,
            timestamp=now_iso(),
            trigger_reason=trigger,
            seq_no=connector.seq_no,
            transaction_info=info,
            evse={"id": connector.connector_id, "connector_id": 1},
            offline=None if self.connected else True,
            **extra,
        )
        connector.seq_no += 1
        if self.offline_queue or not self.connected:
            self.offline_queue.append(event)  # after those queued before it: order is kept
            return None
        try:
            return await self._call(event)
        except (ConnectionError, ConnectionClosed):
            self.offline_queue.append(event)
            return None

    async def session_start(
        self,
        connector_id: int,
        id_tag: str,
        *,
        power_w: float | None = None,
        authorize: bool = False,
        duration: float | None = None,
        remote_start_id: int | None = None,
    ) -> str | None:
        """Authorize (optionally), then TransactionEvent Started; meter values every meter_interval
        (Updated) until `duration` has passed, then Ended. Returns the transaction id or None."""
        connector = self.connectors[connector_id]
        token = {"id_token": id_tag, "type": "ISO14443"}
        if authorize:
            answer = await self._call(call.Authorize(id_token=token))
            if answer.id_token_info["status"] != "Accepted":
                return None
        connector.transaction_id, connector.id_tag, connector.seq_no = uuid.uuid4().hex[:20], id_tag, 0
        self.customer_data.setdefault(id_tag, []).append(
            f"{now_iso()} transaction {connector.transaction_id} started on EVSE {connector_id}"
        )
        connector.power_w = power_w or self.rng.uniform(7000, 11000)
        connector.started_at = datetime.now(UTC)
        info: dict[str, Any] = {"charging_state": "Charging"}
        if remote_start_id is not None:
            info["remote_start_id"] = remote_start_id
        await self._transaction_event(
            connector,
            "Started",
            "RemoteStart" if remote_start_id is not None else "Authorized",
            id_token=token,
            meter_value=self._meter(connector, "Transaction.Begin"),
            info=info,
        )
        await self._status(connector)
        self._spawn(self._charge(connector, connector.transaction_id, duration or 120.0))
        return connector.transaction_id

    async def _charge(self, connector: Connector201, transaction_id: str, duration: float) -> None:
        ends = connector.ends_at = time.monotonic() + duration
        last = time.monotonic()
        while connector.transaction_id == transaction_id and time.monotonic() < ends:
            await asyncio.sleep(min(self.meter_interval, max(0.0, ends - time.monotonic())))
            now = time.monotonic()
            connector.energy_wh += self.present_power_w(connector) * (now - last) / 3600
            last = now
            if connector.transaction_id != transaction_id:
                return
            power = str(round(self.present_power_w(connector)))
            self.device_model[("EVSE", connector.connector_id, "Power")].value = power
            await self._transaction_event(
                connector,
                "Updated",
                "MeterValuePeriodic",
                meter_value=self._meter(connector, "Sample.Periodic"),
            )
        if connector.transaction_id == transaction_id:
            await self.session_stop(connector.connector_id, "Local", "StopAuthorized")

    async def session_stop(
        self, connector_id: int, reason: str = "Local", trigger: str = "StopAuthorized"
    ) -> None:
        connector = self.connectors[connector_id]
        if connector.transaction_id is None:
            return
        await self._transaction_event(
            connector,
            "Ended",
            trigger,
            meter_value=self._meter(connector, "Transaction.End"),
            info={"stopped_reason": reason},
        )
        if connector.id_tag in self.customer_data:
            self.customer_data[connector.id_tag].append(
                f"{now_iso()} transaction {connector.transaction_id} ended ({reason}), "
                f"meter {round(connector.energy_wh)} Wh"
            )
        connector.transaction_id, connector.id_tag, connector.power_w = None, None, 0.0
        # A TxProfile ends with its transaction (as in 1.6 §3.13.4).
        self.charging_profiles = [
            p
            for p in self.charging_profiles
            if not (p["connector_id"] == connector_id and p["charging_profile_purpose"] == "TxProfile")
        ]
        await self._status(connector)

    # --- smart charging --------------------------------------------------------------------------------

    def charging_profile_set(self, evse_id: int, profile: dict[str, Any]) -> str:
        """SetChargingProfile (K01): kept in the 1.6 shape; one with the same id, or the same stack
        level and purpose on the same EVSE, is replaced (K01.FR.05)."""
        if evse_id != 0 and evse_id not in self.connectors:
            return "Rejected"
        purpose = profile.get("charging_profile_purpose")
        if purpose == "TxProfile" and (evse_id == 0 or self.connectors[evse_id].transaction_id is None):
            return "Rejected"
        schedules = profile.get("charging_schedule") or [{}]
        shaped = {
            **profile,
            "connector_id": evse_id,
            "charging_profile_id": profile.get("id"),
            "charging_profile_purpose": (
                "ChargePointMaxProfile" if purpose == "ChargingStationMaxProfile" else purpose
            ),
            "charging_schedule": schedules[0],
        }
        self.charging_profiles = [
            p
            for p in self.charging_profiles
            if p["charging_profile_id"] != shaped["charging_profile_id"]
            and not (
                p["connector_id"] == evse_id
                and p["charging_profile_purpose"] == shaped["charging_profile_purpose"]
                and p.get("stack_level") == shaped.get("stack_level")
            )
        ]
        self.charging_profiles.append(shaped)
        return "Accepted"

    def charging_profile_clear(self, profile_id: int | None, criteria: dict[str, Any]) -> str:
        """ClearChargingProfile (K10): by id, or by EVSE / purpose / stack level."""
        purpose = criteria.get("charging_profile_purpose")
        if purpose == "ChargingStationMaxProfile":
            purpose = "ChargePointMaxProfile"

        def matches(p: dict[str, Any]) -> bool:
            if profile_id is not None:
                return bool(p["charging_profile_id"] == profile_id)
            return (
                criteria.get("evse_id") in (None, p["connector_id"])
                and purpose in (None, p["charging_profile_purpose"])
                and criteria.get("stack_level") in (None, p.get("stack_level"))
            )

        kept = [p for p in self.charging_profiles if not matches(p)]
        cleared = len(kept) != len(self.charging_profiles)
        self.charging_profiles = kept
        return "Accepted" if cleared else "Unknown"

    async def charging_needs_send(
        self,
        evse_id: int,
        *,
        energy_wh: int,
        departure: datetime,
        max_current_a: float = 32.0,
        transfer: str = "AC_three_phase",
    ) -> str:
        """The EV tells its needs over ISO 15118 (NotifyEVChargingNeeds, K15); returns the CSMS's status."""
        answer = await self._call(
            call.NotifyEVChargingNeeds(
                evse_id=evse_id,
                charging_needs={
                    "requested_energy_transfer": transfer,
                    "departure_time": departure.astimezone(UTC).isoformat().replace("+00:00", "Z"),
                    "ac_charging_parameters": {
                        "energy_amount": energy_wh,
                        "ev_min_current": 6,
                        "ev_max_current": round(max_current_a),
                        "ev_max_voltage": 400,
                    },
                },
            )
        )
        return str(answer.status)

    async def fault(self, connector_id: int, code: str) -> None:
        connector = self.connectors[connector_id]
        connector.faulted = True
        await self._notify_event(connector_id, "Problem", "true", trigger="Alerting", tech_code=code)
        await self._status(connector)

    async def recover(self, connector_id: int) -> None:
        connector = self.connectors[connector_id]
        connector.faulted = False
        await self._notify_event(connector_id, "Problem", "false", trigger="Alerting", cleared=True)
        await self._status(connector)
