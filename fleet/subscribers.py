"""Reactions to domain events of the stations app (subscribed in FleetConfig.ready): firmware and
upload status reports, boots, answers to firmware commands. Each runs in the dispatcher's
transaction, once per event."""

from typing import Any

from chargenet.events import event_batch_memo
from fleet import services


def on_station_status_reported(event_type: str, data: dict[str, Any]) -> None:
    """A Firmware/SignedFirmware/Diagnostics/Log status notification, from a 1.6 or 2.0.1 station, or
    a 2.0.1 PublishFirmwareStatusNotification."""
    kind, status = data.get("kind"), str(data.get("status") or "")
    if kind == "firmware":
        services.campaign_station_report(
            station_id=data["station_id"], status=status, request_id=data.get("request_id")
        )
    elif kind == "publish":
        services.firmware_publication_station_report(
            station_id=data["station_id"],
            status=status,
            request_id=data.get("request_id"),
            locations=data.get("locations"),
        )
    elif kind in ("diagnostics", "log"):
        services.diagnostics_station_report(
            station_id=data["station_id"], kind=kind, status=status, request_id=data.get("request_id")
        )


def on_station_booted(event_type: str, data: dict[str, Any]) -> None:
    """A BootNotification: verify the version of a station whose update is under way. The stations
    with one are read once per dispatch transaction: after a restart thousands of stations boot,
    nearly all with no update under way, and asking each held SQLite's one write lock two
    milliseconds per boot."""
    updating = event_batch_memo("fleet.updating_stations", services.stations_updating)
    if data["station_id"] in updating:
        services.campaign_station_booted(station_id=data["station_id"])


def on_command_updated(event_type: str, data: dict[str, Any]) -> None:
    """A campaign's command refused or unanswered fails that attempt; a log request accepted with
    AcceptedCanceled fails the station's earlier one; a publication's command answered is kept on the
    publication."""
    if data.get("action") in ("UpdateFirmware", "SignedUpdateFirmware", "GetDiagnostics", "GetLog"):
        services.campaign_command_finished(command_uuid=data["command_id"], status=data.get("status", ""))
    elif data.get("action") in ("PublishFirmware", "UnpublishFirmware"):
        services.firmware_publication_command_finished(
            command_uuid=data["command_id"], status=data.get("status", "")
        )
    if data.get("action") == "GetLog" and data.get("status") == "accepted":
        services.diagnostics_command_finished(command_uuid=data["command_id"])
