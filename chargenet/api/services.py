"""Writes of the REST API layer: API keys, the audit log, idempotent responses."""

import hashlib
import secrets
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from chargenet.api.models import ApiKey, AuditLog, IdempotencyRecord
from chargenet.errors import DomainError

KEY_PREFIX = "cn_"
# last_used_at is a hint for people, not an audit trail: write it at most once a minute per key.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class ApiKeyError(DomainError):
    """An API key action was refused."""

    api_status = 400
    api_code = "validation_error"


class IdempotencyConflict(DomainError):
    """The Idempotency-Key was used for another request, or its first request is still running."""

    def __init__(self, message: str, *, code: str):
        super().__init__(message)
        self.code = code
        self.api_code = code


def api_key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@transaction.atomic
def api_key_create(*, user: Any, name: str, role: str = ApiKey.Role.READ) -> tuple[ApiKey, str]:
    """Create a key for `user`; returns the row and the key itself, which is never stored or shown again.

    Raises ApiKeyError for an unknown role or an empty name."""
    if role not in ApiKey.Role.values:
        raise ApiKeyError(f"role must be one of {', '.join(ApiKey.Role.values)}")
    name = name.strip()
    if not name or len(name) > 100:
        raise ApiKeyError("name must be 1 to 100 characters")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    api_key = ApiKey.objects.create(
        user=user, name=name, role=role, prefix=key[:10], key_hash=api_key_digest(key)
    )
    return api_key, key


@transaction.atomic
def api_key_revoke(*, api_key: ApiKey) -> ApiKey:
    """Revoke a key at once; its next request is refused. Revoking twice changes nothing."""
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
    return api_key


def api_key_authenticate(*, key: str) -> ApiKey | None:
    """The active key matching `key` with its user, or None; notes when it was last used."""
    api_key = (
        ApiKey.objects.select_related("user")
        .filter(key_hash=api_key_digest(key), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if api_key is not None:
        now = timezone.now()
        if api_key.last_used_at is None or now - api_key.last_used_at > LAST_USED_RESOLUTION:
            ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
    return api_key


def audit_record(
    *,
    user: Any,
    api_key: ApiKey | None,
    method: str,
    path: str,
    status_code: int,
    object_type: str = "",
    object_id: str = "",
) -> AuditLog:
    """Record one write request (whatever its outcome) in the audit log."""
    return AuditLog.objects.create(
        user=user if getattr(user, "is_authenticated", False) else None,
        api_key=api_key,
        method=method,
        path=path[:500],
        status_code=status_code,
        object_type=object_type[:50],
        object_id=str(object_id)[:100],
    )


def idempotency_begin(
    *, user: Any, key: str, method: str, path: str, body: bytes
) -> IdempotencyRecord | None:
    """Claim `key` for this request. Returns None when the request is new (serve it, then call
    idempotency_finish), or the finished record whose response must be replayed.

    Raises IdempotencyConflict when the key belongs to a different request or is still in flight."""
    request_hash = hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + body).hexdigest()
    try:
        with transaction.atomic():
            IdempotencyRecord.objects.create(
                user=user, key=key, method=method, path=path[:500], request_hash=request_hash
            )
        return None
    except IntegrityError:
        pass
    record = IdempotencyRecord.objects.get(user=user, key=key)
    if record.request_hash != request_hash:
        raise IdempotencyConflict(
            "this Idempotency-Key was already used for a different request", code="idempotency_key_reused"
        )
    if record.status_code is None:
        raise IdempotencyConflict(
            "a request with this Idempotency-Key is still being processed; retry shortly",
            code="idempotency_in_progress",
        )
    return record


def idempotency_finish(*, user: Any, key: str, status_code: int, response: Any) -> None:
    """Store the response of a claimed key; a 5xx answer releases the key so a retry runs again."""
    records = IdempotencyRecord.objects.filter(user=user, key=key, status_code__isnull=True)
    if status_code >= 500:
        records.delete()
    else:
        records.update(status_code=status_code, response=response)
