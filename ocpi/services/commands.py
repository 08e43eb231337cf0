"""Commands an eMSP sends (the Commands receiver): durable OCPP commands, results to response_url."""

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ocpi import selectors, transport, v211
from ocpi.client import PartnerUnreachable, partner_call
from ocpi.models import Partner, RemoteCommand, RoamingSession, RoamingToken
from ocpi.services.charging_profiles import PROFILE_COMMANDS, charging_profile_result
from ocpi.services.partners import partner_parties
from ocpi.services.routing import body_party
from ocpi.services.tokens import roaming_token_find, roaming_token_save, token_check
from ocpi.transport import OcpiError
from stations.common import StationError
from stations.connection.services.commands import command_create, session_remote_start, session_remote_stop
from stations.models import Command, Session

COMMANDS = ("START_SESSION", "STOP_SESSION", "RESERVE_NOW", "CANCEL_RESERVATION", "UNLOCK_CONNECTOR")


def _command_response(result: str, message: str = "", timeout: int = 0) -> dict[str, Any]:
    response: dict[str, Any] = {"result": result, "timeout": timeout}
    if message:
        response["message"] = [{"language": "en", "text": message[:512]}]
    return response


def _command_location(body: dict[str, Any], *, evse_required: bool) -> tuple[Any, Any]:
    location = selectors.location_get(location_id=str(body.get("location_id") or ""))
    if location is None:
        raise OcpiError(
            f"unknown location {body.get('location_id')}",
            status_code=transport.UNKNOWN_LOCATION,
            data=_command_response("REJECTED", "unknown location"),
        )
    evse_uid = str(body.get("evse_uid") or "")
    if not evse_uid:
        if evse_required:
            raise _Rejected("evse_uid is required: ChargeNet starts sessions on a given EVSE")
        return location, None
    found = selectors.evse_get(location=location, uid=evse_uid)
    if found is None:
        raise _Rejected(f"unknown EVSE {evse_uid}")
    return location, found


class _Rejected(Exception):
    """A command we cannot forward: answered REJECTED with this message."""


def _token_for_command(
    *, partner: Partner, parties: set[tuple[str, str]], body: dict[str, Any]
) -> RoamingToken:
    """The command's Token, stored like a pushed one (not authorized: the eMSP vouches for it)."""
    token = body.get("token")
    if not isinstance(token, dict) or not token.get("uid"):
        raise OcpiError("token is required", status_code=transport.INVALID_PARAMETERS)
    token = {"whitelist": "ALLOWED", "valid": True, "issuer": partner.name, "contract_id": token.get("uid"),
             "country_code": partner.country_code, "party_id": partner.party_id, "type": "RFID",
             "last_updated": transport.ocpi_datetime(timezone.now()), **token}  # fmt: skip
    uid, token_type = str(token["uid"]), str(token["type"])
    token_check(
        token,
        country_code=str(token["country_code"]),
        party_id=str(token["party_id"]),
        uid=uid,
        token_type=token_type,
    )
    if (str(token["country_code"]).upper(), str(token["party_id"]).upper()) not in parties:
        raise OcpiError("the token belongs to another party", status_code=transport.INVALID_PARAMETERS)
    existing = roaming_token_find(partner=partner, uid=uid, token_type=token_type)
    saved = roaming_token_save(partner=partner, token=token, existing=existing)
    saved.authorization_reference = str(body.get("authorization_reference") or "")[:36]
    saved.command_at = timezone.now()
    saved.save(update_fields=["authorization_reference", "command_at"])
    return saved


