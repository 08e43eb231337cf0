"""OCPP 2.0.1 handlers: station → CSMS CALLs mapped onto the same stations services as 1.6 (one domain
model): BootNotification, Heartbeat, StatusNotification, Authorize, TransactionEvent, MeterValues.

As in v16.py, payloads arrive validated by the consumer's framing layer, handlers take **kwargs (the
library hands them snake_case keys, nested ones too) and answer only after their service committed.
"""

from typing import Any

from ocpp.routing import on
from ocpp.v201 import ChargePoint, call_result
from ocpp.v201.enums import Action

from stations import services
from stations.certificates import services as certificates
from stations.protocol.base import CentralSystemMixin, committed
from stations.protocol.normalise import meter_values_normalise, timestamp_format, timestamp_parse

# idToken types that name no card: nothing to authorize (2.0.1 IdTokenEnumType).
NO_CARD_TYPES = frozenset({"NoAuthorization"})


def id_token_info(decision: Any) -> dict[str, Any]:
    """The 2.0.1 idTokenInfo for an authorization decision (snake_case; the library converts)."""
    info: dict[str, Any] = {"status": decision.status}
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
        await committed(services.connector_status_record)(
            station_id=self.station_id,
            connector_id=evse_id,
            connector_number=connector_id,
            status=connector_status,
            timestamp=timestamp_parse(timestamp),
        )
        return call_result.StatusNotification()

    @on(Action.authorize, skip_schema_validation=True)
    async def on_authorize(self, id_token: dict, **_: Any) -> call_result.Authorize:
        uid = id_token_uid(id_token)
        if not uid:
            return call_result.Authorize(id_token_info={"status": "Accepted"})
        decision = await committed(services.station_id_tag_authorize)(station_id=self.station_id, uid=uid)
        return call_result.Authorize(id_token_info=id_token_info(decision))

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
        **_: Any,  # triggerReason, offline (queued events are processed as any other), numberOfPhases …
    ) -> call_result.TransactionEvent:
        uid = id_token_uid(id_token)
        _, decision = await committed(services.transaction_event_record)(
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
        )
        if decision is not None:
            return call_result.TransactionEvent(id_token_info=id_token_info(decision))
        if id_token:  # an idToken naming no card (NoAuthorization) still gets its idTokenInfo
            return call_result.TransactionEvent(id_token_info={"status": "Accepted"})
        return call_result.TransactionEvent()

    @on(Action.meter_values, skip_schema_validation=True)
    async def on_meter_values(self, evse_id: int, meter_value: list, **_: Any) -> call_result.MeterValues:
        await committed(services.meter_values_record)(
            station_id=self.station_id,
            connector_id=evse_id,
            transaction_id=None,
            samples=meter_values_normalise(meter_value),
        )
        return call_result.MeterValues()

    # --- A Security / M ISO 15118 certificate management (docs/security.md) ---------------------

    @on(Action.sign_certificate, skip_schema_validation=True)
    async def on_sign_certificate(
        self, csr: str, certificate_type: str | None = None, **_: Any
    ) -> call_result.SignCertificate:
        result = await committed(certificates.certificate_sign_request)(
            station_id=self.station_id, csr=csr, certificate_type=certificate_type
        )
        info = {"reasonCode": result.reason_code, "additionalInfo": result.reason[:512]}
        return call_result.SignCertificate(status=result.status, status_info=info if result.reason else None)

    @on(Action.get_15118_ev_certificate, skip_schema_validation=True)
    async def on_get_15118_ev_certificate(
        self, iso15118_schema_version: str, action: str, exi_request: str, **_: Any
    ) -> call_result.Get15118EVCertificate:
        answer = await committed(certificates.ev_certificate_get)(
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
        request = {_camel(key): value for key, value in ocsp_request_data.items()}
        answer = await committed(certificates.certificate_status_get)(
            station_id=self.station_id, ocsp_request=request
        )
        return call_result.GetCertificateStatus(
            status=answer["status"],
            ocsp_result=answer.get("ocspResult"),
            status_info=answer.get("statusInfo"),
        )


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)
