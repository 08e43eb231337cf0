"""Every write and business rule of the stations app (STYLE.md: services)."""

import logging
import time
from datetime import timedelta
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

from chargenet.events import event_publish
from stations.access import station_id_token_authorize
from stations.commands import PayloadError, action_supported, payload_validate
from stations.models import (
    Command,
    Connector,
    Evse,
    Location,
    SecurityEvent,
    Session,
    Station,
    StationProtocolState,
)
from stations.passwords import MAX_LENGTH, MIN_LENGTH, password_generate, password_hash

logger = logging.getLogger(__name__)


class StationError(Exception):
    """A station action was refused; the message says why in words an operator understands."""


LOCATION_FIELDS = {
    "name",
    "address",
    "city",
    "postal_code",
    "country",
    "latitude",
    "longitude",
    "time_zone",
    "is_public",
}
STATION_FIELDS = {
    "location",
    "name",
    "ocpp_version",
    "security_profile",
    "registration_status",
    "lenient",
    "is_public",
    "heartbeat_interval",
}


def _check_time_zone(name: str) -> None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise StationError(f"{name!r} is not an IANA time zone (e.g. Europe/Amsterdam)") from None


@transaction.atomic
def location_create(**fields: Any) -> Location:
    """Create a location; raises StationError for an unknown time zone or field."""
    unknown = set(fields) - LOCATION_FIELDS
    if unknown:
        raise StationError(f"unknown location fields: {', '.join(sorted(unknown))}")
    _check_time_zone(fields.get("time_zone", "UTC"))
    location = Location.objects.create(**fields)
    event_publish("location.created", {"location_id": location.pk})
    return location


@transaction.atomic
def location_update(*, location: Location, **fields: Any) -> Location:
    unknown = set(fields) - LOCATION_FIELDS
    if unknown:
        raise StationError(f"unknown location fields: {', '.join(sorted(unknown))}")
    if "time_zone" in fields:
        _check_time_zone(fields["time_zone"])
    for name, value in fields.items():
        setattr(location, name, value)
    location.save()
    event_publish("location.updated", {"location_id": location.pk})
    return location


def _check_identity(identity: str) -> None:
    # OCPP 2.0.1 identity: identifierString ≤ 48, and no ':' because it is the Basic-auth username.
    if not identity or len(identity) > 48:
        raise StationError("identity must be 1 to 48 characters")
    if ":" in identity or "/" in identity or any(ch.isspace() for ch in identity):
        raise StationError("identity must not contain ':', '/' or white space")


def _check_password(password: str) -> None:
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        raise StationError(f"password must be {MIN_LENGTH} to {MAX_LENGTH} characters")


@transaction.atomic
def station_create(
    *,
    identity: str,
    password: str | None = None,
    evses: int = 1,
    connectors_per_evse: int = 1,
    **fields: Any,
) -> tuple[Station, str]:
    """Register a station with `evses` EVSEs; returns it and its Basic-auth password (generated when
    not given, shown once). Raises StationError for a taken or malformed identity or password."""
    _check_identity(identity)
    unknown = set(fields) - STATION_FIELDS
    if unknown:
        raise StationError(f"unknown station fields: {', '.join(sorted(unknown))}")
    if Station.objects.filter(identity__iexact=identity).exists():
        raise StationError(f"a station with identity {identity!r} already exists")
    password = password if password is not None else password_generate()
    _check_password(password)
    station = Station.objects.create(identity=identity, password_hash=password_hash(password), **fields)
    for evse_id in range(1, evses + 1):
        evse = Evse.objects.create(station=station, evse_id=evse_id)
        for connector_id in range(1, connectors_per_evse + 1):
            Connector.objects.create(evse=evse, connector_id=connector_id)
    event_publish("station.created", {"station_id": station.pk, "identity": station.identity})
    return station, password


@transaction.atomic
def station_update(*, station: Station, **fields: Any) -> Station:
    """Change a station's settings; raises StationError for an unknown field."""
    unknown = set(fields) - STATION_FIELDS
    if unknown:
        raise StationError(f"unknown station fields: {', '.join(sorted(unknown))}")
    for name, value in fields.items():
        setattr(station, name, value)
    station.save()
    event_publish("station.updated", {"station_id": station.pk, "identity": station.identity})
    return station


