"""Outgoing OCPI calls: headers (token, tracing, routing), the request log, and tolerant answers."""

import ipaddress
import json
import socket
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone

from ocpi import transport
from ocpi.models import Partner, RequestLog

LOG_BODY_LIMIT = 20000
CONFIGURATION_MODULES = frozenset({"versions", "credentials", "hubclientinfo"})


class PartnerUnreachable(Exception):
    """A call to a partner got no usable answer (network error, HTTP error, not JSON)."""


@dataclass
class Answer:
    """A partner's answer: HTTP status, the parsed envelope (or {}), and its headers (names in lower
    case: HTTP header names are case-insensitive and ASGI servers send them lower-cased)."""

    http_status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def status_code(self) -> int | None:
        code = self.body.get("status_code")
        return code if isinstance(code, int) else None

    @property
    def data(self) -> Any:
        return self.body.get("data")

    @property
    def ok(self) -> bool:
        return 200 <= self.http_status < 300 and self.status_code == transport.SUCCESS


def _lower(headers: Any) -> dict[str, str]:
    return {str(name).lower(): str(value) for name, value in headers.items()}


def answer_accepted(answer: Answer) -> bool:
    """Whether a receiver took a push: 200 or 201 with status 1000 or none (2.2.1-d2: any data)."""
    return 200 <= answer.http_status < 300 and answer.status_code in (transport.SUCCESS, None)


def url_check(url: str) -> None:
    """Refuse partner URLs that are not http(s) or that point into our own network (SSRF), unless
    OCPI_ALLOW_PRIVATE_HOSTS. Raises PartnerUnreachable."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PartnerUnreachable(f"not an http(s) URL: {url[:200]}")
    if settings.OCPI_ALLOW_PRIVATE_HOSTS:
        return
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(parts.hostname, parts.port or 443)}
    except OSError:
        raise PartnerUnreachable(f"the host {parts.hostname!r} cannot be resolved") from None
    for address in addresses:
        if not ipaddress.ip_address(str(address).split("%")[0]).is_global:
            raise PartnerUnreachable(f"the host {parts.hostname!r} is not a public address")


def ocpi_call(
    *,
    partner: Partner | None,
    method: str,
    url: str,
    token: str,
    module: str,
    body: Any = None,
    encode_token: bool = True,
    timeout: float | None = None,
    correlation_id: str = "",
    to_party: tuple[str, str] | None = None,
) -> Answer:
    """Call a partner and log the exchange. Functional modules get the OCPI-from/to routing headers:
    to the partner itself, or to `to_party` behind it when the partner is a hub.

    Raises PartnerUnreachable when there is no answer or it is not JSON; an answer with an HTTP error
    status or a non-1000 status code is returned (callers decide) and recorded on the partner.
    """
    request_id = str(uuid.uuid4())
    correlation_id = correlation_id or str(uuid.uuid4())
    headers = {
        "Authorization": transport.authorization_header(token, encode=encode_token),
        "Accept": "application/json",
        "User-Agent": "ChargeNet-OCPI",
        "X-Request-ID": request_id,
        "X-Correlation-ID": correlation_id,
    }
    # OCPI 2.1.1 has no routing headers.
    if module not in CONFIGURATION_MODULES and partner is not None and partner.version != "2.1.1":
        headers |= {
            "OCPI-from-country-code": settings.OCPI_COUNTRY_CODE,
            "OCPI-from-party-id": settings.OCPI_PARTY_ID,
            "OCPI-to-country-code": to_party[0] if to_party else partner.country_code,
            "OCPI-to-party-id": to_party[1] if to_party else partner.party_id,
        }
    data = None
    if body is not None:
        data = json.dumps(body, cls=DjangoJSONEncoder, separators=(",", ":")).encode()
        headers["Content-Type"] = "application/json"
    log = RequestLog(
        partner=partner,
        direction=RequestLog.Direction.OUT,
        method=method,
        url=url[:500],
        request_id=request_id,
        correlation_id=correlation_id,
        request_body=(data or b"").decode()[:LOG_BODY_LIMIT],
    )
    try:
        url_check(url)
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=timeout or settings.OCPI_TIMEOUT) as response:  # noqa: S310
                status, raw, answer_headers = response.status, response.read(), _lower(response.headers)
        except urllib.error.HTTPError as exc:
            status, raw, answer_headers = exc.code, exc.read(), _lower(exc.headers)
        log.http_status = status
        log.response_body = raw.decode(errors="replace")[:LOG_BODY_LIMIT]
        try:
            parsed = json.loads(raw) if raw else {}
        except ValueError:
            raise PartnerUnreachable(f"HTTP {status}, answer is not JSON") from None
        answer = Answer(
            http_status=status, body=parsed if isinstance(parsed, dict) else {}, headers=answer_headers
        )
        log.ocpi_status = (
            answer.status_code if answer.status_code and 0 < answer.status_code < 10000 else None
        )
        if not answer.ok:
            log.error = f"HTTP {status}, OCPI {answer.status_code}: {answer.body.get('status_message', '')}"[
                :500
            ]
        return answer
    except (OSError, ValueError, PartnerUnreachable) as exc:
        log.error = (str(exc) or exc.__class__.__name__)[:500]
        raise PartnerUnreachable(log.error) from None
    finally:
        log.save()
        if partner is not None and partner.pk is not None:
            _partner_health(partner, log)


def partner_call(
    partner: Partner,
    *,
    method: str,
    url: str,
    module: str,
    body: Any = None,
    timeout: float | None = None,
    to_party: tuple[str, str] | None = None,
) -> Answer:
    """A call to a registered partner with the token it gave us, encoded as it wants (2.1.1: as is);
    `to_party` names the party behind a hub the call is for (OCPI-to-* headers)."""
    return ocpi_call(
        partner=partner,
        method=method,
        url=url,
        token=partner.token_b,
        module=module,
        encode_token=partner.send_base64 and partner.version != "2.1.1",
        body=body,
        timeout=timeout,
        to_party=to_party,
    )


def _partner_health(partner: Partner, log: RequestLog) -> None:
    now = timezone.now()
    if log.error:
        Partner.objects.filter(pk=partner.pk).update(last_error=log.error, last_error_at=now)
    else:
        Partner.objects.filter(pk=partner.pk).update(last_success_at=now)
