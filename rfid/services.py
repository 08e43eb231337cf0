"""Every write and business rule of the rfid app: id tokens, drivers, authorization decisions."""

import re
from datetime import datetime
from typing import Any

from django.db import transaction

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
