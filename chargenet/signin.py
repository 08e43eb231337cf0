"""Brute-force throttling of every sign-in: web and admin logins, API keys, station Basic auth.

Failures are counted per source address and per account in Django's cache, which is Redis, so
every ASGI node sees the same counts. Too many failures within the window lock the source (or the
account) for a while: further attempts are refused before any password is checked, and the lock is
written to the audit log once, when it begins. A lock always expires, and an account is never locked
out of a source it signed in from before, so nobody can keep the real owner out. When the cache is unreachable sign-ins are not
throttled (logged), rather than refused for everyone.
"""

import logging
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Lockout:
    """Why a sign-in is refused without being checked: who is locked and for how many seconds more."""

    scope: str  # "source" or "account"
    retry_after: int

    @property
    def message(self) -> str:
        minutes = max(1, -(-self.retry_after // 60))
        return f"Too many failed sign-ins; try again in {minutes} minute{'s' if minutes > 1 else ''}."


class SigninLocked(Exception):
    """A sign-in refused because its source or account is locked; carries the Lockout."""

    def __init__(self, lockout: Lockout) -> None:
        super().__init__(lockout.message)
        self.lockout = lockout


def _keys(gate: str, scope: str, value: str) -> tuple[str, str]:
    base = f"signin:{gate}:{scope}:{value.lower()[:200]}"
    return f"{base}:failures", f"{base}:locked"


def _subjects(source: str, account: str) -> list[tuple[str, str, int]]:
    subjects = [("source", source, settings.SIGNIN_SOURCE_FAILURES)] if source else []
    if account:
        subjects.append(("account", account, settings.SIGNIN_ACCOUNT_FAILURES))
    return subjects


def _known_key(gate: str, source: str, account: str) -> str:
    return f"signin:{gate}:known:{account.lower()[:200]}:{source}"


def signin_check(*, gate: str, source: str, account: str = "") -> bool:
    """Raise SigninLocked when the source address or the account is locked out at this gate
    ("web", "api-key", "station"). An account that signed in from this source before is never
    locked out there: an attacker elsewhere cannot keep the real owner (or station) out. Returns
    whether it is such a known source. One cache round trip (every station handshake asks)."""
    try:
        known = _known_key(gate, source, account) if account and source else ""
        locked = {scope: _keys(gate, scope, value)[1] for scope, value, _ in _subjects(source, account)}
        found = cache.get_many([key for key in (known, *locked.values()) if key])
        if known and found.get(known) is not None:
            return True
        for scope, key in locked.items():
            until = found.get(key)
            if until is not None:
                raise SigninLocked(Lockout(scope, max(1, int(until - time.time()))))
    except SigninLocked:
        raise
    except Exception:
        logger.warning("sign-in throttle unavailable (cache unreachable); not throttling", exc_info=True)
    return False


def signin_failure_record(*, gate: str, source: str, account: str = "", path: str = "") -> Lockout | None:
    """Count a failed sign-in; returns the Lockout it starts, if any (audited once per lockout)."""
    started = None
    try:
        for scope, value, limit in _subjects(source, account):
            failures_key, locked_key = _keys(gate, scope, value)
            cache.add(failures_key, 0, timeout=settings.SIGNIN_WINDOW_SECONDS)
            try:
                failures = cache.incr(failures_key)
            except ValueError:  # expired between add and incr
                cache.set(failures_key, 1, timeout=settings.SIGNIN_WINDOW_SECONDS)
                failures = 1
            # add() is atomic: of two nodes crossing the limit together, one starts the lockout.
            until = time.time() + settings.SIGNIN_LOCK_SECONDS
            if failures >= limit and cache.add(locked_key, until, timeout=settings.SIGNIN_LOCK_SECONDS):
                cache.delete(failures_key)
                started = Lockout(scope, settings.SIGNIN_LOCK_SECONDS)
                _lockout_audit(gate=gate, scope=scope, value=value, path=path, failures=failures)
    except Exception:
        logger.warning("sign-in throttle unavailable (cache unreachable); not throttling", exc_info=True)
    return started


def signin_success_record(*, gate: str, source: str, account: str, known: bool = False) -> None:
    """A successful sign-in clears the account's failure count and remembers the source as the
    account's own for SIGNIN_KNOWN_SECONDS (a running lock elsewhere stays). A gate that signs in
    often passes `known` (what `signin_check` returned): from a source known already nothing is
    recorded, so a reconnect storm of stations costs the cache one round trip per handshake, not
    three, and the source stays known until SIGNIN_KNOWN_SECONDS after the sign-in that recorded it.
    The web sign-in, rare, records every time (the address stays known while it is used)."""
    if known:
        return
    try:
        cache.delete(_keys(gate, "account", account)[0])
        if source:
            cache.set(_known_key(gate, source, account), 1, timeout=settings.SIGNIN_KNOWN_SECONDS)
    except Exception:
        logger.warning("sign-in throttle unavailable (cache unreachable)", exc_info=True)


def _lockout_audit(*, gate: str, scope: str, value: str, path: str, failures: int) -> None:
    from chargenet.api.services import audit_record

    logger.warning("sign-in lockout at %s: %s %s after %d failures", gate, scope, value, failures)
    audit_record(
        user=None,
        api_key=None,
        method="LOCKOUT",
        path=path or gate,
        status_code=429,
        object_type=f"signin-{gate}-{scope}",
        object_id=value,
    )
