"""Every write and business rule of the rfid app: id tokens, drivers, authorization decisions."""

import logging
import re
import threading
import time as monotonic_clock
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import get_language, gettext

from chargenet import sql
from chargenet.errors import DomainError
from chargenet.events import event_publish
from chargenet.lengths import text_too_long
from chargenet.models import User
from rfid.models import AuthorizationLog, Driver, IdToken

logger = logging.getLogger(__name__)

# Every authorization's statements, compiled once (chargenet/sql.py): each StartTransaction and
# StopTransaction with an id tag runs them on the OCPP writer. The card by its uid, served by the
# index of its case-insensitive unique constraint (LOWER(uid)).
_token_by_uid = sql.Select(IdToken, where=["uid__iexact"], related=["driver"])
_log_insert = sql.Insert(AuthorizationLog)
_token_used_update = sql.Update(IdToken, ["last_used_at"])


class IdTokenError(DomainError):
    """An id token change was refused; the message says why."""

    api_code = "id_token_refused"


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
    "offline_allowed",
}


def _check_fields(fields: dict[str, Any]) -> None:
    too_long = text_too_long(IdToken, fields)
    if too_long:
        raise IdTokenError(too_long)
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


class DriverError(Exception):
    """A driver sign-up or verification was refused; the message says why."""


@transaction.atomic
def driver_signup(*, email: str, password: str, name: str = "", site_url: str = "") -> Driver:
    """Open a driver account that stays inactive until the e-mail address is verified.

    The e-mail address is the login name. Raises DriverError for a taken address or a weak password.
    With `site_url` (the site's absolute root, e.g. "https://charge.example.com"), the mail with the
    verification link is made durable work of the same transaction (`driver.signed_up`): sent by the
    event dispatcher, retried until the mail server takes it.
    """
    from django.contrib.auth import get_user_model
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError
    from django.core.validators import validate_email

    user_model = get_user_model()
    email = email.strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise DriverError("enter a valid e-mail address") from None
    if user_model.objects.filter(username__iexact=email).exists() or (
        Driver.objects.filter(email__iexact=email).exists()
    ):
        raise DriverError("an account with this e-mail address already exists; log in or reset the password")
    candidate = user_model(username=email, email=email, role="driver")
    try:
        validate_password(password, user=candidate)
    except ValidationError as exc:
        raise DriverError(" ".join(exc.messages)) from None
    user = user_model.objects.create_user(
        username=email, email=email, password=password, role="driver", is_active=False
    )
    driver = Driver.objects.create(user=user, name=name.strip()[:200], email=email)
    if site_url:
        # The mail goes out later, from a worker: it carries the language the driver signed up in.
        event_publish(
            "driver.signed_up",
            {"driver_id": driver.pk, "site_url": site_url.rstrip("/"), "language": get_language()},
        )
    return driver


def driver_verification_mail_send(*, driver_id: int, site_url: str, language: str | None = None) -> None:
    """Mail a new driver the link that activates the account, unless it is already active (the
    `driver.signed_up` subscriber; a redelivery after activation sends nothing), in `language`
    (the one they signed up in; the site's default when None)."""
    from django.urls import reverse
    from django.utils import translation

    driver = Driver.objects.select_related("user").filter(pk=driver_id).first()
    if driver is None or driver.user is None or driver.user.is_active:
        return
    uidb64, token = driver_verification_token(driver=driver)
    with translation.override(language or settings.LANGUAGE_CODE):
        driver_verification_send(
            driver=driver, verify_url=site_url + reverse("signup-verify", args=[uidb64, token])
        )


def driver_verification_send(*, driver: Driver, verify_url: str) -> None:
    """Mail the link that activates the account (in development the console shows the mail)."""
    from django.core.mail import send_mail

    send_mail(
        subject=gettext("Confirm your ChargeNet account"),
        message=gettext(
            "Hello %(name)s,\n\n"
            "Open this link to confirm your e-mail address and activate your account:\n%(url)s\n\n"
            "If you did not sign up, ignore this message."
        )
        % {"name": driver.name or driver.email, "url": verify_url},
        from_email=None,
        recipient_list=[driver.email],
    )


