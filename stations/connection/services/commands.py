"""Durable CSMS→station commands: queueing, claiming, answers and their effects, remote start/stop."""

import asyncio
import logging
import secrets
import time
from datetime import timedelta
from typing import Any
from uuid import uuid4

from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import models, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from chargenet.events import event_publish
from rfid.models import IdToken
from stations.access.services import station_id_token_authorize
from stations.common import StationError, _protocol_state
from stations.connection.catalogue import PayloadError, action_supported, payload_validate
from stations.devicemodel.selectors import device_limit
from stations.models import (
    ChargingProfile,
    Command,
    Connector,
    Reservation,
    Session,
    Station,
    StationConfigurationKey,
)
from stations.network.passwords import MAX_LENGTH as PASSWORD_MAX_LENGTH
from stations.network.passwords import MIN_LENGTH as PASSWORD_MIN_LENGTH
from stations.network.passwords import password_hash

logger = logging.getLogger(__name__)


WAIT_RECHECK_SECONDS = 5.0  # command_wait reads the database at least this often


class CommandError(StationError):
    """A command was refused before it was queued (unsupported action, invalid payload …)."""

    api_code = "command_refused"


def command_create(
    *,
    station: Station,
    action: str,
    payload: dict[str, Any],
    requested_by: Any = None,
    idempotency_key: str = "",
    expires_in: int | None = None,
) -> Command:
    """Queue a durable CSMS→station call and hand it to the node that holds the station's socket.

    The command waits (status queued) while the station is offline and expires after `expires_in`
    seconds (default OCPP_COMMAND_EXPIRY). The same `idempotency_key` from the same requester returns
    the command created first. A 2.0.1 GetVariables/SetVariables/SetVariableMonitoring/
    ClearVariableMonitoring longer than the station's ItemsPerMessage is queued as several commands,
    the first returned. Raises CommandError for an action the station's OCPP version lacks, a payload
    that breaks the schema (or a 2.0.1 StatusNotification trigger naming no EVSE), or a station that
    is Rejected.
    """
    if not action_supported(ocpp_version=station.ocpp_version, action=action):
        raise CommandError(f"OCPP {station.ocpp_version} stations do not support the action {action!r}")
    try:
        payload_validate(ocpp_version=station.ocpp_version, action=action, payload=payload)
    except PayloadError as exc:
        raise CommandError(str(exc)) from None
    new_password = basic_auth_password(action, payload)
    if new_password is not None and not PASSWORD_MIN_LENGTH <= len(new_password) <= PASSWORD_MAX_LENGTH:
        # 2.0.1 A00.FR.205: a BasicAuthPassword is 16 to 40 characters.
        raise CommandError(
            f"BasicAuthPassword must be {PASSWORD_MIN_LENGTH} to {PASSWORD_MAX_LENGTH} characters"
        )
    if (
        station.ocpp_version == "2.0.1"
        and action == "TriggerMessage"
        and payload.get("requestedMessage") == "StatusNotification"
        and not payload.get("evse")
    ):
        # 2.0.1 F06.FR.13: StatusNotification exists per connector only, so the CSMS names the EVSE.
        raise CommandError("a StatusNotification is triggered for one EVSE: name the EVSE")
    if station.registration_status == Station.RegistrationStatus.REJECTED:
        # OCPP 2.0.1 B03.FR.03 / 1.6 §4.2: nothing is sent to a Rejected station.
        raise CommandError("the station's registration is Rejected; nothing may be sent to it")
    with transaction.atomic():
        if idempotency_key:
            existing = Command.objects.filter(
                station=station, idempotency_key=idempotency_key, requested_by=requested_by
            ).first()
            if existing is not None:
                return existing
        expiry = settings.OCPP_COMMAND_EXPIRY if expires_in is None else expires_in
        commands = [
            Command.objects.create(
                station=station,
                action=action,
                payload=part,
                requested_by=requested_by,
                # A retry finds the first part; the others were queued with it.
                idempotency_key=idempotency_key if index == 0 else "",
                expires_at=timezone.now() + timedelta(seconds=expiry),
            )
            for index, part in enumerate(_payload_parts(station, action, payload))
        ]
        for command in commands:
            event_publish("command.updated", _command_event(command))
        transaction.on_commit(lambda: command_dispatch(station_id=station.pk))
    return commands[0]