def remote_command_receive(
    *, partner: Partner, command: str, body: Any, parties: set[tuple[str, str]] | None = None
) -> dict[str, Any]:
    """An eMSP's command becomes the same durable OCPP command the dashboard and API send; the
    CommandResult follows at `response_url` when the station answered (or TIMEOUT). `parties` are
    those the request acts for (a hub forwarding for one party; default: all of the partner's).

    Returns the immediate CommandResponse (ACCEPTED, REJECTED with a reason, NOT_SUPPORTED,
    UNKNOWN_SESSION). Raises OcpiError 2001 for a malformed body, 2003 for an unknown location.
    """
    if command not in COMMANDS:
        return _command_response("NOT_SUPPORTED", f"unknown command {command}")
    if (
        not isinstance(body, dict)
        or not isinstance(body.get("response_url"), str)
        or not body["response_url"]
    ):
        raise OcpiError("response_url is required", status_code=transport.INVALID_PARAMETERS)
    try:
        # One transaction: the station command goes out only once its RemoteCommand exists, so
        # the station's answer always finds it.
        with transaction.atomic():
            station_command, token_uid = _command_send(
                partner=partner, parties=parties or partner_parties(partner), command=command, body=body
            )
            RemoteCommand.objects.create(
                partner=partner,
                command=command,
                response_url=body["response_url"][:500],
                body=body,
                station_command=station_command,
                token_uid=token_uid,
                deadline=timezone.now() + timedelta(seconds=settings.OCPI_COMMAND_TIMEOUT),
            )
    except _Rejected as exc:
        return _command_response("REJECTED", str(exc))
    except _UnknownSession as exc:
        return _command_response("UNKNOWN_SESSION", str(exc))
    except StationError as exc:
        return _command_response("REJECTED", str(exc))
    return _command_response("ACCEPTED", timeout=settings.OCPI_COMMAND_TIMEOUT)


class _UnknownSession(Exception):
    """STOP_SESSION for a session the partner does not have."""


def _reservation_command(partner: Partner, reservation_id: Any) -> RemoteCommand | None:
    return (
        RemoteCommand.objects.filter(
            partner=partner, command="RESERVE_NOW", body__reservation_id=reservation_id
        )
        .exclude(station_command=None)
        .order_by("-id")
        .first()
    )


def _command_send(
    *, partner: Partner, parties: set[tuple[str, str]], command: str, body: dict[str, Any]
) -> tuple[Command, str]:
    if command == "START_SESSION":
        _, found = _command_location(body, evse_required=True)
        evse, station = found
        token = _token_for_command(partner=partner, parties=parties, body=body)
        return session_remote_start(station=station, evse_id=evse.evse_id, id_token=token.uid), token.uid
    if command == "STOP_SESSION":
        session_id = str(body.get("session_id") or "")
        session = Session.objects.filter(pk=int(session_id)).first() if session_id.isdigit() else None
        if session is None:
            raise _UnknownSession(f"unknown session {session_id}")
        roaming = RoamingSession.objects.filter(session=session).first()
        if (
            roaming is None
            or roaming.partner_id != partner.pk
            or body_party({"cdr_token": roaming.cdr_token}) not in parties
        ):
            raise _Rejected("the session is not one of yours")
        return session_remote_stop(session=session), ""
    if command == "RESERVE_NOW":
        _, found = _command_location(body, evse_required=True)
        evse, station = found
        token = _token_for_command(partner=partner, parties=parties, body=body)
        expiry = transport.ocpi_datetime_parse(str(body.get("expiry_date") or ""), field="expiry_date")
        # Reservation ids are ours, unique across eMSPs: the RemoteCommand numbering is not shared.
        reservation_id = int(timezone.now().timestamp() * 1000) % 2_000_000_000
        action = "ReserveNow"
        if station.ocpp_version == "1.6":
            payload: dict[str, Any] = {
                "connectorId": evse.evse_id,
                "expiryDate": transport.ocpi_datetime(expiry),
                "idTag": token.uid,
                "reservationId": reservation_id,
            }
        else:
            payload = {
                "id": reservation_id,
                "expiryDateTime": transport.ocpi_datetime(expiry),
                "idToken": {"idToken": token.uid, "type": "ISO14443"},
                "evseId": evse.evse_id,
            }
        return command_create(station=station, action=action, payload=payload), token.uid
    if command == "CANCEL_RESERVATION":
        reservation = _reservation_command(partner, body.get("reservation_id"))
        if reservation is None or reservation.station_command is None:
            raise _Rejected(f"unknown reservation {body.get('reservation_id')}")
        ours = reservation.station_command.payload.get(
            "reservationId", reservation.station_command.payload.get("id")
        )
        return command_create(
            station=reservation.station_command.station,
            action="CancelReservation",
            payload={"reservationId": ours},
        ), ""
    # UNLOCK_CONNECTOR
    _, found = _command_location(body, evse_required=True)
    evse, station = found
    if station.ocpp_version == "1.6":
        payload = {"connectorId": evse.evse_id}
    else:
        payload = {"evseId": evse.evse_id, "connectorId": int(str(body.get("connector_id") or 1))}
    return command_create(station=station, action="UnlockConnector", payload=payload), ""