def driver_verification_token(*, driver: Driver) -> tuple[str, str]:
    """The (uidb64, token) pair of the verification link."""
    from django.contrib.auth.tokens import default_token_generator
    from django.utils.encoding import force_bytes
    from django.utils.http import urlsafe_base64_encode

    return urlsafe_base64_encode(force_bytes(driver.user.pk)), default_token_generator.make_token(driver.user)


@transaction.atomic
def driver_email_verify(*, uidb64: str, token: str) -> User:
    """Activate the account behind a verification link and return its user; raises DriverError
    for a link that is malformed, expired or already superseded."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.tokens import default_token_generator
    from django.utils.http import urlsafe_base64_decode

    user_model = get_user_model()
    try:
        user = user_model.objects.get(pk=int(urlsafe_base64_decode(uidb64).decode()), role="driver")
    except (ValueError, TypeError, user_model.DoesNotExist):
        raise DriverError("this confirmation link is not valid") from None
    if not default_token_generator.check_token(user, token):
        raise DriverError("this confirmation link is not valid or has expired; sign up again or log in")
    if not user.is_active:
        user.is_active = True
        user.save(update_fields=["is_active"])
    return user


@dataclass(frozen=True)
class AuthorizationContext:
    """What the stations app knows about where a card is presented (rfid cannot import stations).

    Built by `stations.access.services.authorization_context_build`; `source` names the asker for the log
    ("ocpp1.6", "ocpp2.0.1", "ocpi", "remote_start" …).
    """

    station_identity: str = ""
    is_public: bool = True
    allowed_driver_ids: frozenset[int] = frozenset()
    allowed_groups: frozenset[str] = frozenset()
    # True when the card already has an active session on another connector.
    has_active_session_elsewhere: bool = False
    source: str = ""


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
    and OCPI. Matches uids case-insensitively. Never raises for an unknown card: it is Invalid.
    Every decision is recorded in the authorization log; an accepted card gets its last-used time."""
    context = context or AuthorizationContext()
    uid = uid.strip()
    token = _token_by_uid(uid)
    local = token is not None and token.source != IdToken.Source.ROAMING
    remote = None if local else _remote_prefetched_take(uid=uid, context=context)
    if remote is _NOT_PREFETCHED:
        remote = _remote_decide(uid=uid, context=context, token=token)
    if remote is None and not local:
        # a remote authorizer that left the decision to the local rules may have stored the card
        token = _token_by_uid(uid)
    decision = remote or _decide(token=token, context=context)
    # Inside the caller's transaction (the OCPP group commit) no savepoint of its own: a failure
    # rolls back the caller's savepoint, which holds this too.
    with transaction.atomic(savepoint=False):
        log = {
            "uid": uid[:36],
            "id_token_id": decision.id_token.pk if decision.id_token is not None else None,
            "station_identity": context.station_identity[:48],
            "status": decision.status,
            "reason": decision.reason[:200],
            "source": context.source[:40],
        }
        _log_insert.later([log])
        if decision.accepted and decision.id_token is not None:
            _token_used_update.later(decision.id_token.pk, timezone.now())
    return decision


# A remote authorizer decides on roaming and unknown cards before the local rules, or returns None
# to leave the decision to them. The ocpi app registers one that asks the card's eMSP in real time;
# rfid knows nothing of OCPI.
RemoteAuthorizer = Callable[..., AuthorizationDecision | None]
_remote_authorizers: list[RemoteAuthorizer] = []


def remote_authorizer_register(authorizer: RemoteAuthorizer) -> None:
    """Let `authorizer(uid=, context=, id_token=)` decide on unknown and roaming cards first; it
    returns an AuthorizationDecision, or None to leave the card to the local rules."""
    if authorizer not in _remote_authorizers:
        _remote_authorizers.append(authorizer)