# 2.0.1 B06.FR.05 (and B05 for SetVariables): no more SetVariableData/GetVariableData in one request than the station
# reports in DeviceDataCtrlr.ItemsPerMessage[SetVariables|GetVariables]; the same
# for SetMonitoringData (N04) and monitor ids (N06.FR.04), against MonitoringCtrlr.ItemsPerMessage[SetVariableMonitoring|
# ClearVariableMonitoring]. action -> (the payload's list, the component that reports the limit)
_ITEM_LISTS = {
    "GetVariables": ("getVariableData", "DeviceDataCtrlr"),
    "SetVariables": ("setVariableData", "DeviceDataCtrlr"),
    "SetVariableMonitoring": ("setMonitoringData", "MonitoringCtrlr"),
    "ClearVariableMonitoring": ("id", "MonitoringCtrlr"),
}


def _payload_parts(station: Station, action: str, payload: dict[str, Any]) -> list[dict[str, Any]]:
    """The payload as the station can take it: one request, or a list request split into requests
    of at most the station's ItemsPerMessage items when it reported a smaller limit."""
    key, component = _ITEM_LISTS.get(action, ("", ""))
    items = payload.get(key) if key else None
    if not key or not isinstance(items, list) or station.ocpp_version == "1.6":
        return [payload]
    limit = device_limit(station=station, component=component, variable="ItemsPerMessage", instance=action)
    if limit is None or len(items) <= limit:
        return [payload]
    return [{**payload, key: items[start : start + limit]} for start in range(0, len(items), limit)]


def command_dispatch(*, station_id: int) -> None:
    """Nudge the connection that holds the station's socket to send its queued commands.

    Does nothing when the station is offline: its commands go out when it reconnects.
    """
    channel_name = Station.objects.filter(pk=station_id).values_list("channel_name", flat=True).first()
    if not channel_name:
        return
    layer = get_channel_layer()
    try:
        async_to_sync(layer.send)(channel_name, {"type": "station.commands"})
    except Exception:
        # The connection's own periodic check picks the command up; nothing is lost.
        logger.warning("could not nudge %s about queued commands", channel_name, exc_info=True)


def command_wait(*, command: Command, timeout: float) -> Command:
    """Wait up to `timeout` seconds for the command's final status; returns it as it then is.

    The node that stores the station's answer pushes "finished" over the channel layer (any node to
    any node), so the wait ends as soon as the answer is committed; the database is read again on
    that push and every few seconds in case a push was lost (the channel layer delivers at most once).
    """
    deadline = time.monotonic() + max(0.0, timeout)
    command.refresh_from_db()
    if command.status in Command.FINAL or timeout <= 0:
        return command
    if get_channel_layer() is None:
        while command.status not in Command.FINAL and time.monotonic() < deadline:
            time.sleep(0.1)
            command.refresh_from_db()
        return command
    return async_to_sync(_command_wait_pushed)(command, deadline)


async def _command_wait_pushed(command: Command, deadline: float) -> Command:
    layer = get_channel_layer()
    channel = await layer.new_channel()
    group = _command_group(command.pk)
    await layer.group_add(group, channel)
    try:
        while True:
            # Read after joining the group: an answer stored before that is seen here.
            await sync_to_async(command.refresh_from_db)()
            remaining = deadline - time.monotonic()
            if command.status in Command.FINAL or remaining <= 0:
                return command
            try:
                await asyncio.wait_for(layer.receive(channel), min(remaining, WAIT_RECHECK_SECONDS))
            except TimeoutError:
                pass
    finally:
        await layer.group_discard(group, channel)


def _command_group(command_id: int) -> str:
    return f"command-{command_id}"


