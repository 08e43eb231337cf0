"""Stations: registration, settings, passwords, the WebSocket handshake and BootNotification."""

import logging
from typing import Any

from cryptography.x509.oid import NameOID
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from chargenet import sql
from chargenet.events import event_publish
from chargenet.lengths import text_too_long
from chargenet.signin import SigninLocked, signin_check, signin_failure_record, signin_success_record
from stations.certificates.ca import name_attribute, subject_parse
from stations.common import (
    StationError,
    _protocol_state,
    _sessions_close_incomplete,
    _station_event,
    _station_locked,
)
from stations.connection.services.reports import security_event_record
from stations.models import Command, Connector, Evse, Session, Station
from stations.network.passwords import (
    MAX_LENGTH,
    MIN_LENGTH,
    password_check,
    password_generate,
    password_hash,
)
from stations.network.services.tags import station_tags_replace

logger = logging.getLogger(__name__)

SIGNIN_GATE = "station"
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


def _check_identity(identity: str) -> None:
    # OCPP 2.0.1 identity: identifierString ≤ 48, and no ':' because it is the Basic-auth username.
    if not identity or len(identity) > 48:
        raise StationError("identity must be 1 to 48 characters")
    if ":" in identity or "/" in identity or any(ch.isspace() for ch in identity):
        raise StationError("identity must not contain ':', '/' or white space")


def _check_lengths(fields: dict[str, Any]) -> None:
    error = text_too_long(Station, fields)
    if error:
        raise StationError(error)


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
    tags: list[str] | None = None,
    **fields: Any,
) -> tuple[Station, str]:
    """Register a station with `evses` EVSEs; returns it and its Basic-auth password (generated when
    not given, shown once; "" for security profile 0, which connects without credentials). Raises
    StationError for a taken or malformed identity or password."""
    _check_identity(identity)
    unknown = set(fields) - STATION_FIELDS
    if unknown:
        raise StationError(f"unknown station fields: {', '.join(sorted(unknown))}")
    _check_lengths(fields)
    if Station.objects.filter(identity__iexact=identity).exists():
        raise StationError(f"a station with identity {identity!r} already exists")
    if fields.get("security_profile") == Station.SecurityProfile.NONE:
        if password:
            raise StationError("a station without authentication (security profile 0) has no password")
        password, hashed = "", ""
    else:
        password = password if password is not None else password_generate()
        _check_password(password)
        hashed = password_hash(password)
    station = Station.objects.create(identity=identity, password_hash=hashed, **fields)
    for evse_id in range(1, evses + 1):
        evse = Evse.objects.create(station=station, evse_id=evse_id)
        for connector_id in range(1, connectors_per_evse + 1):
            Connector.objects.create(evse=evse, connector_id=connector_id)
    if tags:
        station_tags_replace(station=station, tags=tags)
    event_publish("station.created", {"station_id": station.pk, "identity": station.identity})
    return station, password


@transaction.atomic
def station_update(*, station: Station, tags: list[str] | None = None, **fields: Any) -> Station:
    """Change a station's settings (and replace its tags when `tags` is given); raises StationError
    for an unknown field or a malformed tag."""
    unknown = set(fields) - STATION_FIELDS
    if unknown:
        raise StationError(f"unknown station fields: {', '.join(sorted(unknown))}")
    _check_lengths(fields)
    for name, value in fields.items():
        setattr(station, name, value)
    station.save()
    if tags is not None:
        station_tags_replace(station=station, tags=tags)
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


class StationAuthError(StationError):
    """A WebSocket handshake was refused (unknown identity, missing or wrong credentials)."""


