"""OCPP 2.0.1 handlers: the negotiation hook and the minimum a station needs to boot and stay
registered (BootNotification, Heartbeat, StatusNotification). ChargeNet's goal version is 1.6."""

from typing import Any

from channels.db import database_sync_to_async
from ocpp.routing import on
from ocpp.v201 import ChargePoint, call_result
from ocpp.v201.enums import Action

from stations import services
from stations.protocol.base import CentralSystemMixin
from stations.protocol.normalise import timestamp_format, timestamp_parse


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
        status, interval = await database_sync_to_async(services.station_boot)(
            station_id=self.station_id, info=info
        )
        self.on_registration(status)
        return call_result.BootNotification(current_time=timestamp_format(), interval=interval, status=status)

    @on(Action.heartbeat, skip_schema_validation=True)
    async def on_heartbeat(self, **_: Any) -> call_result.Heartbeat:
        return call_result.Heartbeat(current_time=timestamp_format())

    @on(Action.status_notification, skip_schema_validation=True)
    async def on_status_notification(
        self, timestamp: str, connector_status: str, evse_id: int, connector_id: int, **_: Any
    ) -> call_result.StatusNotification:
        await database_sync_to_async(services.connector_status_record)(
            station_id=self.station_id,
            connector_id=evse_id,
            status=connector_status,
            timestamp=timestamp_parse(timestamp),
        )
        return call_result.StatusNotification()