def _command_finished(command: Command) -> None:
    """Publish the final status (event) and, after commit, wake every command_wait on it."""
    event_publish("command.updated", _command_event(command))
    command_id = command.pk

    def notify() -> None:
        try:
            async_to_sync(get_channel_layer().group_send)(
                _command_group(command_id), {"type": "command.finished"}
            )
        except Exception:
            logger.warning(
                "could not push the end of command %s; waiters re-read it", command_id, exc_info=True
            )

    transaction.on_commit(notify)


def _command_event(command: Command) -> dict[str, Any]:
    data: dict[str, Any] = {
        "command_id": str(command.uuid),
        "station_id": command.station_id,
        "identity": command.station.identity,
        "action": command.action,
        "status": command.status,
    }
    # A remote start names the card it starts for: the driver's live feed passes it to that driver.
    payload = command.payload if isinstance(command.payload, dict) else {}
    id_tag = payload.get("idTag")
    if id_tag is None and isinstance(payload.get("idToken"), dict):
        id_tag = payload["idToken"].get("idToken")
    if command.action in ("RemoteStartTransaction", "RequestStartTransaction") and isinstance(id_tag, str):
        data["id_tag"] = id_tag
    return data


# AcceptedCanceled: the new request was accepted and the one under way cancelled (UpdateFirmware
# L01.FR.24, GetLog N01.FR.12); Unpublished: UnpublishFirmware did what it was asked (L04);
# EmptyResultSet (GetReport, GetBaseReport, GetMonitoringReport): accepted, nothing matches what was
# asked (B08, TC_B_18).
ACCEPTING_STATUSES = frozenset(
    {
        "Accepted",
        "AcceptedCanceled",
        "Unlocked",
        "RebootRequired",
        "Scheduled",
        "Unpublished",
        "EmptyResultSet",
    }
)


def _authorization_key_hash(value: str) -> str:
    # 1.6 AuthorizationKey is configured as hex; the station sends the decoded bytes (OCPP-J §6.2.2).
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        raw = value.encode()
    return password_hash(raw)


def _is_authorization_key_change(action: str, payload: dict[str, Any]) -> bool:
    return action == "ChangeConfiguration" and payload.get("key") == "AuthorizationKey"


def _is_basic_auth_password(item: Any) -> bool:
    return (
        isinstance(item, dict)
        and (item.get("component") or {}).get("name") == "SecurityCtrlr"
        and (item.get("variable") or {}).get("name") == "BasicAuthPassword"
    )


def basic_auth_password(action: str, payload: dict[str, Any]) -> str | None:
    """The new 2.0.1 Basic-auth password a SetVariables sets (SecurityCtrlr.BasicAuthPassword,
    A01 / TC_A_09), or None. Sent as UTF-8 text, unlike 1.6's hex AuthorizationKey."""
    if action != "SetVariables":
        return None
    for item in payload.get("setVariableData") or []:
        if _is_basic_auth_password(item):
            return str(item.get("attributeValue", ""))
    return None


def _basic_auth_password_settle(command: Command) -> None:
    """After the station's answer to a SetVariables with BasicAuthPassword: Accepted → the new
    password replaces the old one at once (the old one is refused from now, A01.FR.03); RebootRequired
    or no answer → it stays pending (the station's first login with it promotes it); anything else →
    the old password stays (A01.FR.04). The password is never kept in the command."""
    results = (command.response or {}).get("setVariableResult") or []
    answer = next((r.get("attributeStatus") for r in results if _is_basic_auth_password(r)), None)
    state = _protocol_state(command.station_id)
    if command.status == Command.Status.ACCEPTED and answer == "Accepted" and state.pending_password_hash:
        Station.objects.filter(pk=command.station_id).update(password_hash=state.pending_password_hash)
        state.pending_password_hash = ""
    elif command.status in (Command.Status.REJECTED, Command.Status.ERROR) or (
        command.status == Command.Status.ACCEPTED and answer not in ("Accepted", "RebootRequired")
    ):
        state.pending_password_hash = ""
    state.save(update_fields=["pending_password_hash", "updated_at"])
    command.payload = {
        **command.payload,
        "setVariableData": [
            {**item, "attributeValue": "********"} if _is_basic_auth_password(item) else item
            for item in command.payload.get("setVariableData") or []
        ],
    }