@transaction.atomic
def station_password_set(*, station: Station, password: str | None = None) -> str:
    """Set (or generate) a new Basic-auth password at once; returns it. The station's next
    connection must use it."""
    password = password if password is not None else password_generate()
    _check_password(password)
    station.password_hash = password_hash(password)
    station.save(update_fields=["password_hash"])
    return password


@transaction.atomic
def station_delete(*, station: Station) -> None:
    """Delete a station that has no sessions; raises StationError otherwise."""
    if station.sessions.exists():
        raise StationError("a station with recorded sessions cannot be deleted; set it to Rejected instead")
    identity, pk = station.identity, station.pk
    station.delete()
    event_publish("station.deleted", {"station_id": pk, "identity": identity})


class CommandError(StationError):
    """A command was refused before it was queued (unsupported action, invalid payload …)."""


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
    the command created first. Raises CommandError for an action the station's OCPP version lacks,
    a payload that breaks the schema, or a station that is Rejected.
    """
    if not action_supported(ocpp_version=station.ocpp_version, action=action):
        raise CommandError(f"OCPP {station.ocpp_version} stations do not support the action {action!r}")
    try:
        payload_validate(ocpp_version=station.ocpp_version, action=action, payload=payload)
    except PayloadError as exc:
        raise CommandError(str(exc)) from None
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
        command = Command.objects.create(
            station=station,
            action=action,
            payload=payload,
            requested_by=requested_by,
            idempotency_key=idempotency_key,
            expires_at=timezone.now() + timedelta(seconds=expiry),
        )
        event_publish("command.updated", _command_event(command))
        transaction.on_commit(lambda: command_dispatch(station_id=station.pk))
    return command


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
    """Wait up to `timeout` seconds for the command's final status; returns it as it then is."""
    deadline = time.monotonic() + max(0.0, timeout)
    while True:
        command.refresh_from_db()
        if command.status in Command.FINAL or time.monotonic() >= deadline:
            return command
        time.sleep(0.1)


def _command_event(command: Command) -> dict[str, Any]:
    return {
        "command_id": str(command.uuid),
        "station_id": command.station_id,
        "identity": command.station.identity,
        "action": command.action,
        "status": command.status,
    }


# =============================================================================================
# OCPP: the domain behind the wire (called by stations/protocol and stations/consumers.py)
# =============================================================================================

ACCEPTING_STATUSES = frozenset({"Accepted", "Unlocked", "RebootRequired", "Scheduled"})
FAULT_FREE_ERROR_CODES = frozenset({"", "NoError"})
ENERGY_REGISTER = "Energy.Active.Import.Register"


class StationAuthError(StationError):
    """A WebSocket handshake was refused (unknown identity, missing or wrong credentials)."""


def _protocol_state(station_id: int) -> StationProtocolState:
    state, _ = StationProtocolState.objects.get_or_create(station_id=station_id)
    return state


def _station_event(station: Station, **extra: Any) -> dict[str, Any]:
    return {"station_id": station.pk, "identity": station.identity, **extra}


@transaction.atomic
def security_event_record(
    *,
    identity: str,
    type: str,
    source: str = "csms",
    station: Station | None = None,
    tech_info: str = "",
    remote_address: str = "",
    timestamp: Any = None,
) -> SecurityEvent:
    """Store a security event (a refused connection, or a station's SecurityEventNotification) and
    publish `security_event.recorded`."""

    event = SecurityEvent.objects.create(
        station=station,
        identity=identity[:48],
        source=source,
        type=type[:50],
        tech_info=(tech_info or "")[:255],
        remote_address=remote_address[:64],
        timestamp=timestamp or timezone.now(),
    )
    event_publish(
        "security_event.recorded",
        {"station_id": station.pk if station else None, "identity": identity, "type": event.type},
    )
    return event


def _password_matches(password: bytes, stored: str) -> bool:
    from stations.passwords import password_check

    return bool(stored) and password_check(password, stored)


