"""Guest pay-as-you-go (AFIR ad-hoc payment): a card hold, a remote start, a capture of the CDR total.

The flow, each step a service here and each idempotent:

1. `guest_charge_begin`: a guest picks an offered amount on a public connector's page; we record the
   charge and open the provider's checkout with manual capture (the card is only authorized).
2. `guest_charge_confirm`: the checkout's return page and the provider's webhook both ask the
   provider whether the amount is held; the first to see it moves the charge on and starts.
3. `guest_charge_start`: one remote start with a one-off id token (never a second on one hold).
4. `guest_charge_session_link` (session.started): the session belongs to the charge; its token is
   blocked at once, so no second session can use it.
5. `guest_charge_settle` (cdr.created, through the outbox): capture exactly the CDR's total (never
   more than the hold) or release the whole hold when nothing is owed; the provider's idempotency
   key and the row's status make it happen once, however often the event is retried.

Sessions whose cost reaches GUEST_STOP_AT_PERCENT of the hold are stopped (`guest_limits_enforce`);
holds whose session never starts are released after GUEST_START_TIMEOUT (`guest_charges_sweep`).
"""

import logging
import re
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Q, Subquery
from django.utils import timezone
from django.utils.translation import gettext_noop

from billing import selectors as billing_selectors
from billing.guest import selectors
from billing.models import Cdr, GuestCharge
from billing.money import money_round
from billing.providers import PaymentProvider, ProviderError, ProviderRefused, provider_get
from billing.services import BillingError
from chargenet.events import event_publish
from rfid.models import IdToken
from rfid.services import id_token_block, id_token_create
from stations.models import Connector, Session
from stations.services import StationError, session_remote_start, session_remote_stop

logger = logging.getLogger(__name__)

GUEST_PROVIDER = "stripe"
# A guest charge's one-off id token: "G" + 18 hex, 19 characters, within OCPP 1.6's idTag (CiString20).
GUEST_UID = re.compile(r"G[0-9A-F]{18}", re.IGNORECASE)


class GuestChargeError(BillingError):
    """A guest payment step was refused; the message is shown to the guest as it is."""

    api_code = "guest_payment_refused"


def _provider(name: str = GUEST_PROVIDER) -> PaymentProvider:
    return provider_get(name)


def guest_amounts() -> list[Decimal]:
    """The amounts a guest may reserve (GUEST_HOLD_AMOUNTS), smallest first."""
    return sorted(Decimal(amount) for amount in settings.GUEST_HOLD_AMOUNTS)


def guest_charge_begin(
    *, connector: Connector, amount: str, email: str, link: Callable[[str], tuple[str, str]]
) -> GuestCharge:
    """Reserve `amount` on a guest's card for a session on `connector`: record the charge and open
    the provider's checkout (manual capture). `link(token)` gives the (success, cancel) URLs.

    Raises GuestChargeError for a connector that is not offered, an amount that is not one of the
    offered ones, a malformed e-mail, or a provider that refuses (the charge is then failed).
    """
    offer = selectors.guest_offer(connector=connector)
    if not offer.available:
        raise GuestChargeError(offer.reason)
    try:
        wanted = Decimal(str(amount).strip())
    except InvalidOperation:
        wanted = Decimal(-1)
    if not wanted.is_finite() or wanted not in offer.amounts:
        choices = ", ".join(f"{a}" for a in offer.amounts)
        raise GuestChargeError(f"choose one of the offered amounts: {choices} {offer.currency}")
    email = (email or "").strip()
    if email:
        try:
            validate_email(email)
        except ValidationError:
            raise GuestChargeError("the e-mail address for the receipt is not valid") from None
        if len(email) > 254:
            raise GuestChargeError("the e-mail address for the receipt is too long")
    provider = _provider()
    with transaction.atomic():
        charge = GuestCharge.objects.create(
            token=secrets.token_urlsafe(24),
            connector=connector,
            provider=provider.name,
            currency=offer.currency,
            amount_held=money_round(wanted, offer.currency),
            email=email,
        )
        event_publish("guest_charge.created", _event(charge))
    success_url, cancel_url = link(charge.token)
    try:
        checkout = provider.hold_checkout_create(
            charge=charge,
            description=f"Charging at {offer.station_name}, {offer.connector_label} (reservation)",
            success_url=success_url,
            cancel_url=cancel_url,
        )
    except ProviderError as exc:
        GuestCharge.objects.filter(pk=charge.pk).update(
            status=GuestCharge.Status.FAILED, note=str(exc)[:300], updated_at=timezone.now()
        )
        raise GuestChargeError(f"the card payment could not be started: {exc}") from None
    GuestCharge.objects.filter(pk=charge.pk).update(
        checkout_reference=checkout.reference, checkout_url=checkout.url, updated_at=timezone.now()
    )
    charge.refresh_from_db()
    return charge


