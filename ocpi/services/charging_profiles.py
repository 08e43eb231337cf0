"""ChargingProfiles receiver (OCPI 2.2.1, CPO role): an eMSP sets, reads or clears the charging
profile of one of its sessions. The work is smart charging's (a TxProfile on the session's EVSE,
GetCompositeSchedule, ClearChargingProfile) as durable station commands; the eMSP gets an immediate
ChargingProfileResponse, and the result at its response_url once the station answered or the
deadline passed (sent by ocpi.services.commands.remote_command_result_send)."""

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ocpi import transport
from ocpi.models import Partner, RemoteCommand
from ocpi.services.routing import body_party, parties_q
from ocpi.transport import OcpiError
from smartcharging.services import (
    ProfileSpec,
    SmartChargingError,
    charging_profile_clear,
    charging_profile_send,
    composite_schedule_request,
)
from stations.common import StationError
from stations.models import ChargingProfile, Command, Session

SET, GET, CLEAR = "SET_CHARGING_PROFILE", "GET_CHARGING_PROFILE", "CLEAR_PROFILE"
PROFILE_COMMANDS = (SET, GET, CLEAR)
# The eMSP's TxProfile on an EVSE has this id + the EVSE id, so a new one replaces the last. It lies
# in smart charging's reserved range (RESERVED_PROFILE_IDS), above its own ids, and sits at stack
# level 0: the site's load-management TxProfile (stack level 1) always wins over the eMSP's wish.
ROAMING_TX_PROFILE_ID = 1_001_000
ROAMING_STACK_LEVEL = 0
DEFAULT_DURATION = 3600
UNITS = ("W", "A")


def _response(result: str, *, timeout: int = 0) -> dict[str, Any]:
    return {"result": result, "timeout": timeout}