def station_connect_authenticate(
    *, identity: str, username: str | None, password: bytes | None, remote_address: str = ""
) -> Station:
    """Check a handshake's identity and HTTP Basic credentials; returns the station.

    The password is bytes because a 1.6 AuthorizationKey is binary (OCPP-J 1.6 §6.2.2). A station
    whose new key is still pending is let in with it and the key is promoted: it evidently took it.
    Unknown identities are refused unless OCPP_ALLOW_UNKNOWN_STATIONS (then created as Pending, with
    no password until an operator sets one). Raises StationAuthError; wrong credentials of a known
    station are recorded as a security event. Never touches the station's live connection.
    """
    station = Station.objects.filter(identity=identity).first()
    if station is None:
        if not settings.OCPP_ALLOW_UNKNOWN_STATIONS:
            raise StationAuthError("unknown station")
        _check_identity(identity)
        with transaction.atomic():
            station = Station.objects.create(
                identity=identity, registration_status=Station.RegistrationStatus.PENDING
            )
            event_publish("station.created", _station_event(station))
        return station
    if not station.password_hash:
        return station  # onboarding: no password set yet (1.6 J §6.2.2 sets one while Pending)
    if password is None:
        security_event_record(
            identity=identity, station=station, type="MissingCredentials", remote_address=remote_address
        )
        raise StationAuthError("credentials required")
    if username != identity:
        security_event_record(
            identity=identity,
            station=station,
            type="UsernameMismatch",
            tech_info=f"username {username!r}"[:255],
            remote_address=remote_address,
        )
        raise StationAuthError("username must equal the station identity")
    if _password_matches(password, station.password_hash):
        return station
    state = _protocol_state(station.pk)
    if _password_matches(password, state.pending_password_hash):
        with transaction.atomic():
            Station.objects.filter(pk=station.pk).update(password_hash=state.pending_password_hash)
            type(state).objects.filter(pk=state.pk).update(pending_password_hash="")
        station.refresh_from_db()
        return station
    security_event_record(
        identity=identity, station=station, type="InvalidPassword", remote_address=remote_address
    )
    raise StationAuthError("invalid password")


@transaction.atomic
def station_connected(*, station_id: int, channel_name: str, node: str) -> str:
    """Record the live connection (presence); returns the previous connection's channel name, if any,
    so the caller can close it (a new authenticated connection replaces the old one)."""
    station = Station.objects.select_for_update().get(pk=station_id)
    previous = station.channel_name
    now = timezone.now()
    Station.objects.filter(pk=station_id).update(
        channel_name=channel_name, node=node, connected_since=now, is_online=True, last_seen_at=now
    )
    event_publish("station.connected", _station_event(station))
    return previous if previous != channel_name else ""


@transaction.atomic
def station_disconnected(
    *, station_id: int, channel_name: str, last_seen_at: Any = None, command_id: int | None = None
) -> bool:
    """Clear presence when the connection closes, but only if it is still the station's live one;
    the command it had in flight (`command_id`) times out. Returns True when the station went offline."""
    fields: dict[str, Any] = {"channel_name": "", "node": "", "connected_since": None, "is_online": False}
    if last_seen_at is not None:
        fields["last_seen_at"] = last_seen_at
    updated = Station.objects.filter(pk=station_id, channel_name=channel_name).update(**fields)
    if command_id is not None:  # sent on this connection, never answered: no answer is coming
        command_complete(command_id=command_id, timed_out=True, note="connection closed before the answer")
    if updated:
        station = Station.objects.get(pk=station_id)
        event_publish("station.disconnected", _station_event(station))
    return bool(updated)


def station_seen_flush(*, seen: dict[int, Any]) -> None:
    """Write the last-seen times kept in memory (station id → time), one batch per flush, so a
    Heartbeat never costs a database write of its own."""
    for station_id, at in seen.items():
        Station.objects.filter(pk=station_id).exclude(channel_name="").update(last_seen_at=at, is_online=True)


@transaction.atomic
def station_mark_offline() -> list[int]:
    """Mark stations offline that have been silent for 2 × heartbeat interval + OCPP_OFFLINE_GRACE;
    returns their ids."""
    from datetime import timedelta

    now = timezone.now()
    default = settings.OCPP_HEARTBEAT_INTERVAL
    gone = []
    for station in Station.objects.filter(is_online=True).only(
        "pk", "identity", "last_seen_at", "heartbeat_interval", "connected_since"
    ):
        interval = station.heartbeat_interval or default
        seen = station.last_seen_at or station.connected_since
        if seen is None or seen < now - timedelta(seconds=2 * interval + settings.OCPP_OFFLINE_GRACE):
            if Station.objects.filter(pk=station.pk, is_online=True).update(is_online=False):
                gone.append(station.pk)
                event_publish("station.disconnected", _station_event(station, reason="silent"))
    return gone


def _clip(value: Any, length: int) -> str:
    return str(value or "")[:length]


