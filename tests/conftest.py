"""Fixtures shared by every test: the embedded Redis, personas and the browser fixtures."""

import pytest
from django.conf import settings

from chargenet import embedded

# Browser fixtures (headless Chromium against a live daphne), for every test package.
from tests.browser import browser, live_server_url, logged_in  # noqa: F401


@pytest.fixture(scope="session", autouse=True)
def redis_server():
    """The Redis behind the channel layer and Celery: the embedded one unless REDIS_URL is set."""
    process = None
    if settings.EMBEDDED_REDIS and not embedded.redis_ping(settings.REDIS_URL):
        process = embedded.redis_start(socket_path=settings.EMBEDDED_REDIS_SOCKET, data_dir=settings.DATA_DIR)
    yield settings.REDIS_URL
    if process is not None:
        process.terminate()
        process.wait(timeout=10)
        settings.EMBEDDED_REDIS_SOCKET.unlink(missing_ok=True)


@pytest.fixture(autouse=True)
def throttles_start_empty(redis_server):
    """Each test starts with no sign-in failures, lockouts or API rate counts: they live in the
    shared Redis cache (chargenet/signin.py) and would otherwise carry over from test to test."""
    from django.core.cache import cache

    client = cache._cache.get_client(write=True)  # type: ignore[attr-defined]
    for pattern in ("*:signin:*", "*throttle_*"):
        keys = list(client.scan_iter(match=pattern, count=1000))
        if keys:
            client.delete(*keys)


@pytest.fixture(autouse=True)
def fresh_channel_layer():
    """Each test gets its own channel layer object: channels_redis binds a layer's receive lock to the
    event loop of its first receiver, and an async test of an earlier module (its own loop) may have
    left a receive pending."""
    from channels.layers import channel_layers

    channel_layers.backends.clear()


@pytest.fixture
def operator(django_user_model):
    return django_user_model.objects.create_user(username="olivia", password="pw-olivia-1", role="operator")


@pytest.fixture
def viewer(django_user_model):
    return django_user_model.objects.create_user(username="victor", password="pw-victor-1", role="viewer")


@pytest.fixture
def admin_user(django_user_model):
    return django_user_model.objects.create_user(username="ada", password="pw-ada-1", role="admin")


@pytest.fixture
def driver(django_user_model):
    from rfid.models import Driver

    user = django_user_model.objects.create_user(username="dana", password="pw-dana-1", role="driver")
    return Driver.objects.create(user=user, name="Dana", email="dana@example.com")


@pytest.fixture
def other_driver(django_user_model):
    from rfid.models import Driver

    user = django_user_model.objects.create_user(username="bob", password="pw-bob-1", role="driver")
    return Driver.objects.create(user=user, name="Bob", email="bob@example.com")


@pytest.fixture
def sam(django_user_model):
    """Support staff with a Django admin login."""
    return django_user_model.objects.create_superuser(username="sam", password="pw-sam-1", role="admin")


@pytest.fixture
def eager_tasks():
    """Celery tasks run in-process, at once: the worker is outside what the test looks at."""
    from chargenet.celery import app as celery_app

    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = False


@pytest.fixture(scope="session", autouse=True)
def flush_survives_a_live_server():
    """Retry the between-test flush when PostgreSQL picks it as a deadlock victim.

    End-to-end tests share one live server process; after a test its last writes (a disconnect, a
    batched log flush) can still be running while the flush's TRUNCATE takes its table locks.
    PostgreSQL breaks such a deadlock by failing one side; when that is the flush, retry it (the
    server's side belongs to a test that has already finished; production never truncates).
    """
    import time

    from django.core.management.base import CommandError
    from django.core.management.commands import flush

    original = flush.Command.handle

    def handle(self, *args, **options):
        for attempt in range(5):
            try:
                return original(self, *args, **options)
            except CommandError as exc:
                if attempt == 4 or "deadlock" not in str(exc.__cause__).lower():
                    raise
                time.sleep(0.2 * (attempt + 1))

    flush.Command.handle = handle
    yield
    flush.Command.handle = original


@pytest.fixture(scope="session")
def test_db_name(django_db_setup, django_db_blocker) -> str:
    """The test database's name, for server processes started on it (see tests/stations/connection/server_settings.py)."""
    from django.db import connection

    return str(connection.settings_dict["NAME"])
