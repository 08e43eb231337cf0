"""The live system for the acceptance scenarios: one daphne server and one Celery worker (real
subprocesses on the pytest-django test database and the test Redis), simulated stations driven from
an asyncio loop in a background thread, and headless Chromium.

The processes live for the e2e package, not the whole session: a running worker would otherwise
execute the tasks that later test modules queue (they expect nobody to).
"""

import asyncio
import email
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.db import connections

from stations.simulator import SimulatedStation
from tests.stations.connection.conftest import Server, server_start, server_stop
from tests.support import CHROMIUM, CHROMIUM_ARGS, REPO, http_get_json

STATION_PASSWORD = "e2e-station-password-0001"


@dataclass
class LiveSystem:
    base_url: str  # http://127.0.0.1:PORT
    ocpp_url: str  # ws://127.0.0.1:PORT/ocpp/
    mail_dir: Path
    env: dict[str, str]  # what a management command needs to run against the same database

    def mails(self) -> list[email.message.Message]:
        """Every e-mail the server has sent so far, oldest first."""
        messages = []
        for path in sorted(self.mail_dir.glob("*.log"), key=lambda p: p.stat().st_mtime):
            # The file backend separates messages with a line of 79 dashes.
            for chunk in path.read_bytes().split(b"\n" + b"-" * 79 + b"\n"):
                if chunk.strip():
                    messages.append(email.message_from_bytes(chunk))
        return messages

    def mail_to(self, address: str, timeout: float = 30.0) -> email.message.Message:
        """The one e-mail sent to `address`, waiting for it: mails are durable work that a worker
        sends after the request that caused them."""
        deadline = time.monotonic() + timeout
        while True:
            found = [m for m in self.mails() if m["To"] == address]
            if found or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert len(found) == 1, f"{len(found)} mails to {address} within {timeout} s"
        return found[0]

    def mail_text(self, message: email.message.Message) -> str:
        part = next(p for p in message.walk() if p.get_content_type() == "text/plain")
        return part.get_payload(decode=True).decode()


def _worker_start(env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "chargenet",
            "--quiet",
            "worker",
            "-l",
            "WARNING",
            "--concurrency",
            "2",
            # Tasks other test modules queued and nobody ran are not this system's work.
            "--purge",
            # Beat inside the worker, as in production: the outbox sweep delivers an event whose
            # nudge was dropped while the worker was busy (chargenet/events.py).
            "--beat",
            "-s",
            os.path.join(tempfile.mkdtemp(prefix="e2e-beat-"), "celerybeat-schedule"),
            "-n",
            f"e2e-{os.getpid()}@%h",
        ],
        env={**os.environ, **env},
        cwd=REPO,
        stdout=subprocess.DEVNULL,
    )


def _wait_for_worker(base_url: str, worker: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    body: Any = None
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            raise AssertionError(f"the Celery worker exited with code {worker.returncode}")
        status, body = http_get_json(f"{base_url}/healthz?worker=1", timeout=15)
        if status == 200:
            return
        time.sleep(0.5)
    raise AssertionError(f"the Celery worker did not answer within {timeout} s: {body}")


@pytest.fixture(scope="package")
def live_system(test_db_name, redis_server, tmp_path_factory):
    mail_dir = tmp_path_factory.mktemp("mail")
    env = {
        "DJANGO_SETTINGS_MODULE": "tests.e2e.server_settings",
        "CHARGENET_TEST_DB_NAME": test_db_name,
        "CHARGENET_TEST_MAIL_DIR": str(mail_dir),
        # Card changes reach the local lists after one second instead of ten.
        "LOCAL_LIST_DEBOUNCE": "1",
        "OCPP_CALL_TIMEOUT": "10",
        "OCPP_MAX_FRAME_BYTES": "65536",
        "LOG_LEVEL": "WARNING",
    }
    server: Server = server_start(test_db_name, **env)
    worker = _worker_start(env)
    try:
        _wait_for_worker(server.base_url, worker)
        yield LiveSystem(base_url=server.base_url, ocpp_url=server.url, mail_dir=mail_dir, env=env)
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
        server_stop(server)


class StationLoop:
    """An asyncio loop in a background thread that runs the simulated stations, so that tests (and
    Playwright's synchronous API in the main thread) stay synchronous."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="stations", daemon=True)
        self.thread.start()

    def run(self, coroutine: Coroutine, timeout: float = 30.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


@pytest.fixture(scope="package")
def station_loop():
    loop = StationLoop()
    yield loop
    loop.close()


def in_thread(function: Callable, /, *args: Any, **kwargs: Any) -> Any:
    """Run ORM work in a worker thread: Playwright's event loop owns the main thread, and a service
    that publishes a domain event (async_to_sync) refuses to run beside a running loop."""

    def call():
        try:
            return function(*args, **kwargs)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(call).result()


@dataclass
class Stations:
    """Registers stations and connects simulated ones to the live system; closes them after the test."""

    system: LiveSystem
    loop: StationLoop
    running: list[SimulatedStation] = field(default_factory=list)

    def connect(
        self, identity: str, *, evses: int = 2, local_list: bool = False, **station_fields: Any
    ) -> SimulatedStation:
        """Register a public station and connect a simulated one under its identity (booted, every
        connector Available); `local_list` makes the operator's choice that it keeps a local list."""
        from stations.access.services import station_access_set
        from stations.services import station_create

        station, _ = in_thread(
            station_create, identity=identity, password=STATION_PASSWORD, evses=evses, **station_fields
        )
        if local_list:
            in_thread(station_access_set, station=station, is_public=True, local_list_enabled=True)
        sim = SimulatedStation(
            url=self.system.ocpp_url,
            identity=identity,
            password=STATION_PASSWORD,
            connectors=evses,
            meter_interval=0.5,
            response_timeout=10,
            max_power_w=11000,
        )
        # One real second charges for a simulated minute, so every meter value adds energy.
        sim.time_scale = 60
        sim.step_delay = 0
        self.running.append(sim)

        async def bring_up():
            await sim.connect()
            boot = await sim.boot()
            assert boot.status == "Accepted", boot
            await sim.status_all()

        self.loop.run(bring_up())
        return sim

    def run(self, coroutine: Coroutine, timeout: float = 30.0) -> Any:
        return self.loop.run(coroutine, timeout)

    def close(self) -> None:
        for sim in self.running:
            self.loop.run(sim.close())


@pytest.fixture
def stations(live_system, station_loop, transactional_db):
    stations = Stations(system=live_system, loop=station_loop)
    yield stations
    stations.close()


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium for one module (Playwright's loop must be gone before other modules run)."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"no Chromium at {CHROMIUM} (install the Debian package chromium or set CHROMIUM_PATH)")
    from playwright.sync_api import sync_playwright

    # The test's own ORM calls are plain synchronous code beside Playwright's loop in this thread.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield chromium
            chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def new_page(browser):
    """Open pages in fresh browser contexts (one per person); all are closed after the test."""
    contexts = []

    def open_page(*, phone: bool = False):
        context = browser.new_context(
            viewport={"width": 390, "height": 844} if phone else {"width": 1280, "height": 900}
        )
        context.set_default_timeout(15000)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


def log_in(page, base_url: str, username: str, password: str) -> None:
    """Log in through the log-in page, as a person would."""
    page.goto(f"{base_url}/login/")
    page.get_by_label(re.compile("Username|E-mail", re.I)).fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name=re.compile("Log in", re.I)).click()
    page.wait_for_load_state()
