"""OCPI transport (2.2.1, and 2.1.1 alike): the response envelope, status codes, tokens, dates and
pagination.

Pure helpers shared by the OCPI views (incoming) and the client (outgoing).
"""

import base64
import binascii
import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from django.utils import timezone
from django.utils.dateparse import parse_datetime

VERSION = "2.2.1"
# The versions we speak, highest first: negotiation picks the first one a partner offers too.
VERSIONS = ("2.2.1", "2.1.1")

# OCPI 2.2.1 status codes (status codes chapter of the specification).
SUCCESS = 1000
CLIENT_ERROR = 2000
INVALID_PARAMETERS = 2001
NOT_ENOUGH_INFORMATION = 2002
UNKNOWN_LOCATION = 2003
UNKNOWN_TOKEN = 2004
SERVER_ERROR = 3000
CLIENT_API_UNUSABLE = 3001
UNSUPPORTED_VERSION = 3002
NO_MATCHING_ENDPOINTS = 3003

# Credentials token: printable ASCII without whitespace, at most 64 characters.
TOKEN_PATTERN = re.compile(r"^[\x21-\x7e]{1,64}$")
CI_STRING_2 = re.compile(r"^[A-Za-z]{2}$")
PARTY_ID = re.compile(r"^[A-Za-z0-9]{3}$")


class OcpiError(Exception):
    """A request the OCPI layer answers with an error: an OCPI status code, an HTTP status, a message."""

    def __init__(
        self, message: str, *, status_code: int = CLIENT_ERROR, http_status: int = 200, data: Any = None
    ):
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.http_status = http_status
        self.data = data


def ocpi_datetime(value: datetime | None) -> str | None:
    """An aware datetime as OCPI wants it: UTC with `Z`, whole seconds."""
    if value is None:
        return None
    return value.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def ocpi_datetime_parse(value: str, *, field: str) -> datetime:
    """Parse an OCPI DateTime (`Z`, an offset or no zone = UTC, fractions allowed). Raises OcpiError 2001."""
    # In a query string an unencoded "+" arrives as a space.
    parsed = parse_datetime(value.strip().replace(" ", "+")) if isinstance(value, str) else None
    if parsed is None:
        raise OcpiError(f"{field} must be an RFC 3339 date and time", status_code=INVALID_PARAMETERS)
    if timezone.is_naive(parsed):
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def envelope(*, data: Any = None, status_code: int = SUCCESS, message: str = "") -> dict[str, Any]:
    """The OCPI response envelope (data left out when there is none)."""
    body: dict[str, Any] = {"status_code": status_code, "timestamp": ocpi_datetime(timezone.now())}
    if data is not None:
        body["data"] = data
    if message:
        body["status_message"] = message
    return body


def token_new() -> str:
    """A fresh credentials token (43 URL-safe characters, 256 bits)."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_candidates(header: str) -> list[str]:
    """The tokens an `Authorization: Token …` header may carry: base64-decoded (2.2.1) and as is
    (2.1.1 and the many 2.2 peers that do not encode), the decoded form first."""
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    if scheme.lower() != "token" or not value:
        return []
    candidates = []
    try:
        decoded = base64.b64decode(value, validate=True).decode("ascii")
        if TOKEN_PATTERN.match(decoded):
            candidates.append(decoded)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    candidates.append(value)
    return candidates


def authorization_header(token: str, *, encode: bool) -> str:
    """The Authorization header value for our calls to a partner."""
    return "Token " + (base64.b64encode(token.encode()).decode() if encode else token)


@dataclass(frozen=True)
class Page:
    """One page of a paginated list: the items, the total and the headers to answer with."""

    items: list[Any]
    headers: dict[str, str]


def page_params(query: dict[str, str], *, maximum: int) -> tuple[int, int, datetime | None, datetime | None]:
    """offset, limit (clamped to `maximum`), date_from, date_to from a list request. Raises OcpiError 2001."""
    try:
        offset = int(query.get("offset", "0") or 0)
        limit = int(query.get("limit", str(maximum)) or maximum)
    except ValueError:
        raise OcpiError("offset and limit must be whole numbers", status_code=INVALID_PARAMETERS) from None
    if offset < 0 or limit < 0:
        raise OcpiError("offset and limit must not be negative", status_code=INVALID_PARAMETERS)
    date_from = ocpi_datetime_parse(query["date_from"], field="date_from") if query.get("date_from") else None
    date_to = ocpi_datetime_parse(query["date_to"], field="date_to") if query.get("date_to") else None
    return offset, min(limit, maximum), date_from, date_to


def page_headers(
    *, url: str, query: dict[str, str], offset: int, limit: int, total: int, maximum: int
) -> dict[str, str]:
    """X-Total-Count, X-Limit (our maximum) and, unless this is the last page, a Link to the next
    page that keeps every filter of the request."""
    headers = {"X-Total-Count": str(total), "X-Limit": str(maximum)}
    if limit and offset + limit < total:
        following = {**query, "offset": str(offset + limit), "limit": str(limit)}
        headers["Link"] = f'<{url}?{urlencode(following)}>; rel="next"'
    return headers
