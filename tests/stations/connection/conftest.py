"""One real ASGI server (as `manage.py run` starts it) for the OCPP tests, on the pytest-django test database and the test Redis."""

import asyncio
import subprocess
from dataclasses import dataclass

import pytest

from chargenet.web_server import web_server_argv
from tests.support import REPO, free_port, wait_for_health

SERVER_ENV = {
    "DJANGO_SETTINGS_MODULE": "tests.stations.connection.server_settings",
    "OCPP_CALL_TIMEOUT": "3",
    "OCPP_MAX_FRAME_BYTES": "8192",
    "LOG_LEVEL": "WARNING",
    # nginx of test_tls.py runs on this host: its verified client certificate headers are believed.
    "OCPP_TRUSTED_PROXIES": "127.0.0.1",
}


@dataclass
class Server:
    url: str  # ws://127.0.0.1:PORT/ocpp/
    base_url: str
    process: subprocess.Popen


def server_start(db_name: str, port: int | None = None, **env: str) -> Server:
    """Start the server on `port` (a free one when not given), the environment overridden by `env`."""
    import os

    port = port or free_port()
    process = subprocess.Popen(
        web_server_argv(host="127.0.0.1", port=port),
        env={**os.environ, **SERVER_ENV, "CHARGENET_TEST_DB_NAME": db_name, **env},
        cwd=REPO,
        stdout=subprocess.DEVNULL,  # the access log; errors go to stderr
    )
    base_url = f"http://127.0.0.1:{port}"
    wait_for_health(base_url, process, timeout=60)
    return Server(url=f"ws://127.0.0.1:{port}/ocpp/", base_url=base_url, process=process)


def server_stop(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()


@pytest.fixture(scope="session")
def ocpp_server(test_db_name, redis_server):
    server = server_start(test_db_name)
    yield server
    server_stop(server)


@pytest.fixture
def run():
    """Run a test scenario coroutine to the end (tests stay synchronous so they may use the ORM)."""
    return lambda coroutine: asyncio.run(asyncio.wait_for(coroutine, 60))
