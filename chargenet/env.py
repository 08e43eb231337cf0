"""Typed readers for environment variables that fail loudly on a bad value.

Every setting of ChargeNet comes from the environment through these helpers, so a typo in a
deployment stops start-up with one clear line instead of running with a silent default.
"""

import os
from decimal import Decimal, InvalidOperation
from urllib.parse import urlparse


class ConfigError(Exception):
    """A configuration value is missing or malformed."""


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be a boolean (1/0, true/false, yes/no, on/off), got {raw!r}")


def env_int(name: str, default: int, *, minimum: int | None = None, maximum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ConfigError(f"{name} must be at most {maximum}, got {value}")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_url(name: str, *, schemes: tuple[str, ...]) -> str | None:
    """Return the URL in `name`, checked against the accepted schemes, or None when unset."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    parsed = urlparse(raw)
    if parsed.scheme not in schemes:
        raise ConfigError(
            f"{name} must be a URL starting with {' or '.join(s + '://' for s in schemes)}, got {raw!r}"
        )
    if parsed.scheme not in ("unix", "sqlite") and not parsed.hostname and not parsed.path:
        raise ConfigError(f"{name} has no host: {raw!r}")
    return raw


def env_time_zone(name: str, default: str) -> str:
    """An IANA time zone name, checked against the time zone database."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    value = os.environ.get(name) or default
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"{name} must be an IANA time zone such as Europe/Amsterdam, got {value!r}"
        ) from None
    return value


def env_decimal(name: str, default: str, *, minimum: str | None = None) -> Decimal:
    """A decimal amount or percentage (never a float), e.g. "2.50"."""
    raw = os.environ.get(name) or default
    try:
        value = Decimal(raw.strip())
    except InvalidOperation:
        raise ConfigError(f"{name} must be a decimal number such as 2.50, got {raw!r}") from None
    if not value.is_finite() or (minimum is not None and value < Decimal(minimum)):
        raise ConfigError(f"{name} must be a number of at least {minimum}, got {raw!r}")
    return value