def command_claim_next(*, station_id: int, exclude_actions: frozenset[str] = frozenset()) -> Command | None:
    """Claim the station's oldest queued, unexpired command (queued → sent, a conditional update so
    two connections never send the same command) and return it; expires overdue ones on the way."""
    command_expire(station_id=station_id)
    candidates = Command.objects.filter(station_id=station_id, status=Command.Status.QUEUED).exclude(
        action__in=exclude_actions
    )
    for candidate in candidates.order_by("created_at", "id")[:10]:
        with transaction.atomic():
            claimed = Command.objects.filter(pk=candidate.pk, status=Command.Status.QUEUED).update(
                status=Command.Status.SENT, sent_at=timezone.now(), message_id=str(uuid4())
            )
            if not claimed:
                continue
            command = Command.objects.select_related("station").get(pk=candidate.pk)
            if _is_authorization_key_change(command.action, command.payload):
                state = _protocol_state(station_id)
                state.pending_password_hash = _authorization_key_hash(str(command.payload.get("value", "")))
                state.save(update_fields=["pending_password_hash", "updated_at"])
            new_password = basic_auth_password(command.action, command.payload)
            if new_password is not None:
                state = _protocol_state(station_id)
                state.pending_password_hash = password_hash(new_password)
                state.save(update_fields=["pending_password_hash", "updated_at"])
            event_publish("command.updated", _command_event(command))
            return command
    return None


@transaction.atomic
def command_release(*, command_id: int) -> bool:
    """Put a claimed command that never went out (the socket closed first) back in the queue;
    returns False when it had already moved on."""
    command = Command.objects.select_for_update().select_related("station").get(pk=command_id)
    if command.status != Command.Status.SENT:
        return False
    command.status, command.sent_at, command.message_id = Command.Status.QUEUED, None, ""
    command.save(update_fields=["status", "sent_at", "message_id"])
    event_publish("command.updated", _command_event(command))
    if (
        _is_authorization_key_change(command.action, command.payload)
        or basic_auth_password(command.action, command.payload) is not None
    ):
        type(_protocol_state(command.station_id)).objects.filter(station_id=command.station_id).update(
            pending_password_hash=""
        )
    return True


NUDGE_AGAIN_AFTER = timedelta(seconds=30)


def commands_nudge_stale() -> int:
    """Nudge again the connections of online stations whose commands have stayed queued a while: the
    first nudge was lost (the process that queued the command died before its commit hook ran, or
    the channel layer dropped it). A connection with nothing to send ignores a nudge. Returns how many
    stations were nudged."""
    now = timezone.now()
    station_ids = set(
        Command.objects.filter(
            status=Command.Status.QUEUED,
            created_at__lt=now - NUDGE_AGAIN_AFTER,
            expires_at__gte=now,
            station__is_online=True,
        ).values_list("station_id", flat=True)
    )
    for station_id in station_ids:
        command_dispatch(station_id=station_id)
    return len(station_ids)


def command_expire(*, station_id: int | None = None) -> int:
    """Expire queued commands past their expiry and time out sent ones nobody answered (a node died
    mid-call); returns how many changed."""
    now = timezone.now()
    queued = Command.objects.filter(status=Command.Status.QUEUED, expires_at__lt=now)
    stale = Command.objects.filter(
        status=Command.Status.SENT, sent_at__lt=now - timedelta(seconds=2 * settings.OCPP_CALL_TIMEOUT + 30)
    )
    if station_id is not None:
        queued, stale = queued.filter(station_id=station_id), stale.filter(station_id=station_id)
    changed = 0
    for command in queued.select_related("station"):
        with transaction.atomic():
            if Command.objects.filter(pk=command.pk, status=Command.Status.QUEUED).update(
                status=Command.Status.EXPIRED, completed_at=now
            ):
                command.status = Command.Status.EXPIRED
                _command_finished(command)
                changed += 1
    for command in stale:
        command_complete(command_id=command.pk, timed_out=True, note="no answer (connection lost)")
        changed += 1
    return changed


