"""The eMSP role's Tokens sender: our drivers' cards the operator marks roaming-enabled, offered to CPO
partners (GET), pushed on every change (issue, block, expiry), and authorized in real time."""

from datetime import timedelta
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from chargenet.errors import DomainError
from ocpi import transport
from ocpi.models import EmspToken, Partner
from ocpi.services.push import push_create
from ocpi.transport import OcpiError
from rfid.models import IdToken
from rfid.services import AuthorizationContext, id_token_authorize

# rfid's decision → OCPI AllowedType.
ALLOWED = {"Accepted": "ALLOWED", "Blocked": "BLOCKED", "Expired": "EXPIRED"}


class RoamingCardError(DomainError):
    """A card cannot be offered to roaming partners; the message says why."""

    api_status = 400
    api_code = "validation_error"


def emsp_token_to_ocpi(token: EmspToken, *, now: Any = None) -> dict[str, Any]:
    """The OCPI 2.2.1 Token object of a roaming-enabled card; `valid` follows the card (blocked,
    expired or no longer roaming → false)."""
    card = token.id_token
    now = now or timezone.now()
    valid = (
        token.enabled
        and card.status == IdToken.Status.ACCEPTED
        and not (card.expires_at and card.expires_at <= now)
    )
    data: dict[str, Any] = {
        "country_code": settings.OCPI_COUNTRY_CODE,
        "party_id": settings.OCPI_PARTY_ID,
        "uid": card.uid,
        "type": "RFID",
        "contract_id": token.contract_id,
        "issuer": settings.OCPI_BUSINESS_NAME[:64],
        "valid": bool(valid),
        "whitelist": "ALLOWED",
        "last_updated": transport.ocpi_datetime(token.last_updated),
    }
    if card.printed_number:
        data["visual_number"] = card.printed_number[:64]
    if card.parent_id_tag:
        data["group_id"] = card.parent_id_tag[:36]
    return data


def _token_path(token: EmspToken) -> str:
    return f"/{settings.OCPI_COUNTRY_CODE}/{settings.OCPI_PARTY_ID}/{quote(token.id_token.uid, safe='')}"


def _token_receivers() -> list[Partner]:
    return [
        p
        for p in Partner.objects.filter(status=Partner.Status.REGISTERED).order_by("id")
        if p.endpoint("tokens", "RECEIVER")
    ]


def emsp_token_push(*, token: EmspToken, partner: Partner, event_key: str = "") -> None:
    """Queue a PUT of the card's Token object to one CPO partner (rendered when it is sent)."""
    push_create(
        partner=partner,
        module="tokens",
        method="PUT",
        path=_token_path(token),
        object_key=f"token:{token.pk}",
        event_key=event_key,
    )


@transaction.atomic
def emsp_token_sync(*, id_token_id: int, event_key: str = "") -> bool:
    """A card changed (blocked, unblocked, expired, enabled or disabled for roaming): when its Token
    object changed, bump last_updated and push it to every CPO partner. Returns whether it was
    pushed; a card never offered for roaming is left alone."""
    token = (
        EmspToken.objects.select_for_update()
        .select_related("id_token")
        .filter(id_token_id=id_token_id)
        .first()
    )
    if token is None:
        return False
    current = {k: v for k, v in emsp_token_to_ocpi(token).items() if k != "last_updated"}
    if current == token.pushed:
        return False
    token.pushed = current
    token.last_updated = timezone.now()
    token.save(update_fields=["pushed", "last_updated"])
    for partner in _token_receivers():
        emsp_token_push(token=token, partner=partner, event_key=event_key)
    return True


@transaction.atomic
def emsp_token_enable(*, id_token: IdToken, enabled: bool = True) -> EmspToken:
    """The operator offers a driver's card to roaming partners (or withdraws it: partners then get
    it with valid=false). Raises RoamingCardError for a card of a roaming partner."""
    if id_token.source != IdToken.Source.LOCAL:
        raise RoamingCardError("only ChargeNet's own cards can roam on partner networks")
    token = EmspToken.objects.filter(id_token=id_token).first()
    if token is None:
        if not enabled:
            raise RoamingCardError("the card does not roam")
        token = EmspToken(id_token=id_token, last_updated=timezone.now(), contract_id="")
        token.save()
        token.contract_id = f"{settings.OCPI_COUNTRY_CODE}-{settings.OCPI_PARTY_ID}-C{token.pk:08d}"
        token.save(update_fields=["contract_id"])
    elif token.enabled != enabled:
        token.enabled = enabled
        token.save(update_fields=["enabled"])
    emsp_token_sync(id_token_id=id_token.pk)
    return token


def emsp_tokens_expired_sync() -> int:
    """Push cards whose expiry passed since their last push (expiry fires no event); returns how many."""
    now = timezone.now()
    ids = EmspToken.objects.filter(
        id_token__expires_at__lte=now, id_token__expires_at__gt=now - timedelta(days=365)
    ).values_list("id_token_id", flat=True)
    return sum(emsp_token_sync(id_token_id=pk) for pk in ids)


def emsp_tokens_initial_push(*, partner: Partner) -> int:
    """A CPO partner that just registered gets every card we ever offered (withdrawn ones as invalid)."""
    if not partner.endpoint("tokens", "RECEIVER"):
        return 0
    tokens = list(EmspToken.objects.select_related("id_token").order_by("id"))
    for token in tokens:
        emsp_token_push(token=token, partner=partner)
    return len(tokens)


def emsp_token_authorize(*, partner: Partner, uid: str, token_type: str, body: Any) -> dict[str, Any]:
    """A CPO asks in real time whether our driver's card may charge at its location/EVSE: the same
    rfid decision as at our own stations, recorded in the authorization log with the place named.
    Raises OcpiError 2004/404 for a card we do not offer, 2001 for malformed LocationReferences."""
    token = (
        EmspToken.objects.select_related("id_token").filter(id_token__uid__iexact=uid, enabled=True).first()
    )
    if token is None or token_type != "RFID":
        raise OcpiError(f"unknown token {uid}", status_code=transport.UNKNOWN_TOKEN, http_status=404)
    location: dict[str, Any] | None = None
    if body not in (None, {}, ""):
        evse_uids = body.get("evse_uids", []) if isinstance(body, dict) else None
        if (
            not isinstance(body, dict)
            or not isinstance(body.get("location_id"), str)
            or not 0 < len(body["location_id"]) <= 36
            or not isinstance(evse_uids, list)
            or not all(isinstance(e, str) and 0 < len(e) <= 36 for e in evse_uids)
        ):
            raise OcpiError(
                "the body must be LocationReferences: location_id and optional evse_uids",
                status_code=transport.INVALID_PARAMETERS,
            )
        location = {"location_id": body["location_id"], "evse_uids": evse_uids}
    where = f"{partner.country_code}*{partner.party_id}"
    if location:
        where += f" {location['location_id']}" + (
            f"/{','.join(location['evse_uids'])}" if location["evse_uids"] else ""
        )
    decision = id_token_authorize(
        uid=token.id_token.uid, context=AuthorizationContext(station_identity=where[:48], source="ocpi-emsp")
    )
    info: dict[str, Any] = {
        "allowed": ALLOWED.get(decision.status, "NOT_ALLOWED"),
        "token": emsp_token_to_ocpi(token),
        "authorization_reference": transport.token_new()[:36],
        "info": {"language": "en", "text": decision.reason[:255]},
    }
    if location:
        info["location"] = location
    return info