def _number(value: Any, *, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise OcpiError(f"{field} must be a number", status_code=transport.INVALID_PARAMETERS)
    return float(value)


def _profile_spec(profile: Any, *, evse_id: int, transaction_id: str) -> ProfileSpec:
    """An OCPI ChargingProfile as smart charging's ProfileSpec. Raises OcpiError 2001 when malformed."""
    if not isinstance(profile, dict):
        raise OcpiError("charging_profile is required", status_code=transport.INVALID_PARAMETERS)
    unit = profile.get("charging_rate_unit")
    if unit not in UNITS:
        raise OcpiError("charging_rate_unit must be W or A", status_code=transport.INVALID_PARAMETERS)
    periods = profile.get("charging_profile_period")
    if not isinstance(periods, list) or not periods or not all(isinstance(p, dict) for p in periods):
        raise OcpiError(
            "charging_profile_period must be a non-empty list of periods",
            status_code=transport.INVALID_PARAMETERS,
        )
    start = profile.get("start_date_time")
    start_at = transport.ocpi_datetime_parse(str(start), field="start_date_time") if start else None
    duration = profile.get("duration")
    return ProfileSpec(
        purpose="Tx",
        periods=[
            {
                "start": int(_number(p.get("start_period"), field="start_period")),
                "limit": _number(p.get("limit"), field="limit"),
            }
            for p in periods
        ],
        unit=unit,
        evse_id=evse_id,
        stack_level=ROAMING_STACK_LEVEL,
        # Without a start the profile runs from the start of the transaction (OCPP Relative).
        kind="Absolute" if start_at else "Relative",
        start_schedule=start_at,
        duration=int(_number(duration, field="duration")) if duration is not None else None,
        transaction_id=transaction_id,
        profile_id=ROAMING_TX_PROFILE_ID + evse_id,
    )


def _session_find(*, partner: Partner, parties: set[tuple[str, str]], session_id: str) -> Session | None:
    """The partner's session by its OCPI id, if its token belongs to one of `parties`."""
    if not session_id.isdigit():
        return None
    return (
        Session.objects.select_related("station", "evse", "roaming")
        .filter(pk=int(session_id), roaming__partner=partner)
        .filter(parties_q("roaming__cdr_token", parties))
        .first()
    )


def charging_profile_request(
    *,
    partner: Partner,
    parties: set[tuple[str, str]],
    command: str,
    session_id: str,
    response_url: Any,
    charging_profile: Any = None,
    duration: Any = None,
) -> dict[str, Any]:
    """Take an eMSP's ChargingProfiles request for its session: queue the station command and a
    RemoteCommand that carries the result to `response_url`.

    Returns the ChargingProfileResponse: ACCEPTED (result follows), UNKNOWN_SESSION (not the
    partner's, or not of the party it acts for), REJECTED (the session has ended, the station
    refuses the profile), TOO_OFTEN (the last request for the session still waits for the station).
    Raises OcpiError 2001 for a missing response_url or a malformed profile or duration.
    """
    if not isinstance(response_url, str) or not response_url.startswith(("http://", "https://")):
        raise OcpiError("response_url is required", status_code=transport.INVALID_PARAMETERS)
    if len(response_url) > 500:
        raise OcpiError(
            "response_url is longer than 500 characters", status_code=transport.INVALID_PARAMETERS
        )
    seconds = DEFAULT_DURATION
    if command == GET and duration not in (None, ""):
        if not str(duration).isdigit() or not 0 < int(str(duration)) <= 7 * 86400:
            raise OcpiError("duration must be 1 to 604800 seconds", status_code=transport.INVALID_PARAMETERS)
        seconds = int(str(duration))
    session = _session_find(partner=partner, parties=parties, session_id=session_id)
    if session is None:
        return _response("UNKNOWN_SESSION")
    spec = None
    if command == SET:
        spec = _profile_spec(
            charging_profile, evse_id=session.evse.evse_id if session.evse else 0,
            transaction_id=session.transaction_id or "",
        )  # fmt: skip
    if session.status != Session.Status.ACTIVE or session.evse is None:
        return _response("REJECTED")
    body: dict[str, Any] = {"session_id": session_id}
    if spec is not None:
        body["charging_profile"] = charging_profile
    if command == GET:
        body["duration"] = seconds
    with transaction.atomic():
        waiting = RemoteCommand.objects.select_for_update().filter(
            partner=partner, command__in=PROFILE_COMMANDS, body__session_id=session_id,
            result_sent_at__isnull=True,
        )  # fmt: skip
        if waiting.exists():
            return _response("TOO_OFTEN")
        try:
            station_command = _station_command(command=command, session=session, spec=spec, seconds=seconds)
        except (SmartChargingError, StationError):
            return _response("REJECTED")
        remote = RemoteCommand.objects.create(
            partner=partner,
            command=command,
            response_url=response_url,
            body=body,
            station_command=station_command,
            deadline=timezone.now() + timedelta(seconds=settings.OCPI_COMMAND_TIMEOUT),
        )
        if station_command is None:
            # Nothing of the eMSP's to clear: the result (UNKNOWN) is known now.
            from ocpi.tasks import command_result_send_task

            transaction.on_commit(lambda: command_result_send_task.delay(remote.pk))
    return _response("ACCEPTED", timeout=settings.OCPI_COMMAND_TIMEOUT)


def _station_command(
    *, command: str, session: Session, spec: ProfileSpec | None, seconds: int
) -> Command | None:
    station, evse_id = session.station, session.evse.evse_id if session.evse else 0
    if spec is not None:
        return charging_profile_send(station=station, spec=spec, managed=True)
    if command == GET:
        return composite_schedule_request(station=station, evse_id=evse_id, duration=seconds, unit="W")
    profile_id = ROAMING_TX_PROFILE_ID + evse_id
    if not ChargingProfile.objects.filter(
        station=station, charging_profile_id=profile_id, is_active=True
    ).exists():
        return None
    return charging_profile_clear(station=station, profile_id=profile_id)


def _active_profile(response: dict[str, Any]) -> dict[str, Any]:
    """A GetCompositeSchedule answer (1.6 chargingSchedule, 2.0.1 schedule) as an ActiveChargingProfile."""
    schedule = response.get("chargingSchedule") or response.get("schedule") or {}
    start = response.get("scheduleStart") or schedule.get("scheduleStart") or schedule.get("startSchedule")
    start_at = (
        transport.ocpi_datetime(transport.ocpi_datetime_parse(str(start), field="scheduleStart"))
        if start
        else None
    )
    profile: dict[str, Any] = {
        "charging_rate_unit": schedule.get("chargingRateUnit", "W"),
        "charging_profile_period": [
            {"start_period": int(p.get("startPeriod", 0)), "limit": float(p.get("limit", 0))}
            for p in schedule.get("chargingSchedulePeriod") or []
        ],
    }
    if start_at:
        profile["start_date_time"] = start_at
    if schedule.get("duration") is not None:
        profile["duration"] = int(schedule["duration"])
    if schedule.get("minChargingRate") is not None:
        profile["min_charging_rate"] = float(schedule["minChargingRate"])
    return {
        "start_date_time": start_at or transport.ocpi_datetime(timezone.now()),
        "charging_profile": profile,
    }


def charging_profile_result(remote: RemoteCommand) -> tuple[str, dict[str, Any], tuple[str, str] | None]:
    """The result to POST for a ChargingProfiles request: (result, body, party it is for), result ''
    while the station has not answered and the deadline has not passed. ChargingProfileResultType
    knows no timeout: a station that did not answer in time is REJECTED."""
    session = Session.objects.select_related("roaming").filter(pk=int(remote.body["session_id"])).first()
    party = body_party({"cdr_token": session.roaming.cdr_token}) if session is not None else None
    command = remote.station_command
    if command is None:
        return "UNKNOWN", {"result": "UNKNOWN"}, party
    if command.status not in Command.FINAL:
        return ("REJECTED" if remote.deadline <= timezone.now() else ""), {"result": "REJECTED"}, party
    answer = str((command.response or {}).get("status", ""))
    if command.status == Command.Status.ACCEPTED:
        result = "ACCEPTED"
    elif remote.command == CLEAR and answer == "Unknown":
        result = "UNKNOWN"
    else:
        result = "REJECTED"
    body: dict[str, Any] = {"result": result}
    if remote.command == GET and result == "ACCEPTED":
        body["profile"] = _active_profile(command.response or {})
    return result, body, party