def _event(charge: GuestCharge) -> dict:
    return {
        "guest_charge_id": charge.pk,
        "status": charge.status,
        "currency": charge.currency,
        "amount_held": str(charge.amount_held),
        "amount_captured": None if charge.amount_captured is None else str(charge.amount_captured),
    }


def _status_set(charge: GuestCharge, status: str, *, note: str = "", **fields: object) -> None:
    charge.status = status
    if note:
        charge.note = note[:300]
    for name, value in fields.items():
        setattr(charge, name, value)
    charge.save()
    event_publish("guest_charge.status_changed", _event(charge))


def guest_charge_confirm(*, charge_id: int) -> GuestCharge | None:
    """Ask the provider whether the guest's amount is held; if so, mark it and start the session.

    Idempotent: the return page and the webhook may both call it, in any order, any number of
    times. A hold that does not match what we asked for (amount, currency) is released, never used.
    A hold that arrives after the charge gave up (failed, expired) is released. None for an unknown id
    (a webhook naming a charge we never made).
    """
    charge = GuestCharge.objects.filter(pk=charge_id).first()
    if charge is None:
        logger.warning("a provider event names guest charge %s, which does not exist", charge_id)
        return None
    if charge.status not in (GuestCharge.Status.PENDING, GuestCharge.Status.FAILED):
        return charge
    if not charge.checkout_reference or (
        charge.status == GuestCharge.Status.FAILED and charge.intent_reference
    ):
        return charge
    provider = _provider(charge.provider)
    hold = provider.hold_checkout_retrieve(checkout_reference=charge.checkout_reference)
    if hold is None or not hold.authorized:
        return charge
    with transaction.atomic():
        charge = GuestCharge.objects.select_for_update().get(pk=charge_id)
        if charge.status == GuestCharge.Status.FAILED and not charge.intent_reference:
            provider.hold_release(hold_reference=hold.reference, key=f"chargenet-guest-{charge.pk}-release")
            charge.intent_reference = hold.reference
            _status_set(charge, GuestCharge.Status.RELEASED, note=f"released: {charge.note}")
            return charge
        if charge.status != GuestCharge.Status.PENDING:
            return charge
        if hold.amount != charge.amount_held or hold.currency != charge.currency:
            provider.hold_release(hold_reference=hold.reference, key=f"chargenet-guest-{charge.pk}-release")
            _status_set(
                charge,
                GuestCharge.Status.RELEASED,
                note=f"the card held {hold.amount} {hold.currency}, not {charge.amount_held} "
                f"{charge.currency}; released",
                intent_reference=hold.reference,
            )
            return charge
        _status_set(charge, GuestCharge.Status.AUTHORIZED, intent_reference=hold.reference)
    try:
        return guest_charge_start(charge_id=charge.pk)
    except GuestChargeError:
        return GuestCharge.objects.get(pk=charge.pk)