COMMAND_RESULTS: dict[str, str] = {
    Command.Status.ACCEPTED: "ACCEPTED",
    Command.Status.REJECTED: "REJECTED",
    Command.Status.ERROR: "FAILED",
    Command.Status.TIMED_OUT: "TIMEOUT",
    Command.Status.EXPIRED: "TIMEOUT",
}
STATION_ANSWERS = {
    "Occupied": "EVSE_OCCUPIED",
    "Faulted": "EVSE_INOPERATIVE",
    "Unavailable": "EVSE_INOPERATIVE",
}


def remote_command_result(remote: RemoteCommand) -> str:
    """The CommandResult for the station's answer so far ('' while it has not answered in time)."""
    command = remote.station_command
    if command is None:
        return "FAILED"
    if command.status in Command.FINAL:
        answer = str((command.response or {}).get("status", ""))
        if command.status == Command.Status.REJECTED and answer in STATION_ANSWERS:
            return STATION_ANSWERS[answer]
        return COMMAND_RESULTS.get(command.status, "FAILED")
    return "TIMEOUT" if remote.deadline <= timezone.now() else ""


def _result_party(remote: RemoteCommand) -> tuple[str, str] | None:
    """The party behind a hub a CommandResult is for: its token's owner (START_SESSION, RESERVE_NOW)
    or the owner of the session's token (STOP_SESSION)."""
    party = body_party(remote.body)
    session_id = str(remote.body.get("session_id") or "") if isinstance(remote.body, dict) else ""
    if party is None and session_id.isdigit():
        roaming = RoamingSession.objects.filter(session_id=int(session_id)).first()
        party = body_party({"cdr_token": roaming.cdr_token}) if roaming is not None else None
    return party


def remote_command_result_send(*, remote_command_id: int) -> str:
    """POST the CommandResult (or the ChargingProfiles result) to the eMSP's response_url once (OCPI:
    not retried; the eMSP has the timeout). Returns the result sent, or '' when there is nothing to send yet or it was sent."""
    remote = RemoteCommand.objects.select_related("partner", "station_command").get(pk=remote_command_id)
    module, to_party = "commands", _result_party(remote)
    if remote.command in PROFILE_COMMANDS:
        module = "chargingprofiles"
        result, body, to_party = charging_profile_result(remote)
    else:
        result = remote_command_result(remote)
        message = (remote.station_command.error if remote.station_command else "") or ""
        body = {"result": result} | (
            {"message": [{"language": "en", "text": message[:512]}]} if message else {}
        )
    if not result:
        return ""
    claimed = RemoteCommand.objects.filter(pk=remote.pk, result_sent_at__isnull=True).update(
        result=result, result_sent_at=timezone.now()
    )
    if not claimed:
        return ""
    if module == "commands" and remote.partner.version == v211.VERSION:
        body = v211.out_command_response(body)  # 2.1.1 posts a CommandResponse
    try:
        partner_call(
            remote.partner,
            method="POST",
            url=remote.response_url,
            module=module,
            body=body,
            to_party=to_party,
        )
    except PartnerUnreachable:
        pass  # logged on the partner; OCPI Commands module: a lost result is not retried
    return result


def remote_commands_overdue() -> list[int]:
    """Commands whose station did not answer before the deadline and whose result is not sent."""
    return list(
        RemoteCommand.objects.filter(result_sent_at__isnull=True, deadline__lte=timezone.now()).values_list(
            "id", flat=True
        )[:500]
    )
