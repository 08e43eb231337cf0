"""Station Basic-auth passwords: high-entropy secrets checked with a salted SHA-256.

Django's password hashers are deliberately slow; with thousands of chargers reconnecting after an
outage that would melt the CPU (docs/architecture.md, "The OCPP layer"). Station passwords are 16–40 random characters, so a
fast salted hash is enough and the comparison is constant-time.
"""

import hashlib
import hmac
import secrets

MIN_LENGTH = 16
MAX_LENGTH = 40


def password_generate() -> str:
    """A new random station password of 32 URL-safe characters."""
    return secrets.token_urlsafe(24)


def password_hash(password: str | bytes) -> str:
    raw = password.encode() if isinstance(password, str) else password
    salt = secrets.token_hex(16)
    return f"sha256${salt}${hashlib.sha256(salt.encode() + raw).hexdigest()}"


def password_check(password: str | bytes, stored: str) -> bool:
    """True when `password` matches the stored hash; False for a blank or malformed hash."""
    try:
        scheme, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "sha256":
        return False
    raw = password.encode() if isinstance(password, str) else password
    return hmac.compare_digest(hashlib.sha256(salt.encode() + raw).hexdigest(), digest)
