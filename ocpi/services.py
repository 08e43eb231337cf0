"""Every write and business rule of the OCPI interface: partners and credentials, roaming tokens,
eMSP commands, real-time authorization, and the pushes that keep partners up to date."""

import re
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from billing.models import Cdr, Tariff
from chargenet.errors import DomainError
from ocpi import selectors, transport
from ocpi.client import Answer, PartnerUnreachable, ocpi_call, partner_call
from ocpi.models import Partner, Push, RemoteCommand, RequestLog, RoamingSession, RoamingToken
from ocpi.transport import OcpiError
from rfid.models import IdToken
from rfid.services import (
    AuthorizationContext,
    AuthorizationDecision,
    IdTokenError,
    id_token_create,
    id_token_update,
)
from stations.common import StationError
from stations.connection.services.commands import command_create, session_remote_start, session_remote_stop
from stations.models import Command, Evse, Session, Station

ROLES = ("CPO", "EMSP", "HUB", "NAP", "NSP", "OTHER", "SCSP")


# --- partners and credentials ---------------------------------------------------------------------


class PartnerError(DomainError):
    """A partner change was refused; the message says why."""

    api_status = 400
    api_code = "validation_error"


def _roles_clean(roles: Any, *, country_code: str, party_id: str) -> list[dict[str, Any]]:
    """CredentialsRole objects from role names or objects; each (role, country, party) once."""
    if not isinstance(roles, list) or not roles:
        raise PartnerError('roles must be a non-empty list, e.g. ["EMSP"]')
    cleaned: list[dict[str, Any]] = []
    for item in roles:
        if isinstance(item, str):
            item = {"role": item}
        if not isinstance(item, dict) or item.get("role") not in ROLES:
            raise PartnerError(f"each role must be one of {', '.join(ROLES)}")
        role = {
            "role": item["role"],
            "country_code": str(item.get("country_code") or country_code).upper(),
            "party_id": str(item.get("party_id") or party_id).upper(),
            "business_details": item.get("business_details") or {"name": ""},
        }
        if not transport.CI_STRING_2.match(role["country_code"]) or not transport.PARTY_ID.match(
            role["party_id"]
        ):
            raise PartnerError("each role needs a 2-letter country_code and a 3-character party_id")
        key = (role["role"], role["country_code"], role["party_id"])
        if key in {(r["role"], r["country_code"], r["party_id"]) for r in cleaned}:
            raise PartnerError(f"the role {'/'.join(key)} is listed twice")
        cleaned.append(role)
    return cleaned


@transaction.atomic
def partner_create(*, name: str, country_code: str, party_id: str, roles: Any) -> tuple[Partner, str]:
    """Add a roaming partner and issue its credentials token A (returned once, stored only hashed).

    Raises PartnerError for a malformed country code, party id or roles, or a party already known.
    """
    name, country_code, party_id = name.strip(), country_code.strip().upper(), party_id.strip().upper()
    if not name:
        raise PartnerError("name is required")
    if not transport.CI_STRING_2.match(country_code):
        raise PartnerError("country_code must be an ISO 3166-1 alpha-2 code, e.g. DE")
    if not transport.PARTY_ID.match(party_id):
        raise PartnerError("party_id must be 3 letters or digits, e.g. ABC")
    cleaned = _roles_clean(roles, country_code=country_code, party_id=party_id)
    if Partner.objects.filter(country_code=country_code, party_id=party_id).exists():
        raise PartnerError(f"a partner {country_code}*{party_id} already exists")
    token_a = transport.token_new()
    partner = Partner.objects.create(
        name=name[:200],
        country_code=country_code,
        party_id=party_id,
        roles=cleaned,
        token_a_hash=transport.token_hash(token_a),
    )
    return partner, token_a


def partner_authenticate(*, header: str) -> tuple[Partner, bool] | None:
    """The partner an `Authorization` header belongs to and whether it used token A; None if nobody.

    Accepts the token base64-encoded (2.2.1) and raw (2.1.1, and 2.2 peers that do not encode).
    """
    for candidate in transport.token_candidates(header):
        digest = transport.token_hash(candidate)
        partner = Partner.objects.filter(token_c_hash=digest, status=Partner.Status.REGISTERED).first()
        if partner is not None:
            return partner, False
        partner = (
            Partner.objects.filter(token_a_hash=digest).exclude(status=Partner.Status.REGISTERED).first()
        )
        if partner is not None:
            return partner, True
    return None


def our_credentials(*, token: str, versions_url: str) -> dict[str, Any]:
    """Our Credentials object: the token a partner calls us with, our versions URL, our CPO role."""
    return {
        "token": token,
        "url": versions_url,
        "roles": [
            {
                "role": "CPO",
                "country_code": settings.OCPI_COUNTRY_CODE,
                "party_id": settings.OCPI_PARTY_ID,
                "business_details": {"name": settings.OCPI_BUSINESS_NAME},
            }
        ],
    }


@dataclass(frozen=True)
class PartnerPlatform:
    """What a partner's versions URL told us: the version we share and its endpoints."""

    version: str
    endpoints: list[dict[str, Any]]


