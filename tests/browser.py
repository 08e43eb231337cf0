"""Pages in headless Chromium against a real daphne + Redis channel layer on the test database.

`live_server_url` serves the whole ASGI app (HTTP and the /ws/events/ live feed); `logged_in(user)`
gives a browser context signed in as that user, desktop-sized or phone-sized. Tests change state
through the same services the protocol layer uses, and the open pages must follow without a reload.
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

from tests.support import CHROMIUM, CHROMIUM_ARGS, REPO, free_port, wait_for_health

# The promise of the live feed: an event shows on open pages within 2 s.
LIVE_DEADLINE_MS = 2000
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


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

    def login(user, viewport=DESKTOP):
        client = Client()
        client.force_login(user)
        context = browser.new_context(viewport=viewport)
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


# For every table.list on the page: its visible header texts, and per row (head, body, foot) the
# number of columns its visible cells span, and whether any cell sticks out of the page sideways
# without the table scrolling.
_TABLES_JS = """() => Array.from(document.querySelectorAll('table.list')).map(table => {
  const visible = cell => cell.offsetParent !== null && getComputedStyle(cell).display !== 'none';
  return {
    headers: Array.from(table.querySelectorAll('thead th')).filter(visible).map(th => th.innerText.trim()),
    spans: Array.from(table.rows).map(row =>
      Array.from(row.cells).filter(visible).reduce((n, cell) => n + cell.colSpan, 0)),
    scrolls: table.scrollWidth <= table.clientWidth || getComputedStyle(table).overflowX === 'auto',
  };
})"""


def tables_on(page) -> list[dict]:
    """The shape of every list table on `page` (see _TABLES_JS)."""
    return page.evaluate(_TABLES_JS)
