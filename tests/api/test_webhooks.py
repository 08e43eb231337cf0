"""Webhooks: events reach a real HTTP receiver, signed; failures are retried; replays work."""

import hashlib
import hmac
import json
import threading
import uuid
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone

from chargenet import celery_app
from chargenet.events import event_publish
from chargenet.webhooks.models import WebhookDelivery
from chargenet.webhooks.services import webhook_event_received, webhook_subscription_create
from chargenet.webhooks.tasks import webhook_deliver_task, webhook_deliveries_due_task

pytestmark = pytest.mark.django_db


class Receiver:
    """An integrator's endpoint: records each request and answers with the next planned status."""

    def __init__(self, statuses: list[int]):
        self.statuses = list(statuses)
        self.requests: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append({"headers": self.headers, "body": body})  # case-insensitive
                status = receiver.statuses.pop(0) if len(receiver.statuses) > 1 else receiver.statuses[0]
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"thanks" if status < 300 else b"try again")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver_factory():
    receivers = []

    def make(statuses=(200,)):
        receiver = Receiver(list(statuses))
        receivers.append(receiver)
        return receiver

    yield make
    for receiver in receivers:
        receiver.close()


@pytest.fixture
def eager_celery(settings):
    """Run tasks (and their retries) at once in this process, as a worker would, minus the waiting."""
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = True
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = False


def _publish(event_type: str, data: dict, django_capture_on_commit_callbacks) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        event_publish(event_type, data)


def verify(secret: str, header: str, body: bytes) -> bool:
    """What docs/api.md tells integrators to do."""
    parts = dict(item.split("=", 1) for item in header.split(","))
    expected = hmac.new(secret.encode(), f"{parts['t']}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts["v1"])


SESSION = {"session_id": 7, "station_id": 1, "identity": "CP-1", "evse_id": 1, "transaction_id": "42"}


def test_a_subscribed_event_is_delivered_signed_with_the_subscriptions_secret(
    operator, receiver_factory, eager_celery, django_capture_on_commit_callbacks
):
    receiver = receiver_factory([200])
    subscription = webhook_subscription_create(user=operator, url=receiver.url, events=["session.started"])

    _publish("session.started", SESSION, django_capture_on_commit_callbacks)
    _publish("session.stopped", SESSION, django_capture_on_commit_callbacks)

    assert len(receiver.requests) == 1
    request = receiver.requests[0]
    assert verify(subscription.secret, request["headers"]["ChargeNet-Signature"], request["body"])
    assert not verify("whsec_wrong", request["headers"]["ChargeNet-Signature"], request["body"])
    event = json.loads(request["body"])
    assert (event["type"], event["data"]) == ("session.started", SESSION)
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.response_status) == ("succeeded", 1, 200)
    assert request["headers"]["ChargeNet-Delivery"] == str(delivery.uuid)


def test_a_failing_receiver_is_retried_until_it_answers(
    operator, receiver_factory, eager_celery, django_capture_on_commit_callbacks
):
    receiver = receiver_factory([500, 503, 200])
    webhook_subscription_create(user=operator, url=receiver.url, events=["*"])

    _publish(
        "connector.fault_raised",
        {"identity": "CP-1", "status": "Faulted"},
        django_capture_on_commit_callbacks,
    )

    delivery = WebhookDelivery.objects.get()
    assert len(receiver.requests) == 3
    assert (delivery.status, delivery.attempts) == ("succeeded", 3)
    assert [a["status"] for a in delivery.attempt_log] == [500, 503, 200]
    # Every attempt carries the same event id, so a receiver can deduplicate.
    assert len({json.loads(r["body"])["id"] for r in receiver.requests}) == 1


def test_a_delivery_gives_up_after_the_last_attempt(
    operator, receiver_factory, eager_celery, settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_MAX_ATTEMPTS = 2
    receiver = receiver_factory([500])
    webhook_subscription_create(user=operator, url=receiver.url, events=["*"])

    _publish("station.connected", {"identity": "CP-1"}, django_capture_on_commit_callbacks)

    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, len(receiver.requests)) == ("failed", 2, 2)
    assert delivery.response_body == "try again"


def test_a_delivery_that_succeeded_is_not_sent_again_when_its_task_runs_twice(
    operator, receiver_factory, eager_celery, django_capture_on_commit_callbacks
):
    receiver = receiver_factory([200])
    webhook_subscription_create(user=operator, url=receiver.url, events=["*"])
    _publish("session.stopped", SESSION, django_capture_on_commit_callbacks)
    delivery = WebhookDelivery.objects.get()

    # Celery redelivers a task whose worker died after the POST (acks_late).
    assert webhook_deliver_task.apply(args=[delivery.pk]).get() == "skipped"

    delivery.refresh_from_db()
    assert len(receiver.requests) == 1
    assert (delivery.status, delivery.attempts) == ("succeeded", 1)


def test_the_same_event_fanned_out_twice_makes_one_delivery_per_subscription(
    operator, receiver_factory, eager_celery
):
    receiver = receiver_factory([200])
    webhook_subscription_create(user=operator, url=receiver.url, events=["session.stopped"])
    event = {**SESSION, "event_id": "7b0a5a62-93c1-4b8f-9a55-0c7d40f1c2a1"}

    webhook_event_received("session.stopped", event)
    webhook_event_received("session.stopped", event)

    delivery = WebhookDelivery.objects.get()
    assert str(delivery.event_id) == event["event_id"]
    assert delivery.payload["id"] == event["event_id"] and delivery.payload["data"] == SESSION