def _versions_fetch(
    *, partner: Partner | None, versions_url: str, token: str, encode: bool
) -> PartnerPlatform:
    """GET the partner's versions and the details of 2.2.1. Raises OcpiError 3001 (unusable API),
    3002 (no common version) or 3003 (no credentials endpoint)."""

    def fetch(url: str, what: str) -> Answer:
        answer = ocpi_call(
            partner=partner, method="GET", url=url, token=token, module="versions", encode_token=encode
        )
        if not answer.ok:
            raise PartnerUnreachable(f"{what} answered HTTP {answer.http_status}, OCPI {answer.status_code}")
        return answer

    try:
        answer = fetch(versions_url, "versions")
        versions = answer.data if isinstance(answer.data, list) else []
        details_url = next(
            (
                str(v.get("url"))
                for v in versions
                if isinstance(v, dict) and str(v.get("version")) == transport.VERSION
            ),
            "",
        )
        if not details_url:
            offered = ", ".join(str(v.get("version")) for v in versions if isinstance(v, dict)) or "none"
            raise OcpiError(
                f"no common OCPI version (we speak {transport.VERSION}; the partner offers {offered})",
                status_code=transport.UNSUPPORTED_VERSION,
            )
        answer = fetch(details_url, "version details")
    except PartnerUnreachable as exc:
        raise OcpiError(
            f"could not use the partner's API: {exc}", status_code=transport.CLIENT_API_UNUSABLE
        ) from None
    details = answer.data[0] if isinstance(answer.data, list) and answer.data else answer.data
    raw_endpoints = details.get("endpoints") if isinstance(details, dict) else None
    endpoints = [
        {"identifier": str(e["identifier"]), "role": str(e.get("role", "")), "url": str(e["url"])}
        for e in raw_endpoints or []
        if isinstance(e, dict) and e.get("identifier") and e.get("url")
    ]
    if not any(e["identifier"] == "credentials" for e in endpoints):
        raise OcpiError(
            "the partner lists no credentials endpoint", status_code=transport.NO_MATCHING_ENDPOINTS
        )
    return PartnerPlatform(version=transport.VERSION, endpoints=endpoints)


def _credentials_parse(body: Any) -> tuple[str, str, Any]:
    if not isinstance(body, dict):
        raise OcpiError("the body must be a Credentials object", status_code=transport.INVALID_PARAMETERS)
    token, url, roles = body.get("token"), body.get("url"), body.get("roles")
    if not isinstance(token, str) or not transport.TOKEN_PATTERN.match(token):
        raise OcpiError(
            "token must be 1 to 64 printable characters", status_code=transport.INVALID_PARAMETERS
        )
    if not isinstance(url, str) or not re.match(r"^https?://", url):
        raise OcpiError("url must be the partner's versions URL", status_code=transport.INVALID_PARAMETERS)
    return token, url, roles


def partner_credentials_store(
    *, partner: Partner, body: Any, versions_url: str, update: bool
) -> dict[str, Any]:
    """A partner registers (POST, with token A) or updates its registration (PUT, with its token).

    Before answering we fetch the partner's versions and endpoints with the token it gave us; only
    then is anything stored, a new token issued to it and token A (or its old token) retired.
    Returns our Credentials object. Raises OcpiError (405 for the wrong state, 2001 for a bad body,
    3001/3002/3003 when the partner's platform cannot be used).
    """
    registered = partner.status == Partner.Status.REGISTERED
    if update and not registered:
        raise OcpiError("not registered: register with POST first", http_status=405)
    if not update and registered:
        raise OcpiError("already registered: use PUT to update or DELETE to unregister", http_status=405)
    token_b, url, roles = _credentials_parse(body)
    try:
        cleaned_roles = _roles_clean(roles, country_code=partner.country_code, party_id=partner.party_id)
    except PartnerError as exc:
        raise OcpiError(str(exc), status_code=transport.INVALID_PARAMETERS) from None
    platform = _versions_fetch(partner=partner, versions_url=url, token=token_b, encode=partner.send_base64)
    token_c = transport.token_new()
    _partner_registered(
        partner, token_b=token_b, versions_url=url, platform=platform, roles=cleaned_roles, token_c=token_c
    )
    return our_credentials(token=token_c, versions_url=versions_url)


@transaction.atomic
def partner_unregister(*, partner: Partner) -> Partner:
    """End the roaming connection: the partner's token stops working and no more pushes go out.
    Raises OcpiError 405 when the partner is not registered."""
    partner = Partner.objects.select_for_update().get(pk=partner.pk)
    if partner.status != Partner.Status.REGISTERED:
        raise OcpiError("not registered", http_status=405)
    partner.status = Partner.Status.UNREGISTERED
    partner.token_c_hash = ""
    partner.token_b = ""
    partner.save()
    Push.objects.filter(partner=partner, status=Push.Status.PENDING).update(
        status=Push.Status.FAILED, last_error="partner unregistered"
    )
    return partner


