"""The live system for fleet scenarios: the e2e system (daphne, a Celery worker with beat, simulated
stations, headless Chromium) plus the FTP upload server, with the public URL stations download from
and upload to known in advance, and a one-second campaign tick."""

import json
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from typing import Any

import pytest

from chargenet.web_server import web_server_argv
from tests.api.conftest import operator_api, viewer_api  # noqa: F401 - API clients per persona
from tests.e2e.conftest import (  # noqa: F401 - fixtures shared with the e2e scenarios
    LiveSystem,
    _wait_for_worker,
    _worker_start,
    browser,
    in_thread,
    new_page,
    station_loop,
    stations,
)
from tests.stations.connection.conftest import SERVER_ENV, ocpp_server, run  # noqa: F401 - test_part6_l.py
from tests.support import REPO, free_port, wait_for_health


@dataclass
class FleetSystem(LiveSystem):
    ftp_port: int = 0
    worker: subprocess.Popen | None = None

    def worker_kill(self) -> None:
        """SIGKILL the Celery worker (and its pool and embedded beat) mid-work, as a crash would."""
        import psutil

        assert self.worker is not None
        parent = psutil.Process(self.worker.pid)
        for process in [*parent.children(recursive=True), parent]:
            process.kill()
        self.worker.wait(timeout=20)

    def worker_start(self) -> None:
        self.worker = _worker_start(self.env)
        _wait_for_worker(self.base_url, self.worker)


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope="package")
def live_system(test_db_name, redis_server, tmp_path_factory):
    import os

    port, ftp_port = free_port(), free_port()
    mail_dir = tmp_path_factory.mktemp("mail")
    env = {
        "DJANGO_SETTINGS_MODULE": "tests.e2e.server_settings",
        "CHARGENET_TEST_DB_NAME": test_db_name,
        "CHARGENET_TEST_MAIL_DIR": str(mail_dir),
        "OCPP_CALL_TIMEOUT": "10",
        "OCPP_MAX_FRAME_BYTES": "65536",
        "LOG_LEVEL": "WARNING",
        "FLEET_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "FLEET_TICK_SECONDS": "1",
        "FLEET_FTP_HOST": "127.0.0.1",
        "FLEET_FTP_PUBLIC_HOST": "127.0.0.1",
        "FLEET_FTP_PORT": str(ftp_port),
        "FLEET_FTP_PASSIVE_PORTS": "",
    }
    server = subprocess.Popen(
        web_server_argv(host="127.0.0.1", port=port),
        env={**os.environ, **SERVER_ENV, **env},
        cwd=REPO,
        stdout=subprocess.DEVNULL,
    )
    base_url = f"http://127.0.0.1:{port}"
    ftp = None
    system = FleetSystem(
        base_url=base_url,
        ocpp_url=f"ws://127.0.0.1:{port}/ocpp/",
        mail_dir=mail_dir,
        env=env,
        ftp_port=ftp_port,
    )
    try:
        wait_for_health(base_url, server, timeout=60)
        ftp = subprocess.Popen(
            [sys.executable, str(REPO / "manage.py"), "fleet_ftp"],
            env={**os.environ, **env},
            cwd=REPO,
            stdout=subprocess.DEVNULL,
        )
        system.worker_start()
        yield system
    finally:
        for process in (ftp, system.worker, server):
            if process is not None and process.poll() is None:
                _stop(process)


class Api:
    """The REST API over HTTP with an operate key, as an integrator calls it."""

    def __init__(self, base_url: str, key: str) -> None:
        self.base_url, self.key = base_url, key

    def request(
        self, method: str, path: str, body: Any = None, *, content_type: str = "application/json"
    ) -> tuple[int, Any]:
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.base_url}{path}",
            data=data,
            method=method,
            headers={"Authorization": f"Token {self.key}", "Content-Type": content_type},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                raw = response.read()
                status = response.status
        except urllib.error.HTTPError as exc:
            raw, status = exc.read(), exc.code
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw

    def get(self, path: str) -> tuple[int, Any]:
        return self.request("GET", path)

    def post(self, path: str, body: Any = None) -> tuple[int, Any]:
        return self.request("POST", path, body if body is not None else {})

    def upload(self, path: str, fields: dict[str, str], file_name: str, content: bytes) -> tuple[int, Any]:
        boundary = uuid.uuid4().hex
        parts = [
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
            for name, value in fields.items()
        ]
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{file_name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n".encode()
            + content
            + b"\r\n"
        )
        body = b"".join(parts) + f"--{boundary}--\r\n".encode()
        return self.request("POST", path, body, content_type=f"multipart/form-data; boundary={boundary}")


@pytest.fixture
def api(live_system, operator):
    from chargenet.api.services import api_key_create

    _, key = in_thread(api_key_create, user=operator, name="fleet tests", role="operate")
    return Api(live_system.base_url, key)