@transaction.atomic
def station_boot(*, station_id: int, info: dict[str, Any]) -> tuple[str, int]:
    """Handle a BootNotification: store what the station says about itself and answer its
    registration status and heartbeat interval. A boot while sessions are active means they ended
    with the reboot: they are closed as incomplete (reason "Reboot") and flagged."""
    station = Station.objects.select_for_update().get(pk=station_id)
    station.vendor = _clip(info.get("charge_point_vendor"), 50)
    station.model = _clip(info.get("charge_point_model"), 50)
    station.serial_number = _clip(
        info.get("charge_point_serial_number") or info.get("charge_box_serial_number"), 50
    )
    station.firmware_version = _clip(info.get("firmware_version"), 50)
    station.iccid = _clip(info.get("iccid"), 20)
    station.imsi = _clip(info.get("imsi"), 20)
    station.meter_type = _clip(info.get("meter_type"), 25)
    station.meter_serial_number = _clip(info.get("meter_serial_number"), 25)
    now = timezone.now()
    status = station.registration_status
    if status == Station.RegistrationStatus.ACCEPTED:
        station.last_boot_at = now
    station.save()
    if status == Station.RegistrationStatus.ACCEPTED:
        for session in Session.objects.select_for_update().filter(
            station=station, status=Session.Status.ACTIVE
        ):
            session.status = Session.Status.INCOMPLETE
            session.stopped_at = now
            session.stop_reason = "Reboot"
            session.flags = [*session.flags, "closed_by_reboot"]
            session.save()
            event_publish("session.stopped", _session_event(session))
    event_publish("station.booted", _station_event(station, registration_status=status))
    return status, station.heartbeat_interval or settings.OCPP_HEARTBEAT_INTERVAL


@transaction.atomic
def station_id_tag_authorize(*, station_id: int, uid: str):
    """Answer an Authorize request: the decision for `uid` at the station; marks the card used."""
    station = Station.objects.select_related("location").get(pk=station_id)
    return station_id_token_authorize(station=station, uid=uid)


def _connector_for(station: Station, connector_id: int) -> Connector:
    # OCPP 1.6: connector id N is EVSE N with a single connector; stations report what they have.
    evse, _ = Evse.objects.get_or_create(station=station, evse_id=connector_id)
    connector, _ = Connector.objects.get_or_create(evse=evse, connector_id=1)
    return connector


def _session_event(session: Session) -> dict[str, Any]:
    return {
        "session_id": session.pk,
        "station_id": session.station_id,
        "identity": session.station.identity,
        "evse_id": session.evse.evse_id if session.evse is not None else None,
        "transaction_id": session.transaction_id,
        "id_tag": session.id_tag,
        "energy_wh": session.energy_wh,
        "status": session.status,
    }


@transaction.atomic
def session_start(
    *,
    station_id: int,
    connector_id: int,
    id_tag: str,
    meter_start: int,
    timestamp: Any,
    reservation_id: int | None = None,
):
    """Record a StartTransaction and assign its integer transaction id; returns (session, decision).

    Idempotent on content: a retry (same connector, id tag, meterStart and timestamp) returns the
    same session. An active session left on the connector lost its StopTransaction: it is closed as
    incomplete and flagged. A card that is not Accepted still gets a session (the CSMS cannot prevent
    a start, 1.6 §4.8), flagged, and its status goes back in idTagInfo.
    """
    from datetime import timedelta
    from uuid import uuid4

    from stations.models import Reservation

    station = Station.objects.select_related("location").get(pk=station_id)
    existing = (
        Session.objects.filter(
            station=station,
            evse__evse_id=connector_id,
            id_tag__iexact=id_tag,
            meter_start_wh=meter_start,
            started_at=timestamp,
        )
        .select_related("station", "evse")
        .first()
    )
    if existing is not None:
        return existing, station_id_token_authorize(
            station=station, uid=id_tag, exclude_session_id=existing.pk
        )
    connector = _connector_for(station, connector_id)
    for old in Session.objects.select_for_update().filter(
        station=station, connector=connector, status=Session.Status.ACTIVE
    ):
        old.status = Session.Status.INCOMPLETE
        old.stopped_at = max(old.started_at, min(timestamp, timezone.now()))
        old.stop_reason = "StopTransactionMissing"
        old.flags = [*old.flags, "stop_transaction_missing"]
        old.save()
        event_publish("session.stopped", _session_event(old))
    decision = station_id_token_authorize(station=station, uid=id_tag, evse_id=connector.evse.evse_id)
    flags = []
    if not decision.accepted:
        flags.append(f"authorization_{decision.status.lower()}")
    if timestamp > timezone.now() + timedelta(minutes=5):
        flags.append("clock_ahead")
    session = Session.objects.create(
        station=station,
        evse=connector.evse,
        connector=connector,
        transaction_id=uuid4().hex,
        id_token=decision.id_token,
        id_tag=id_tag,
        started_at=timestamp,
        meter_start_wh=meter_start,
        reservation_id=reservation_id,
        flags=flags,
    )
    # The CSMS assigns 1.6 transaction ids; the row's primary key is unique and increasing.
    session.transaction_id = str(session.pk)
    session.save(update_fields=["transaction_id"])
    if reservation_id is not None:
        Reservation.objects.filter(station=station, reservation_id=reservation_id).update(
            status=Reservation.Status.USED
        )
    event_publish("session.started", _session_event(session))
    return session, decision