def partner_register_with(
    *, partner: Partner, versions_url: str, token_a: str, our_versions_url: str
) -> Partner:
    """ChargeNet registers with a partner: given its versions URL and the token A it issued us, fetch
    its endpoints, POST our credentials (with a fresh token for it to call us with) and keep the
    token it answers with for all later calls. Raises PartnerError saying what went wrong; nothing
    is stored then."""
    if not transport.TOKEN_PATTERN.match(token_a or ""):
        raise PartnerError("token A must be 1 to 64 printable characters")
    if partner.status == Partner.Status.REGISTERED:
        raise PartnerError("the partner is registered already")
    try:
        platform = _versions_fetch(
            partner=partner, versions_url=versions_url, token=token_a, encode=partner.send_base64
        )
    except OcpiError as exc:
        raise PartnerError(exc.message) from None
    credentials_url = next(e["url"] for e in platform.endpoints if e["identifier"] == "credentials")
    token_c = transport.token_new()
    # The partner fetches our versions with the token we are about to give it before it answers
    # the POST: until the handshake completes the token opens what token A opens.
    previous_token_a = partner.token_a_hash
    Partner.objects.filter(pk=partner.pk).update(token_a_hash=transport.token_hash(token_c))
    try:
        return _partner_register_post(
            partner, credentials_url=credentials_url, platform=platform, token_a=token_a, token_c=token_c,
            versions_url=versions_url, our_versions_url=our_versions_url,
        )  # fmt: skip
    except PartnerError:
        Partner.objects.filter(pk=partner.pk).update(token_a_hash=previous_token_a)
        raise


def _partner_register_post(
    partner: Partner,
    *,
    credentials_url: str,
    platform: PartnerPlatform,
    token_a: str,
    token_c: str,
    versions_url: str,
    our_versions_url: str,
) -> Partner:
    try:
        answer = ocpi_call(
            partner=partner,
            method="POST",
            url=credentials_url,
            token=token_a,
            module="credentials",
            encode_token=partner.send_base64,
            body=our_credentials(token=token_c, versions_url=our_versions_url),
        )
    except PartnerUnreachable as exc:
        raise PartnerError(f"the partner's credentials endpoint failed: {exc}") from None
    data = answer.data[0] if isinstance(answer.data, list) and answer.data else answer.data
    if not answer.ok or not isinstance(data, dict):
        raise PartnerError(
            f"the partner refused our credentials (HTTP {answer.http_status}, OCPI {answer.status_code})"
        )
    try:
        token_b, their_url, roles = _credentials_parse(data)
        cleaned_roles = _roles_clean(roles, country_code=partner.country_code, party_id=partner.party_id)
    except (OcpiError, PartnerError) as exc:
        raise PartnerError(f"the partner's credentials are malformed: {exc}") from None
    return _partner_registered(
        partner,
        token_b=token_b,
        versions_url=their_url or versions_url,
        platform=platform,
        roles=cleaned_roles,
        token_c=token_c,
    )


@transaction.atomic
def _partner_registered(
    partner: Partner,
    *,
    token_b: str,
    versions_url: str,
    platform: PartnerPlatform,
    roles: list[dict[str, Any]],
    token_c: str,
) -> Partner:
    """Store a completed handshake: the partner's token and endpoints, the hash of the token it calls
    us with; token A is retired."""
    partner = Partner.objects.select_for_update().get(pk=partner.pk)
    partner.token_b = token_b
    partner.versions_url = versions_url
    partner.version = platform.version
    partner.endpoints = platform.endpoints
    partner.roles = roles
    partner.token_c_hash = transport.token_hash(token_c)
    partner.token_a_hash = ""
    partner.status = Partner.Status.REGISTERED
    partner.save()
    transaction.on_commit(lambda: partner_initial_push(partner_id=partner.pk))
    return partner


def partner_initial_push(*, partner_id: int) -> int:
    """A partner that just registered gets our published locations and our tariffs pushed (it may
    still pull them); returns how many pushes were queued."""
    partner = Partner.objects.get(pk=partner_id)
    queued = 0
    if partner.endpoint("tariffs"):
        for tariff in selectors.tariff_list():
            queued += bool(push_create(partner=partner, module="tariffs", method="PUT",
                                       path=_our_path(tariff.code), object_key=f"tariff:{tariff.pk}"))  # fmt: skip
    if partner.endpoint("locations"):
        for location in selectors.location_list():
            queued += bool(push_create(partner=partner, module="locations", method="PUT",
                                       path=_our_path(str(location.pk)), object_key=f"location:{location.pk}"))  # fmt: skip
    return queued


def partner_parties(partner: Partner) -> set[tuple[str, str]]:
    """The (country_code, party_id) pairs a partner speaks for (upper case)."""
    parties = {(partner.country_code.upper(), partner.party_id.upper())}
    for role in partner.roles:
        parties.add((str(role.get("country_code", "")).upper(), str(role.get("party_id", "")).upper()))
    return parties


def request_log_record(
    *,
    partner: Partner | None,
    method: str,
    url: str,
    http_status: int,
    ocpi_status: int | None,
    request_id: str,
    correlation_id: str,
    request_body: str,
    response_body: str,
) -> None:
    """Record an incoming OCPI request and our answer (the Authorization header is never kept)."""
    RequestLog.objects.create(
        partner=partner,
        direction=RequestLog.Direction.IN,
        method=method[:7],
        url=url[:500],
        http_status=http_status,
        ocpi_status=ocpi_status,
        request_id=request_id[:64],
        correlation_id=correlation_id[:64],
        request_body=request_body[:20000],
        response_body=response_body[:20000],
        error="" if ocpi_status == transport.SUCCESS else response_body[:500],
    )


def _answer_ok(answer: Answer) -> bool:
    # 2.2.1-d2: receivers answer 200 or 201 with any (or no) data.
    return 200 <= answer.http_status < 300 and answer.status_code in (transport.SUCCESS, None)


# --- tokens (receiver) ----------------------------------------------------------------------------

