"""Every write and business rule of the rfid app: id tokens, drivers, authorization decisions."""

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from chargenet.events import event_publish
from rfid.models import Driver, IdToken


class IdTokenError(Exception):
    """An id token change was refused; the message says why."""


# OCPP 1.6 idTag: CiString20; 2.0.1 idToken: identifierString ≤ 36. Printable ASCII, no spaces.
UID_PATTERN = re.compile(r"^[\x21-\x7e]{1,36}$")
ID_TOKEN_FIELDS = {
    "type",
    "printed_number",
    "status",
    "expires_at",
    "parent_id_tag",
    "driver",
    "label",
    "source",
}


def _check_fields(fields: dict[str, Any]) -> None:
    unknown = set(fields) - ID_TOKEN_FIELDS
    if unknown:
        raise IdTokenError(f"unknown id token fields: {', '.join(sorted(unknown))}")
    status = fields.get("status")
    if status is not None and status not in IdToken.Status.values:
        raise IdTokenError(f"status must be one of {', '.join(IdToken.Status.values)}")
    token_type = fields.get("type")
    if token_type is not None and token_type not in IdToken.Type.values:
        raise IdTokenError(f"type must be one of {', '.join(IdToken.Type.values)}")
    expires_at = fields.get("expires_at")
    if expires_at is not None and not isinstance(expires_at, datetime):
        raise IdTokenError("expires_at must be a date and time")


@transaction.atomic
def id_token_create(*, uid: str, **fields: Any) -> IdToken:
    """Issue a card. Raises IdTokenError for a malformed uid or a uid/printed number in use."""
    uid = uid.strip()
    if not UID_PATTERN.match(uid):
        raise IdTokenError("uid must be 1 to 36 printable characters without spaces")
    _check_fields(fields)
    if IdToken.objects.filter(uid__iexact=uid).exists():
        raise IdTokenError(f"a card with uid {uid!r} already exists")
    printed = fields.get("printed_number", "")
    if printed and IdToken.objects.filter(printed_number=printed).exists():
        raise IdTokenError(f"a card with number {printed!r} already exists")
    token = IdToken.objects.create(uid=uid, **fields)
    event_publish("id_token.created", {"id_token_id": token.pk, "uid": token.uid})
    return token


@transaction.atomic
def id_token_update(*, id_token: IdToken, **fields: Any) -> IdToken:
    """Change a card (status, expiry, group, owner …). Raises IdTokenError for a bad value."""
    _check_fields(fields)
    printed = fields.get("printed_number")
    if printed and IdToken.objects.filter(printed_number=printed).exclude(pk=id_token.pk).exists():
        raise IdTokenError(f"a card with number {printed!r} already exists")
    for name, value in fields.items():
        setattr(id_token, name, value)
    id_token.save()
    event_publish(
        "id_token.updated", {"id_token_id": id_token.pk, "uid": id_token.uid, "status": id_token.status}
    )
    return id_token


@transaction.atomic
def driver_create(*, user, **fields: Any) -> Driver:
    """Create the driver account behind a login."""
    return Driver.objects.create(user=user, **fields)


@dataclass(frozen=True)
class AuthorizationContext:
    """What the stations app knows about where a card is presented (rfid cannot import stations)."""

    station_identity: str = ""
    is_public: bool = True
    allowed_driver_ids: frozenset[int] = frozenset()
    allowed_groups: frozenset[str] = frozenset()
    # True when the card already has an active session on another connector.
    has_active_session_elsewhere: bool = False


@dataclass(frozen=True)
class AuthorizationDecision:
    """The answer for a card: an OCPP idTagInfo status plus the reason an operator can read."""

    status: str  # Accepted, Blocked, Expired, Invalid, ConcurrentTx
    reason: str
    id_token: IdToken | None = None
    parent_id_tag: str = ""
    expires_at: datetime | None = None

    @property
    def accepted(self) -> bool:
        return self.status == "Accepted"


def id_token_authorize(*, uid: str, context: AuthorizationContext | None = None) -> AuthorizationDecision:
    """Decide whether the card `uid` may charge in `context`; the one decision for OCPP 1.6, 2.0.1
    and OCPI. Matches uids case-insensitively. Never raises for an unknown card: it is Invalid."""
    context = context or AuthorizationContext()
    token = IdToken.objects.select_related("driver").filter(uid__iexact=uid.strip()).first()
    if token is None:
        return AuthorizationDecision(status="Invalid", reason="unknown card")
    common = {"id_token": token, "parent_id_tag": token.parent_id_tag, "expires_at": token.expires_at}
    if token.status == IdToken.Status.BLOCKED:
        return AuthorizationDecision(status="Blocked", reason="card is blocked", **common)
    if token.status == IdToken.Status.INVALID:
        return AuthorizationDecision(status="Invalid", reason="card is invalid", **common)
    if token.status == IdToken.Status.EXPIRED or (token.expires_at and token.expires_at <= timezone.now()):
        return AuthorizationDecision(status="Expired", reason="card has expired", **common)
    if not context.is_public and not (
        (token.driver_id is not None and token.driver_id in context.allowed_driver_ids)
        or (token.parent_id_tag and token.parent_id_tag in context.allowed_groups)
    ):
        return AuthorizationDecision(status="Invalid", reason="not allowed at this location", **common)
    if context.has_active_session_elsewhere:
        return AuthorizationDecision(
            status="ConcurrentTx", reason="card is already charging elsewhere", **common
        )
    return AuthorizationDecision(status="Accepted", reason="valid card", **common)
