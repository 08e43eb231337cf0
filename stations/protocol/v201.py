"""OCPP 2.0.1 handlers: station → CSMS CALLs mapped onto the same stations services as 1.6 (one domain
model), and the 2.0.1-only reports (device model, events, monitoring, customer information, display
messages, charging limits and needs) onto the device model room (stations/devicemodel/).

As in v16.py, payloads arrive validated by the consumer's framing layer, handlers take **kwargs (the
library hands them snake_case keys, nested ones too) and answer only after their service committed.
Handlers that store a message as the station sent it read its original camelCase payload from
`raw_calls` (the consumer puts it there by message id; the library's case conversion would also
rewrite free-form data such as DataTransfer's).
"""

from typing import Any

from ocpp.routing import on
from ocpp.v201 import ChargePoint, call_result
from ocpp.v201.enums import Action

from stations import services
from stations.certificates import services as certificates
from stations.devicemodel import services as devicemodel
from stations.models import ChargingNotice
from stations.protocol.base import CentralSystemMixin
from stations.protocol.batch import BATCH
from stations.protocol.normalise import (
    camel_case,
    meter_values_normalise,
    timestamp_format,
    timestamp_parse,
)
from stations.protocol.v16 import VENDOR_HANDLERS, _station_security_event

# idToken types that name no card: nothing to authorize (2.0.1 IdTokenEnumType).
NO_CARD_TYPES = frozenset({"NoAuthorization"})


def id_token_info(decision: Any, tariff_text: dict[str, str] | None = None) -> dict[str, Any]:
    """The 2.0.1 idTokenInfo for an authorization decision (snake_case; the library converts), with
    the driver's tariff text as `personalMessage` (I02) when there is one."""
    info: dict[str, Any] = {"status": decision.status}
    if tariff_text is not None:
        info["personal_message"] = {
            "format": "UTF8",
            "language": tariff_text["language"][:8],
            "content": tariff_text["text"][:512],
        }
    if decision.expires_at:
        info["cache_expiry_date_time"] = timestamp_format(decision.expires_at)
    if decision.parent_id_tag:
        info["group_id_token"] = {"id_token": decision.parent_id_tag[:36], "type": "Central"}
    return info


def id_token_uid(id_token: dict | None) -> str:
    """The card uid of a 2.0.1 idToken object, or "" when it names no card."""
    if not id_token or id_token.get("type") in NO_CARD_TYPES:
        return ""
    return str(id_token.get("id_token") or "").strip()


