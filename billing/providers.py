"""Payment providers: a small interface, Stripe (Checkout over plain HTTPS) and bank transfer.

Stripe is spoken to with `urllib` and form encoding: two calls and a signature check do not earn the
SDK its place. Webhooks are verified as Stripe documents: header `Stripe-Signature: t=<unix>,v1=<hex>`,
HMAC-SHA256 over "<t>.<raw body>" with the endpoint secret, and `t` within a tolerance.
"""

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from django.conf import settings

from billing.models import Invoice, Payment
from billing.money import minor_units, to_minor

if TYPE_CHECKING:
    from billing.models import GuestCharge


class ProviderError(Exception):
    """The provider refused a request or could not be reached."""


class ProviderRefused(ProviderError):
    """The provider answered and refused (4xx): asking again with the same request will not help."""


class CardDeclined(ProviderRefused):
    """The card was declined (or needs the cardholder): this attempt failed; asking again is pointless
    until the driver acts."""


class WebhookInvalid(Exception):
    """A webhook failed verification (signature, timestamp or body); answer 400."""


@dataclass(frozen=True)
class Checkout:
    """Where to send the payer, and the provider's id for the attempt."""

    reference: str
    url: str


@dataclass(frozen=True)
class Hold:
    """An amount reserved on the payer's card (authorized, not yet captured)."""

    reference: str  # the provider's id for the hold (Stripe: the PaymentIntent)
    authorized: bool  # the card is charged up to `amount` once captured
    amount: Decimal
    currency: str


@dataclass(frozen=True)
class SavedCard:
    """A card the driver saved at the provider (masked)."""

    reference: str
    customer: str
    brand: str
    last4: str
    exp_month: int | None
    exp_year: int | None
    driver_id: int | None


@dataclass(frozen=True)
class PaymentUpdate:
    """What a verified webhook says: which payment, and its new status (None: not about status)."""

    event_id: str
    event_type: str
    payload: dict[str, Any]
    status: str | None = None
    payment_id: int | None = None
    reference: str = ""
    guest_charge_id: int | None = None
    setup_driver_id: int | None = None
    refunded_amount: Decimal | None = None  # charge.refunded: all refunded so far (reconciled)
    disputed: bool = False


class PaymentProvider(Protocol):
    name: str
    label: str

    def checkout_create(
        self, *, payment: Payment, invoice: Invoice, success_url: str, cancel_url: str
    ) -> Checkout: ...

    def webhook_parse(self, *, body: bytes, headers: dict[str, str]) -> PaymentUpdate: ...

    # Holds (guest pay-as-you-go): reserve on the card, later capture part of it or release it.
    def hold_checkout_create(
        self, *, charge: "GuestCharge", description: str, success_url: str, cancel_url: str
    ) -> Checkout: ...

    def hold_checkout_retrieve(self, *, checkout_reference: str) -> Hold | None: ...

    def hold_capture(self, *, hold_reference: str, amount: Decimal, currency: str, key: str) -> None: ...

    def hold_release(self, *, hold_reference: str, key: str) -> None: ...

    # Saved cards: a customer, a setup checkout, off-session charges.
    def customer_create(self, *, driver_id: int, email: str, name: str) -> str: ...

    def setup_checkout_create(
        self, *, customer: str, driver_id: int, success_url: str, cancel_url: str
    ) -> Checkout: ...

    def setup_checkout_retrieve(self, *, checkout_reference: str) -> SavedCard | None: ...

    def payment_method_detach(self, *, reference: str) -> None: ...

    def charge_off_session(
        self, *, payment: Payment, customer: str, method: str, description: str
    ) -> str: ...

    def refund_create(self, *, payment: Payment, amount: Decimal, key: str) -> str: ...