@transaction.atomic
def command_complete(
    *,
    command_id: int,
    response: dict[str, Any] | None = None,
    error_code: str = "",
    error_description: str = "",
    timed_out: bool = False,
    disconnected: bool = False,
    note: str = "",
) -> Command:
    """Store the station's answer to a sent command and apply what it reports (configuration keys,
    local list version, reservations, charging profiles, certificates, password rotation).

    Status: CALLERROR → error; the connection closed before the answer (`disconnected`) → error
    "station disconnected"; no answer → timed_out; a refusing status → rejected; else accepted.
    A command already final is returned unchanged.
    """
    command = Command.objects.select_for_update(of=("self",)).select_related("station").get(pk=command_id)
    if command.status != Command.Status.SENT:
        return command
    if disconnected:
        command.status = Command.Status.ERROR
        command.error = "station disconnected before answering"
    elif timed_out:
        command.status = Command.Status.TIMED_OUT
        command.error = note or f"no answer within {settings.OCPP_CALL_TIMEOUT} s"
    elif error_code:
        command.status = Command.Status.ERROR
        command.error = f"{error_code}: {error_description}".strip()[:2000]
    else:
        status = (response or {}).get("status")
        accepted = status is None or status in ACCEPTING_STATUSES
        command.status = Command.Status.ACCEPTED if accepted else Command.Status.REJECTED
        command.response = response
        _command_effects(command, response or {}, accepted)
    if command.action == "CertificateSigned":
        from stations.certificates.services import certificate_signed_answer_record

        certificate_signed_answer_record(command=command)
    if _is_authorization_key_change(command.action, command.payload):
        if command.status in (Command.Status.REJECTED, Command.Status.ERROR):
            type(_protocol_state(command.station_id)).objects.filter(station_id=command.station_id).update(
                pending_password_hash=""
            )
        command.payload = {**command.payload, "value": "********"}  # never keep the secret
    if basic_auth_password(command.action, command.payload) is not None:
        _basic_auth_password_settle(command)
    command.completed_at = timezone.now()
    command.save()
    _command_finished(command)
    return command