def test_a_pending_delivery_whose_task_was_lost_is_sent_by_the_sweep(
    operator, receiver_factory, eager_celery
):
    # given a delivery recorded a minute ago whose task never reached a worker
    receiver = receiver_factory([200])
    subscription = webhook_subscription_create(user=operator, url=receiver.url, events=["*"])
    delivery = WebhookDelivery.objects.create(
        subscription=subscription,
        event_id=uuid.uuid4(),
        event_type="station.connected",
        payload={"type": "station.connected", "data": {}},
        next_attempt_at=timezone.now() - timedelta(minutes=1),
    )

    # when the sweep runs
    assert webhook_deliveries_due_task.apply().get() == 1

    # then it is delivered, and the next sweep finds nothing to do
    delivery.refresh_from_db()
    assert (delivery.status, len(receiver.requests)) == ("succeeded", 1)
    assert webhook_deliveries_due_task.apply().get() == 0


def test_a_long_back_off_is_left_to_the_sweep_instead_of_a_waiting_task(
    operator, receiver_factory, eager_celery, settings, django_capture_on_commit_callbacks
):
    # given a receiver that keeps failing
    receiver = receiver_factory([500])
    webhook_subscription_create(user=operator, url=receiver.url, events=["*"])

    _publish("station.connected", {"identity": "CP-1"}, django_capture_on_commit_callbacks)

    # then the task retried while the waits were short (10 s, 30 s) and then handed over: the next
    # attempt (90 s later) is a time on the delivery, which the sweep honours
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("pending", 3)
    assert delivery.next_attempt_at > timezone.now() + timedelta(seconds=60)
    assert webhook_deliveries_due_task.apply().get() == 0


def test_command_finished_is_sent_only_when_a_command_reaches_a_final_status(
    operator, receiver_factory, eager_celery, django_capture_on_commit_callbacks
):
    receiver = receiver_factory([200])
    webhook_subscription_create(user=operator, url=receiver.url, events=["command.finished"])

    _publish("command.updated", {"command_id": "c1", "status": "sent"}, django_capture_on_commit_callbacks)
    _publish(
        "command.updated", {"command_id": "c1", "status": "accepted"}, django_capture_on_commit_callbacks
    )

    assert [json.loads(r["body"])["data"]["status"] for r in receiver.requests] == ["accepted"]


def test_a_subscriber_replays_a_delivery_through_the_api(
    operator, operator_api, receiver_factory, eager_celery, django_capture_on_commit_callbacks
):
    receiver = receiver_factory([200])
    response = operator_api.post(
        "/api/v1/webhooks/", {"url": receiver.url, "events": ["session.started"]}, format="json"
    )
    assert response.status_code == 201
    secret = response.json()["secret"]
    _publish("session.started", SESSION, django_capture_on_commit_callbacks)
    original = WebhookDelivery.objects.get()

    with django_capture_on_commit_callbacks(execute=True):
        replay = operator_api.post(f"/api/v1/webhook-deliveries/{original.uuid}/replay/")

    assert replay.status_code == 202
    assert len(receiver.requests) == 2
    assert json.loads(receiver.requests[0]["body"]) == json.loads(receiver.requests[1]["body"])
    assert verify(
        secret, receiver.requests[1]["headers"]["ChargeNet-Signature"], receiver.requests[1]["body"]
    )
    listed = operator_api.get(f"/api/v1/webhooks/{response.json()['id']}/deliveries/").json()["results"]
    assert {d["status"] for d in listed} == {"succeeded"}
    assert [d["replay_of"] for d in listed] == [str(original.uuid), None]


def test_the_secret_is_shown_only_when_the_subscription_is_created(operator_api, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = True
    created = operator_api.post(
        "/api/v1/webhooks/", {"url": "http://127.0.0.1:9/x", "events": ["*"]}, format="json"
    ).json()

    assert created["secret"].startswith("whsec_")
    assert "secret" not in operator_api.get(f"/api/v1/webhooks/{created['id']}/").json()


def test_webhooks_to_private_addresses_are_refused_unless_allowed(operator_api, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = False

    response = operator_api.post(
        "/api/v1/webhooks/", {"url": "http://127.0.0.1:8000/x", "events": ["*"]}, format="json"
    )

    assert response.status_code == 400
    assert "not a public address" in response.json()["error"]["message"]


def test_unknown_events_are_a_validation_error(operator_api):
    response = operator_api.post(
        "/api/v1/webhooks/", {"url": "https://example.com/x", "events": ["session.exploded"]}, format="json"
    )

    assert response.status_code == 400
    assert "events" in response.json()["error"]["details"]


def test_other_users_cannot_see_or_replay_my_deliveries(operator, viewer_api, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = True
    subscription = webhook_subscription_create(user=operator, url="http://127.0.0.1:9/x", events=["*"])
    delivery = WebhookDelivery.objects.create(
        subscription=subscription,
        event_id="00000000-0000-0000-0000-000000000001",
        event_type="session.started",
        payload={},
    )

    assert viewer_api.get(f"/api/v1/webhooks/{subscription.pk}/").status_code == 404
    assert viewer_api.get(f"/api/v1/webhook-deliveries/{delivery.uuid}/").status_code == 404
    assert (
        viewer_api.post(f"/api/v1/webhook-deliveries/{delivery.uuid}/replay/").status_code == 403
    )  # viewers may not write at all
    assert WebhookDelivery.objects.count() == 1
