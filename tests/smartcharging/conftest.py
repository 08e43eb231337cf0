"""The smart-charging tests use the OCPP test server (tests/stations/connection) and, for the
scenarios, a live system like the e2e tests' (server, Celery worker with beat, simulated stations)
whose beat does not apply the schedules by itself: the tests drive them with a controlled clock."""

import subprocess

import pytest

from tests.e2e.conftest import (  # noqa: F401
    LiveSystem,
    _wait_for_worker,
    _worker_start,
    new_page,
    station_loop,
    stations,
)
from tests.stations.connection.conftest import (  # noqa: F401
    Server,
    ocpp_server,
    run,
    server_start,
    server_stop,
)


@pytest.fixture(scope="package")
def live_system(test_db_name, redis_server, tmp_path_factory):
    mail_dir = tmp_path_factory.mktemp("mail")
    env = {
        "DJANGO_SETTINGS_MODULE": "tests.e2e.server_settings",
        "CHARGENET_TEST_DB_NAME": test_db_name,
        "CHARGENET_TEST_MAIL_DIR": str(mail_dir),
        "OCPP_CALL_TIMEOUT": "10",
        "LOG_LEVEL": "WARNING",
        # The tests apply the schedules at the moments they choose (schedules_apply(now=…)).
        "SMART_SCHEDULE_TICK": "86400",
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