class ManualProvider:
    """Bank transfer: the driver pays to the operator's account quoting the invoice number; an
    operator records the payment. Needs no account anywhere."""

    name = "manual"
    label = "Bank transfer"

    def checkout_create(
        self, *, payment: Payment, invoice: Invoice, success_url: str, cancel_url: str
    ) -> Checkout:
        return Checkout(reference=f"{invoice.number}-{payment.pk}", url=success_url)

    def webhook_parse(self, *, body: bytes, headers: dict[str, str]) -> PaymentUpdate:
        raise WebhookInvalid("bank transfers have no webhooks")

    def hold_checkout_create(
        self, *, charge: "GuestCharge", description: str, success_url: str, cancel_url: str
    ) -> Checkout:
        raise ProviderError("a bank transfer cannot reserve an amount")

    def hold_checkout_retrieve(self, *, checkout_reference: str) -> Hold | None:
        return None

    def hold_capture(self, *, hold_reference: str, amount: Decimal, currency: str, key: str) -> None:
        raise ProviderError("a bank transfer cannot reserve an amount")

    def hold_release(self, *, hold_reference: str, key: str) -> None:
        raise ProviderError("a bank transfer cannot reserve an amount")

    def customer_create(self, *, driver_id: int, email: str, name: str) -> str:
        raise ProviderError("a bank transfer cannot save a card")

    def setup_checkout_create(
        self, *, customer: str, driver_id: int, success_url: str, cancel_url: str
    ) -> Checkout:
        raise ProviderError("a bank transfer cannot save a card")

    def setup_checkout_retrieve(self, *, checkout_reference: str) -> SavedCard | None:
        return None

    def payment_method_detach(self, *, reference: str) -> None:
        raise ProviderError("a bank transfer cannot save a card")

    def charge_off_session(self, *, payment: Payment, customer: str, method: str, description: str) -> str:
        raise ProviderError("a bank transfer cannot charge a card")

    def refund_create(self, *, payment: Payment, amount: Decimal, key: str) -> str:
        # The operator transfers the money back from the bank; the refund is recorded as done.
        return ""


# Stripe event → our payment status (Checkout in "payment" mode).
_STRIPE_STATUS = {
    "checkout.session.completed": None,  # decided by payment_status below
    "checkout.session.async_payment_succeeded": Payment.Status.PAID,
    "checkout.session.async_payment_failed": Payment.Status.FAILED,
    "checkout.session.expired": Payment.Status.FAILED,
    # Off-session charges of saved cards (the PaymentIntent carries metadata[payment_id]).
    "payment_intent.succeeded": Payment.Status.PAID,
    "payment_intent.payment_failed": Payment.Status.FAILED,
}


