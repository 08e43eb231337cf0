"""Webhooks cannot be turned against the CSMS's own network (SSRF): private addresses in any IPv6
disguise are refused, redirects are not followed, and the host is resolved once per delivery."""

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from chargenet.webhooks.models import WebhookDelivery, WebhookSubscription
from chargenet.webhooks.services import webhook_delivery_attempt, webhook_subscription_create

pytestmark = pytest.mark.django_db


class Endpoint:
    """A local HTTP endpoint that answers every POST with `status` (and a Location when redirecting)."""

    def __init__(self, status: int, location: str = "", body: bytes = b"internal secret"):
        self.hits = 0
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                endpoint.hits += 1
                self.rfile.read(int(self.headers["Content-Length"]))
                self.send_response(status)
                if location:
                    self.send_header("Location", location)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def delivery_for(subscription: WebhookSubscription) -> WebhookDelivery:
    return WebhookDelivery.objects.create(
        subscription=subscription,
        event_id="00000000-0000-0000-0000-000000000009",
        event_type="session.started",
        payload={"type": "session.started"},
    )


@pytest.mark.parametrize(
    "host",
    [
        "[::ffff:127.0.0.1]",  # IPv4-mapped
        "[::ffff:7f00:1]",
        "[::127.0.0.1]",  # IPv4-compatible
        "[64:ff9b::7f00:1]",  # NAT64 of 127.0.0.1
        "[64:ff9b::a00:1]",  # NAT64 of 10.0.0.1
        "[64:ff9b:1::c0a8:101]",  # local-use NAT64 of 192.168.1.1
        "[2002:7f00:1::]",  # 6to4 of 127.0.0.1
        "[2002:a9fe:a9fe::1]",  # 6to4 of 169.254.169.254 (cloud metadata)
        "169.254.169.254",
        "[::1]",
    ],
)
def test_a_webhook_to_a_disguised_private_address_is_refused(operator_api, settings, host):
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = False
    response = operator_api.post(
        "/api/v1/webhooks/", {"url": f"http://{host}/x", "events": ["*"]}, format="json"
    )
    assert response.status_code == 400
    assert "not a public address" in response.json()["error"]["message"]
    assert not WebhookSubscription.objects.exists()


def test_a_redirect_is_not_followed_and_its_target_never_called(operator, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = True  # both endpoints are local in this test
    inside = Endpoint(200)
    outside = Endpoint(302, location=inside.url)
    try:
        subscription = webhook_subscription_create(user=operator, url=outside.url, events=["*"])
        delivery = webhook_delivery_attempt(delivery_id=delivery_for(subscription).pk)
    finally:
        inside.close()
        outside.close()
    assert inside.hits == 0 and outside.hits == 1
    assert delivery.response_status == 302 and delivery.status == WebhookDelivery.Status.PENDING
    assert "redirects are not followed" in delivery.attempt_log[-1]["error"]


def test_a_host_that_rebinds_to_an_internal_address_is_resolved_once_and_never_reached(
    operator, settings, monkeypatch
):
    # given: a subscription made while the name pointed to a public address
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = False
    inside = Endpoint(200)
    real_getaddrinfo = socket.getaddrinfo
    answers = {"hooks.example.test": "93.184.215.14"}
    lookups: list[str] = []

    def fake_dns(host, port, *args, **kwargs):  # DNS is outside the project
        if host in answers:
            lookups.append(host)
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answers[host], port))]
        return real_getaddrinfo(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake_dns)
    subscription = webhook_subscription_create(
        user=operator, url=f"http://hooks.example.test:{inside.port}/hook", events=["*"]
    )
    # when: the name now points inside
    answers["hooks.example.test"] = "127.0.0.1"
    lookups.clear()
    try:
        delivery = webhook_delivery_attempt(delivery_id=delivery_for(subscription).pk)
    finally:
        inside.close()
    # then: one lookup, refused, the inside never called and nothing of it shown
    assert lookups == ["hooks.example.test"]
    assert inside.hits == 0
    assert delivery.response_status is None and delivery.response_body == ""
    assert "not a public address" in delivery.attempt_log[-1]["error"]


def test_a_delivery_connects_to_the_address_that_was_checked(operator, settings, monkeypatch):
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = False
    answers = iter(["93.184.215.14", "93.184.215.14", "127.0.0.1"])
    connected_to: list[str] = []

    def fake_dns(host, port, *args, **kwargs):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), port))]

    def fake_connect(address, timeout=None, *args, **kwargs):  # the network is outside the project
        connected_to.append(address[0])
        raise OSError("no network in tests")

    monkeypatch.setattr(socket, "getaddrinfo", fake_dns)
    monkeypatch.setattr(socket, "create_connection", fake_connect)
    subscription = webhook_subscription_create(
        user=operator, url="https://hooks.example.test/x", events=["*"]
    )
    webhook_delivery_attempt(delivery_id=delivery_for(subscription).pk)
    assert connected_to == ["93.184.215.14"]
