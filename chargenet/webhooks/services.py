"""Outgoing webhooks: subscriptions, fan-out of domain events, signed delivery, replay.

A delivery is signed with the subscription's secret: header
`ChargeNet-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">` (docs/api.md shows how to
verify it). Deliveries are rows: a worker claims one with a conditional update, so a task that Celery
runs twice never sends a delivered event again.
"""

import hashlib
import hmac
import http.client
import ipaddress
import json
import secrets
import socket
import ssl
import time
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
from chargenet.events import event_batch_memo
from chargenet.lengths import text_too_long
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
    "firmware_image.created",
    "firmware_campaign.updated",
    "firmware_campaign.station_updated",
    "diagnostics.updated",
    "diagnostics_campaign.updated",
    "diagnostics_campaign.station_updated",
    "firmware_publication.updated",
    "station.status_reported",
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


# IPv6 prefixes that carry an IPv4 address in their last 32 bits (RFC 6052 NAT64, well-known and
# local-use), besides the forms ipaddress decodes itself (IPv4-mapped, 6to4, Teredo).
NAT64_PREFIXES = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


def _address_public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether `ip`, and every IPv4 address it embeds (IPv4-mapped, IPv4-compatible, 6to4, Teredo,
    NAT64), is a global unicast address: ::ffff:127.0.0.1 or 64:ff9b::a00:1 reach inside too."""
    candidates: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = [ip]
    if isinstance(ip, ipaddress.IPv6Address):
        embedded_low = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if ip.ipv4_mapped is not None:
            candidates.append(ip.ipv4_mapped)
        if ip.sixtofour is not None:
            candidates.append(ip.sixtofour)
        if ip.teredo is not None:
            candidates.extend(ip.teredo)
        if any(ip in prefix for prefix in NAT64_PREFIXES) or int(ip) >> 32 == 0:
            candidates.append(embedded_low)
    return all(c.is_global and not c.is_multicast for c in candidates)


def _resolve_checked(url: str) -> tuple[str, int, str]:
    """(host name, port, the one address to connect to) for `url`; raises WebhookError for a URL that
    is not http(s) or, unless WEBHOOK_ALLOW_PRIVATE_HOSTS, whose host is not public (SSRF). The host is
    resolved once: the caller connects to the address checked here (no DNS-rebinding window)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookError("url must be an http:// or https:// URL")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise WebhookError("url has an invalid port") from None
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise WebhookError(f"the host {parts.hostname!r} cannot be resolved") from None
    addresses = [str(info[4][0]).split("%")[0] for info in infos]
    if not addresses:
        raise WebhookError(f"the host {parts.hostname!r} cannot be resolved")
    if not settings.WEBHOOK_ALLOW_PRIVATE_HOSTS:
        for address in addresses:
            if not _address_public(ipaddress.ip_address(address)):
                raise WebhookError(f"the host {parts.hostname!r} is not a public address")
    return parts.hostname, port, addresses[0]


def _check_url(url: str) -> None:
    """Refuse URLs that would make the CSMS call into its own network (SSRF), unless allowed."""
    _resolve_checked(url)


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """An HTTP connection to a checked address; the Host header keeps the URL's host name."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """An HTTPS connection to a checked address; TLS verifies the certificate for the host name."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self.address = address

    def connect(self) -> None:
        sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    """POST `body` to `url` at the address checked once; (status, first bytes of the answer).
    Redirects are not followed: a 3xx is the receiver's answer, not an invitation to go elsewhere."""
    host, port, address = _resolve_checked(url)
    parts = urlsplit(url)
    kind = _PinnedHTTPSConnection if parts.scheme == "https" else _PinnedHTTPConnection
    connection = kind(host, port, address, settings.WEBHOOK_TIMEOUT)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read(RESPONSE_BODY_LIMIT).decode(errors="replace")
    finally:
        connection.close()


def _check_lengths(fields: dict[str, Any]) -> None:
    too_long = text_too_long(WebhookSubscription, fields)
    if too_long:
        raise WebhookError(too_long)


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
    _check_lengths({"url": url, "description": description})
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
    _check_lengths(fields)
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


def webhook_event_fanout(
    *, event_type: str, data: dict[str, Any], event_id: uuid.UUID | None = None
) -> list[WebhookDelivery]:
    """Create one pending delivery per active subscription that wants `event_type`, and enqueue them.

    `event_id` (the outbox event's id) becomes the payload's id; a subscription that already has a
    delivery of this event gets no second one, so fanning the same event out again adds nothing.
    """
    active = event_batch_memo(
        "webhooks.active_subscriptions", lambda: list(WebhookSubscription.objects.filter(is_active=True))
    )
    subscriptions = [s for s in active if s.wants(event_type)]
    if not subscriptions:  # the common case: nobody wants this event; no second query
        return []
    if event_id is None:
        event_id = uuid.uuid4()
    else:
        served = set(
            WebhookDelivery.objects.filter(
                event_id=event_id, event_type=event_type, replay_of__isnull=True
            ).values_list("subscription_id", flat=True)
        )
        subscriptions = [s for s in subscriptions if s.pk not in served]
    if not subscriptions:
        return []
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


def webhook_deliveries_due() -> int:
    """Queue every pending delivery whose next attempt is due and that no worker holds (the sweep
    behind a lost enqueue, a dead worker or a long back-off). Returns how many were queued."""
    now = timezone.now()
    due = list(
        # Due for half a minute: a delivery whose task is merely waiting in a busy queue is not
        # queued a second time.
        WebhookDelivery.objects.filter(
            status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now - timedelta(seconds=30)
        )
        .filter(Q(locked_until__isnull=True) | Q(locked_until__lt=now))
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:1000]
    )
    _enqueue(due)
    return len(due)


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
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "ChargeNet-Webhooks/1.0",
        "ChargeNet-Event": delivery.event_type,
        "ChargeNet-Event-Id": str(delivery.event_id),
        "ChargeNet-Delivery": str(delivery.uuid),
        SIGNATURE_HEADER: webhook_sign(secret=delivery.subscription.secret, timestamp=timestamp, body=body),
    }
    status_code, answer, error = None, "", ""
    try:
        status_code, answer = _post(delivery.subscription.url, body, headers)
    except (OSError, ValueError, http.client.HTTPException, WebhookError) as exc:
        error = str(exc) or exc.__class__.__name__
    if status_code is not None and not 200 <= status_code < 300:
        error = f"HTTP {status_code}" + (" (redirects are not followed)" if 300 <= status_code < 400 else "")
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
    else:
        delivery.next_attempt_at = timezone.now() + timedelta(
            seconds=webhook_backoff(attempts=delivery.attempts)
        )
    delivery.save(
        update_fields=[
            "attempts",
            "attempt_log",
            "response_status",
            "response_body",
            "locked_until",
            "status",
            "delivered_at",
            "next_attempt_at",
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
    """The chargenet.events subscriber: fan every event out to the subscriptions that want it, under
    the outbox event's id (command.finished gets an id of its own, derived from it)."""
    data = dict(data)
    raw_id = data.pop("event_id", None)
    event_id = uuid.UUID(raw_id) if raw_id else uuid.uuid4()
    webhook_event_fanout(event_type=event_type, data=data, event_id=event_id)
    if event_type == "command.updated" and data.get("status") in COMMAND_FINAL_STATUSES:
        finished_id = uuid.uuid5(event_id, "command.finished")
        webhook_event_fanout(event_type="command.finished", data=data, event_id=finished_id)