class StripeProvider:
    """Stripe Checkout Sessions created over HTTPS with the secret key; webhooks verified by HMAC."""

    name = "stripe"
    label = "Card (Stripe)"

    def __init__(self, *, secret_key: str, webhook_secret: str, api_base: str, tolerance: int) -> None:
        self.secret_key = secret_key
        self.webhook_secret = webhook_secret
        self.api_base = api_base
        self.tolerance = tolerance

    def checkout_create(
        self, *, payment: Payment, invoice: Invoice, success_url: str, cancel_url: str
    ) -> Checkout:
        if not self.secret_key:
            raise ProviderError("Stripe is not configured (STRIPE_SECRET_KEY)")
        form = {
            "mode": "payment",
            "success_url": success_url,
            "cancel_url": cancel_url,
            "client_reference_id": str(payment.pk),
            "line_items[0][quantity]": "1",
            "line_items[0][price_data][currency]": invoice.currency.lower(),
            "line_items[0][price_data][unit_amount]": str(to_minor(payment.amount, invoice.currency)),
            "line_items[0][price_data][product_data][name]": f"Invoice {invoice.number}",
            "metadata[payment_id]": str(payment.pk),
            "metadata[invoice_number]": invoice.number,
            # Refund events concern the PaymentIntent: give it the same metadata.
            "payment_intent_data[metadata][payment_id]": str(payment.pk),
        }
        if invoice.email:
            form["customer_email"] = invoice.email
        # A retried request creates one session, not two.
        body = self._call("POST", "/v1/checkout/sessions", form, key=f"chargenet-payment-{payment.pk}")
        if not isinstance(body, dict) or not body.get("id") or not body.get("url"):
            raise ProviderError("Stripe answered without a session id or URL")
        return Checkout(reference=body["id"], url=body["url"])

    def _call(self, method: str, path: str, form: dict[str, str] | None = None, *, key: str = "") -> Any:
        """One request to Stripe's API; ProviderError when Stripe refuses or cannot be reached."""
        if not self.secret_key:
            raise ProviderError("Stripe is not configured (STRIPE_SECRET_KEY)")
        headers = {"Authorization": f"Bearer {self.secret_key}"}
        if key:
            # Stripe answers a repeated key with the first result: a retry never charges twice.
            headers["Idempotency-Key"] = key
        data = None
        if method == "POST":
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            data = urllib.parse.urlencode(form or {}).encode()
        request = urllib.request.Request(f"{self.api_base}{path}", data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=20) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            try:
                error = json.loads(exc.read())["error"]
                message, kind = error["message"], error.get("type", "")
            except (ValueError, KeyError, TypeError):
                message, kind = f"HTTP {exc.code}", ""
            if kind == "card_error" or exc.code == 402:
                raise CardDeclined(message) from None
            if 400 <= exc.code < 500 and exc.code not in (408, 409, 429):
                raise ProviderRefused(f"Stripe refused: {message}") from None
            raise ProviderError(f"Stripe refused: {message}") from None
        except (OSError, ValueError) as exc:
            raise ProviderError(f"Stripe could not be reached: {exc}") from None

    def customer_create(self, *, driver_id: int, email: str, name: str) -> str:
        form = {"metadata[driver_id]": str(driver_id)}
        if email:
            form["email"] = email
        if name:
            form["name"] = name
        body = self._call("POST", "/v1/customers", form)
        if not isinstance(body, dict) or not str(body.get("id", "")).startswith("cus_"):
            raise ProviderError("Stripe answered without a customer id")
        return body["id"]

    def setup_checkout_create(
        self, *, customer: str, driver_id: int, success_url: str, cancel_url: str
    ) -> Checkout:
        """A Checkout Session in setup mode: the driver saves a card for later off-session charges."""
        form = {
            "mode": "setup",
            "customer": customer,
            "payment_method_types[0]": "card",
            # Stripe fills in {CHECKOUT_SESSION_ID}: the return page knows which session to ask about.
            "success_url": success_url,
            "cancel_url": cancel_url,
            "metadata[setup_driver_id]": str(driver_id),
            "setup_intent_data[metadata][setup_driver_id]": str(driver_id),
        }
        body = self._call("POST", "/v1/checkout/sessions", form)
        if not isinstance(body, dict) or not body.get("id") or not body.get("url"):
            raise ProviderError("Stripe answered without a session id or URL")
        return Checkout(reference=body["id"], url=body["url"])

    def setup_checkout_retrieve(self, *, checkout_reference: str) -> SavedCard | None:
        """The card a setup Checkout Session saved (None until the SetupIntent succeeded)."""
        path = f"/v1/checkout/sessions/{urllib.parse.quote(checkout_reference, safe='')}"
        body = self._call("GET", f"{path}?expand[]=setup_intent.payment_method")
        intent = body.get("setup_intent") if isinstance(body, dict) else None
        if not isinstance(intent, dict) or intent.get("status") != "succeeded":
            return None
        method = intent.get("payment_method")
        if not isinstance(method, dict) or not method.get("id"):
            return None
        card = method.get("card") or {}
        driver = str((body.get("metadata") or {}).get("setup_driver_id") or "")
        return SavedCard(
            reference=method["id"],
            customer=str(body.get("customer") or method.get("customer") or ""),
            brand=str(card.get("brand") or "")[:30],
            last4=str(card.get("last4") or "")[:4],
            exp_month=card.get("exp_month") if isinstance(card.get("exp_month"), int) else None,
            exp_year=card.get("exp_year") if isinstance(card.get("exp_year"), int) else None,
            driver_id=int(driver) if driver.isdigit() else None,
        )

    def payment_method_detach(self, *, reference: str) -> None:
        self._call("POST", f"/v1/payment_methods/{urllib.parse.quote(reference, safe='')}/detach", {})

    def charge_off_session(self, *, payment: Payment, customer: str, method: str, description: str) -> str:
        """Charge a saved card for a payment, off-session and confirmed at once. Returns the
        PaymentIntent's id; CardDeclined when the card is declined or needs the cardholder."""
        form = {
            "amount": str(to_minor(payment.amount, payment.currency)),
            "currency": payment.currency.lower(),
            "customer": customer,
            "payment_method": method,
            "off_session": "true",
            "confirm": "true",
            "description": description,
            "metadata[payment_id]": str(payment.pk),
        }
        body = self._call("POST", "/v1/payment_intents", form, key=f"chargenet-payment-{payment.pk}")
        if not isinstance(body, dict) or not body.get("id"):
            raise ProviderError("Stripe answered without a PaymentIntent id")
        if body.get("status") != "succeeded":
            raise CardDeclined(f"the payment is {body.get('status')}; the card holder must act")
        return body["id"]

    def refund_create(self, *, payment: Payment, amount: Decimal, key: str) -> str:
        """Refund `amount` of a paid payment (a Checkout Session's or an off-session PaymentIntent's);
        returns the refund's id. Stripe refuses more than what is left of the charge."""
        intent = payment.reference
        if intent.startswith("cs_"):
            body = self._call("GET", f"/v1/checkout/sessions/{urllib.parse.quote(intent, safe='')}")
            intent = str((body or {}).get("payment_intent") or "") if isinstance(body, dict) else ""
        if not intent.startswith("pi_"):
            raise ProviderError("Stripe has no charge for this payment to refund")
        form = {
            "payment_intent": intent,
            "amount": str(to_minor(amount, payment.currency)),
            "metadata[payment_id]": str(payment.pk),
        }
        body = self._call("POST", "/v1/refunds", form, key=key)
        if not isinstance(body, dict) or not body.get("id"):
            raise ProviderError("Stripe answered without a refund id")
        if body.get("status") in ("failed", "canceled"):
            raise ProviderError(
                f"Stripe could not refund: {body.get('failure_reason') or body.get('status')}"
            )
        return body["id"]

    def hold_checkout_create(
        self, *, charge: "GuestCharge", description: str, success_url: str, cancel_url: str
    ) -> Checkout:
        """A Checkout Session whose PaymentIntent is only authorized (capture_method=manual)."""
        form = {
            "mode": "payment",
            "success_url": success_url,
            "cancel_url": cancel_url,
            "client_reference_id": f"guest-{charge.pk}",
            "line_items[0][quantity]": "1",
            "line_items[0][price_data][currency]": charge.currency.lower(),
            "line_items[0][price_data][unit_amount]": str(to_minor(charge.amount_held, charge.currency)),
            "line_items[0][price_data][product_data][name]": description,
            "payment_intent_data[capture_method]": "manual",
            "payment_intent_data[description]": description,
            "metadata[guest_charge_id]": str(charge.pk),
            "payment_intent_data[metadata][guest_charge_id]": str(charge.pk),
        }
        if charge.email:
            form["customer_email"] = charge.email
        body = self._call("POST", "/v1/checkout/sessions", form, key=f"chargenet-guest-{charge.pk}-checkout")
        if not isinstance(body, dict) or not body.get("id") or not body.get("url"):
            raise ProviderError("Stripe answered without a session id or URL")
        return Checkout(reference=body["id"], url=body["url"])

    def hold_checkout_retrieve(self, *, checkout_reference: str) -> Hold | None:
        """The hold behind a Checkout Session, asked of Stripe (None while nothing is authorized)."""
        path = f"/v1/checkout/sessions/{urllib.parse.quote(checkout_reference, safe='')}"
        body = self._call("GET", f"{path}?expand[]=payment_intent")
        intent = body.get("payment_intent") if isinstance(body, dict) else None
        if not isinstance(intent, dict) or not intent.get("id"):
            return None
        currency = str(intent.get("currency") or "").upper()
        try:
            minor = int(intent.get("amount_capturable") or 0)
        except (TypeError, ValueError):
            raise ProviderError("Stripe answered with an unreadable amount") from None
        return Hold(
            reference=intent["id"],
            authorized=intent.get("status") == "requires_capture",
            amount=Decimal(minor).scaleb(-minor_units(currency or "EUR")),
            currency=currency,
        )

    def hold_capture(self, *, hold_reference: str, amount: Decimal, currency: str, key: str) -> None:
        path = f"/v1/payment_intents/{urllib.parse.quote(hold_reference, safe='')}/capture"
        self._call("POST", path, {"amount_to_capture": str(to_minor(amount, currency))}, key=key)

    def hold_release(self, *, hold_reference: str, key: str) -> None:
        path = f"/v1/payment_intents/{urllib.parse.quote(hold_reference, safe='')}/cancel"
        self._call("POST", path, {"cancellation_reason": "abandoned"}, key=key)

    def signature_verify(self, *, body: bytes, header: str, now: int | None = None) -> None:
        """Raise WebhookInvalid unless `header` is a valid Stripe-Signature for `body`."""
        if not self.webhook_secret:
            raise WebhookInvalid("STRIPE_WEBHOOK_SECRET is not set")
        timestamp, signatures = None, []
        for part in header.split(","):
            key, _, value = part.strip().partition("=")
            if key == "t":
                timestamp = value
            elif key == "v1":
                signatures.append(value)
        if timestamp is None or not timestamp.isdigit() or not signatures:
            raise WebhookInvalid("malformed Stripe-Signature header")
        if abs((now if now is not None else int(time.time())) - int(timestamp)) > self.tolerance:
            raise WebhookInvalid("the webhook's timestamp is outside the tolerance")
        expected = hmac.new(
            self.webhook_secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256
        ).hexdigest()
        if not any(hmac.compare_digest(expected, signature) for signature in signatures):
            raise WebhookInvalid("the webhook signature does not match")

    def webhook_parse(self, *, body: bytes, headers: dict[str, str]) -> PaymentUpdate:
        self.signature_verify(body=body, header=headers.get("Stripe-Signature", ""))
        try:
            event = json.loads(body)
            event_id, event_type, obj = event["id"], event["type"], event["data"]["object"]
        except (ValueError, KeyError, TypeError):
            raise WebhookInvalid("the body is not a Stripe event") from None
        status = _STRIPE_STATUS.get(event_type)
        if event_type == "checkout.session.completed":
            # Card payments are paid on completion; delayed methods report later.
            status = Payment.Status.PAID if obj.get("payment_status") == "paid" else None
        refunded = None
        if event_type == "charge.refunded" and "amount_refunded" not in obj:
            status = Payment.Status.REFUNDED if obj.get("refunded") else None  # all of it, or unknown
        elif event_type == "charge.refunded":
            try:
                refunded = Decimal(int(obj.get("amount_refunded") or 0)).scaleb(
                    -minor_units(str(obj.get("currency") or "EUR"))
                )
            except (TypeError, ValueError):
                raise WebhookInvalid("charge.refunded without a readable amount_refunded") from None
        metadata = obj.get("metadata") or {}
        setup_driver = str(metadata.get("setup_driver_id") or "")
        if setup_driver.isdigit() and event_type == "checkout.session.completed":
            return PaymentUpdate(
                event_id=event_id,
                event_type=event_type,
                payload=event,
                setup_driver_id=int(setup_driver),
                reference=str(obj.get("id") or ""),
            )
        guest = str(metadata.get("guest_charge_id") or "")
        if guest.isdigit():
            # A guest's hold: authorized, released or expired; the guest service asks Stripe itself.
            return PaymentUpdate(
                event_id=event_id, event_type=event_type, payload=event, guest_charge_id=int(guest)
            )
        payment_id = metadata.get("payment_id") or obj.get("client_reference_id")
        reference = str(obj.get("id") or "")
        if event_type.startswith("charge."):
            reference = str(obj.get("payment_intent") or "")  # a charge or dispute names its intent
        return PaymentUpdate(
            event_id=event_id,
            event_type=event_type,
            payload=event,
            status=status,
            payment_id=int(payment_id) if str(payment_id or "").isdigit() else None,
            reference=reference if reference.startswith(("cs_", "pi_")) else "",
            refunded_amount=refunded,
            disputed=event_type == "charge.dispute.created",
        )


def provider_get(name: str) -> PaymentProvider:
    """The provider by name ("stripe" or "manual"); ProviderError for an unknown one."""
    if name == "manual":
        return ManualProvider()
    if name == "stripe":
        return StripeProvider(
            secret_key=settings.STRIPE_SECRET_KEY,
            webhook_secret=settings.STRIPE_WEBHOOK_SECRET,
            api_base=settings.STRIPE_API_BASE,
            tolerance=settings.STRIPE_WEBHOOK_TOLERANCE,
        )
    raise ProviderError(f"unknown payment provider {name!r}")


def providers_available() -> list[PaymentProvider]:
    """Providers a driver can pay with: bank transfer always, Stripe when configured."""
    available: list[PaymentProvider] = []
    if settings.STRIPE_SECRET_KEY:
        available.append(provider_get("stripe"))
    available.append(ManualProvider())
    return available