class StationAuthLocked(StationAuthError):
    """A WebSocket handshake was refused unchecked: too many failed ones from its address or for
    its identity (chargenet/signin.py); `retry_after` in seconds."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def _password_matches(password: bytes, stored: str) -> bool:
    return bool(stored) and password_check(password, stored)


def station_connect_authenticate(
    *,
    identity: str,
    username: str | None,
    password: bytes | None,
    remote_address: str = "",
    client_subject: str | None = None,
) -> Station:
    """Check a handshake's identity and HTTP Basic credentials; returns the station.

    The password is bytes because a 1.6 AuthorizationKey is binary (OCPP-J 1.6 §6.2.2). A station
    whose new key is still pending is let in with it and the key is promoted: it evidently took it.
    A station of security profile 3 is let in by its TLS client certificate instead: `client_subject`
    is the subject a trusted TLS proxy verified (None: no verified certificate), and it must name the
    station (docs/security.md).
    Unknown identities are refused unless OCPP_ALLOW_UNKNOWN_STATIONS (then created as Pending, with
    no password until an operator sets one). Raises StationAuthError; wrong credentials of a known
    station are recorded as a security event. Never touches the station's live connection. Failures
    are throttled per address and per identity: a locked one raises StationAuthLocked unchecked.
    """
    try:
        known = signin_check(gate=SIGNIN_GATE, source=remote_address, account=identity)
    except SigninLocked as exc:
        raise StationAuthLocked(exc.lockout.message, exc.lockout.retry_after) from None
    try:
        station = _station_authenticate(
            identity=identity,
            username=username,
            password=password,
            remote_address=remote_address,
            client_subject=client_subject,
        )
    except StationAuthError:
        lockout = signin_failure_record(
            gate=SIGNIN_GATE, source=remote_address, account=identity, path=f"/ocpp/{identity}"
        )
        if lockout is not None:
            raise StationAuthLocked(lockout.message, lockout.retry_after) from None
        raise
    if station.password_hash:
        signin_success_record(gate=SIGNIN_GATE, source=remote_address, account=identity, known=known)
    return station


# Every handshake's lookup, compiled once (chargenet/sql.py): a reconnect storm authenticates
# thousands of stations a minute.
_station_by_identity = sql.Select(Station, where=["identity"])


def _station_authenticate(
    *,
    identity: str,
    username: str | None,
    password: bytes | None,
    remote_address: str,
    client_subject: str | None = None,
) -> Station:
    station = _station_by_identity(identity)
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
    if client_subject and _security_profile_upgrade(station, client_subject, remote_address):
        return station
    if station.security_profile == Station.SecurityProfile.TLS_CLIENT_CERT:
        # Profile 3: the TLS client certificate is the credential (2.0.1 A00.FR.4xx; 1.6 security
        # whitepaper); no Basic auth is asked for.
        problem = client_subject_problem(station=station, subject=client_subject)
        if problem:
            security_event_record(
                identity=identity,
                station=station,
                type="InvalidClientCertificate" if client_subject else "MissingClientCertificate",
                tech_info=problem[:255],
                remote_address=remote_address,
            )
            raise StationAuthError(problem)
        return station
    if station.security_profile == Station.SecurityProfile.NONE or not station.password_hash:
        # Profile 0 (trusted networks), or onboarding before a password is set (1.6 J §6.2.2).
        return station
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


def _security_profile_upgrade(station: Station, client_subject: str, remote_address: str) -> bool:
    """A05 (TC_A_19): a station on profile 1 or 2 that accepted a SetNetworkProfile with security
    profile 3 and now comes with a verified client certificate naming it is on profile 3 from now
    on: its Basic-auth credentials no longer admit it. True when it was raised (and so admitted)."""
    if station.security_profile >= Station.SecurityProfile.TLS_CLIENT_CERT:
        return False
    accepted = (
        Command.objects.filter(station=station, action="SetNetworkProfile", status=Command.Status.ACCEPTED)
        .order_by("-id")
        .values_list("payload", flat=True)[:10]
    )
    asked = {
        (payload.get("connectionData") or {}).get("securityProfile")
        for payload in accepted
        if isinstance(payload, dict)
    }
    if Station.SecurityProfile.TLS_CLIENT_CERT not in asked:
        return False
    if client_subject_problem(station=station, subject=client_subject):
        return False
    with transaction.atomic():
        Station.objects.filter(pk=station.pk).update(security_profile=Station.SecurityProfile.TLS_CLIENT_CERT)
        station.security_profile = Station.SecurityProfile.TLS_CLIENT_CERT
        event_publish("station.updated", _station_event(station, security_profile=station.security_profile))
    logger.info("%s from %s: security profile raised to 3", station.identity, remote_address)
    return True


def station_ocpp_url(*, security_profile: int) -> str:
    """The OCPP endpoint a station connects to (ws(s)://HOST/ocpp/), from SITE_URL: wss for profile 2
    and 3 or when the site itself is served over https."""
    scheme = "wss" if security_profile >= 2 or settings.SITE_URL.startswith("https") else "ws"
    host = settings.SITE_URL.split("://", 1)[-1]
    return f"{scheme}://{host}/ocpp/"


OCPP_INTERFACES = tuple([f"Wired{n}" for n in range(4)] + [f"Wireless{n}" for n in range(4)])


def network_profile_set_request(
    *,
    station: Station,
    configuration_slot: int,
    security_profile: int | None = None,
    csms_url: str = "",
    message_timeout: int = 30,
    ocpp_interface: str = "Wired0",
    requested_by: Any = None,
) -> Command:
    """Send a 2.0.1 SetNetworkProfile (B09/A05): a NetworkConnectionProfile for `configuration_slot`,
    OCPP 2.0.1 over JSON to `csms_url` (default: ChargeNet's own endpoint for that profile) with the
    station's security profile or a higher one. A station that accepted profile 3 is held to it once
    it connects with its client certificate. Raises CommandError (a 1.6 station, a lower profile, a
    bad slot, interface or timeout)."""
    from stations.connection.services.commands import CommandError, command_create

    profile = station.security_profile if security_profile is None else security_profile
    if station.ocpp_version == Station.OcppVersion.V16:
        raise CommandError("SetNetworkProfile is an OCPP 2.0.1 message")
    if profile not in (1, 2, 3):
        raise CommandError("the security profile must be 1, 2 or 3")
    if profile < station.security_profile:
        # A05: a station refuses a profile lower than its own; ChargeNet never asks for one.
        raise CommandError(
            f"the station is on security profile {station.security_profile}; it is never lowered"
        )
    if configuration_slot < 1:
        raise CommandError("the configuration slot must be 1 or more")
    if ocpp_interface not in OCPP_INTERFACES:
        raise CommandError(f"the interface must be one of {', '.join(OCPP_INTERFACES)}")
    if not 1 <= message_timeout <= 3600:
        raise CommandError("the message timeout must be 1 to 3600 seconds")
    payload = {
        "configurationSlot": configuration_slot,
        "connectionData": {
            "ocppVersion": "OCPP20",
            "ocppTransport": "JSON",
            "ocppCsmsUrl": (csms_url or station_ocpp_url(security_profile=profile))[:512],
            "messageTimeout": message_timeout,
            "securityProfile": profile,
            "ocppInterface": ocpp_interface,
        },
    }
    return command_create(
        station=station, action="SetNetworkProfile", payload=payload, requested_by=requested_by
    )


def client_subject_problem(*, station: Station, subject: str | None) -> str:
    """Why a verified client certificate subject (RFC 4514) does not admit `station`, or "": its CN
    must be the station's identity or serial number and, when OCPP_CA_ORGANIZATION is set, its O
    must be that (2.0.1 A00.FR.404/405)."""
    if not subject:
        return "security profile 3: a valid TLS client certificate is required"
    name = subject_parse(subject)
    if name is None:
        return f"unreadable client certificate subject {subject[:100]!r}"
    common_name = name_attribute(name, NameOID.COMMON_NAME)
    if common_name not in {n for n in (station.identity, station.serial_number) if n}:
        return f"the client certificate's CN {common_name!r} does not name the station"
    organization = name_attribute(name, NameOID.ORGANIZATION_NAME)
    if settings.OCPP_CA_ORGANIZATION and organization != settings.OCPP_CA_ORGANIZATION:
        return f"the client certificate's O {organization!r} is not {settings.OCPP_CA_ORGANIZATION!r}"
    return ""


def _clip(value: Any, length: int) -> str:
    return str(value or "")[:length]


# What a BootNotification writes, compiled once (chargenet/sql.py): a reconnect storm boots thousands
# of stations through the writer, and the whole-row save() wrote every column of each.
_BOOT_FIELDS = [
    "vendor",
    "model",
    "serial_number",
    "firmware_version",
    "iccid",
    "imsi",
    "meter_type",
    "meter_serial_number",
    "last_boot_at",
]
_station_boot_update = sql.Update(Station, _BOOT_FIELDS)
# A session still active when its station boots again (closed by the reboot, one at a time).
_session_active_locked = sql.Select(
    Session, where=["station_id", "status"], related=["evse", "station"], lock=True
)


@transaction.atomic
def station_boot(*, station_id: int, info: dict[str, Any]) -> tuple[str, int]:
    """Handle a BootNotification: store what the station says about itself and answer its
    registration status and heartbeat interval. A boot while sessions are active means they ended
    with the reboot: they are closed as incomplete (reason "Reboot") and flagged."""
    station = _station_locked(station_id)
    if station is None:
        raise Station.DoesNotExist(f"no station {station_id}")
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
    _station_boot_update(station.pk, *(getattr(station, name) for name in _BOOT_FIELDS))
    if status == Station.RegistrationStatus.ACCEPTED:
        _sessions_close_incomplete(
            lambda: _session_active_locked(station.pk, Session.Status.ACTIVE),
            stopped_at=lambda _: now,
            reason="Reboot",
            flag="closed_by_reboot",
        )
    event_publish("station.booted", _station_event(station, registration_status=status))
    return status, station.heartbeat_interval or settings.OCPP_HEARTBEAT_INTERVAL
