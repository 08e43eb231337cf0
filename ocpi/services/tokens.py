"""Tokens an eMSP pushes (the Tokens receiver): they become rfid cards of source roaming."""

from datetime import timedelta
from typing import Any

from django.db import transaction

from ocpi import transport
from ocpi.models import Partner, RoamingToken
from ocpi.transport import OcpiError
from rfid.models import IdToken
from rfid.services import (
    IdTokenError,
    id_token_create,
    id_token_update,
)

# OCPI 2.2.1 Tokens module: a token used in a command is not authorized in real time again when the
# station asks for it within 15 minutes.
COMMAND_TOKEN_GRACE = timedelta(minutes=15)

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


def roaming_token_type(*, partner: Partner, uid: str) -> str:
    """The type of the partner's token with this uid (RFID when there is none): OCPI 2.1.1 cannot
    name the type in a token URL."""
    token = RoamingToken.objects.filter(partner=partner, uid__iexact=uid).order_by("id").first()
    return token.type if token is not None else "RFID"


def token_check(
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


def roaming_token_save(
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
    token_check(token, country_code=country_code, party_id=party_id, uid=uid, token_type=token_type)
    return roaming_token_save(partner=partner, token=token, existing=existing), existing is None
