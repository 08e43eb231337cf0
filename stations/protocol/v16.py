"""OCPP 1.6-J handlers: station → CSMS CALLs mapped onto the stations services.

Payloads arrive validated by the consumer's framing layer (with the version's own error codes and the
lenient mode), so every route skips the library's validation. Handlers take **kwargs because a new
optional field must not crash them (ocpp issues #222, #721). Every handler that writes answers only
after its service's transaction committed.
"""

from collections.abc import Callable
from typing import Any

from ocpp.routing import on
from ocpp.v16 import ChargePoint, call_result
from ocpp.v16.datatypes import IdTagInfo
from ocpp.v16.enums import Action

from stations import services
from stations.certificates.services import certificate_sign_request
from stations.protocol.base import CentralSystemMixin
from stations.protocol.normalise import meter_values_normalise, timestamp_format, timestamp_parse

# DataTransfer vendor handlers: vendor id → fn(station_id, message_id, data) -> (status, data).
# None is registered: every vendor id gets UnknownVendorId (1.6 §4.3).
VENDOR_HANDLERS: dict[str, Callable[[int, str, str | None], tuple[str, str | None]]] = {}


def id_tag_info(decision: Any) -> IdTagInfo:
    return IdTagInfo(
        status=decision.status,
        parent_id_tag=(decision.parent_id_tag or None) and decision.parent_id_tag[:20],
        expiry_date=timestamp_format(decision.expires_at) if decision.expires_at else None,
    )


