"""The OCPI interface listens to domain events (chargenet.events): each change a partner subscribed
to becomes a push row, each station answer to an eMSP command a result to send. Subscribers are
quick: rows are written here, the HTTP calls happen in Celery tasks."""

from typing import Any

from ocpi import services

FINAL_COMMAND_STATUSES = {"accepted", "rejected", "error", "timed_out", "expired"}


def _event_key(data: dict[str, Any]) -> str:
    # Events delivered at least once carry an id; a redelivery then queues no second push.
    return str(data.get("event_id") or "")[:80]


def on_connector_status_changed(event_type: str, data: dict[str, Any]) -> None:
    if data.get("evse_id"):
        services.pushes_for_evse_status(
            station_id=data["station_id"], evse_id=data["evse_id"], event_key=_event_key(data)
        )


def on_location_changed(event_type: str, data: dict[str, Any]) -> None:
    services.pushes_for_location(location_id=data["location_id"], event_key=_event_key(data))


def on_station_changed(event_type: str, data: dict[str, Any]) -> None:
    services.pushes_for_station(station_id=data["station_id"], event_key=_event_key(data))


def on_tariff_changed(event_type: str, data: dict[str, Any]) -> None:
    services.pushes_for_tariff(
        tariff_id=data["tariff_id"],
        code=data["code"],
        deleted=event_type == "tariff.deleted",
        event_key=_event_key(data),
    )


def on_session_changed(event_type: str, data: dict[str, Any]) -> None:
    method = "PATCH" if event_type == "session.updated" else "PUT"
    services.pushes_for_session(session_id=data["session_id"], method=method, event_key=_event_key(data))


def on_cdr_created(event_type: str, data: dict[str, Any]) -> None:
    services.pushes_for_cdr(cdr_id=data["cdr_id"], event_key=_event_key(data))


def on_command_updated(event_type: str, data: dict[str, Any]) -> None:
    if data.get("status") not in FINAL_COMMAND_STATUSES:
        return
    from ocpi.models import RemoteCommand
    from ocpi.tasks import command_result_send_task

    for remote_id in RemoteCommand.objects.filter(
        station_command__uuid=data["command_id"], result_sent_at__isnull=True
    ).values_list("id", flat=True):
        command_result_send_task.delay(remote_id)


def on_id_token_changed(event_type: str, data: dict[str, Any]) -> None:
    # A roaming-enabled card was blocked, unblocked, expired …: CPO partners get it within seconds.
    services.emsp_token_sync(id_token_id=data["id_token_id"], event_key=_event_key(data))


def subscribe() -> None:
    from chargenet.events import event_subscribe
    from rfid.services import remote_authorizer_register

    event_subscribe("connector.status_changed", on_connector_status_changed)
    event_subscribe("location.created", on_location_changed)
    event_subscribe("location.updated", on_location_changed)
    event_subscribe("station.created", on_station_changed)
    event_subscribe("station.updated", on_station_changed)
    event_subscribe("tariff.created", on_tariff_changed)
    event_subscribe("tariff.updated", on_tariff_changed)
    event_subscribe("tariff.deleted", on_tariff_changed)
    event_subscribe("session.started", on_session_changed)
    event_subscribe("session.updated", on_session_changed)
    event_subscribe("session.stopped", on_session_changed)
    event_subscribe("cdr.created", on_cdr_created)
    event_subscribe("command.updated", on_command_updated)
    remote_authorizer_register(services.roaming_authorize)
    event_subscribe("id_token.updated", on_id_token_changed)
