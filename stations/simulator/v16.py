"""The OCPP 1.6 binding of the simulator: the configuration keys of a 1.6 charger, and the library's
ChargePoint that records every CALL the CSMS sends and routes it to the station's answer.

A simulator of another OCPP version gets a module like this one next to it.
"""

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ocpp import exceptions as ocpp_exceptions
from ocpp.routing import on
from ocpp.v16 import ChargePoint as ChargePoint16
from websockets.asyncio.client import ClientConnection

if TYPE_CHECKING:
    from stations.simulator.station import SimulatedStation

# The library logs every frame at INFO; give it its own logger so callers can quieten it.
wire_logger = logging.getLogger("stations.simulator.wire")


def _ocpp_error(code: str, description: str) -> ocpp_exceptions.OCPPError:
    for cls in ocpp_exceptions.OCPPError.__subclasses__():
        if getattr(cls, "code", None) == code:
            return cls(description=description)
    return ocpp_exceptions.GenericError(description=description)


@dataclass
class ReceivedCall:
    """A CALL the CSMS sent to this station, as it came over the wire (camelCase payload)."""

    action: str
    payload: dict[str, Any]
    unique_id: str
    at: datetime


def default_configuration(connectors: int) -> dict[str, list]:
    """The configuration keys of a typical 1.6 charger: key -> [value, readonly]."""
    profiles = "Core,FirmwareManagement,LocalAuthListManagement,Reservation,SmartCharging,RemoteTrigger"
    return {
        "AllowOfflineTxForUnknownId": ["false", False],
        "AuthorizationCacheEnabled": ["true", False],
        "AuthorizeRemoteTxRequests": ["false", False],
        "ChargeProfileMaxStackLevel": ["10", True],
        "ChargingScheduleAllowedChargingRateUnit": ["Current,Power", True],
        "ChargingScheduleMaxPeriods": ["24", True],
        "ClockAlignedDataInterval": ["0", False],
        "ConnectionTimeOut": ["60", False],
        "GetConfigurationMaxKeys": ["50", True],
        "HeartbeatInterval": ["300", False],
        "LocalAuthListEnabled": ["true", False],
        "LocalAuthListMaxLength": ["1000", True],
        "LocalAuthorizeOffline": ["true", False],
        "LocalPreAuthorize": ["false", False],
        "MaxChargingProfilesInstalled": ["10", True],
        "MeterValueSampleInterval": ["60", False],
        "MeterValuesSampledData": ["Energy.Active.Import.Register,Power.Active.Import", False],
        "NumberOfConnectors": [str(connectors), True],
        "ReserveConnectorZeroSupported": ["true", True],
        "ResetRetries": ["3", False],
        "SecurityProfile": ["1", False],
        "SendLocalListMaxLength": ["100", True],
        "StopTransactionOnEVSideDisconnect": ["true", False],
        "StopTransactionOnInvalidId": ["true", False],
        "SupportedFeatureProfiles": [profiles, True],
        "TransactionMessageAttempts": ["3", False],
        "TransactionMessageRetryInterval": ["60", False],
        "UnlockConnectorOnEVSideDisconnect": ["true", False],
    }


INTEGER_KEYS = {
    "ClockAlignedDataInterval",
    "ConnectionTimeOut",
    "HeartbeatInterval",
    "MeterValueSampleInterval",
    "ResetRetries",
    "SecurityProfile",
    "TransactionMessageAttempts",
    "TransactionMessageRetryInterval",
}


