"""Outgoing webhooks: subscriptions, fan-out of domain events, signed delivery, replay.

A delivery is signed with the subscription's secret: header
`ChargeNet-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">` (docs/api.md shows how to
verify it). Deliveries are rows: a worker claims one with a conditional update, so a task that Celery
runs twice never sends a delivered event again.
"""

import hashlib
import hmac
import ipaddress
import json
import secrets
import socket
import time
import urllib.error
import urllib.request
import uuid
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from chargenet.errors import DomainError
from chargenet.webhooks.models import WebhookDelivery, WebhookSubscription

# The events integrators can subscribe to (chargenet.events, plus command.finished derived from
# command.updated when a command reaches a final status).
WEBHOOK_EVENTS = (
    "station.created",
    "station.updated",
    "station.deleted",
    "station.connected",
    "station.disconnected",
    "station.booted",
    "connector.status_changed",
    "connector.fault_raised",
    "connector.fault_cleared",
    "session.started",
    "session.updated",
    "session.stopped",
    "command.updated",
    "command.finished",
    "id_token.created",
    "id_token.updated",
    "security_event.recorded",
    "cdr.created",
    "invoice.issued",
    "subscription.started",
    "subscription.ended",
)
COMMAND_FINAL_STATUSES = {"accepted", "rejected", "error", "timed_out", "expired"}
SIGNATURE_HEADER = "ChargeNet-Signature"
RESPONSE_BODY_LIMIT = 2000


class WebhookError(DomainError):
    """A webhook subscription change was refused; the message says why."""

    api_status = 400
    api_code = "validation_error"


def webhook_sign(*, secret: str, timestamp: int, body: bytes) -> str:
    """The signature header value for `body` sent at `timestamp`."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def _check_url(url: str) -> None:
    """Refuse URLs that would make the CSMS call into its own network (SSRF), unless allowed."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookError("url must be an http:// or https:// URL")
    if settings.WEBHOOK_ALLOW_PRIVATE_HOSTS:
        return
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(parts.hostname, parts.port or 443)}
    except OSError:
        raise WebhookError(f"the host {parts.hostname!r} cannot be resolved") from None
    for address in addresses:
        ip = ipaddress.ip_address(str(address).split("%")[0])
        if not ip.is_global:
            raise WebhookError(f"the host {parts.hostname!r} is not a public address")


def _check_events(events: list[str]) -> list[str]:
    if not events:
        raise WebhookError("choose at least one event (or '*' for all)")
    unknown = sorted(set(events) - {*WEBHOOK_EVENTS, "*"})
    if unknown:
        raise WebhookError(f"unknown events: {', '.join(unknown)}")
    return sorted(set(events))


@transaction.atomic
def webhook_subscription_create(
    *, user: Any, url: str, events: list[str], description: str = ""
) -> WebhookSubscription:
    """Subscribe `url` to `events`; the subscription's secret signs every delivery. Raises WebhookError."""
    _check_url(url)
    return WebhookSubscription.objects.create(
        user=user,
        url=url,
        events=_check_events(events),
        description=description,
        secret="whsec_" + secrets.token_urlsafe(32),
    )


@transaction.atomic
def webhook_subscription_update(*, subscription: WebhookSubscription, **fields: Any) -> WebhookSubscription:
    """Change url, events, description or is_active. Raises WebhookError."""
    unknown = set(fields) - {"url", "events", "description", "is_active"}
    if unknown:
        raise WebhookError(f"unknown fields: {', '.join(sorted(unknown))}")
    if "url" in fields:
        _check_url(fields["url"])
    if "events" in fields:
        fields["events"] = _check_events(fields["events"])
    for name, value in fields.items():
        setattr(subscription, name, value)
    subscription.save()
    return subscription


@transaction.atomic
def webhook_subscription_delete(*, subscription: WebhookSubscription) -> None:
    """Stop delivering to a subscriber; its delivery log goes with it."""
    subscription.delete()


def webhook_event_fanout(*, event_type: str, data: dict[str, Any]) -> list[WebhookDelivery]:
    """Create one pending delivery per active subscription that wants `event_type`, and enqueue them."""
    subscriptions = [s for s in WebhookSubscription.objects.filter(is_active=True) if s.wants(event_type)]
    if not subscriptions:
        return []
    event_id = uuid.uuid4()
    payload = {
        "id": str(event_id),
        "type": event_type,
        "created_at": timezone.now().isoformat(),
        "data": json.loads(json.dumps(data, cls=DjangoJSONEncoder)),
    }
    with transaction.atomic():
        deliveries = [
            WebhookDelivery.objects.create(
                subscription=subscription, event_id=event_id, event_type=event_type, payload=payload
            )
            for subscription in subscriptions
        ]
        transaction.on_commit(lambda: _enqueue([d.pk for d in deliveries]))
    return deliveries


