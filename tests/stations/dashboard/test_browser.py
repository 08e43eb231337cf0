"""The dashboard in headless Chromium against a real daphne + Redis channel layer.

The server runs in a subprocess on the test database; the test changes state through the same
service path the protocol layer uses, and the open pages must follow without a reload.
"""

import os
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

import pytest
from django.db import connection, connections
from django.test import Client

from stations.models import Command, Connector
from tests.stations.dashboard.conftest import connector_status_set, make_station
from tests.support import CHROMIUM, CHROMIUM_ARGS, REPO, free_port, wait_for_health

# The promise: an event shows on open pages within 2 s.
LIVE_DEADLINE_MS = 2000

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"no Chromium at {CHROMIUM}")


def _database_url() -> str:
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{settings['NAME']}"
    auth = quote(settings["USER"] or "")
    if settings.get("PASSWORD"):
        auth += ":" + quote(settings["PASSWORD"])
    return (
        f"postgres://{auth}@{settings['HOST'] or 'localhost'}:{settings['PORT'] or 5432}/{settings['NAME']}"
    )


@pytest.fixture(scope="session")
def live_server_url(django_db_setup, django_db_blocker):
    """daphne serving the whole ASGI app (HTTP + /ws/events/) on the test database."""
    with django_db_blocker.unblock():
        database_url = _database_url()
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "DEBUG": "1", "ALLOWED_HOSTS": "127.0.0.1,localhost"}
    process = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "chargenet.asgi:application"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_for_health(base_url, process, timeout=60)
        yield base_url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


# Module scope: Playwright's loop must be gone before other modules' tests run in this thread.
@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def logged_in(browser, live_server_url, transactional_db, monkeypatch):
    """A browser context signed in as `user` (the session cookie of a test client login)."""
    # Playwright's sync API runs an event loop in this thread; the ORM calls of the test are still
    # plain synchronous code.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    contexts = []

    def login(user):
        client = Client()
        client.force_login(user)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.add_cookies(
            [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server_url}]
        )
        contexts.append(context)
        return context

    yield login
    for context in contexts:
        context.close()


def outside_the_browser_loop(function, **kwargs):
    """Run a service in a worker thread: Playwright's event loop owns this one, and publishing an
    event (async_to_sync) refuses to run beside it."""

    def run():
        try:
            return function(**kwargs)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result()


def open_live(context, url):
    from playwright.sync_api import expect

    page = context.new_page()
    page.goto(url)
    expect(page.locator("#live-status")).to_have_text("Live", timeout=15000)
    return page


def test_a_status_change_updates_the_overview_and_the_station_page_without_reload(
    logged_in, live_server_url, operator
):
    from playwright.sync_api import expect

    # given an operator watching the overview and the station page
    station = outside_the_browser_loop(make_station, identity="LIVE-1")
    context = logged_in(operator)
    overview = open_live(context, f"{live_server_url}/dashboard/")
    station_page = open_live(context, f"{live_server_url}/stations/LIVE-1/")
    expect(overview.locator('[data-k="connectors_faulted"]')).to_have_text("0")
    for page in (overview, station_page):
        page.evaluate("window.__notReloaded = true")

    # when the station reports a fault on EVSE 2
    connector = Connector.objects.select_related("evse__station").get(evse__station=station, evse__evse_id=2)
    outside_the_browser_loop(
        connector_status_set, connector=connector, status="Faulted", error_code="GroundFailure"
    )

    # then both pages show it, without a reload
    expect(station_page.locator('[data-connector="2-1"]')).to_have_text("Faulted", timeout=LIVE_DEADLINE_MS)
    expect(overview.locator('[data-k="connectors_faulted"]')).to_have_text("1", timeout=LIVE_DEADLINE_MS)
    expect(overview.locator("#fault-list")).to_contain_text("GroundFailure", timeout=LIVE_DEADLINE_MS)
    for page in (overview, station_page):
        assert page.evaluate("window.__notReloaded") is True


def test_an_operators_remote_action_shows_its_command_status(logged_in, live_server_url, operator):
    from playwright.sync_api import expect

    outside_the_browser_loop(make_station, identity="LIVE-2", online=False)
    page = open_live(logged_in(operator), f"{live_server_url}/stations/LIVE-2/")

    page.get_by_text("Reset", exact=True).click()
    page.get_by_role("button", name="Soft reset").click()

    expect(page.locator("#station-commands")).to_contain_text("Queued")
    expect(page.locator("#station-commands")).to_contain_text(operator.username)
    assert Command.objects.get().requested_by == operator


def test_a_viewer_finds_no_action_buttons_and_a_forged_request_is_refused(logged_in, live_server_url, viewer):
    outside_the_browser_loop(make_station, identity="LIVE-3")
    page = logged_in(viewer).new_page()
    page.goto(f"{live_server_url}/stations/LIVE-3/")

    assert page.get_by_role("button", name="Soft reset").count() == 0
    assert page.get_by_role("button", name="Start").count() == 0
    status = page.evaluate(
        """async () => {
            const csrf = document.cookie.split('; ').find(c => c.startsWith('csrftoken='));
            const token = csrf ? csrf.split('=')[1] : '';
            const body = new URLSearchParams({action: 'reset', type: 'Hard', csrfmiddlewaretoken: token});
            const response = await fetch('/stations/LIVE-3/commands/', {method: 'POST', body, headers: {'X-CSRFToken': token}});
            return response.status;
        }"""
    )
    assert status == 403
    assert not Command.objects.exists()