@transaction.atomic
def session_stop(
    *,
    station_id: int,
    transaction_id: int,
    meter_stop: int,
    timestamp: Any,
    id_tag: str = "",
    reason: str = "",
    samples: list[dict[str, Any]] | None = None,
):
    """Record a StopTransaction; returns (session, decision for id_tag or None). Never refuses.

    A retry is not counted twice. An unknown, -1 or 0 transaction id is reconciled: the one active
    session of the station (with that id tag) is closed, or a flagged record of the stop is kept.
    """
    station = Station.objects.select_related("location").get(pk=station_id)
    session = _session_close(
        station=station,
        transaction_id=transaction_id,
        meter_stop=meter_stop,
        timestamp=timestamp,
        id_tag=id_tag,
        reason=reason,
        samples=samples,
    )
    # idTagInfo for the stop: the card's standing now, not counting the session it just ended.
    decision = (
        station_id_token_authorize(station=station, uid=id_tag, exclude_session_id=session.pk)
        if id_tag
        else None
    )
    return session, decision


def _session_close(
    *,
    station: Station,
    transaction_id: int,
    meter_stop: int,
    timestamp: Any,
    id_tag: str,
    reason: str,
    samples: list[dict[str, Any]] | None,
) -> Session:
    session = None
    if transaction_id > 0:
        session = (
            Session.objects.select_for_update(of=("self",))
            .filter(station=station, transaction_id=str(transaction_id))
            .select_related("station", "evse")
            .first()
        )
    if session is None:
        retried = Session.objects.filter(
            station=station, stopped_at=timestamp, meter_stop_wh=meter_stop, status=Session.Status.COMPLETED
        ).first()
        if retried is not None:
            return retried
        active = Session.objects.select_for_update(of=("self",)).filter(
            station=station, status=Session.Status.ACTIVE
        )
        if id_tag:
            active = active.filter(id_tag__iexact=id_tag)
        candidates = list(active.select_related("station", "evse")[:2])
        if len(candidates) == 1:
            session = candidates[0]
            session.flags = [*session.flags, f"stopped_with_unknown_transaction_id_{transaction_id}"]
        else:
            session, _ = Session.objects.get_or_create(
                station=station,
                transaction_id=f"{transaction_id}@{int(timestamp.timestamp())}"[:36],
                defaults={
                    "status": Session.Status.COMPLETED,
                    "id_tag": id_tag,
                    "started_at": timestamp,
                    "stopped_at": timestamp,
                    "meter_start_wh": meter_stop,
                    "meter_stop_wh": meter_stop,
                    "stop_reason": reason,
                    "flags": ["stop_for_unknown_transaction"],
                },
            )
            event_publish("session.stopped", _session_event(session))
            return session
    if session.status == Session.Status.COMPLETED:
        return session  # a retried StopTransaction: already counted
    if session.status == Session.Status.INCOMPLETE:
        session.flags = [*session.flags, "stopped_late"]
    if samples:
        _meter_samples_store(
            station=station,
            session=session,
            evse_id=session.evse.evse_id if session.evse else 0,
            samples=samples,
        )
    session.status = Session.Status.COMPLETED
    session.stopped_at = timestamp
    session.meter_stop_wh = meter_stop
    energy = meter_stop - session.meter_start_wh
    if energy < 0:
        session.flags = [*session.flags, "meter_went_backwards"]
        energy = 0
    if timestamp < session.started_at:
        session.flags = [*session.flags, "stop_before_start"]
    session.energy_wh = energy
    session.stop_reason = reason or "Local"
    session.save()
    event_publish("session.stopped", _session_event(session))
    return session