class ChargePoint16(CentralSystemMixin, ChargePoint):
    """One connected OCPP 1.6 station."""

    @on(Action.boot_notification, skip_schema_validation=True)
    async def on_boot_notification(self, **info: Any) -> call_result.BootNotification:
        status, interval = await self.boot_record(info)
        return call_result.BootNotification(current_time=timestamp_format(), interval=interval, status=status)

    @on(Action.heartbeat, skip_schema_validation=True)
    async def on_heartbeat(self, **_: Any) -> call_result.Heartbeat:
        # Liveness is recorded by the consumer for every frame; a Heartbeat costs no write.
        return call_result.Heartbeat(current_time=timestamp_format())

    @on(Action.authorize, skip_schema_validation=True)
    async def on_authorize(self, id_tag: str, **_: Any) -> call_result.Authorize:
        await self.remote_authorization_prefetch(id_tag)
        decision = await self.committed(services.station_id_tag_authorize)(
            station_id=self.station_id, uid=id_tag
        )
        return call_result.Authorize(id_tag_info=id_tag_info(decision))

    @on(Action.start_transaction, skip_schema_validation=True)
    async def on_start_transaction(
        self, connector_id: int, id_tag: str, meter_start: int, timestamp: str, reservation_id=None, **_: Any
    ) -> call_result.StartTransaction:
        await self.remote_authorization_prefetch(id_tag)
        session, decision = await self.committed(services.session_start)(
            station_id=self.station_id,
            connector_id=connector_id,
            id_tag=id_tag,
            meter_start=meter_start,
            timestamp=timestamp_parse(timestamp),
            reservation_id=reservation_id,
        )
        return call_result.StartTransaction(
            transaction_id=int(session.transaction_id), id_tag_info=id_tag_info(decision)
        )

    @on(Action.stop_transaction, skip_schema_validation=True)
    async def on_stop_transaction(
        self,
        meter_stop: int,
        timestamp: str,
        transaction_id: int,
        reason: str | None = None,
        id_tag: str | None = None,
        transaction_data: list | None = None,
        **_: Any,
    ) -> call_result.StopTransaction:
        _, decision = await self.committed(services.session_stop)(
            station_id=self.station_id,
            transaction_id=transaction_id,
            meter_stop=meter_stop,
            timestamp=timestamp_parse(timestamp),
            id_tag=id_tag or "",
            reason=reason or "",
            samples=meter_values_normalise(transaction_data or []),
        )
        return call_result.StopTransaction(id_tag_info=id_tag_info(decision) if decision else None)

    @on(Action.meter_values, skip_schema_validation=True)
    async def on_meter_values(
        self, connector_id: int, meter_value: list, transaction_id: int | None = None, **_: Any
    ) -> call_result.MeterValues:
        await self.committed(services.meter_values_record)(
            station_id=self.station_id,
            connector_id=connector_id,
            transaction_id=transaction_id,
            samples=meter_values_normalise(meter_value),
        )
        return call_result.MeterValues()

    @on(Action.status_notification, skip_schema_validation=True)
    async def on_status_notification(
        self,
        connector_id: int,
        error_code: str,
        status: str,
        info: str | None = None,
        timestamp: str | None = None,
        vendor_error_code: str | None = None,
        **_: Any,
    ) -> call_result.StatusNotification:
        await self.committed(services.connector_status_record)(
            station_id=self.station_id,
            connector_id=connector_id,
            status=status,
            error_code=error_code,
            info=info or "",
            vendor_error_code=vendor_error_code or "",
            timestamp=timestamp_parse(timestamp) if timestamp else None,
        )
        return call_result.StatusNotification()

    @on(Action.data_transfer, skip_schema_validation=True)
    async def on_data_transfer(
        self, vendor_id: str, message_id: str | None = None, data: str | None = None, **_: Any
    ) -> call_result.DataTransfer:
        handler = VENDOR_HANDLERS.get(vendor_id)
        if handler is None:
            return call_result.DataTransfer(status="UnknownVendorId")
        status, reply = await self.committed(handler)(self.station_id, message_id or "", data)
        return call_result.DataTransfer(status=status, data=reply)

    @on(Action.diagnostics_status_notification, skip_schema_validation=True)
    async def on_diagnostics_status_notification(self, status: str, **_: Any):
        await self.committed(services.station_report_status)(
            station_id=self.station_id, kind="diagnostics", status=status
        )
        return call_result.DiagnosticsStatusNotification()

    @on(Action.firmware_status_notification, skip_schema_validation=True)
    async def on_firmware_status_notification(self, status: str, **_: Any):
        await self.committed(services.station_report_status)(
            station_id=self.station_id, kind="firmware", status=status
        )
        return call_result.FirmwareStatusNotification()

    @on(Action.signed_firmware_status_notification, skip_schema_validation=True)
    async def on_signed_firmware_status_notification(
        self, status: str, request_id: int | None = None, **_: Any
    ):
        await self.committed(services.station_report_status)(
            station_id=self.station_id, kind="firmware", status=status, request_id=request_id
        )
        return call_result.SignedFirmwareStatusNotification()

    @on(Action.log_status_notification, skip_schema_validation=True)
    async def on_log_status_notification(self, status: str, request_id: int | None = None, **_: Any):
        await self.committed(services.station_report_status)(
            station_id=self.station_id, kind="log", status=status, request_id=request_id
        )
        return call_result.LogStatusNotification()

    @on(Action.security_event_notification, skip_schema_validation=True)
    async def on_security_event_notification(
        self, type: str, timestamp: str, tech_info: str | None = None, **_: Any
    ):
        await self.committed(_station_security_event)(
            station_id=self.station_id,
            type=type,
            timestamp=timestamp_parse(timestamp),
            tech_info=tech_info or "",
        )
        return call_result.SecurityEventNotification()

    @on(Action.sign_certificate, skip_schema_validation=True)
    async def on_sign_certificate(self, csr: str, **_: Any) -> call_result.SignCertificate:
        # Signed by ChargeNet's CA; CertificateSigned follows as a durable command (docs/security.md).
        result = await self.committed(certificate_sign_request)(station_id=self.station_id, csr=csr)
        return call_result.SignCertificate(status=result.status)


def _station_security_event(*, station_id: int, type: str, timestamp: Any, tech_info: str) -> None:
    from stations.models import Station

    station = Station.objects.get(pk=station_id)
    services.security_event_record(
        identity=station.identity,
        station=station,
        source="station",
        type=type,
        tech_info=tech_info,
        timestamp=timestamp,
    )
