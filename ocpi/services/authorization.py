"""Real-time authorization of roaming and unknown cards at their eMSP (the rfid remote authorizer)."""

import time
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ocpi import selectors, transport
from ocpi.client import PartnerUnreachable, partner_call
from ocpi.models import Partner, RoamingToken
from ocpi.services.tokens import COMMAND_TOKEN_GRACE, roaming_token_save, token_check
from ocpi.transport import OcpiError
from rfid.models import IdToken
from rfid.services import (
    AuthorizationContext,
    AuthorizationDecision,
)
from stations.models import Station

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
        # 2.1.1 names no token type in the URL.
        url=f"{base.rstrip('/')}/{quote(uid, safe='')}/authorize"
        + ("" if partner.version == "2.1.1" else f"?type={token_type}"),
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
                token_check(body, country_code=str(body["country_code"]), party_id=str(body["party_id"]),
                             uid=uid, token_type=str(body["type"]))  # fmt: skip
                token = roaming_token_save(partner=partner, token=body, existing=None)
            except OcpiError:
                return _decision("Invalid", "the eMSP's token is malformed", None)
        if status == "Accepted":
            token.authorization_reference = reference
            token.authorized_at = timezone.now()
            token.save(update_fields=["authorization_reference", "authorized_at"])
    return _decision(status, f"eMSP {partner.name}: {info['allowed']}", token.id_token)