@transaction.atomic
def guest_charge_start(*, charge_id: int) -> GuestCharge:
    """Start the guest's session: one remote start with a one-off id token for the held amount.

    Raises GuestChargeError when the hold has started a session already (a second start on one
    hold) or is not held. When the station refuses at once (offline, occupied), the hold is released.
    """
    charge = (
        GuestCharge.objects.select_for_update().select_related("connector__evse__station").get(pk=charge_id)
    )
    if charge.status in (GuestCharge.Status.STARTING, GuestCharge.Status.CHARGING) or charge.session_id:
        raise GuestChargeError(
            "this payment has started a session already; a new session needs a new payment"
        )
    if charge.status != GuestCharge.Status.AUTHORIZED:
        raise GuestChargeError("this payment is not reserved (any more); start again from the QR code")
    evse = charge.connector.evse
    try:
        with transaction.atomic():
            token = id_token_create(
                uid=_guest_uid(),
                type=IdToken.Type.CENTRAL,
                label=f"Guest payment {charge.pk}",
                offline_allowed=False,
            )
            session_remote_start(
                station=evse.station,
                evse_id=evse.evse_id,
                id_token=token,
                idempotency_key=f"guest-{charge.pk}",
            )
    except StationError as exc:
        _hold_release(charge, note=f"the station could not start: {exc}")
        return charge
    _status_set(charge, GuestCharge.Status.STARTING, id_token=token)
    return charge


def _hold_release(charge: GuestCharge, *, note: str) -> None:
    """Release the whole hold (the caller holds the row's lock); ProviderError propagates."""
    if charge.intent_reference:
        _provider(charge.provider).hold_release(
            hold_reference=charge.intent_reference, key=f"chargenet-guest-{charge.pk}-release"
        )
    _status_set(charge, GuestCharge.Status.RELEASED, note=note, amount_captured=Decimal(0))
    event_publish("guest_charge.settled", _event(charge))


def _guest_uid() -> str:
    """A new guest token's uid, of GUEST_UID's form."""
    return "G" + secrets.token_hex(9).upper()


def guest_uid_possible(id_tag: str | None) -> bool:
    """False when a session started with `id_tag` cannot be a guest charge's (its tag is not of
    GUEST_UID's form): the session.started subscriber then asks nothing. Nearly every session is a
    card's or an app's, and the question was two thirds of the dispatcher's work per started session,
    holding SQLite's one write lock (docs/performance.md). A session without a tag may still be one."""
    return not id_tag or GUEST_UID.fullmatch(id_tag.strip()) is not None


@transaction.atomic
def guest_charge_session_link(*, session_id: int) -> GuestCharge | None:
    """A session started: if its id token is a guest's, it is that charge's session and the token
    is blocked (one session per hold). A second session on the same hold is stopped."""
    # One query for the sessions that are not a guest's, which is nearly all of them.
    token_of_session = Session.objects.filter(pk=session_id).values("id_token_id")
    charge = GuestCharge.objects.select_for_update().filter(id_token_id=Subquery(token_of_session)).first()
    if charge is None:
        return None
    session = Session.objects.select_related("id_token", "station").get(pk=session_id)
    if charge.session_id is None and charge.status == GuestCharge.Status.STARTING:
        _status_set(charge, GuestCharge.Status.CHARGING, session=session)
        if session.id_token is not None and session.id_token.status == IdToken.Status.ACCEPTED:
            id_token_block(id_token=session.id_token)
    elif charge.session_id != session.pk and session.status == Session.Status.ACTIVE:
        logger.warning("a second session %s on guest charge %s: stopping it", session.pk, charge.pk)
        try:
            session_remote_stop(session=session)
        except StationError:
            logger.warning("could not stop session %s", session.pk, exc_info=True)
    return charge


def guest_charge_stop(*, charge: GuestCharge) -> None:
    """The guest stops charging from the private page. Raises GuestChargeError when it is not running."""
    session = selectors.guest_charge_session(charge=charge)
    if session is None or session.status != Session.Status.ACTIVE:
        raise GuestChargeError("there is no session running to stop")
    try:
        session_remote_stop(session=session)
    except StationError as exc:
        raise GuestChargeError(f"the station could not be asked to stop: {exc}") from None


def guest_charge_capture_check(*, charge: GuestCharge, amount: Decimal) -> None:
    """Refuse a capture the hold does not cover (or a negative one): GuestChargeError."""
    if amount < 0:
        raise GuestChargeError("a capture cannot be negative")
    if amount > charge.amount_held:
        raise GuestChargeError(
            f"{amount} {charge.currency} is more than the {charge.amount_held} {charge.currency} held"
        )


