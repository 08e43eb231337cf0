"""Which OCPP actions the CSMS may send, per protocol version, and how their payloads are checked."""

from ocpp.exceptions import OCPPError
from ocpp.messages import Call, _validate_payload

# CSMS → station actions (OCPP 1.6 edition 2 + security whitepaper; OCPP 2.0.1 Part 2).
CSMS_ACTIONS: dict[str, frozenset[str]] = {
    "1.6": frozenset(
        {
            "CancelReservation",
            "CertificateSigned",
            "ChangeAvailability",
            "ChangeConfiguration",
            "ClearCache",
            "ClearChargingProfile",
            "DataTransfer",
            "DeleteCertificate",
            "ExtendedTriggerMessage",
            "GetCompositeSchedule",
            "GetConfiguration",
            "GetDiagnostics",
            "GetInstalledCertificateIds",
            "GetLocalListVersion",
            "GetLog",
            "InstallCertificate",
            "RemoteStartTransaction",
            "RemoteStopTransaction",
            "ReserveNow",
            "Reset",
            "SendLocalList",
            "SetChargingProfile",
            "SignedUpdateFirmware",
            "TriggerMessage",
            "UnlockConnector",
            "UpdateFirmware",
        }
    ),
    "2.0.1": frozenset(
        {
            "CancelReservation",
            "CertificateSigned",
            "ChangeAvailability",
            "ClearCache",
            "ClearChargingProfile",
            "ClearDisplayMessage",
            "ClearVariableMonitoring",
            "CostUpdated",
            "CustomerInformation",
            "DataTransfer",
            "DeleteCertificate",
            "GetBaseReport",
            "GetChargingProfiles",
            "GetCompositeSchedule",
            "GetDisplayMessages",
            "GetInstalledCertificateIds",
            "GetLocalListVersion",
            "GetLog",
            "GetMonitoringReport",
            "GetReport",
            "GetTransactionStatus",
            "GetVariables",
            "InstallCertificate",
            "PublishFirmware",
            "RequestStartTransaction",
            "RequestStopTransaction",
            "ReserveNow",
            "Reset",
            "SendLocalList",
            "SetChargingProfile",
            "SetDisplayMessage",
            "SetMonitoringBase",
            "SetMonitoringLevel",
            "SetNetworkProfile",
            "SetVariableMonitoring",
            "SetVariables",
            "TriggerMessage",
            "UnlockConnector",
            "UnpublishFirmware",
            "UpdateFirmware",
        }
    ),
}


class PayloadError(ValueError):
    """The payload does not follow the action's OCPP schema; the message names the problem."""


def action_supported(*, ocpp_version: str, action: str) -> bool:
    return action in CSMS_ACTIONS.get(ocpp_version, frozenset())


def payload_validate(*, ocpp_version: str, action: str, payload: dict) -> None:
    """Check `payload` against the OCPP JSON schema of `action`; raises PayloadError."""
    if not isinstance(payload, dict):
        raise PayloadError("payload must be a JSON object")
    try:
        _validate_payload(Call(unique_id="0", action=action, payload=payload), ocpp_version)
    except OCPPError as exc:
        cause = exc.details.get("cause") if isinstance(exc.details, dict) else None
        raise PayloadError(
            f"{action} payload is not valid OCPP {ocpp_version}: {cause or exc.description}"
        ) from None