TOKEN_TYPES = ("AD_HOC_USER", "APP_USER", "OTHER", "RFID")
TOKEN_REQUIRED = (
    "country_code",
    "party_id",
    "uid",
    "type",
    "contract_id",
    "issuer",
    "valid",
    "whitelist",
    "last_updated",
)


def roaming_token_find(*, partner: Partner, uid: str, token_type: str = "RFID") -> RoamingToken | None:
    """The partner's token by uid (case-insensitive, OCPI CiString) and type, or None."""
    return RoamingToken.objects.filter(partner=partner, uid__iexact=uid, type=token_type).first()


def _token_check(
    token: dict[str, Any], *, country_code: str, party_id: str, uid: str, token_type: str
) -> None:
    def bad(message: str) -> OcpiError:
        return OcpiError(message, status_code=transport.INVALID_PARAMETERS)

    missing = [name for name in TOKEN_REQUIRED if token.get(name) in (None, "")]
    if missing:
        raise bad(f"the token lacks {', '.join(missing)}")
    if not isinstance(token["uid"], str) or str(token["uid"]).lower() != uid.lower():
        raise bad("the uid in the body differs from the uid in the URL")
    if (
        str(token["country_code"]).upper() != country_code.upper()
        or str(token["party_id"]).upper() != party_id.upper()
    ):
        raise bad("country_code and party_id in the body differ from the URL")
    if token["type"] not in TOKEN_TYPES or token["type"] != token_type:
        raise bad(f"type must be one of {', '.join(TOKEN_TYPES)} and match ?type= (default RFID)")
    if token["whitelist"] not in RoamingToken.Whitelist.values:
        raise bad(f"whitelist must be one of {', '.join(RoamingToken.Whitelist.values)}")
    if not isinstance(token["valid"], bool):
        raise bad("valid must be true or false")
    if not transport.TOKEN_PATTERN.match(uid) or len(uid) > 36:
        raise bad("uid must be 1 to 36 printable characters")
    for name, limit in (("contract_id", 36), ("issuer", 64), ("visual_number", 64), ("group_id", 36)):
        if token.get(name) is not None and (not isinstance(token[name], str) or len(token[name]) > limit):
            raise bad(f"{name} must be a string of at most {limit} characters")
    transport.ocpi_datetime_parse(str(token["last_updated"]), field="last_updated")


def _id_token_fields(token: dict[str, Any]) -> dict[str, Any]:
    """What the rfid card of a roaming token is: valid → accepted, else blocked; NEVER tokens are
    kept out of the stations' local lists (they must be authorized online)."""
    return {
        "type": IdToken.Type.ISO14443 if token["type"] == "RFID" else IdToken.Type.CENTRAL,
        "status": IdToken.Status.ACCEPTED if token["valid"] else IdToken.Status.BLOCKED,
        "parent_id_tag": str(token.get("group_id") or "")[:36],
        "label": f"{token.get('issuer', '')} {token.get('visual_number') or ''}".strip()[:100],
        "source": IdToken.Source.ROAMING,
        "offline_allowed": token["whitelist"] != RoamingToken.Whitelist.NEVER,
    }


def _roaming_token_save(
    *, partner: Partner, token: dict[str, Any], existing: RoamingToken | None
) -> RoamingToken:
    uid = token["uid"]
    card = existing.id_token if existing is not None else IdToken.objects.filter(uid__iexact=uid).first()
    if card is not None and existing is None:
        owner = RoamingToken.objects.filter(id_token=card).exclude(partner=partner).exists()
        if card.source != IdToken.Source.ROAMING or owner:
            raise OcpiError(
                f"the uid {uid} belongs to another card on this network", status_code=transport.CLIENT_ERROR
            )
    try:
        if card is None:
            card = id_token_create(uid=uid, **_id_token_fields(token))
        else:
            card = id_token_update(id_token=card, **_id_token_fields(token))
    except IdTokenError as exc:
        raise OcpiError(str(exc), status_code=transport.INVALID_PARAMETERS) from None
    fields = {
        "id_token": card,
        "country_code": str(token["country_code"]).upper(),
        "party_id": str(token["party_id"]).upper(),
        "uid": uid,
        "type": token["type"],
        "contract_id": token["contract_id"],
        "whitelist": token["whitelist"],
        "valid": token["valid"],
        "data": token,
        "last_updated": transport.ocpi_datetime_parse(str(token["last_updated"]), field="last_updated"),
    }
    if existing is None:
        return RoamingToken.objects.create(partner=partner, **fields)
    for name, value in fields.items():
        setattr(existing, name, value)
    existing.save()
    return existing


@transaction.atomic
def roaming_token_store(
    *, partner: Partner, country_code: str, party_id: str, uid: str, token_type: str, body: Any, patch: bool
) -> tuple[RoamingToken, bool]:
    """An eMSP puts (whole) or patches (some fields of) one of its tokens. The token becomes an rfid
    card of source roaming that the one authorization service decides on. Returns the token and
    whether it is new. Raises OcpiError: 2001 for a malformed token or one whose ids differ from the
    URL, 2004/404 when patching an unknown token, 2000 when the uid belongs to another card."""
    if not isinstance(body, dict):
        raise OcpiError("the body must be a Token object", status_code=transport.INVALID_PARAMETERS)
    existing = roaming_token_find(partner=partner, uid=uid, token_type=token_type)
    if patch:
        if existing is None:
            raise OcpiError(f"unknown token {uid}", status_code=transport.UNKNOWN_TOKEN, http_status=404)
        if not body.get("last_updated"):
            raise OcpiError("a PATCH must carry last_updated", status_code=transport.INVALID_PARAMETERS)
        token = {**existing.data, **body}
    else:
        token = dict(body)
    _token_check(token, country_code=country_code, party_id=party_id, uid=uid, token_type=token_type)
    return _roaming_token_save(partner=partner, token=token, existing=existing), existing is None