def _command_effects(command: Command, response: dict[str, Any], accepted: bool) -> None:
    station_id, payload, action = command.station_id, command.payload, command.action
    if action == "GetConfiguration":
        for item in response.get("configurationKey") or []:
            StationConfigurationKey.objects.update_or_create(
                station_id=station_id,
                key=str(item.get("key", ""))[:50],
                defaults={"value": item.get("value") or "", "readonly": bool(item.get("readonly", False))},
            )
    elif action == "ChangeConfiguration" and accepted:
        key = str(payload.get("key", ""))[:50]
        if key == "AuthorizationKey":
            state = _protocol_state(station_id)
            if state.pending_password_hash:
                Station.objects.filter(pk=station_id).update(password_hash=state.pending_password_hash)
                state.pending_password_hash = ""
                state.save(update_fields=["pending_password_hash", "updated_at"])
            return
        StationConfigurationKey.objects.update_or_create(
            station_id=station_id, key=key, defaults={"value": payload.get("value") or ""}
        )
    elif action == "GetLocalListVersion":
        state = _protocol_state(station_id)
        state.local_list_version = response.get("listVersion")
        state.save(update_fields=["local_list_version", "updated_at"])
    elif action == "SendLocalList" and accepted:
        state = _protocol_state(station_id)
        state.local_list_version = payload.get("listVersion")
        state.save(update_fields=["local_list_version", "updated_at"])
    elif action == "ReserveNow":
        # 1.6: reservationId, connectorId, idTag, parentIdTag, expiryDate; 2.0.1 (H01): id, evseId,
        # idToken, groupIdToken, expiryDateTime (no EVSE: any EVSE, stored as 0).
        id_token = payload.get("idToken") or {}
        group = payload.get("groupIdToken") or {}
        expiry = payload.get("expiryDate") or payload.get("expiryDateTime") or ""
        Reservation.objects.update_or_create(
            station_id=station_id,
            reservation_id=payload.get("reservationId", payload.get("id")),
            defaults={
                "connector_id": payload.get("connectorId", payload.get("evseId")) or 0,
                "id_tag": str(payload.get("idTag") or id_token.get("idToken") or "")[:36],
                "parent_id_tag": str(payload.get("parentIdTag") or group.get("idToken") or "")[:36],
                "expires_at": parse_datetime(str(expiry)) or timezone.now(),
                "status": Reservation.Status.ACTIVE if accepted else Reservation.Status.REFUSED,
                "response_status": str(response.get("status", ""))[:20],
            },
        )
    elif action == "CancelReservation" and accepted:
        Reservation.objects.filter(station_id=station_id, reservation_id=payload.get("reservationId")).update(
            status=Reservation.Status.CANCELLED
        )
    elif action in ("GetVariables", "SetVariables"):
        from stations.devicemodel.services import variables_result_record

        variables_result_record(station_id=station_id, action=action, payload=payload, response=response)
    elif action in ("SetDisplayMessage", "ClearDisplayMessage", "GetDisplayMessages"):
        from stations.devicemodel.services import display_message_result_record

        display_message_result_record(
            station_id=station_id, action=action, payload=payload, response=response, accepted=accepted
        )
    elif action == "SetChargingProfile":
        _charging_profile_store(station_id, payload, accepted)
    elif action in ("RemoteStartTransaction", "RequestStartTransaction") and payload.get("chargingProfile"):
        # 2.0.1 F01.FR.08 / 1.6 §5.11: a remote start may carry the TxProfile of the session it starts.
        profile = payload["chargingProfile"]
        connector_id = payload.get("evseId", payload.get("connectorId")) or 0
        shaped = (
            {"evseId": connector_id, "chargingProfile": profile}
            if action == "RequestStartTransaction"
            else {"connectorId": connector_id, "csChargingProfiles": profile}
        )
        _charging_profile_store(station_id, shaped, accepted)
    elif action in ("SetVariableMonitoring", "ClearVariableMonitoring"):
        from stations.devicemodel.services import monitoring_result_record

        monitoring_result_record(station_id=station_id, action=action, payload=payload, response=response)
    elif action == "GetMonitoringReport":
        from stations.devicemodel.services import monitoring_report_answer_record

        monitoring_report_answer_record(station_id=station_id, payload=payload, response=response)
    elif action == "ClearChargingProfile" and accepted:
        _charging_profiles_clear(station_id, payload)
    elif action == "GetInstalledCertificateIds":
        state = _protocol_state(station_id)
        # 1.6 asks for one type (a string), 2.0.1 for a list (none: every type).
        wanted = payload.get("certificateType")
        asked = {wanted} if isinstance(wanted, str) else set(wanted or [])
        kept = [c for c in state.installed_certificates if asked and c.get("certificateType") not in asked]
        reported: list[dict[str, Any]] = []
        if accepted:  # NotFound: the station holds no certificate of the requested types
            reported = [
                {**c, "certificateType": wanted} for c in response.get("certificateHashData") or []
            ] + [
                {
                    **(c.get("certificateHashData") or {}),
                    "certificateType": c.get("certificateType", ""),
                    # a V2G chain's sub-CA certificates (M03.FR.05), kept under their leaf
                    **(
                        {"childCertificateHashData": c["childCertificateHashData"]}
                        if c.get("childCertificateHashData")
                        else {}
                    ),
                }
                for c in response.get("certificateHashDataChain") or []
            ]
        state.installed_certificates = kept + reported
        state.save(update_fields=["installed_certificates", "updated_at"])
    elif action == "DeleteCertificate" and accepted:
        state = _protocol_state(station_id)
        target = payload.get("certificateHashData") or {}
        state.installed_certificates = [
            c for c in state.installed_certificates if c.get("serialNumber") != target.get("serialNumber")
        ]
        state.save(update_fields=["installed_certificates", "updated_at"])
    elif action == "GetDiagnostics":
        state = _protocol_state(station_id)
        state.diagnostics_file_name = str(response.get("fileName") or "")[:255]
        state.save(update_fields=["diagnostics_file_name", "updated_at"])
    elif action == "CustomerInformation" and accepted and payload.get("clear"):
        id_token = payload.get("idToken") or {}
        if id_token.get("idToken"):
            from stations.access.local_lists import local_list_customer_cleared

            local_list_customer_cleared(
                station_id=station_id,
                uid=str(id_token["idToken"]),
                id_token_type=str(id_token.get("type", "")),
            )
    elif action == "GetLog" and accepted:
        state = _protocol_state(station_id)
        state.log_file_name = str(response.get("filename") or "")[:255]
        state.log_request_id = payload.get("requestId")
        state.save(update_fields=["log_file_name", "log_request_id", "updated_at"])