# Remote answers asked for ahead of the decision (id_token_remote_prefetch), per (uid, station):
# (monotonic expiry, the answer). Taken once.
REMOTE_PREFETCH_SECONDS = 30.0
_NOT_PREFETCHED: Any = object()
_remote_prefetched: dict[tuple[str, str], tuple[float, AuthorizationDecision | None]] = {}
_remote_prefetched_lock = threading.Lock()


def id_token_remote_prefetch(*, uid: str, context: AuthorizationContext) -> None:
    """Ask the remote authorizers about `uid` now, in the caller's own short transaction, and keep
    their answer for the next `id_token_authorize` of this card at this station (within
    REMOTE_PREFETCH_SECONDS). The OCPP layer calls it before the group commit that every charger's
    messages share, so an eMSP that takes seconds to answer holds no other station's writes."""
    if not _remote_authorizers:
        return
    uid = uid.strip()
    token = _token_by_uid(uid)
    if token is not None and token.source != IdToken.Source.ROAMING:
        return  # our own card: the local rules decide, nobody is asked
    answer = _remote_decide(uid=uid, context=context, token=token)
    now = monotonic_clock.monotonic()
    with _remote_prefetched_lock:
        if len(_remote_prefetched) > 1000:
            for key in [k for k, (expires, _) in _remote_prefetched.items() if expires < now]:
                del _remote_prefetched[key]
        _remote_prefetched[(uid.lower(), context.station_identity)] = (now + REMOTE_PREFETCH_SECONDS, answer)


def remote_authorizers_registered() -> bool:
    """Whether any remote authorizer (e.g. OCPI real-time authorization) is installed."""
    return bool(_remote_authorizers)


def _remote_prefetched_take(*, uid: str, context: AuthorizationContext) -> Any:
    """The answer prefetched for this card at this station, spent once the decision commits: an
    attempt that is rolled back (the group commit runs a batch again when one of its calls raised)
    leaves it for the next, which would otherwise ask the partner inside the group commit."""
    key = (uid.lower(), context.station_identity)
    with _remote_prefetched_lock:
        entry = _remote_prefetched.get(key)
    if entry is None or entry[0] < monotonic_clock.monotonic():
        return _NOT_PREFETCHED

    def spend() -> None:
        with _remote_prefetched_lock:
            if _remote_prefetched.get(key) is entry:
                del _remote_prefetched[key]

    transaction.on_commit(spend)
    return entry[1]


def _remote_decide(
    *, uid: str, context: AuthorizationContext, token: IdToken | None
) -> AuthorizationDecision | None:
    """The remote authorizers' answer for a roaming or unknown card (`token` None)."""
    for authorizer in _remote_authorizers:
        try:
            decision = authorizer(uid=uid, context=context, id_token=token)
        except Exception:
            # A failing partner must not stop the station: the local rules decide.
            logger.exception("remote authorizer %r failed for %s", authorizer, uid)
            continue
        if decision is not None:
            return decision
    return None


def _decide(*, token: IdToken | None, context: AuthorizationContext) -> AuthorizationDecision:
    if token is None:
        return AuthorizationDecision(status="Invalid", reason="unknown card")

    def decided(status: str, reason: str) -> AuthorizationDecision:
        return AuthorizationDecision(
            status=status,
            reason=reason,
            id_token=token,
            parent_id_tag=token.parent_id_tag,
            expires_at=token.expires_at,
        )

    if token.status == IdToken.Status.BLOCKED:
        return decided("Blocked", "card is blocked")
    if token.status == IdToken.Status.INVALID:
        return decided("Invalid", "card is invalid")
    if token.status == IdToken.Status.EXPIRED or (token.expires_at and token.expires_at <= timezone.now()):
        return decided("Expired", "card has expired")
    if not context.is_public and not (
        (token.driver_id is not None and token.driver_id in context.allowed_driver_ids)
        or (token.parent_id_tag and token.parent_id_tag in context.allowed_groups)
    ):
        return decided("Invalid", "not allowed at this location")
    if context.has_active_session_elsewhere and not settings.RFID_ALLOW_CONCURRENT_USE:
        return decided("ConcurrentTx", "card is already charging elsewhere")
    return decided("Accepted", "valid card")