def _meter_samples_store(
    *, station: Station, session: Session | None, evse_id: int, samples: list[dict]
) -> int:
    from stations.models import MeterSample

    rows = [MeterSample(station=station, session=session, evse_id=evse_id, **sample) for sample in samples]
    MeterSample.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


@transaction.atomic
def meter_values_record(
    *, station_id: int, connector_id: int, transaction_id: int | None, samples: list[dict[str, Any]]
) -> Session | None:
    """Store normalised meter samples (a replay is stored once) and attach them to the session (by
    transaction id, else the active session on the connector); keeps the session's energy_wh."""
    station = Station.objects.get(pk=station_id)
    session = None
    if transaction_id is not None:
        session = Session.objects.filter(station=station, transaction_id=str(transaction_id)).first()
    if session is None and connector_id > 0:
        session = Session.objects.filter(
            station=station, evse__evse_id=connector_id, status=Session.Status.ACTIVE
        ).first()
    _meter_samples_store(station=station, session=session, evse_id=connector_id, samples=samples)
    if session is not None:
        registers = [
            s["value"]
            for s in samples
            if s["measurand"] == ENERGY_REGISTER
            and s["unit"] == "Wh"
            and not s.get("phase")
            and not s.get("signed_data")
        ]
        if registers and session.status == Session.Status.ACTIVE:
            energy = int(max(registers)) - session.meter_start_wh
            if energy > session.energy_wh:
                Session.objects.filter(pk=session.pk).update(energy_wh=energy, updated_at=timezone.now())
                session.energy_wh = energy
        event_publish("session.updated", _session_event(session))
    return session


def _is_fault(status: str, error_code: str) -> bool:
    return status == Connector.Status.FAULTED or error_code not in FAULT_FREE_ERROR_CODES


@transaction.atomic
def connector_status_record(
    *,
    station_id: int,
    connector_id: int,
    status: str,
    error_code: str = "",
    info: str = "",
    vendor_error_code: str = "",
    timestamp: Any = None,
) -> None:
    """Handle a StatusNotification: keep a history row, update the connector's live status (unless the
    report is older than the current one), publish status/fault events. connectorId 0 is the station."""
    from stations.models import ConnectorStatusChange

    station = Station.objects.get(pk=station_id)
    timestamp = timestamp or timezone.now()
    connector = _connector_for(station, connector_id) if connector_id > 0 else None
    if connector is not None:
        connector = Connector.objects.select_for_update().get(pk=connector.pk)
        previous, previous_error = connector.status, connector.error_code
    else:
        state = _protocol_state(station.pk)
        previous, previous_error = state.station_status, state.station_error_code
    ConnectorStatusChange.objects.create(
        station=station,
        connector=connector,
        evse_id=connector_id,
        status=status[:16],
        previous_status=previous,
        error_code=error_code[:50],
        vendor_error_code=vendor_error_code[:50],
        info=info[:50],
        timestamp=timestamp,
    )
    if connector is not None:
        if connector.status_updated_at and timestamp < connector.status_updated_at:
            return  # an old report overtaken by a newer one: history only
        connector.status = status[:16]
        connector.error_code = error_code[:50]
        connector.info = info[:50]
        connector.vendor_error_code = vendor_error_code[:50]
        connector.status_updated_at = timestamp
        connector.save()
    else:
        type(state).objects.filter(pk=state.pk).update(
            station_status=status[:16], station_error_code=error_code[:50]
        )
    data = _station_event(
        station,
        evse_id=connector_id,
        connector_id=1 if connector_id else 0,
        status=status,
        previous_status=previous,
        error_code=error_code,
    )
    if previous != status or previous_error != error_code:
        event_publish("connector.status_changed", data)
    was_fault, is_fault = _is_fault(previous, previous_error), _is_fault(status, error_code)
    if is_fault and not was_fault:
        event_publish("connector.fault_raised", data)
    elif was_fault and not is_fault:
        event_publish("connector.fault_cleared", data)


@transaction.atomic
def protocol_violation_record(*, station_id: int, action: str, message_id: str, causes: list[str]) -> None:
    """Record schema violations the CSMS served anyway (lenient mode)."""
    from stations.models import ProtocolViolation

    ProtocolViolation.objects.create(
        station_id=station_id, action=action, message_id=message_id[:36], detail="\n".join(causes)
    )


