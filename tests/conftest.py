"""Fixtures shared by every test: the embedded Redis, personas and the free-port helper."""

import pytest
from django.conf import settings

from chargenet import embedded


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


@pytest.fixture(scope="session")
def test_db_name(django_db_setup, django_db_blocker) -> str:
    """The test database's name, for server processes started on it (see tests/ocpp/server_settings.py)."""
    from django.db import connection

    return str(connection.settings_dict["NAME"])
