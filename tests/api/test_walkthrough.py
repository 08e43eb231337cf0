"""The integrator's walk-through of docs/api.md, end to end, through the API only.

Real processes and sockets: a daphne server and a Celery worker, both on the pytest-django test
database (as `tests/stations/connection/conftest.py` starts the server), a simulated station speaking OCPP 1.6 to
the server from its own asyncio loop in a thread, and a real local HTTP receiver for the webhooks.
Webhook deliveries and the pricing of the stopped session are done by the **real worker subprocess**
(nothing is called in-process), so the test sees what an integrator would see.

Outside the API, as in real life: the operator hands the integrator an API key (`create_api_token`),
the driver has signed up for an account, the station's firmware runs (the simulator; it charges
exactly 10 kWh), and invoicing runs (`manage.py invoice`, what Celery beat does monthly).
"""

import asyncio
import hashlib
import hmac
import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone

from chargenet.api.services import api_key_create
from rfid.models import Driver
from stations.simulator import SimulatedStation
from tests.stations.connection.conftest import server_start, server_stop
from tests.support import REPO

pytestmark = pytest.mark.django_db(transaction=True)

ELEMENTS = [
    {"price_components": [{"type": "ENERGY", "price": "0.30", "step_size": 1}]},
    {"price_components": [{"type": "FLAT", "price": "1.00", "step_size": 1}]},
]
# Both processes may call a receiver on 127.0.0.1 (CI runs with DEBUG off, where that is refused).
PROCESS_ENV = {
    "WEBHOOK_ALLOW_PRIVATE_HOSTS": "1",
    "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
}


# --- the integrator's side: an API client and a webhook receiver --------------------------------