REPORT_KINDS = {
    "firmware": ("firmware_status", "firmware_status_at", "firmware_request_id"),
    "diagnostics": ("diagnostics_status", "diagnostics_status_at", None),
    "log": ("log_status", "log_status_at", "log_request_id"),
}


@transaction.atomic
def station_report_status(*, station_id: int, kind: str, status: str, request_id: int | None = None) -> None:
    """Store a Firmware/SignedFirmware/Diagnostics/Log status notification on the station."""
    status_field, at_field, request_field = REPORT_KINDS[kind]
    state = _protocol_state(station_id)
    setattr(state, status_field, status[:40])
    setattr(state, at_field, timezone.now())
    if request_field and request_id is not None:
        setattr(state, request_field, request_id)
    state.save()
    station = Station.objects.get(pk=station_id)
    event_publish("station.updated", _station_event(station, **{status_field: status}))


# --- commands: the connection's side of the durable queue ----------------------------------------


def _authorization_key_hash(value: str) -> str:
    # 1.6 AuthorizationKey is configured as hex; the station sends the decoded bytes (OCPP-J §6.2.2).
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        raw = value.encode()
    return password_hash(raw)


def _is_authorization_key_change(action: str, payload: dict) -> bool:
    return action == "ChangeConfiguration" and payload.get("key") == "AuthorizationKey"


def command_claim_next(*, station_id: int, exclude_actions: frozenset[str] = frozenset()) -> Command | None:
    """Claim the station's oldest queued, unexpired command (queued → sent, a conditional update so
    two connections never send the same command) and return it; expires overdue ones on the way."""
    from uuid import uuid4

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
            event_publish("command.updated", _command_event(command))
            return command
    return None


def command_expire(*, station_id: int | None = None) -> int:
    """Expire queued commands past their expiry and time out sent ones nobody answered (a node died
    mid-call); returns how many changed."""
    from datetime import timedelta

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
                event_publish("command.updated", _command_event(command))
                changed += 1
    for command in stale:
        command_complete(command_id=command.pk, timed_out=True, note="no answer (connection lost)")
        changed += 1
    return changed


@transaction.atomic
def command_complete(
    *,
    command_id: int,
    response: dict | None = None,
    error_code: str = "",
    error_description: str = "",
    timed_out: bool = False,
    note: str = "",
) -> Command:
    """Store the station's answer to a sent command and apply what it reports (configuration keys,
    local list version, reservations, charging profiles, certificates, password rotation).

    Status: CALLERROR → error; no answer → timed_out; a refusing status → rejected; else accepted.
    A command already final is returned unchanged.
    """
    command = Command.objects.select_for_update(of=("self",)).select_related("station").get(pk=command_id)
    if command.status != Command.Status.SENT:
        return command
    if timed_out:
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
    if _is_authorization_key_change(command.action, command.payload):
        if command.status in (Command.Status.REJECTED, Command.Status.ERROR):
            type(_protocol_state(command.station_id)).objects.filter(station_id=command.station_id).update(
                pending_password_hash=""
            )
        command.payload = {**command.payload, "value": "********"}  # never keep the secret
    command.completed_at = timezone.now()
    command.save()
    event_publish("command.updated", _command_event(command))
    return command