# The purposes as 1.6 and 2.0.1 spell them, so one criterion matches rows from either version.
_PURPOSE_ALIASES = {"ChargePointMaxProfile": "ChargingStationMaxProfile"}


def _charging_profile_store(station_id: int, payload: dict[str, Any], accepted: bool) -> None:
    """Record a SetChargingProfile outcome: installed (replacing what it replaces) or rejected."""
    if "chargingProfile" in payload:  # 2.0.1: {"evseId", "chargingProfile": {"id", …}}
        profile = payload.get("chargingProfile") or {}
        connector_id = payload.get("evseId", 0)
        profile_id = profile.get("id", 0)
    else:  # 1.6: {"connectorId", "csChargingProfiles": {"chargingProfileId", …}}
        profile = payload.get("csChargingProfiles") or {}
        connector_id = payload.get("connectorId", 0)
        profile_id = profile.get("chargingProfileId", 0)
    purpose = profile.get("chargingProfilePurpose", "")
    now = timezone.now()
    if accepted:
        # 1.6 §3.13.2 / 2.0.1 K01.FR.05: a profile with the same id, or the same stackLevel and
        # purpose on the same connector (EVSE), replaces the old one.
        ChargingProfile.objects.filter(station_id=station_id, is_active=True).filter(
            models.Q(charging_profile_id=profile_id)
            | models.Q(connector_id=connector_id, stack_level=profile.get("stackLevel"), purpose=purpose)
        ).update(is_active=False, status=ChargingProfile.Status.REPLACED, cleared_at=now)
    ChargingProfile.objects.create(
        station_id=station_id,
        connector_id=connector_id,
        charging_profile_id=profile_id,
        stack_level=profile.get("stackLevel", 0),
        purpose=purpose,
        kind=profile.get("chargingProfileKind", ""),
        transaction_id=str(profile.get("transactionId") or ""),
        profile=profile,
        status=ChargingProfile.Status.INSTALLED if accepted else ChargingProfile.Status.REJECTED,
        is_active=accepted,
        cleared_at=None if accepted else now,
    )


def _charging_profiles_clear(station_id: int, payload: dict[str, Any]) -> None:
    """Mark what an accepted ClearChargingProfile names as cleared, and nothing else.

    1.6: `id`, or any of connectorId / chargingProfilePurpose / stackLevel (none given = all).
    2.0.1: `chargingProfileId`, or chargingProfileCriteria {evseId, chargingProfilePurpose, stackLevel}.
    """
    profiles = ChargingProfile.objects.filter(station_id=station_id, is_active=True)
    profile_id = payload.get("id", payload.get("chargingProfileId"))
    criteria = payload.get("chargingProfileCriteria") or {}
    connector_id = payload.get("connectorId", criteria.get("evseId"))
    purpose = payload.get("chargingProfilePurpose") or criteria.get("chargingProfilePurpose")
    stack_level = payload.get("stackLevel", criteria.get("stackLevel"))
    if profile_id is not None:
        profiles = profiles.filter(charging_profile_id=profile_id)
    else:
        if connector_id is not None:
            profiles = profiles.filter(connector_id=connector_id)
        if purpose:
            profiles = profiles.filter(purpose__in={purpose, _PURPOSE_ALIASES.get(purpose, purpose)})
        if stack_level is not None:
            profiles = profiles.filter(stack_level=stack_level)
    profiles.update(is_active=False, status=ChargingProfile.Status.CLEARED, cleared_at=timezone.now())


