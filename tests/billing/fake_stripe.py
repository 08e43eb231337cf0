"""A local stand-in for Stripe's API, its hosted Checkout page and its webhooks, on a real socket.

It keeps Checkout Sessions and PaymentIntents in memory and answers as Stripe's API reference
documents (trimmed to the fields ChargeNet reads): Checkout with `capture_method=manual` leaves the
PaymentIntent in `requires_capture` once the payer confirms; capture takes at most the amount
capturable; a repeated Idempotency-Key gets the first answer back. The hosted page `/pay/<cs id>`
is a plain form: submitting it authorizes the card, sends the signed `checkout.session.completed`
webhook to `webhook_url` and redirects to the success URL, as Stripe does.
"""

import hashlib
import hmac
import itertools
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SECRET_KEY = "sk_test_fake"
WEBHOOK_SECRET = "whsec_fake"


def sign(body: bytes, *, secret: str = WEBHOOK_SECRET, at: int | None = None) -> str:
    """A Stripe-Signature header for `body`."""
    stamp = str(at if at is not None else int(time.time()))
    digest = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={stamp},v1={digest}"


class FakeStripe:
    """The fake's state and its server; `base_url` is what STRIPE_API_BASE should be."""

    def __init__(self) -> None:
        self.sessions: dict[str, dict[str, Any]] = {}
        self.intents: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str, dict[str, str], dict[str, str]]] = []
        self.idempotent: dict[str, tuple[int, Any]] = {}
        self.webhook_url = ""
        self.webhooks_sent: list[dict[str, Any]] = []
        self.decline_next_capture = False
        self.customers: dict[str, dict[str, Any]] = {}
        self.setup_intents: dict[str, dict[str, Any]] = {}
        self.payment_methods: dict[str, dict[str, Any]] = {}
        self.next_card = {"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2030}
        self.declining: set[str] = set()  # payment method ids whose charges are declined
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.base_url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> "FakeStripe":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # --- what the payer does on the hosted page -------------------------------------------------

    def pay(self, session_id: str, *, amount_minor: int | None = None) -> str:
        """The payer confirms the checkout (optionally a tampered amount is authorized instead):
        the intent is authorized, the webhook sent; returns the success URL."""
        with self._lock:
            session = self.sessions[session_id]
            if session["mode"] == "setup":
                method_id = f"pm_test_{next(self._ids):04d}"
                self.payment_methods[method_id] = {
                    "id": method_id,
                    "object": "payment_method",
                    "customer": session["customer"],
                    "card": dict(self.next_card),
                }
                setup = self.setup_intents[session["setup_intent"]]
                setup.update(status="succeeded", payment_method=method_id)
                session["status"] = "complete"
        if session["mode"] == "setup":
            self.webhook_send("checkout.session.completed", self._session_json(session))
            return session["success_url"].replace("{CHECKOUT_SESSION_ID}", session_id)
        with self._lock:
            intent = self.intents[session["payment_intent"]]
            if intent["capture_method"] == "manual":
                intent["status"] = "requires_capture"
                intent["amount_capturable"] = amount_minor if amount_minor is not None else intent["amount"]
            else:
                intent.update(status="succeeded", amount_received=intent["amount"])
                session["payment_status"] = "paid"
            session["status"] = "complete"
        self.webhook_send("checkout.session.completed", self._session_json(session))
        return session["success_url"]

    def webhook_send(self, kind: str, obj: dict[str, Any], *, secret: str = WEBHOOK_SECRET) -> int:
        event = {"id": f"evt_{next(self._ids)}", "object": "event", "type": kind, "data": {"object": obj}}
        self.webhooks_sent.append(event)
        if not self.webhook_url:
            return 0
        body = json.dumps(event).encode()
        request = urllib.request.Request(
            self.webhook_url,
            data=body,
            headers={"Content-Type": "application/json", "Stripe-Signature": sign(body, secret=secret)},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=20) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code

    # --- the API ---------------------------------------------------------------------------------

    def _session_json(self, session: dict[str, Any], *, expand: str = "") -> dict[str, Any]:
        data = {k: v for k, v in session.items() if k != "success_url"}
        if expand == "payment_intent" and session.get("payment_intent"):
            data["payment_intent"] = dict(self.intents[session["payment_intent"]])
        if expand == "setup_intent.payment_method" and session.get("setup_intent"):
            setup = dict(self.setup_intents[session["setup_intent"]])
            if setup.get("payment_method"):
                setup["payment_method"] = dict(self.payment_methods[setup["payment_method"]])
            data["setup_intent"] = setup
        return data

    def handle(
        self, method: str, path: str, form: dict[str, str], headers: dict[str, str]
    ) -> tuple[int, Any]:
        self.requests.append((method, path, headers, form))
        if headers.get("Authorization") != f"Bearer {SECRET_KEY}":
            return 401, {"error": {"type": "invalid_request_error", "message": "Invalid API Key provided"}}
        key = headers.get("Idempotency-Key", "")
        if method == "POST" and key and key in self.idempotent:
            return self.idempotent[key]
        with self._lock:
            answer = self._route(method, path, form)
        if method == "POST" and key:
            self.idempotent[key] = answer
        return answer

    def _route(self, method: str, path: str, form: dict[str, str]) -> tuple[int, Any]:
        parsed = urllib.parse.urlparse(path)
        parts = parsed.path.strip("/").split("/")
        if method == "POST" and parsed.path == "/v1/checkout/sessions":
            number = next(self._ids)
            session_id = f"cs_test_{number:04d}"
            session = {
                "id": session_id,
                "object": "checkout.session",
                "mode": form.get("mode", "payment"),
                "customer": form.get("customer"),
                "url": f"{self.base_url}/pay/{session_id}",
                "status": "open",
                "payment_status": "unpaid",
                "client_reference_id": form.get("client_reference_id"),
                "metadata": {k[9:-1]: v for k, v in form.items() if k.startswith("metadata[")},
                "success_url": form.get("success_url", ""),
                "payment_intent": None,
            }
            if session["mode"] == "payment":
                intent_id = f"pi_test_{number:04d}"
                self.intents[intent_id] = {
                    "id": intent_id,
                    "object": "payment_intent",
                    "amount": int(form["line_items[0][price_data][unit_amount]"]),
                    "amount_capturable": 0,
                    "amount_received": 0,
                    "currency": form["line_items[0][price_data][currency]"],
                    "capture_method": form.get("payment_intent_data[capture_method]", "automatic"),
                    "amount_refunded": 0,
                    "status": "requires_payment_method",
                    "metadata": {
                        k[len("payment_intent_data[metadata][") : -1]: v
                        for k, v in form.items()
                        if k.startswith("payment_intent_data[metadata][")
                    },
                }
                session["payment_intent"] = intent_id
            if session["mode"] == "setup":
                if form.get("customer") not in self.customers:
                    return 400, {"error": {"type": "invalid_request_error", "message": "No such customer"}}
                setup_id = f"seti_test_{number:04d}"
                self.setup_intents[setup_id] = {
                    "id": setup_id,
                    "object": "setup_intent",
                    "status": "requires_payment_method",
                    "payment_method": None,
                }
                session["setup_intent"] = setup_id
            self.sessions[session_id] = session
            return 200, self._session_json(session)
        if method == "GET" and parts[:3] == ["v1", "checkout", "sessions"] and len(parts) == 4:
            session = self.sessions.get(parts[3])
            if session is None:
                return 404, {
                    "error": {"type": "invalid_request_error", "message": "No such checkout.session"}
                }
            expand = (urllib.parse.parse_qs(parsed.query).get("expand[]") or [""])[0]
            return 200, self._session_json(session, expand=expand)
        if method == "POST" and parsed.path == "/v1/refunds":
            intent = self.intents.get(form.get("payment_intent", ""))
            if intent is None or intent["status"] != "succeeded":
                return 400, {
                    "error": {"type": "invalid_request_error", "message": "No such charge to refund"}
                }
            amount = int(form.get("amount", intent["amount_received"] - intent.get("amount_refunded", 0)))
            left = intent["amount_received"] - intent.get("amount_refunded", 0)
            if amount > left:
                return 400, {
                    "error": {
                        "type": "invalid_request_error",
                        "message": f"Refund amount ({amount}) is greater than unrefunded amount on charge ({left})",
                    }
                }
            intent["amount_refunded"] = intent.get("amount_refunded", 0) + amount
            refund = {"id": f"re_test_{next(self._ids):04d}", "object": "refund", "amount": amount,
                      "payment_intent": intent["id"], "status": "succeeded"}  # fmt: skip
            return 200, refund
        if method == "POST" and parsed.path == "/v1/customers":
            customer_id = f"cus_test_{next(self._ids):04d}"
            self.customers[customer_id] = {"id": customer_id, "object": "customer", **form}
            return 200, self.customers[customer_id]
        if method == "POST" and parts[:2] == ["v1", "payment_methods"] and parts[3:] == ["detach"]:
            card = self.payment_methods.get(parts[2])
            if card is None:
                return 404, {"error": {"type": "invalid_request_error", "message": "No such PaymentMethod"}}
            card["customer"] = None
            return 200, card
        if method == "POST" and parsed.path == "/v1/payment_intents":
            card = self.payment_methods.get(form.get("payment_method", ""))
            if card is None or card["customer"] != form.get("customer"):
                return 400, {"error": {"type": "invalid_request_error", "message": "No such PaymentMethod"}}
            intent_id = f"pi_test_{next(self._ids):04d}"
            intent = {
                "id": intent_id,
                "object": "payment_intent",
                "amount": int(form["amount"]),
                "currency": form["currency"],
                "customer": form["customer"],
                "payment_method": card["id"],
                "metadata": {"payment_id": form.get("metadata[payment_id]")},
                "status": "succeeded",
                "amount_refunded": 0,
                "amount_received": int(form["amount"]),
            }
            if card["id"] in self.declining:
                intent.update(status="requires_payment_method", amount_received=0)
                self.intents[intent_id] = intent
                return 402, {
                    "error": {
                        "type": "card_error",
                        "code": "card_declined",
                        "message": "Your card was declined.",
                        "payment_intent": intent,
                    }
                }
            self.intents[intent_id] = intent
            return 200, intent
        if method == "POST" and parts[:2] == ["v1", "payment_intents"] and len(parts) == 4:
            intent = self.intents.get(parts[2])
            if intent is None:
                return 404, {"error": {"type": "invalid_request_error", "message": "No such payment_intent"}}
            if parts[3] == "capture":
                if intent["status"] != "requires_capture":
                    return 400, {"error": {"message": f"This PaymentIntent's status is {intent['status']}"}}
                amount = int(form.get("amount_to_capture", intent["amount_capturable"]))
                if amount > intent["amount_capturable"]:
                    return 400, {"error": {"message": "amount_to_capture is greater than amount_capturable"}}
                if self.decline_next_capture:
                    self.decline_next_capture = False
                    return 402, {"error": {"type": "card_error", "message": "Your card was declined."}}
                intent.update(status="succeeded", amount_received=amount, amount_capturable=0)
                return 200, dict(intent)
            if parts[3] == "cancel":
                if intent["status"] in ("succeeded", "canceled"):
                    return 400, {"error": {"message": f"This PaymentIntent's status is {intent['status']}"}}
                intent.update(status="canceled", amount_capturable=0)
                return 200, dict(intent)
        return 404, {
            "error": {"type": "invalid_request_error", "message": f"Unrecognized request URL {path}"}
        }


def _handler(fake: FakeStripe) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self, status: int, payload: Any, content_type: str = "application/json") -> None:
            data = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _form(self) -> dict[str, str]:
            length = int(self.headers.get("Content-Length") or 0)
            return dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))

        def do_GET(self) -> None:
            if self.path.startswith("/pay/"):
                session = fake.sessions.get(self.path[5:])
                if session is None:
                    return self._answer(404, "<p>No such checkout</p>", "text/html")
                if session["mode"] == "setup":
                    page = (
                        '<!doctype html><html><head><meta name="viewport" content="width=device-width">'
                        "<title>Fake Checkout</title></head><body><h1>Save a card</h1>"
                        '<form method="post"><button type="submit">Save card</button></form></body></html>'
                    )
                    return self._answer(200, page, "text/html")
                intent = fake.intents.get(session["payment_intent"] or "", {})
                amount = f"{intent.get('amount', 0) / 100:.2f} {str(intent.get('currency', '')).upper()}"
                page = (
                    '<!doctype html><html><head><meta name="viewport" content="width=device-width">'
                    f"<title>Fake Checkout</title></head><body><h1>Reserve {amount}</h1>"
                    f'<form method="post"><button type="submit">Pay {amount}</button></form></body></html>'
                )
                return self._answer(200, page, "text/html")
            status, payload = fake.handle("GET", self.path, {}, dict(self.headers))
            self._answer(status, payload)

        def do_POST(self) -> None:
            form = self._form()
            if self.path.startswith("/pay/"):
                location = fake.pay(self.path[5:])
                self.send_response(303)
                self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            status, payload = fake.handle("POST", self.path, form, dict(self.headers))
            self._answer(status, payload)

        def log_message(self, *args: Any) -> None:
            pass

    return Handler