# --- commands (receiver) --------------------------------------------------------------------------

COMMANDS = ("START_SESSION", "STOP_SESSION", "RESERVE_NOW", "CANCEL_RESERVATION", "UNLOCK_CONNECTOR")
# OCPI 2.2.1 Tokens module: a token used in a command is not authorized in real time again when the
# station asks for it within 15 minutes.
COMMAND_TOKEN_GRACE = timedelta(minutes=15)


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


def _token_for_command(*, partner: Partner, body: dict[str, Any]) -> RoamingToken:
    """The command's Token, stored like a pushed one (not authorized: the eMSP vouches for it)."""
    token = body.get("token")
    if not isinstance(token, dict) or not token.get("uid"):
        raise OcpiError("token is required", status_code=transport.INVALID_PARAMETERS)
    token = {"whitelist": "ALLOWED", "valid": True, "issuer": partner.name, "contract_id": token.get("uid"),
             "country_code": partner.country_code, "party_id": partner.party_id, "type": "RFID",
             "last_updated": transport.ocpi_datetime(timezone.now()), **token}  # fmt: skip
    uid, token_type = str(token["uid"]), str(token["type"])
    _token_check(
        token,
        country_code=str(token["country_code"]),
        party_id=str(token["party_id"]),
        uid=uid,
        token_type=token_type,
    )
    if (str(token["country_code"]).upper(), str(token["party_id"]).upper()) not in partner_parties(partner):
        raise OcpiError("the token belongs to another party", status_code=transport.INVALID_PARAMETERS)
    existing = roaming_token_find(partner=partner, uid=uid, token_type=token_type)
    saved = _roaming_token_save(partner=partner, token=token, existing=existing)
    saved.authorization_reference = str(body.get("authorization_reference") or "")[:36]
    saved.command_at = timezone.now()
    saved.save(update_fields=["authorization_reference", "command_at"])
    return saved