def _enqueue(delivery_ids: list[int]) -> None:
    from chargenet.webhooks.tasks import webhook_deliver_task

    for delivery_id in delivery_ids:
        webhook_deliver_task.delay(delivery_id)


def webhook_backoff(*, attempts: int) -> int:
    """Seconds before the next attempt: 10 s, 30 s, 90 s … capped at two hours."""
    return min(10 * 3 ** max(0, attempts - 1), 7200)


def webhook_delivery_attempt(*, delivery_id: int) -> WebhookDelivery | None:
    """Send a pending delivery once and record the answer.

    Returns the delivery (status pending means: retry later), or None when there is nothing to do
    (already delivered, given up, or another worker holds it). Never raises for a failing receiver.
    """
    now = timezone.now()
    claimed = (
        WebhookDelivery.objects.filter(pk=delivery_id, status=WebhookDelivery.Status.PENDING)
        .filter(Q(locked_until__isnull=True) | Q(locked_until__lt=now))
        .update(locked_until=now + timedelta(seconds=settings.WEBHOOK_TIMEOUT + 30))
    )
    if not claimed:
        return None
    delivery = WebhookDelivery.objects.select_related("subscription").get(pk=delivery_id)
    body = json.dumps(delivery.payload, separators=(",", ":")).encode()
    timestamp = int(time.time())
    request = urllib.request.Request(
        delivery.subscription.url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "ChargeNet-Webhooks/1.0",
            "ChargeNet-Event": delivery.event_type,
            "ChargeNet-Event-Id": str(delivery.event_id),
            "ChargeNet-Delivery": str(delivery.uuid),
            SIGNATURE_HEADER: webhook_sign(
                secret=delivery.subscription.secret, timestamp=timestamp, body=body
            ),
        },
    )
    status_code, answer, error = None, "", ""
    try:
        _check_url(delivery.subscription.url)
        with urllib.request.urlopen(request, timeout=settings.WEBHOOK_TIMEOUT) as response:  # noqa: S310
            status_code, answer = response.status, response.read(RESPONSE_BODY_LIMIT).decode(errors="replace")
    except urllib.error.HTTPError as exc:
        status_code, answer = exc.code, exc.read(RESPONSE_BODY_LIMIT).decode(errors="replace")
        error = f"HTTP {exc.code}"
    except (OSError, ValueError, WebhookError) as exc:
        error = str(exc) or exc.__class__.__name__
    succeeded = status_code is not None and 200 <= status_code < 300
    delivery.attempts += 1
    delivery.attempt_log = [
        *delivery.attempt_log,
        {"at": timezone.now().isoformat(), "status": status_code, "error": error, "body": answer[:200]},
    ]
    delivery.response_status = status_code
    delivery.response_body = answer
    delivery.locked_until = None
    if succeeded:
        delivery.status = WebhookDelivery.Status.SUCCEEDED
        delivery.delivered_at = timezone.now()
    elif delivery.attempts >= settings.WEBHOOK_MAX_ATTEMPTS:
        delivery.status = WebhookDelivery.Status.FAILED
    delivery.save(
        update_fields=[
            "attempts",
            "attempt_log",
            "response_status",
            "response_body",
            "locked_until",
            "status",
            "delivered_at",
        ]
    )
    return delivery


@transaction.atomic
def webhook_delivery_replay(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send a delivery's event again as a new delivery (same event id, so receivers can deduplicate)."""
    replay = WebhookDelivery.objects.create(
        subscription=delivery.subscription,
        event_id=delivery.event_id,
        event_type=delivery.event_type,
        payload=delivery.payload,
        replay_of=delivery,
    )
    transaction.on_commit(lambda: _enqueue([replay.pk]))
    return replay


def webhook_event_received(event_type: str, data: dict[str, Any]) -> None:
    """The chargenet.events subscriber: fan every event out to the subscriptions that want it."""
    webhook_event_fanout(event_type=event_type, data=data)
    if event_type == "command.updated" and data.get("status") in COMMAND_FINAL_STATUSES:
        webhook_event_fanout(event_type="command.finished", data=data)