# --- operators: block, unblock, import ------------------------------------------------------


def id_token_block(*, id_token: IdToken, by_owner: bool = False) -> IdToken:
    """Block a card at once: every later authorization is refused; stations holding it in a local
    list or cache are told (stations.access.local_lists reacts to id_token.updated)."""
    id_token.blocked_by_owner = by_owner
    return id_token_update(id_token=id_token, status=IdToken.Status.BLOCKED)


def id_token_unblock(*, id_token: IdToken) -> IdToken:
    """Make a blocked card valid again. Raises IdTokenError if the card is not blocked."""
    if id_token.status != IdToken.Status.BLOCKED:
        raise IdTokenError("only a blocked card can be unblocked")
    id_token.blocked_by_owner = False
    return id_token_update(id_token=id_token, status=IdToken.Status.ACCEPTED)


IMPORT_COLUMNS = (
    "uid",
    "printed_number",
    "type",
    "status",
    "expires_at",
    "parent_id_tag",
    "label",
    "driver_email",
)


@dataclass(frozen=True)
class ImportRow:
    """One line of a card import: its line number, the uid, and whether it was kept and why not."""

    line: int
    uid: str
    ok: bool
    message: str


def _parse_expiry(value: str) -> datetime | None:
    value = value.strip()
    if not value:
        return None
    parsed = parse_datetime(value)
    if parsed is None:
        day = parse_date(value)
        if day is None:
            raise IdTokenError(f"expires_at {value!r} is not a date (YYYY-MM-DD) or date and time")
        # A bare date means the card is valid through that day (UTC).
        parsed = datetime.combine(day, time.max)
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, UTC)
    return parsed


def _driver_by_email(email: str) -> Driver:
    driver = Driver.objects.filter(email__iexact=email.strip()).first()
    if driver is None:
        raise IdTokenError(f"no driver with email {email.strip()!r}")
    return driver


def id_token_import(*, rows: Iterable[dict[str, str]], first_line: int = 2) -> list[ImportRow]:
    """Create a card for every row (columns: IMPORT_COLUMNS, only uid required); each row stands
    alone: a bad row is rejected with its reason and the good rows are kept."""
    report: list[ImportRow] = []
    for line, row in enumerate(rows, start=first_line):
        row = {(key or "").strip().lower(): (value or "").strip() for key, value in row.items()}
        uid = row.get("uid", "")
        try:
            unknown = {key for key in row if key and key not in IMPORT_COLUMNS}
            if unknown:
                raise IdTokenError(f"unknown columns: {', '.join(sorted(unknown))}")
            fields: dict[str, Any] = {
                name: row[name]
                for name in ("printed_number", "type", "status", "parent_id_tag", "label")
                if row.get(name)
            }
            if row.get("expires_at"):
                fields["expires_at"] = _parse_expiry(row["expires_at"])
            if row.get("driver_email"):
                fields["driver"] = _driver_by_email(row["driver_email"])
            with transaction.atomic():
                id_token_create(uid=uid, **fields)
        except IdTokenError as exc:
            report.append(ImportRow(line=line, uid=uid, ok=False, message=str(exc)))
        except IntegrityError:
            report.append(ImportRow(line=line, uid=uid, ok=False, message="uid or number already in use"))
        else:
            report.append(ImportRow(line=line, uid=uid, ok=True, message="created"))
    return report


# --- drivers: their own cards -----------------------------------------------------------------