class ChargePoint201(CentralSystemMixin, ChargePoint):
    """One connected OCPP 2.0.1 station."""

    # The actions whose handlers read the payload as sent (raw_calls); no other payload is kept.
    RAW_ACTIONS = frozenset(
        {
            "ClearedChargingLimit",
            "DataTransfer",
            "NotifyChargingLimit",
            "NotifyCustomerInformation",
            "NotifyDisplayMessages",
            "NotifyEVChargingNeeds",
            "NotifyEVChargingSchedule",
            "NotifyEvent",
            "NotifyMonitoringReport",
            "NotifyReport",
            "ReportChargingProfiles",
        }
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # message id → the CALL's payload as received (filled by the consumer, taken by the handler).
        self.raw_calls: dict[str, dict[str, Any]] = {}

    def raw(self, message_id: str) -> dict[str, Any]:
        return self.raw_calls.pop(message_id, None) or {}

    @on(Action.boot_notification, skip_schema_validation=True)
    async def on_boot_notification(self, charging_station: dict, **_: Any) -> call_result.BootNotification:
        modem = charging_station.get("modem") or {}
        info = {
            "charge_point_vendor": charging_station.get("vendor_name"),
            "charge_point_model": charging_station.get("model"),
            "charge_point_serial_number": charging_station.get("serial_number"),
            "firmware_version": charging_station.get("firmware_version"),
            "iccid": modem.get("iccid"),
            "imsi": modem.get("imsi"),
        }
        status, interval = await self.boot_record(info)
        return call_result.BootNotification(current_time=timestamp_format(), interval=interval, status=status)

    @on(Action.heartbeat, skip_schema_validation=True)
    async def on_heartbeat(self, **_: Any) -> call_result.Heartbeat:
        return call_result.Heartbeat(current_time=timestamp_format())

    @on(Action.status_notification, skip_schema_validation=True)
    async def on_status_notification(
        self, timestamp: str, connector_status: str, evse_id: int, connector_id: int, **_: Any
    ) -> call_result.StatusNotification:
        await self.committed(services.connector_status_record)(
            station_id=self.station_id,
            connector_id=evse_id,
            connector_number=connector_id,
            status=connector_status,
            timestamp=timestamp_parse(timestamp),
        )
        return call_result.StatusNotification()

    @on(Action.authorize, skip_schema_validation=True)
    async def on_authorize(
        self,
        id_token: dict,
        certificate: str | None = None,
        iso15118_certificate_hash_data: list | None = None,
        **_: Any,
    ) -> call_result.Authorize:
        uid = id_token_uid(id_token)
        if not uid:
            return call_result.Authorize(id_token_info={"status": "Accepted"})
        await self.remote_authorization_prefetch(uid)
        certificate_status = None
        if certificate or iso15118_certificate_hash_data:
            # C07: an EV's contract certificate (Plug & Charge); the library hands snake_case keys.
            hash_data = [
                {camel_case(key): value for key, value in item.items()}
                for item in iso15118_certificate_hash_data or []
            ]
            decision, certificate_status = await self.committed(certificates.contract_authorize)(
                station_id=self.station_id, uid=uid, certificate=certificate or "", hash_data=hash_data
            )
        else:
            decision = await self.committed(services.station_id_tag_authorize)(
                station_id=self.station_id, uid=uid, concurrency="other_stations"
            )
        return call_result.Authorize(
            id_token_info=id_token_info(decision, await self._tariff_text(decision, uid)),
            certificate_status=certificate_status,
        )

    async def _tariff_text(self, decision: Any, uid: str) -> dict[str, str] | None:
        """I02: an accepted driver is told the tariff's text (personalMessage)."""
        if not decision.accepted:
            return None
        return await BATCH.db_call(services.station_id_token_tariff_text, station_id=self.station_id, uid=uid)

    @on(Action.transaction_event, skip_schema_validation=True)
    async def on_transaction_event(
        self,
        event_type: str,
        timestamp: str,
        transaction_info: dict,
        seq_no: int,
        evse: dict | None = None,
        id_token: dict | None = None,
        meter_value: list | None = None,
        reservation_id: int | None = None,
        trigger_reason: str = "",
        **_: Any,  # offline (queued events are processed as any other), numberOfPhases …
    ) -> call_result.TransactionEvent:
        uid = id_token_uid(id_token)
        await self.remote_authorization_prefetch(uid)
        session, decision = await self.committed(services.transaction_event_record)(
            station_id=self.station_id,
            event_type=event_type,
            transaction_id=str(transaction_info["transaction_id"]),
            timestamp=timestamp_parse(timestamp),
            evse_id=(evse or {}).get("id"),
            connector_id=(evse or {}).get("connector_id"),
            id_tag=uid,
            samples=meter_values_normalise(meter_value or []),
            stopped_reason=transaction_info.get("stopped_reason") or "",
            reservation_id=reservation_id,
            seq_no=seq_no,
            remote_start_id=transaction_info.get("remote_start_id"),
            trigger_reason=trigger_reason,
        )
        answer: dict[str, Any] = {}
        if event_type == "Ended":
            # I02: the session's final cost, the figure the driver sees (billing's pricing).
            cost = await BATCH.db_call(services.session_total_cost, session_id=session.pk)
            if cost is not None:
                answer["total_cost"] = float(cost)
        if decision is not None:
            answer["id_token_info"] = id_token_info(decision, await self._tariff_text(decision, uid))
        elif id_token:  # an idToken naming no card (NoAuthorization) still gets its idTokenInfo
            answer["id_token_info"] = {"status": "Accepted"}
        return call_result.TransactionEvent(**answer)

    @on(Action.meter_values, skip_schema_validation=True)
    async def on_meter_values(self, evse_id: int, meter_value: list, **_: Any) -> call_result.MeterValues:
        await self.committed(services.meter_values_record)(
            station_id=self.station_id,
            connector_id=evse_id,
            transaction_id=None,
            samples=meter_values_normalise(meter_value),
        )
        return call_result.MeterValues()

    # --- B Provisioning: the device model ----------------------------------------------------------

    @on(Action.notify_report, skip_schema_validation=True)
    async def on_notify_report(self, call_unique_id: str, **_: Any) -> call_result.NotifyReport:
        payload = self.raw(call_unique_id)
        await self.committed(devicemodel.device_report_record)(station_id=self.station_id, payload=payload)
        return call_result.NotifyReport()

    # --- N Diagnostics and monitoring ------------------------------------------------------------

    @on(Action.notify_event, skip_schema_validation=True)
    async def on_notify_event(self, call_unique_id: str, **_: Any) -> call_result.NotifyEvent:
        payload = self.raw(call_unique_id)
        await self.committed(devicemodel.device_events_record)(station_id=self.station_id, payload=payload)
        return call_result.NotifyEvent()

    @on(Action.notify_monitoring_report, skip_schema_validation=True)
    async def on_notify_monitoring_report(
        self, call_unique_id: str, **_: Any
    ) -> call_result.NotifyMonitoringReport:
        payload = self.raw(call_unique_id)
        await self.committed(devicemodel.monitoring_report_record)(
            station_id=self.station_id, payload=payload
        )
        return call_result.NotifyMonitoringReport()

    @on(Action.notify_customer_information, skip_schema_validation=True)
    async def on_notify_customer_information(
        self, call_unique_id: str, **_: Any
    ) -> call_result.NotifyCustomerInformation:
        payload = self.raw(call_unique_id)
        await self.committed(devicemodel.customer_information_record)(
            station_id=self.station_id, payload=payload
        )
        return call_result.NotifyCustomerInformation()

    @on(Action.log_status_notification, skip_schema_validation=True)
    async def on_log_status_notification(self, status: str, request_id: int | None = None, **_: Any):
        await self.committed(services.station_report_status)(
            station_id=self.station_id, kind="log", status=status, request_id=request_id
        )
        return call_result.LogStatusNotification()

    # --- A Security ---------------------------------------------------------------------------------

    @on(Action.security_event_notification, skip_schema_validation=True)
    async def on_security_event_notification(
        self, type: str, timestamp: str, tech_info: str | None = None, **_: Any
    ) -> call_result.SecurityEventNotification:
        await self.committed(_station_security_event)(
            station_id=self.station_id,
            type=type,
            timestamp=timestamp_parse(timestamp),
            tech_info=tech_info or "",
        )
        return call_result.SecurityEventNotification()

    # --- L Firmware ---------------------------------------------------------------------------------

    @on(Action.firmware_status_notification, skip_schema_validation=True)
    async def on_firmware_status_notification(self, status: str, request_id: int | None = None, **_: Any):
        await self.committed(services.station_report_status)(
            station_id=self.station_id, kind="firmware", status=status, request_id=request_id
        )
        return call_result.FirmwareStatusNotification()

    @on(Action.publish_firmware_status_notification, skip_schema_validation=True)
    async def on_publish_firmware_status_notification(
        self, status: str, request_id: int | None = None, location: list[str] | None = None, **_: Any
    ):
        await self.committed(services.station_publish_status_report)(
            station_id=self.station_id, status=status, request_id=request_id, locations=location
        )
        return call_result.PublishFirmwareStatusNotification()

    # --- H Reservation -----------------------------------------------------------------------------

    @on(Action.reservation_status_update, skip_schema_validation=True)
    async def on_reservation_status_update(
        self, reservation_id: int, reservation_update_status: str, **_: Any
    ) -> call_result.ReservationStatusUpdate:
        await self.committed(devicemodel.reservation_status_update)(
            station_id=self.station_id, reservation_id=reservation_id, status=reservation_update_status
        )
        return call_result.ReservationStatusUpdate()

    # --- K Smart charging: stored and published for the smart-charging room -----------------------

    async def _charging_notice(self, kind: str, message_id: str) -> None:
        payload = self.raw(message_id)
        await self.committed(devicemodel.charging_notice_record)(
            station_id=self.station_id, kind=kind, payload=payload
        )

    @on(Action.notify_charging_limit, skip_schema_validation=True)
    async def on_notify_charging_limit(
        self, call_unique_id: str, **_: Any
    ) -> call_result.NotifyChargingLimit:
        await self._charging_notice(ChargingNotice.Kind.CHARGING_LIMIT, call_unique_id)
        return call_result.NotifyChargingLimit()

    @on(Action.cleared_charging_limit, skip_schema_validation=True)
    async def on_cleared_charging_limit(
        self, call_unique_id: str, **_: Any
    ) -> call_result.ClearedChargingLimit:
        await self._charging_notice(ChargingNotice.Kind.LIMIT_CLEARED, call_unique_id)
        return call_result.ClearedChargingLimit()

    @on(Action.notify_ev_charging_needs, skip_schema_validation=True)
    async def on_notify_ev_charging_needs(
        self, call_unique_id: str, **_: Any
    ) -> call_result.NotifyEVChargingNeeds:
        # K15: Accepted when a charging profile will follow, Rejected when none can (smart charging
        # decides, see devicemodel.charging_needs_answer_register).
        status = await self.committed(devicemodel.ev_charging_needs_record)(
            station_id=self.station_id, payload=self.raw(call_unique_id)
        )
        return call_result.NotifyEVChargingNeeds(status=status)

    @on(Action.notify_ev_charging_schedule, skip_schema_validation=True)
    async def on_notify_ev_charging_schedule(
        self, call_unique_id: str, **_: Any
    ) -> call_result.NotifyEVChargingSchedule:
        # K15.FR.11/12: Accepted within the schedule the CSMS gave, Rejected (and renegotiated) beyond.
        status = await self.committed(devicemodel.ev_charging_schedule_record)(
            station_id=self.station_id, payload=self.raw(call_unique_id)
        )
        return call_result.NotifyEVChargingSchedule(status=status)

    @on(Action.report_charging_profiles, skip_schema_validation=True)
    async def on_report_charging_profiles(
        self, call_unique_id: str, **_: Any
    ) -> call_result.ReportChargingProfiles:
        await self._charging_notice(ChargingNotice.Kind.PROFILES, call_unique_id)
        return call_result.ReportChargingProfiles()

    # --- O Display messages ------------------------------------------------------------------------

    @on(Action.notify_display_messages, skip_schema_validation=True)
    async def on_notify_display_messages(
        self, call_unique_id: str, **_: Any
    ) -> call_result.NotifyDisplayMessages:
        payload = self.raw(call_unique_id)
        await self.committed(devicemodel.display_messages_record)(station_id=self.station_id, payload=payload)
        return call_result.NotifyDisplayMessages()

    # --- P DataTransfer ----------------------------------------------------------------------------

    @on(Action.data_transfer, skip_schema_validation=True)
    async def on_data_transfer(
        self, call_unique_id: str, vendor_id: str, **_: Any
    ) -> call_result.DataTransfer:
        payload = self.raw(call_unique_id)
        handler = VENDOR_HANDLERS.get(vendor_id)
        if handler is None:
            return call_result.DataTransfer(status="UnknownVendorId")
        status, reply = await self.committed(handler)(
            self.station_id, payload.get("messageId") or "", payload.get("data")
        )
        return call_result.DataTransfer(status=status, data=reply)

    # --- A Security / M ISO 15118 certificate management (docs/security.md) ---------------------

    @on(Action.sign_certificate, skip_schema_validation=True)
    async def on_sign_certificate(
        self, csr: str, certificate_type: str | None = None, **_: Any
    ) -> call_result.SignCertificate:
        result = await self.committed(certificates.certificate_sign_request)(
            station_id=self.station_id, csr=csr, certificate_type=certificate_type
        )
        info = {"reasonCode": result.reason_code, "additionalInfo": result.reason[:512]}
        return call_result.SignCertificate(status=result.status, status_info=info if result.reason else None)

    @on(Action.get_15118_ev_certificate, skip_schema_validation=True)
    async def on_get_15118_ev_certificate(
        self, iso15118_schema_version: str, action: str, exi_request: str, **_: Any
    ) -> call_result.Get15118EVCertificate:
        answer = await self.committed(certificates.ev_certificate_get)(
            station_id=self.station_id,
            schema_version=iso15118_schema_version,
            action=action,
            exi_request=exi_request,
        )
        return call_result.Get15118EVCertificate(
            status=answer["status"],
            exi_response=answer.get("exiResponse", ""),
            status_info=answer.get("statusInfo"),
        )

    @on(Action.get_certificate_status, skip_schema_validation=True)
    async def on_get_certificate_status(
        self, ocsp_request_data: dict, **_: Any
    ) -> call_result.GetCertificateStatus:
        # The library hands nested keys in snake_case; the provider speaks OCPP's camelCase.
        request = {camel_case(key): value for key, value in ocsp_request_data.items()}
        answer = await self.committed(certificates.certificate_status_get)(
            station_id=self.station_id, ocsp_request=request
        )
        return call_result.GetCertificateStatus(
            status=answer["status"],
            ocsp_result=answer.get("ocspResult"),
            status_info=answer.get("statusInfo"),
        )