def remote_command_receive(*, partner: Partner, command: str, body: Any) -> dict[str, Any]:
    """An eMSP's command becomes the same durable OCPP command the dashboard and API send; the
    CommandResult follows at `response_url` when the station answered (or TIMEOUT).

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
            station_command, token_uid = _command_send(partner=partner, command=command, body=body)
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


def _command_send(*, partner: Partner, command: str, body: dict[str, Any]) -> tuple[Command, str]:
    if command == "START_SESSION":
        _, found = _command_location(body, evse_required=True)
        evse, station = found
        token = _token_for_command(partner=partner, body=body)
        return session_remote_start(station=station, evse_id=evse.evse_id, id_token=token.uid), token.uid
    if command == "STOP_SESSION":
        session_id = str(body.get("session_id") or "")
        session = Session.objects.filter(pk=int(session_id)).first() if session_id.isdigit() else None
        if session is None:
            raise _UnknownSession(f"unknown session {session_id}")
        roaming = RoamingSession.objects.filter(session=session).first()
        if roaming is None or roaming.partner_id != partner.pk:
            raise _Rejected("the session is not one of yours")
        return session_remote_stop(session=session), ""
    if command == "RESERVE_NOW":
        _, found = _command_location(body, evse_required=True)
        evse, station = found
        token = _token_for_command(partner=partner, body=body)
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


def remote_command_result_send(*, remote_command_id: int) -> str:
    """POST the CommandResult to the eMSP's response_url once (OCPI: not retried; the eMSP has the
    timeout). Returns the result sent, or '' when there is nothing to send yet or it was sent."""
    remote = RemoteCommand.objects.select_related("partner", "station_command").get(pk=remote_command_id)
    result = remote_command_result(remote)
    if not result:
        return ""
    claimed = RemoteCommand.objects.filter(pk=remote.pk, result_sent_at__isnull=True).update(
        result=result, result_sent_at=timezone.now()
    )
    if not claimed:
        return ""
    message = (remote.station_command.error if remote.station_command else "") or ""
    body = {"result": result} | ({"message": [{"language": "en", "text": message[:512]}]} if message else {})
    try:
        partner_call(remote.partner, method="POST", url=remote.response_url, module="commands", body=body)
    except PartnerUnreachable:
        pass  # logged on the partner; OCPI Commands module: a lost result is not retried
    return result


# --- real-time authorization ----------------------------------------------------------------------

ALLOWED_STATUSES = {"ALLOWED": "Accepted", "BLOCKED": "Blocked", "EXPIRED": "Expired", "NO_CREDIT": "Invalid",
                    "NOT_ALLOWED": "Invalid"}  # fmt: skip


def _authorize_at(
    *, partner: Partner, uid: str, token_type: str, context: AuthorizationContext, deadline: float
) -> dict[str, Any] | None:
    """Ask the eMSP about a token (POST …/tokens/{uid}/authorize). Returns its AuthorizationInfo, None
    when it does not know the token. Raises PartnerUnreachable when it cannot answer in time."""
    base = partner.endpoint("tokens", "SENDER")
    if not base:
        raise PartnerUnreachable("the partner has no tokens endpoint")
    remaining = deadline - time.monotonic()
    if remaining <= 0.2:
        raise PartnerUnreachable("no time left to ask the partner")
    location_references = None
    station = Station.objects.filter(identity=context.station_identity).select_related("location").first()
    if station is not None and station.location_id:
        evses = [selectors.evse_uid(e) for e in station.evses.all()]
        location_references = {"location_id": str(station.location_id), "evse_uids": evses}
    answer = partner_call(
        partner,
        method="POST",
        url=f"{base.rstrip('/')}/{quote(uid, safe='')}/authorize?type={token_type}",
        module="tokens",
        body=location_references,
        timeout=remaining,
    )
    if answer.http_status == 404 or answer.status_code == transport.UNKNOWN_TOKEN:
        return None
    info = answer.data[0] if isinstance(answer.data, list) and answer.data else answer.data
    if (
        not (200 <= answer.http_status < 300)
        or not isinstance(info, dict)
        or info.get("allowed") not in ALLOWED_STATUSES
    ):
        raise PartnerUnreachable(
            f"unusable authorization answer (HTTP {answer.http_status}, OCPI {answer.status_code})"
        )
    return info


def _decision(status: str, reason: str, card: IdToken | None) -> AuthorizationDecision:
    return AuthorizationDecision(status=status, reason=reason, id_token=card)


def roaming_authorize(
    *, uid: str, context: AuthorizationContext, id_token: IdToken | None
) -> AuthorizationDecision | None:
    """The rfid remote authorizer: decide on a roaming card per its whitelist, asking its eMSP in
    real time when the whitelist says so (NEVER always, ALLOWED_OFFLINE while the eMSP answers), and
    on an unknown card by asking each registered eMSP. Returns None to leave the card to the local
    rules (ALWAYS, ALLOWED, a recent command with the token, an unreachable ALLOWED_OFFLINE eMSP)."""
    deadline = time.monotonic() + settings.OCPI_AUTHORIZE_TIMEOUT
    now = timezone.now()
    if id_token is not None:
        token = (
            RoamingToken.objects.select_related("partner").filter(id_token=id_token).order_by("-id").first()
        )
        if token is None or token.partner.status != Partner.Status.REGISTERED:
            return None
        if token.command_at and now - token.command_at < COMMAND_TOKEN_GRACE:
            return None
        if token.whitelist in (RoamingToken.Whitelist.ALWAYS, RoamingToken.Whitelist.ALLOWED):
            return None
        try:
            info = _authorize_at(
                partner=token.partner,
                uid=token.uid,
                token_type=token.type,
                context=context,
                deadline=deadline,
            )
        except PartnerUnreachable:
            if token.whitelist == RoamingToken.Whitelist.ALLOWED_OFFLINE:
                return None
            return _decision("Invalid", "the card's eMSP did not answer in time", id_token)
        if info is None:
            return _decision("Invalid", "unknown to the card's eMSP", id_token)
        return _realtime_decision(partner=token.partner, token=token, info=info, id_token=id_token)
    for partner in Partner.objects.filter(status=Partner.Status.REGISTERED).order_by("id"):
        if not partner.endpoint("tokens", "SENDER"):
            continue
        try:
            info = _authorize_at(
                partner=partner, uid=uid, token_type="RFID", context=context, deadline=deadline
            )
        except PartnerUnreachable:
            continue
        if info is not None:
            return _realtime_decision(partner=partner, token=None, info=info, id_token=None, uid=uid)
    return None


def _realtime_decision(
    *,
    partner: Partner,
    token: RoamingToken | None,
    info: dict[str, Any],
    id_token: IdToken | None,
    uid: str = "",
) -> AuthorizationDecision:
    status = ALLOWED_STATUSES[str(info["allowed"])]
    reference = str(info.get("authorization_reference") or "")[:36]
    with transaction.atomic():
        if token is None:
            given: dict[str, Any] = info["token"] if isinstance(info.get("token"), dict) else {}
            body = {"type": "RFID", "contract_id": uid, "issuer": partner.name, "valid": True,
                    "whitelist": "NEVER", "country_code": partner.country_code, "party_id": partner.party_id,
                    "last_updated": transport.ocpi_datetime(timezone.now()), **given, "uid": uid}  # fmt: skip
            try:
                _token_check(body, country_code=str(body["country_code"]), party_id=str(body["party_id"]),
                             uid=uid, token_type=str(body["type"]))  # fmt: skip
                token = _roaming_token_save(partner=partner, token=body, existing=None)
            except OcpiError:
                return _decision("Invalid", "the eMSP's token is malformed", None)
        if status == "Accepted":
            token.authorization_reference = reference
            token.authorized_at = timezone.now()
            token.save(update_fields=["authorization_reference", "authorized_at"])
    return _decision(status, f"eMSP {partner.name}: {info['allowed']}", token.id_token)


# --- sessions of roaming cards ---------------------------------------------------------------------


def roaming_session_record(*, session_id: int) -> RoamingSession | None:
    """Note which partner a session belongs to (its card's eMSP) and how it was authorized; once per
    session. Returns None for a session of a local card."""
    existing = RoamingSession.objects.filter(session_id=session_id).first()
    if existing is not None:
        return existing
    session = Session.objects.select_related("id_token").filter(pk=session_id).first()
    if session is None or session.id_token is None:
        return None
    token = (
        RoamingToken.objects.select_related("partner")
        .filter(id_token=session.id_token, partner__status=Partner.Status.REGISTERED)
        .order_by("-id")
        .first()
    )
    if token is None:
        return None
    recent = session.started_at - COMMAND_TOKEN_GRACE
    method, reference = RoamingSession.AuthMethod.WHITELIST, ""
    if (
        token.command_at
        and token.command_at >= recent
        and (not token.authorized_at or token.command_at >= token.authorized_at)
    ):
        method, reference = RoamingSession.AuthMethod.COMMAND, token.authorization_reference
    elif token.authorized_at and token.authorized_at >= recent:
        method, reference = RoamingSession.AuthMethod.AUTH_REQUEST, token.authorization_reference
    try:
        with transaction.atomic():
            return RoamingSession.objects.create(
                session=session,
                partner=token.partner,
                token=token,
                cdr_token=token.cdr_token(),
                auth_method=method,
                authorization_reference=reference,
            )
    except IntegrityError:
        return RoamingSession.objects.get(session_id=session_id)


# --- pushes -------------------------------------------------------------------------------------------


def _receivers(module: str) -> list[Partner]:
    return [
        p
        for p in Partner.objects.filter(status=Partner.Status.REGISTERED).order_by("id")
        if p.endpoint(module)
    ]


def push_create(
    *, partner: Partner, module: str, method: str, path: str, object_key: str, event_key: str = ""
) -> Push | None:
    """Queue a change for a partner (the body is rendered from the current state when it is sent).
    Idempotent per event: a redelivered event (same `event_key`) queues nothing new."""
    try:
        with transaction.atomic():
            push = Push.objects.create(
                partner=partner,
                module=module,
                method=method,
                path=path,
                object_key=object_key,
                event_key=event_key,
            )
    except IntegrityError:
        return None
    transaction.on_commit(lambda: _deliver_enqueue(partner.pk, object_key))
    return push


def _deliver_enqueue(partner_id: int, object_key: str) -> None:
    from ocpi.tasks import push_deliver_task

    push_deliver_task.delay(partner_id, object_key)


def _our_path(*ids: str) -> str:
    return "/" + "/".join([settings.OCPI_COUNTRY_CODE, settings.OCPI_PARTY_ID, *ids])


def pushes_for_evse_status(*, station_id: int, evse_id: int, event_key: str = "") -> list[Push]:
    """An EVSE's status changed: PATCH it to every partner that receives locations."""
    evse = Evse.objects.select_related("station").filter(station_id=station_id, evse_id=evse_id).first()
    if evse is None or evse.station.location_id is None:
        return []
    if selectors.location_get(location_id=str(evse.station.location_id)) is None:
        return []  # not published
    path = _our_path(str(evse.station.location_id), selectors.evse_uid(evse))
    return [
        push
        for partner in _receivers("locations")
        if (
            push := push_create(
                partner=partner,
                module="locations",
                method="PATCH",
                path=path,
                object_key=f"evse:{evse.pk}",
                event_key=event_key,
            )
        )  # fmt: skip
    ]


def pushes_for_location(*, location_id: int, event_key: str = "") -> list[Push]:
    """A location changed: PUT it whole to every partner that receives locations."""
    if selectors.location_get(location_id=str(location_id)) is None:
        return []
    return [
        push
        for partner in _receivers("locations")
        if (
            push := push_create(
                partner=partner,
                module="locations",
                method="PUT",
                path=_our_path(str(location_id)),
                object_key=f"location:{location_id}",
                event_key=event_key,
            )
        )  # fmt: skip
    ]


def pushes_for_station(*, station_id: int, event_key: str = "") -> list[Push]:
    """A station was added to, changed at or removed from a location: PUT the location whole."""
    location_id = Station.objects.filter(pk=station_id).values_list("location_id", flat=True).first()
    return pushes_for_location(location_id=location_id, event_key=event_key) if location_id else []


def pushes_for_tariff(*, tariff_id: int, code: str, deleted: bool = False, event_key: str = "") -> list[Push]:
    """A tariff was created or changed (PUT) or deleted (DELETE): tell every partner that receives tariffs."""
    return [
        push
        for partner in _receivers("tariffs")
        if (
            push := push_create(
                partner=partner,
                module="tariffs",
                method="DELETE" if deleted else "PUT",
                path=_our_path(code),
                object_key=f"tariff:{tariff_id}",
                event_key=event_key,
            )
        )  # fmt: skip
    ]


def pushes_for_session(*, session_id: int, method: str, event_key: str = "") -> Push | None:
    """A roaming session started (PUT), grew (PATCH) or ended (PUT): send it to its eMSP."""
    roaming = roaming_session_record(session_id=session_id)
    if roaming is None or not roaming.partner.endpoint("sessions"):
        return None
    return push_create(
        partner=roaming.partner, module="sessions", method=method, path=_our_path(str(session_id)),
        object_key=f"session:{session_id}", event_key=event_key,
    )  # fmt: skip


def pushes_for_cdr(*, cdr_id: int, event_key: str = "") -> Push | None:
    """A CDR was made: POST it to the eMSP of the session's card, and only to it."""
    cdr = Cdr.objects.filter(pk=cdr_id).first()
    if cdr is None:
        return None
    roaming = roaming_session_record(session_id=cdr.session_id)
    if roaming is None or not roaming.partner.endpoint("cdrs"):
        return None
    return push_create(
        partner=roaming.partner,
        module="cdrs",
        method="POST",
        path="",
        object_key=f"cdr:{cdr_id}",
        event_key=event_key,
    )


def _push_body(push: Push) -> Any:
    kind, _, pk = push.object_key.partition(":")
    if kind == "evse":
        evse = Evse.objects.select_related("station").prefetch_related("connectors").get(pk=int(pk))
        data = selectors.evse_to_ocpi(evse, evse.station)
        return {"status": data["status"], "last_updated": data["last_updated"]}
    if kind == "location":
        location = selectors.location_get(location_id=pk)
        return selectors.location_to_ocpi(location) if location else None
    if push.method == "DELETE":
        return None
    if kind == "tariff":
        return selectors.tariff_to_ocpi(Tariff.objects.get(pk=int(pk)))
    if kind == "session":
        session = selectors.session_list(partner=push.partner).get(pk=int(pk))
        data = selectors.session_to_ocpi(session)
        if push.method == "PATCH":
            # OCPI 2.2.1 Sessions module: periods in a PATCH are appended; the PUT at the end carries them all.
            return {k: data[k] for k in ("kwh", "total_cost", "status", "last_updated")}
        return data
    if kind == "cdr":
        return selectors.cdr_to_ocpi(selectors.cdr_list(partner=push.partner).get(pk=int(pk)))
    raise ValueError(f"unknown push object {push.object_key}")


def push_backoff(*, attempts: int) -> int:
    """Seconds before the next attempt: 5 s, 15 s, 45 s … capped at ten minutes."""
    return int(min(5 * 3 ** max(0, attempts - 1), 600))


def push_deliver(*, partner_id: int, object_key: str) -> int | None:
    """Send a partner's pending pushes of one object, oldest first, stopping at the first failure.

    Returns seconds until the next attempt is due when one failed (None when nothing is left or
    another worker holds the object). Never raises for a failing partner.
    """
    while True:
        now = timezone.now()
        push = (
            Push.objects.filter(partner_id=partner_id, object_key=object_key, status=Push.Status.PENDING)
            .order_by("id")
            .first()
        )
        if push is None:
            return None
        if push.next_attempt_at and push.next_attempt_at > now:
            return max(1, int((push.next_attempt_at - now).total_seconds()))
        claimed = (
            Push.objects.filter(pk=push.pk, status=Push.Status.PENDING)
            .filter(Q(locked_until__isnull=True) | Q(locked_until__lt=now))
            .update(locked_until=now + timedelta(seconds=settings.OCPI_TIMEOUT + 30))
        )
        if not claimed:
            return None
        push.refresh_from_db()
        partner = push.partner
        error, status, location = "", None, ""
        try:
            body = _push_body(push)
            base = partner.endpoint(push.module)
            if partner.status != Partner.Status.REGISTERED or not base:
                raise PartnerUnreachable("the partner is no longer registered for this module")
            # A CDR is POSTed to the URL exactly as advertised (a peer may route only its own form).
            url = base.rstrip("/") + push.path if push.path else base
            answer = partner_call(partner, method=push.method, url=url, module=push.module, body=body)
            status = answer.http_status
            location = answer.headers.get("Location", "")
            if not _answer_ok(answer):
                error = f"HTTP {answer.http_status}, OCPI {answer.status_code}"
        except (PartnerUnreachable, ObjectDoesNotExist, ValueError) as exc:
            error = str(exc) or exc.__class__.__name__
        push.attempts += 1
        push.locked_until = None
        push.response_status = status
        push.last_error = error[:500]
        if not error:
            push.status = Push.Status.SUCCEEDED
            push.delivered_at = timezone.now()
            push.response_location = location[:500]
        elif push.attempts >= settings.OCPI_PUSH_MAX_ATTEMPTS or partner.status != Partner.Status.REGISTERED:
            push.status = Push.Status.FAILED
        else:
            push.next_attempt_at = timezone.now() + timedelta(seconds=push_backoff(attempts=push.attempts))
        push.save()
        if push.status == Push.Status.PENDING:
            return push_backoff(attempts=push.attempts)


def pushes_due() -> list[tuple[int, str]]:
    """(partner, object) pairs with a pending push that is due: the sweep catches up a partner that
    was down, and pushes whose task was lost."""
    now = timezone.now()
    rows = (
        Push.objects.filter(status=Push.Status.PENDING)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .filter(Q(locked_until__isnull=True) | Q(locked_until__lt=now))
        .values_list("partner_id", "object_key")
        .distinct()
    )
    return list(rows[:1000])


def remote_commands_overdue() -> list[int]:
    """Commands whose station did not answer before the deadline and whose result is not sent."""
    return list(
        RemoteCommand.objects.filter(result_sent_at__isnull=True, deadline__lte=timezone.now()).values_list(
            "id", flat=True
        )[:500]
    )


def ocpi_log_prune() -> int:
    """Delete request-log rows and finished pushes older than OCPI_LOG_RETENTION_DAYS; returns how
    many rows went. Pending pushes are kept whatever their age."""
    cutoff = timezone.now() - timedelta(days=settings.OCPI_LOG_RETENTION_DAYS)
    logs, _ = RequestLog.objects.filter(created_at__lt=cutoff).delete()
    pushes, _ = Push.objects.filter(created_at__lt=cutoff).exclude(status=Push.Status.PENDING).delete()
    return logs + pushes
