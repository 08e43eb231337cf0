"""Operator actions on a station: each dashboard button turned into a durable OCPP command.

One place knows how an operator's intent ("hard reset", "unlock EVSE 2") is spelled in OCPP 1.6
and in 2.0.1; the command itself is queued by `stations.services.command_create`.
"""

from dataclasses import dataclass
from typing import Any

from rfid.models import IdToken
from stations import services
from stations.models import Command, Session, Station
from stations.services import CommandError, StationError

V16 = Station.OcppVersion.V16

TRIGGERABLE = (
    "BootNotification",
    "Heartbeat",
    "StatusNotification",
    "MeterValues",
    "DiagnosticsStatusNotification",
    "FirmwareStatusNotification",
)


@dataclass(frozen=True)
class ActionSpec:
    """A button on the station page."""

    name: str
    label: str
    danger: bool = False


ACTIONS = (
    ActionSpec("remote_start", "Start a session"),
    ActionSpec("remote_stop", "Stop the session", danger=True),
    ActionSpec("reset", "Reset", danger=True),
    ActionSpec("unlock", "Unlock connector", danger=True),
    ActionSpec("availability", "Change availability"),
    ActionSpec("trigger", "Trigger message"),
    ActionSpec("diagnostics", "Get diagnostics"),
    ActionSpec("clear_cache", "Clear authorization cache"),
    ActionSpec("configure", "Change configuration"),
    ActionSpec("get_configuration", "Read configuration"),
    ActionSpec("local_list_version", "Read local list version"),
)
ACTION_NAMES = {spec.name for spec in ACTIONS}


def remote_start(*, station: Station, evse_id: int, id_token: IdToken, requested_by: Any) -> Command:
    """Ask the station to start a session for `id_token` on `evse_id` (checks connector and card)."""
    return services.session_remote_start(
        station=station, evse_id=evse_id, id_token=id_token, requested_by=requested_by
    )


def remote_stop(*, session: Session, requested_by: Any) -> Command:
    """Ask the station to stop `session`."""
    return services.session_remote_stop(session=session, requested_by=requested_by)


def _int(data: dict[str, str], name: str, *, default: int | None = None, minimum: int = 0) -> int:
    raw = (data.get(name) or "").strip()
    if not raw and default is not None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise CommandError(f"{name.replace('_', ' ')} must be a whole number") from None
    if value < minimum:
        raise CommandError(f"{name.replace('_', ' ')} must be at least {minimum}")
    return value


def command_build(*, station: Station, name: str, data: dict[str, str]) -> tuple[str, dict[str, Any]]:
    """The OCPP action and payload for the dashboard action `name` with its form `data`, in the
    station's OCPP version. Raises CommandError for an unknown action or a bad field."""
    v16 = station.ocpp_version == V16
    if name == "reset":
        hard = data.get("type") == "Hard"
        return "Reset", {"type": ("Hard" if hard else "Soft") if v16 else ("Immediate" if hard else "OnIdle")}
    if name == "unlock":
        evse_id = _int(data, "evse_id", minimum=1)
        if v16:
            return "UnlockConnector", {"connectorId": evse_id}
        return "UnlockConnector", {
            "evseId": evse_id,
            "connectorId": _int(data, "connector_id", default=1, minimum=1),
        }
    if name == "availability":
        kind = "Inoperative" if data.get("type") == "Inoperative" else "Operative"
        evse_id = _int(data, "evse_id", default=0)
        if v16:
            return "ChangeAvailability", {"connectorId": evse_id, "type": kind}
        payload: dict[str, Any] = {"operationalStatus": kind}
        if evse_id:
            payload["evse"] = {"id": evse_id}
        return "ChangeAvailability", payload
    if name == "trigger":
        message = data.get("message", "")
        if message not in TRIGGERABLE:
            raise CommandError(f"choose a message to trigger ({', '.join(TRIGGERABLE)})")
        evse_id = _int(data, "evse_id", default=0)
        if v16:
            payload = {"requestedMessage": message}
            if evse_id:
                payload["connectorId"] = evse_id
            return "TriggerMessage", payload
        message = {
            "DiagnosticsStatusNotification": "LogStatusNotification",
            "FirmwareStatusNotification": "FirmwareStatusNotification",
        }.get(message, message)
        payload = {"requestedMessage": message}
        if evse_id:
            payload["evse"] = {"id": evse_id}
        return "TriggerMessage", payload
    if name == "diagnostics":
        location = (data.get("location") or "").strip()
        if not location.startswith(("ftp://", "ftps://", "http://", "https://", "sftp://")):
            raise CommandError("the upload location must be an ftp(s):// or http(s):// URL")
        if v16:
            return "GetDiagnostics", {"location": location}
        return "GetLog", {
            "logType": "DiagnosticsLog",
            "requestId": _request_id(station),
            "log": {"remoteLocation": location},
        }
    if name == "clear_cache":
        return "ClearCache", {}
    if name == "configure":
        key, value = (data.get("key") or "").strip(), (data.get("value") or "").strip()
        if not key:
            raise CommandError("name the configuration key")
        if v16:
            return "ChangeConfiguration", {"key": key, "value": value}
        component, _, variable = key.rpartition(".")
        if not component:
            raise CommandError(
                "OCPP 2.0.1 keys are written Component.Variable, e.g. OCPPCommCtrlr.HeartbeatInterval"
            )
        return "SetVariables", {
            "setVariableData": [
                {"attributeValue": value, "component": {"name": component}, "variable": {"name": variable}}
            ]
        }
    if name == "get_configuration":
        return (
            ("GetConfiguration", {})
            if v16
            else (
                "GetBaseReport",
                {"requestId": _request_id(station), "reportBase": "ConfigurationInventory"},
            )
        )
    if name == "local_list_version":
        return "GetLocalListVersion", {}
    raise CommandError(f"unknown action {name!r}")


def _request_id(station: Station) -> int:
    # Any integer the station echoes back; the count keeps it increasing per station.
    return Command.objects.filter(station=station).count() + 1


def station_action_run(*, station: Station, name: str, data: dict[str, str], requested_by: Any) -> Command:
    """Run the dashboard action `name` on `station` for `requested_by`; returns the queued command.

    Raises StationError (or its CommandError) with a message for the operator."""
    if name == "remote_start":
        token = IdToken.objects.filter(uid__iexact=(data.get("id_tag") or "").strip()).first()
        if token is None:
            raise StationError("choose a known card to start with")
        return remote_start(
            station=station,
            evse_id=_int(data, "evse_id", minimum=1),
            id_token=token,
            requested_by=requested_by,
        )
    if name == "remote_stop":
        session = Session.objects.filter(station=station, pk=_int(data, "session_id", minimum=1)).first()
        if session is None:
            raise StationError("that session does not belong to this station")
        return remote_stop(session=session, requested_by=requested_by)
    action, payload = command_build(station=station, name=name, data=data)
    return services.command_create(station=station, action=action, payload=payload, requested_by=requested_by)