@transaction.atomic
def driver_card_claim(*, driver: Driver, printed_number: str, label: str = "") -> IdToken:
    """Attach the issued, unassigned card with this printed number to `driver`.

    Drivers claim cards the network issued (they cannot read a card's uid); raises IdTokenError
    for an unknown number, a card owned by someone else, or a card that is not valid.
    """
    number = printed_number.strip()
    if not number:
        raise IdTokenError("enter the number printed on your card")
    token = IdToken.objects.select_for_update().filter(printed_number__iexact=number).first()
    if token is None:
        raise IdTokenError(f"no card with number {number!r}; check the number printed on the card")
    if token.driver_id == driver.pk:
        raise IdTokenError(f"card {token.printed_number} is already yours")
    if token.driver_id is not None:
        raise IdTokenError(f"card {token.printed_number} belongs to another account")
    if token.status != IdToken.Status.ACCEPTED:
        raise IdTokenError(f"card {token.printed_number} is {token.status.lower()}; contact support")
    return id_token_update(id_token=token, driver=driver, label=label.strip()[:100])


def driver_card_label(*, driver: Driver, id_token: IdToken, label: str) -> IdToken:
    """Rename one of the driver's own cards."""
    _check_owner(driver=driver, id_token=id_token)
    return id_token_update(id_token=id_token, label=label.strip()[:100])


def driver_card_block(*, driver: Driver, id_token: IdToken) -> IdToken:
    """Block one of the driver's own cards at once (lost or stolen); they may unblock it later."""
    _check_owner(driver=driver, id_token=id_token)
    if id_token.status == IdToken.Status.BLOCKED:
        return id_token
    return id_token_block(id_token=id_token, by_owner=True)


def driver_card_unblock(*, driver: Driver, id_token: IdToken) -> IdToken:
    """Unblock one of the driver's own cards that they blocked themselves (found again). A card an
    operator blocked stays blocked. Raises IdTokenError."""
    _check_owner(driver=driver, id_token=id_token)
    if id_token.status != IdToken.Status.BLOCKED:
        raise IdTokenError("this card is not blocked")
    if not id_token.blocked_by_owner:
        raise IdTokenError("this card was blocked by the network's support; ask them to unblock it")
    return id_token_unblock(id_token=id_token)


DRIVER_PROFILE_FIELDS = ("name", "phone", "billing_name", "billing_address", "vat_number")


@transaction.atomic
def driver_profile_update(*, driver: Driver, **fields: str) -> Driver:
    """Change the driver's own details (name, phone, billing name, address and VAT number); later
    invoices use them, issued ones keep what they said. Raises DriverError for an unknown field
    or an over-long value."""
    for name, value in fields.items():
        if name not in DRIVER_PROFILE_FIELDS:
            raise DriverError(f"{name} cannot be changed here")
        limit = getattr(Driver._meta.get_field(name), "max_length", None)
        if limit is not None and len(value.strip()) > limit:
            raise DriverError(f"{name.replace('_', ' ')} is longer than {limit} characters")
    for name, value in fields.items():
        setattr(driver, name, value.strip())
    driver.save(update_fields=list(fields))
    return driver


@transaction.atomic
def driver_account_delete(*, driver: Driver) -> None:
    """Erase the driver's personal data (GDPR art. 17) and close the account: the login can no
    longer sign in, the cards are blocked and no longer theirs. Issued invoices are kept, as the law
    on bookkeeping requires, with the names they were issued to."""
    user = driver.user
    tokens = list(IdToken.objects.filter(driver=driver))
    for token in tokens:
        if token.status != IdToken.Status.BLOCKED:
            id_token_block(id_token=token)
        IdToken.objects.filter(pk=token.pk).update(driver=None, label="")
    for name in (*DRIVER_PROFILE_FIELDS, "email"):
        setattr(driver, name, "")
    driver.save()
    user.username = f"deleted-{user.pk}"
    user.email = user.first_name = user.last_name = ""
    user.is_active = False
    user.set_unusable_password()
    user.save()
    # The stations erase what they hold about the cards too (stations subscribes; 2.0.1 N10).
    event_publish("driver.deleted", {"driver_id": driver.pk, "id_tokens": [token.uid for token in tokens]})


def _check_owner(*, driver: Driver, id_token: IdToken) -> None:
    if id_token.driver_id != driver.pk:
        raise IdTokenError("this card is not yours")