REMOTE_START_REFUSED: dict[str, str] = {
    Connector.Status.CHARGING: "the connector is charging",
    Connector.Status.SUSPENDED_EV: "the connector is in use",
    Connector.Status.SUSPENDED_EVSE: "the connector is in use",
    Connector.Status.FINISHING: "the connector is finishing a session",
    Connector.Status.FAULTED: "the connector is faulted",
    Connector.Status.UNAVAILABLE: "the connector is unavailable",
    Connector.Status.OCCUPIED: "the connector is occupied",
    Connector.Status.RESERVED: "the connector is reserved",
}


def session_remote_start(
    *,
    station: Station,
    evse_id: int,
    id_token: Any,
    requested_by: Any = None,
    idempotency_key: str = "",
    charging_profile: dict[str, Any] | None = None,
) -> Command:
    """Ask the station to start a session on `evse_id` for the card `id_token` (an IdToken or uid),
    with `charging_profile` (a TxProfile in the station's OCPP version, checked by smart charging)
    when given; the station's acceptance installs it.

    Raises StationError if the station is offline, the connector is unknown, in use, faulted,
    reserved or unavailable, or the card may not charge there. A 2.0.1 connector whose EV is
    plugged in without a card (F01) is started on: the station ties its transaction to the card.
    """
    uid = getattr(id_token, "uid", id_token)
    station = Station.objects.select_related("location").get(pk=station.pk)
    if not station.is_online or not station.channel_name:
        raise StationError(f"{station.identity} is offline")
    connector = (
        Connector.objects.filter(evse__station=station, evse__evse_id=evse_id)
        .order_by("connector_id")
        .first()
    )
    if connector is None:
        raise StationError(f"{station.identity} has no EVSE {evse_id}")
    v201 = station.ocpp_version != "1.6"
    # 2.0.1 F01: the driver may plug in first; the connector is then Occupied and, where the
    # station starts its transaction on EVConnected, a session without a card is already open.
    # Only a session somebody is authorized for makes the connector unavailable to a remote start.
    cable_first = v201 and connector.status == Connector.Status.OCCUPIED
    if connector.status in REMOTE_START_REFUSED and not cable_first:
        raise StationError(REMOTE_START_REFUSED[connector.status])
    active = Session.objects.filter(connector=connector, status=Session.Status.ACTIVE)
    if v201:
        active = active.exclude(id_tag="")
    if active.exists():
        raise StationError("the connector has an active session")
    decision = station_id_token_authorize(station=station, uid=uid, evse_id=connector.evse.evse_id)
    if not decision.accepted:
        raise StationError(f"card {uid}: {decision.reason}")
    action = "RequestStartTransaction" if v201 else "RemoteStartTransaction"
    if action == "RemoteStartTransaction":
        payload: dict[str, Any] = {"connectorId": evse_id, "idTag": uid}
    else:
        card_type = decision.id_token.type if decision.id_token is not None else IdToken.Type.ISO14443
        payload = {
            "evseId": evse_id,
            # Unique enough to tie the station's TransactionEvent back to this request (F01).
            "remoteStartId": secrets.randbelow(2**31 - 1) + 1,
            # The card's own type: a station matches the idToken by value and type (C01).
            "idToken": {"idToken": uid, "type": card_type},
        }
    if charging_profile is not None:
        payload["chargingProfile"] = charging_profile
    return command_create(
        station=station,
        action=action,
        payload=payload,
        requested_by=requested_by,
        idempotency_key=idempotency_key,
    )


def session_remote_stop(*, session: Session, requested_by: Any = None) -> Command:
    """Ask the station to stop an active session; raises StationError if it is not active or the
    station is offline."""
    session = Session.objects.select_related("station").get(pk=session.pk)
    if session.status != Session.Status.ACTIVE:
        raise StationError("the session is not active")
    if not session.station.is_online:
        raise StationError(f"{session.station.identity} is offline")
    if session.station.ocpp_version == "1.6":
        return command_create(
            station=session.station,
            action="RemoteStopTransaction",
            payload={"transactionId": int(session.transaction_id)},
            requested_by=requested_by,
        )
    return command_create(
        station=session.station,
        action="RequestStopTransaction",
        payload={"transactionId": session.transaction_id},
        requested_by=requested_by,
    )