class StationChargePoint(ChargePoint16):
    """The library's ChargePoint with one `@on` handler per CSMS→CP action, delegating to the station."""

    def __init__(self, station: "SimulatedStation", connection: ClientConnection):
        super().__init__(
            station.identity, connection, response_timeout=station.response_timeout, logger=wire_logger
        )
        self.station = station

    async def _handle_call(self, msg):
        station = self.station
        station.received.append(
            ReceivedCall(
                action=msg.action, payload=msg.payload, unique_id=msg.unique_id, at=datetime.now(UTC)
            )
        )
        station._followups = []
        delay = station.delays.get(msg.action)
        if delay:
            await asyncio.sleep(delay)
        code = station.errors.get(msg.action)
        if code:
            raise _ocpp_error(code, f"simulated {code} for {msg.action}")
        try:
            return await super()._handle_call(msg)
        finally:
            # Follow-up messages (the StartTransaction after a RemoteStart, the notification a
            # TriggerMessage asks for) go out only after the CALLRESULT has been sent.
            followups, station._followups = station._followups, []
            for followup in followups:
                station._spawn(followup())

    # Core
    @on("ChangeAvailability")
    def on_change_availability(self, **kw):
        return self.station._answer("ChangeAvailability", self.station._change_availability(**kw))

    @on("ChangeConfiguration")
    def on_change_configuration(self, **kw):
        return self.station._answer("ChangeConfiguration", self.station._change_configuration(**kw))

    @on("ClearCache")
    def on_clear_cache(self, **kw):
        return self.station._answer("ClearCache", {"status": "Accepted"})

    @on("DataTransfer")
    def on_data_transfer(self, **kw):
        return self.station._answer("DataTransfer", {"status": "Accepted"})

    @on("GetConfiguration")
    def on_get_configuration(self, **kw):
        return self.station._answer("GetConfiguration", self.station._get_configuration(**kw))

    @on("RemoteStartTransaction")
    def on_remote_start_transaction(self, **kw):
        return self.station._answer("RemoteStartTransaction", self.station._remote_start(**kw))

    @on("RemoteStopTransaction")
    def on_remote_stop_transaction(self, **kw):
        return self.station._answer("RemoteStopTransaction", self.station._remote_stop(**kw))

    @on("Reset")
    def on_reset(self, **kw):
        return self.station._answer("Reset", self.station._reset(**kw))

    @on("UnlockConnector")
    def on_unlock_connector(self, **kw):
        return self.station._answer("UnlockConnector", self.station._unlock(**kw))

    # Firmware management
    @on("GetDiagnostics")
    def on_get_diagnostics(self, **kw):
        return self.station._answer("GetDiagnostics", self.station._get_diagnostics(**kw))

    @on("UpdateFirmware")
    def on_update_firmware(self, **kw):
        return self.station._answer("UpdateFirmware", self.station._update_firmware(**kw))

    # Local authorization list management
    @on("GetLocalListVersion")
    def on_get_local_list_version(self, **kw):
        return self.station._answer("GetLocalListVersion", {"list_version": self.station.local_list_version})

    @on("SendLocalList")
    def on_send_local_list(self, **kw):
        return self.station._answer("SendLocalList", self.station._send_local_list(**kw))

    # Reservation
    @on("ReserveNow")
    def on_reserve_now(self, **kw):
        return self.station._answer("ReserveNow", self.station._reserve_now(**kw))

    @on("CancelReservation")
    def on_cancel_reservation(self, **kw):
        return self.station._answer("CancelReservation", self.station._cancel_reservation(**kw))

    # Smart charging
    @on("SetChargingProfile")
    def on_set_charging_profile(self, **kw):
        return self.station._answer("SetChargingProfile", self.station._set_charging_profile(**kw))

    @on("ClearChargingProfile")
    def on_clear_charging_profile(self, **kw):
        return self.station._answer("ClearChargingProfile", self.station._clear_charging_profile(**kw))

    @on("GetCompositeSchedule")
    def on_get_composite_schedule(self, **kw):
        return self.station._answer("GetCompositeSchedule", self.station._get_composite_schedule(**kw))

    # Remote trigger
    @on("TriggerMessage")
    def on_trigger_message(self, **kw):
        return self.station._answer("TriggerMessage", self.station._trigger(**kw))

    # Security whitepaper extension
    @on("ExtendedTriggerMessage")
    def on_extended_trigger_message(self, **kw):
        return self.station._answer("ExtendedTriggerMessage", self.station._trigger(**kw))

    @on("CertificateSigned")
    def on_certificate_signed(self, **kw):
        self.station.certificates.append({"type": "ChargePointCertificate", "pem": kw["certificate_chain"]})
        return self.station._answer("CertificateSigned", {"status": "Accepted"})

    @on("InstallCertificate")
    def on_install_certificate(self, **kw):
        self.station.certificates.append({"type": kw["certificate_type"], "pem": kw["certificate"]})
        return self.station._answer("InstallCertificate", {"status": "Accepted"})

    @on("DeleteCertificate")
    def on_delete_certificate(self, **kw):
        return self.station._answer("DeleteCertificate", self.station._delete_certificate(**kw))

    @on("GetInstalledCertificateIds")
    def on_get_installed_certificate_ids(self, **kw):
        return self.station._answer("GetInstalledCertificateIds", self.station._installed_certificates(**kw))

    @on("GetLog")
    def on_get_log(self, **kw):
        return self.station._answer("GetLog", self.station._get_log(**kw))

    @on("SignedUpdateFirmware")
    def on_signed_update_firmware(self, **kw):
        return self.station._answer("SignedUpdateFirmware", self.station._signed_update_firmware(**kw))