@transaction.atomic
def guest_charge_settle(*, cdr_id: int) -> GuestCharge | None:
    """Settle a guest's charge from its session's CDR: capture exactly the CDR total (capped at the
    hold, see docs/billing.md) or release the whole hold when nothing is owed. Once per charge:
    a settled charge is left alone, and the provider's idempotency key makes a retry harmless.
    ProviderError propagates, so the outbox retries the event."""
    # One query for the CDRs that are not a guest's, which is nearly all of them.
    if not GuestCharge.objects.filter(Q(session__cdrs=cdr_id) | Q(id_token__sessions__cdrs=cdr_id)).exists():
        return None
    cdr = Cdr.objects.select_related("session").get(pk=cdr_id)
    if cdr.kind != Cdr.Kind.NORMAL:
        return None
    charge = GuestCharge.objects.select_for_update().filter(session=cdr.session).first()
    if charge is None and cdr.session.id_token_id:
        # The session.started link may not have run (an event still in back-off): the token knows.
        charge = GuestCharge.objects.select_for_update().filter(id_token_id=cdr.session.id_token_id).first()
    if charge is None or charge.status in (GuestCharge.Status.CAPTURED, GuestCharge.Status.RELEASED):
        return charge
    owed = money_round(cdr.total_incl_vat, cdr.currency)
    if cdr.currency != charge.currency:
        raise GuestChargeError(f"CDR {cdr.cdr_id} is in {cdr.currency}, the hold in {charge.currency}")
    amount = min(owed, charge.amount_held)
    guest_charge_capture_check(charge=charge, amount=amount)
    charge.cdr = cdr
    charge.session = cdr.session
    if amount <= 0:
        _hold_release(charge, note=gettext_noop("no energy was charged: the whole hold was released"))
    else:
        try:
            _provider(charge.provider).hold_capture(
                hold_reference=charge.intent_reference,
                amount=amount,
                currency=charge.currency,
                key=f"chargenet-guest-{charge.pk}-capture",
            )
        except ProviderRefused as exc:
            # The hold expired (7 days at Stripe) or was cancelled: nothing can be captured any more.
            # The charge is failed with its CDR, and the reconciliation report lists it.
            _status_set(charge, GuestCharge.Status.FAILED, note=f"the hold could not be captured: {exc}")
            return charge
        note = "" if amount == owed else f"the session cost {owed} {cdr.currency}; the hold was the limit"
        _status_set(charge, GuestCharge.Status.CAPTURED, note=note, amount_captured=amount)
        event_publish("guest_charge.settled", _event(charge))
    token = IdToken.objects.filter(pk=charge.id_token_id).first() if charge.id_token_id else None
    if token is not None and token.status == IdToken.Status.ACCEPTED:
        id_token_block(id_token=token)
    return charge


def guest_receipt_send(*, charge_id: int) -> bool:
    """E-mail the receipt of a settled guest charge to the address the guest gave, once."""
    charge = GuestCharge.objects.select_related("cdr", "connector__evse__station").get(pk=charge_id)
    if charge.receipt_sent_at is not None or not charge.email:
        return False
    if charge.status not in (GuestCharge.Status.CAPTURED, GuestCharge.Status.RELEASED):
        return False
    cdr = charge.cdr
    lines = [f"Hello,\n\nthank you for charging at {charge.connector.evse.station.identity}."]
    if cdr is not None:
        lines.append(
            f"Session {cdr.cdr_id}: {Decimal(cdr.energy_wh) / 1000:.3f} kWh, "
            f"{cdr.started_at:%Y-%m-%d %H:%M} – {cdr.stopped_at:%H:%M} UTC."
        )
        lines.append(
            f"Total: {money_round(cdr.total_incl_vat, cdr.currency)} {cdr.currency} incl. VAT "
            f"({money_round(cdr.total_excl_vat, cdr.currency)} excl., VAT {cdr.vat_percent} %)."
        )
    lines.append(f"Charged to your card: {charge.amount_captured or Decimal(0)} {charge.currency}.")
    released = charge.amount_held - (charge.amount_captured or Decimal(0))
    lines.append(f"Released from your reservation: {released} {charge.currency}.")
    if settings.BILLING_SELLER_NAME:
        lines.append(f"\n{settings.BILLING_SELLER_NAME}\n{settings.BILLING_SELLER_ADDRESS}")
        if settings.BILLING_SELLER_VAT_ID:
            lines.append(f"VAT {settings.BILLING_SELLER_VAT_ID}")
    EmailMessage(subject="Your charging receipt", body="\n".join(lines) + "\n", to=[charge.email]).send()
    GuestCharge.objects.filter(pk=charge.pk, receipt_sent_at__isnull=True).update(
        receipt_sent_at=timezone.now()
    )
    return True