class Api:
    """What an integrator writes after reading /api/docs/: JSON over HTTP with a token."""

    def __init__(self, base_url: str, key: str):
        self.base_url, self.key = base_url, key

    def call(self, method: str, path: str, body: dict | None = None, headers: dict | None = None):
        request = urllib.request.Request(
            self.base_url + path,
            data=json.dumps(body).encode() if body is not None else None,
            method=method,
            headers={
                "Authorization": f"Token {self.key}",
                "Content-Type": "application/json",
                **(headers or {}),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.headers, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.headers, exc.read()

    def json(self, method: str, path: str, body: dict | None = None, expect: int = 200, **kwargs):
        status, headers, content = self.call(method, path, body, **kwargs)
        assert status == expect, (method, path, status, content[:500])
        return json.loads(content)

    def get(self, path: str):
        return self.json("GET", path)

    def post(self, path: str, body: dict, expect: int = 201, **kwargs):
        return self.json("POST", path, body, expect=expect, **kwargs)


class Receiver:
    """The integrator's webhook endpoint: keeps every delivery; answers 204."""

    def __init__(self):
        self.deliveries: list[tuple[dict, bytes]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.lock:
                    receiver.deliveries.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/chargenet"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self) -> list[dict]:
        with self.lock:
            return [json.loads(body) for _, body in self.deliveries]

    def wait_for(self, event_type: str, timeout: float = 60) -> dict:
        """The first delivered event of a type (polling; deliveries come from the worker)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [e for e in self.events() if e["type"] == event_type]
            if found:
                return found[0]
            time.sleep(0.1)
        raise AssertionError(
            f"no {event_type} webhook within {timeout} s; got {[e['type'] for e in self.events()]}"
        )

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def verify(secret: str, header: str, body: bytes, tolerance: int = 300) -> bool:
    """docs/api.md's signature check, verbatim."""
    parts = dict(item.split("=", 1) for item in header.split(","))
    if abs(time.time() - int(parts["t"])) > tolerance:
        return False
    expected = hmac.new(secret.encode(), f"{parts['t']}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts["v1"])


class StationThread:
    """The simulated station's asyncio loop in its own thread; the test hands it coroutines."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coroutine, timeout: float = 30):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def close(self):
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


# --- the processes ------------------------------------------------------------------------------


@pytest.fixture
def server(transactional_db, redis_server, test_db_name):
    # Function scope: the processes stop before pytest-django empties the tables.
    server = server_start(test_db_name, **PROCESS_ENV)
    yield server
    server_stop(server)


@pytest.fixture
def worker(transactional_db, redis_server, test_db_name):
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "chargenet", "--quiet", "worker", "-l", "WARNING",
         "--pool", "solo", "--without-gossip", "--without-mingle", "--without-heartbeat",
         "-n", f"walkthrough-{os.getpid()}@%h"],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.stations.connection.server_settings",
             "CHARGENET_TEST_DB_NAME": test_db_name, **PROCESS_ENV},
        cwd=REPO,
    )  # fmt: skip
    yield process
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture
def receiver():
    receiver = Receiver()
    yield receiver
    receiver.close()


@pytest.fixture
def station_thread():
    thread = StationThread()
    yield thread
    thread.close()


def test_an_integrator_registers_a_station_charges_10_kwh_and_gets_the_priced_cdr_and_invoice(
    server, worker, receiver, station_thread, operator, django_user_model
):
    # given an operator's API key and a driver with an account
    api = Api(server.base_url, api_key_create(user=operator, name="fleet app", role="operate")[1])
    dana = Driver.objects.create(
        user=django_user_model.objects.create_user(username="dana", password="pw-dana-1", role="driver"),
        name="Dana",
        email="dana@example.com",
    )
    api.post("/api/v1/tariffs/", {"code": "STD", "name": "Standard", "currency": "EUR", "vat_percent": "25",
                                   "elements": ELEMENTS, "is_default": True})  # fmt: skip

    # 1. register a station; keep its password
    location = api.post("/api/v1/locations/", {"name": "Harbour", "time_zone": "Europe/Amsterdam"})
    registered = api.post(
        "/api/v1/stations/",
        {"identity": "CP-WALK", "ocpp_version": "1.6", "evses": 1, "location": location["id"]},
    )
    # 2. issue a card to the driver
    card = api.post(
        "/api/v1/id-tokens/", {"uid": "04A2B3C4D5E6F7", "label": "Fleet car 12", "driver": dana.pk}
    )
    # 3. subscribe a webhook
    events = ["session.started", "session.updated", "session.stopped", "cdr.created"]
    subscription = api.post("/api/v1/webhooks/", {"url": receiver.url, "events": events})

    # the charger connects with the password it was given
    station = SimulatedStation(
        url=server.url, identity="CP-WALK", password=registered["password"], connectors=1,
        meter_interval=3600, response_timeout=10, max_power_w=11000,
    )  # fmt: skip
    station_thread.run(station.connect())
    try:
        station_thread.run(station.boot())
        station_thread.run(station.status_all())
        assert api.get("/api/v1/stations/CP-WALK/")["is_online"] is True

        # 4. start a session remotely, safe to retry
        start = {"evse_id": 1, "id_token": card["uid"], "wait": 10}
        key = {"Idempotency-Key": "start-car12-0001"}
        command = api.post("/api/v1/stations/CP-WALK/remote-start/", start, headers=key)
        status, headers, retried = api.call(
            "POST", "/api/v1/stations/CP-WALK/remote-start/", start, headers=key
        )
        assert command["status"] == "accepted"
        assert status == 201 and headers["Idempotent-Replayed"] == "true"
        assert json.loads(retried)["id"] == command["id"]

        started = receiver.wait_for("session.started")
        session_id = started["data"]["session_id"]

        # the car draws 10 kWh, then the integrator stops the session
        station_thread.run(station.wait_for(lambda: station.connectors[1].transaction_id))
        transaction_id = station.connectors[1].transaction_id
        for energy_wh in (5000, 10000):
            station.connectors[1].energy_wh = energy_wh
            station_thread.run(station.meter_values(1, transaction_id, energy_wh, 11000))
        assert api.get(f"/api/v1/sessions/{session_id}/")["energy_wh"] == 10000
        live = api.get(f"/api/v1/sessions/{session_id}/cost/")
        assert (live["final"], live["total_incl_vat"]) == (False, "5.00")
        stop = api.post(
            f"/api/v1/sessions/{session_id}/remote-stop/", {"wait": 10}, headers={"Idempotency-Key": "stop-1"}
        )
        assert stop["status"] == "accepted"

        # 5. follow the webhooks to the priced CDR
        stopped = receiver.wait_for("session.stopped")
        created = receiver.wait_for("cdr.created")
    finally:
        station_thread.run(station.close())

    assert stopped["data"]["session_id"] == session_id
    assert receiver.wait_for("session.updated")["data"]["session_id"] == session_id
    assert created["data"]["session_id"] == session_id
    assert {e["type"] for e in receiver.events()} <= set(events)
    for headers, body in receiver.deliveries:
        assert verify(subscription["secret"], headers["chargenet-signature"], body)
        assert headers["chargenet-event"] == json.loads(body)["type"]
    # only one session, although the start was sent twice
    assert [s["id"] for s in api.get("/api/v1/sessions/?station=CP-WALK")["results"]] == [session_id]

    cdr = api.get(f"/api/v1/cdrs/{created['data']['cdr_id']}/")
    assert (cdr["energy_wh"], cdr["currency"]) == (10000, "EUR")
    assert (cdr["total_excl_vat"], cdr["total_vat"], cdr["total_incl_vat"]) == ("4.00", "1.00", "5.00")
    assert api.get(f"/api/v1/sessions/{session_id}/cost/")["final"] is True

    # 6. invoicing runs (beat does it monthly); the invoice and its PDF come from the API
    today = timezone.now().astimezone(ZoneInfo(settings.OPERATOR_TIME_ZONE)).date()
    call_command("invoice", "--from", str(today - timedelta(days=1)), "--to", str(today + timedelta(days=1)),
                 stdout=open(os.devnull, "w"))  # fmt: skip
    (invoice,) = api.get(f"/api/v1/invoices/?driver={dana.pk}")["results"]
    detail = api.get(f"/api/v1/invoices/{invoice['id']}/")
    status, headers, pdf = api.call("GET", invoice["pdf_url"])

    assert (detail["total_excl_vat"], detail["total_vat"], detail["total_incl_vat"]) == (
        "4.00",
        "1.00",
        "5.00",
    )
    assert [line["cdr"] for line in detail["lines"]] == [cdr["id"]]
    assert api.get(f"/api/v1/cdrs/{cdr['id']}/")["invoice"] == invoice["id"]
    assert status == 200 and headers["Content-Type"] == "application/pdf" and pdf.startswith(b"%PDF")