def _command_effects(command: Command, response: dict, accepted: bool) -> None:
    from stations.models import ChargingProfile, Reservation, StationConfigurationKey

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
        from django.utils.dateparse import parse_datetime

        Reservation.objects.update_or_create(
            station_id=station_id,
            reservation_id=payload["reservationId"],
            defaults={
                "connector_id": payload.get("connectorId", 0),
                "id_tag": payload.get("idTag", ""),
                "parent_id_tag": payload.get("parentIdTag", ""),
                "expires_at": parse_datetime(payload["expiryDate"]) or timezone.now(),
                "status": Reservation.Status.ACTIVE if accepted else Reservation.Status.REFUSED,
                "response_status": str(response.get("status", ""))[:20],
            },
        )
    elif action == "CancelReservation" and accepted:
        Reservation.objects.filter(station_id=station_id, reservation_id=payload.get("reservationId")).update(
            status=Reservation.Status.CANCELLED
        )
    elif action == "SetChargingProfile" and accepted:
        profile = payload.get("csChargingProfiles") or {}
        connector_id = payload.get("connectorId", 0)
        now = timezone.now()
        # 1.6 §3.13.2: a profile with the same id, or the same stackLevel and purpose on the same
        # connector, replaces the old one.
        ChargingProfile.objects.filter(station_id=station_id, is_active=True).filter(
            models.Q(charging_profile_id=profile.get("chargingProfileId"))
            | models.Q(
                connector_id=connector_id,
                stack_level=profile.get("stackLevel"),
                purpose=profile.get("chargingProfilePurpose"),
            )
        ).update(is_active=False, cleared_at=now)
        ChargingProfile.objects.create(
            station_id=station_id,
            connector_id=connector_id,
            charging_profile_id=profile.get("chargingProfileId", 0),
            stack_level=profile.get("stackLevel", 0),
            purpose=profile.get("chargingProfilePurpose", ""),
            kind=profile.get("chargingProfileKind", ""),
            transaction_id=str(profile.get("transactionId") or ""),
            profile=profile,
        )
    elif action == "ClearChargingProfile" and accepted:
        profiles = ChargingProfile.objects.filter(station_id=station_id, is_active=True)
        if payload.get("id") is not None:
            profiles = profiles.filter(charging_profile_id=payload["id"])
        else:
            if payload.get("connectorId") is not None:
                profiles = profiles.filter(connector_id=payload["connectorId"])
            if payload.get("chargingProfilePurpose"):
                profiles = profiles.filter(purpose=payload["chargingProfilePurpose"])
            if payload.get("stackLevel") is not None:
                profiles = profiles.filter(stack_level=payload["stackLevel"])
        profiles.update(is_active=False, cleared_at=timezone.now())
    elif action == "GetInstalledCertificateIds":
        state = _protocol_state(station_id)
        if not accepted:
            # NotFound: the station holds no certificate of the requested type.
            wanted = payload.get("certificateType")
            state.installed_certificates = [
                c for c in state.installed_certificates if c.get("certificateType") != wanted
            ]
        else:
            kept = [
                c
                for c in state.installed_certificates
                if c.get("certificateType") != payload.get("certificateType")
            ]
            reported = [
                {**c, "certificateType": payload.get("certificateType")}
                for c in response.get("certificateHashData") or []
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
    elif action == "GetLog" and accepted:
        state = _protocol_state(station_id)
        state.log_file_name = str(response.get("filename") or "")[:255]
        state.log_request_id = payload.get("requestId")
        state.save(update_fields=["log_file_name", "log_request_id", "updated_at"])


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
    *, station: Station, evse_id: int, id_token: Any, requested_by: Any = None, idempotency_key: str = ""
) -> Command:
    """Ask the station to start a session on `evse_id` for the card `id_token` (an IdToken or uid).

    Raises StationError if the station is offline, the connector is unknown, occupied, faulted,
    reserved or unavailable, or the card may not charge there.
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
    if connector.status in REMOTE_START_REFUSED:
        raise StationError(REMOTE_START_REFUSED[connector.status])
    if Session.objects.filter(connector=connector, status=Session.Status.ACTIVE).exists():
        raise StationError("the connector has an active session")
    decision = station_id_token_authorize(station=station, uid=uid, evse_id=connector.evse.evse_id)
    if not decision.accepted:
        raise StationError(f"card {uid}: {decision.reason}")
    action = "RemoteStartTransaction" if station.ocpp_version == "1.6" else "RequestStartTransaction"
    if action == "RemoteStartTransaction":
        payload: dict[str, Any] = {"connectorId": evse_id, "idTag": uid}
    else:
        payload = {
            "evseId": evse_id,
            "remoteStartId": int(time.time()),
            "idToken": {"idToken": uid, "type": "ISO14443"},
        }
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


def ocpp_messages_store(*, entries: list[dict[str, Any]]) -> int:
    """Write a batch of logged frames (one INSERT); frames of a station deleted meanwhile are dropped."""
    from django.db import IntegrityError

    from stations.models import OcppMessage

    try:
        with transaction.atomic():
            OcppMessage.objects.bulk_create([OcppMessage(**entry) for entry in entries])
    except IntegrityError:
        logger.warning("dropped %d logged frames of a deleted station", len(entries))
        return 0
    return len(entries)


def ocpp_messages_prune(*, older_than_days: int) -> int:
    """Delete logged frames older than `older_than_days`; returns how many."""
    from datetime import timedelta

    from stations.models import OcppMessage

    cutoff = timezone.now() - timedelta(days=older_than_days)
    deleted, _ = OcppMessage.objects.filter(created_at__lt=cutoff).delete()
    return deleted