def guest_limits_enforce() -> list[int]:
    """Stop guest sessions whose cost so far reached GUEST_STOP_AT_PERCENT of their hold (once
    each). Returns the ids of the charges stopped now."""
    stopped = []
    charges = GuestCharge.objects.filter(
        status=GuestCharge.Status.CHARGING, limit_stop_requested_at__isnull=True, session__status="active"
    ).select_related("session__station__location")
    for charge in charges:
        assert charge.session is not None
        cost = billing_selectors.session_cost(session=charge.session)
        limit = charge.amount_held * settings.GUEST_STOP_AT_PERCENT / 100
        if cost.total_incl_vat < limit:
            continue
        updated = GuestCharge.objects.filter(pk=charge.pk, limit_stop_requested_at__isnull=True).update(
            limit_stop_requested_at=timezone.now()
        )
        if not updated:
            continue
        try:
            session_remote_stop(session=charge.session)
        except StationError:
            # Offline: it will stop by itself or when unplugged; the capture stays capped at the hold.
            logger.warning("could not stop guest session %s at its limit", charge.session.pk, exc_info=True)
        stopped.append(charge.pk)
    return stopped


def guest_charges_sweep(*, now: datetime | None = None) -> int:
    """Give up on guest charges that went nowhere: checkouts left for an hour are failed; holds whose
    session did not start within GUEST_START_TIMEOUT are released. Returns how many changed."""
    now = now or timezone.now()
    changed = 0
    abandoned = GuestCharge.objects.filter(
        status=GuestCharge.Status.PENDING, created_at__lt=now - timedelta(hours=1)
    )
    for charge_id in abandoned.values_list("pk", flat=True):
        # Paid at the last minute? Confirm first; whatever is still pending is given up.
        try:
            guest_charge_confirm(charge_id=charge_id)
        except ProviderError:
            continue
        changed += GuestCharge.objects.filter(pk=charge_id, status=GuestCharge.Status.PENDING).update(
            status=GuestCharge.Status.FAILED,
            note=gettext_noop("the payment was not completed"),
            updated_at=now,
        )
    stale = GuestCharge.objects.filter(
        status__in=(GuestCharge.Status.AUTHORIZED, GuestCharge.Status.STARTING),
        session__isnull=True,
        updated_at__lt=now - timedelta(seconds=settings.GUEST_START_TIMEOUT),
    )
    for charge_id in stale.values_list("pk", flat=True):
        with transaction.atomic():
            charge = GuestCharge.objects.select_for_update().get(pk=charge_id)
            if charge.session_id or charge.status not in (
                GuestCharge.Status.AUTHORIZED,
                GuestCharge.Status.STARTING,
            ):
                continue
            if Session.objects.filter(id_token_id=charge.id_token_id).exists() and charge.id_token_id:
                continue  # it started; session.started links it
            try:
                _hold_release(charge, note=gettext_noop("the session did not start; the hold was released"))
            except ProviderError:
                logger.warning("could not release guest hold %s; next sweep", charge.pk, exc_info=True)
                continue
            token = IdToken.objects.filter(pk=charge.id_token_id).first() if charge.id_token_id else None
            if token is not None and token.status == IdToken.Status.ACCEPTED:
                id_token_block(id_token=token)
            changed += 1
    return changed
