"""The one supervised run command, started for real: web, worker, beat and Redis together."""

import signal
import socket
import subprocess
import time

import psutil
import pytest

from tests.support import (
    demo_login_read,
    free_port,
    http_get_json,
    login_opener,
    manage_py,
    run_command_started,
    wait_for_health,
)


@pytest.fixture
def running_system(tmp_path):
    data_dir = tmp_path / "data"
    with run_command_started(data_dir, DEMO="1", DEMO_STATIONS="0") as (process, base_url):
        yield process, base_url, data_dir


def login(base_url: str, username: str, password: str) -> tuple[int, str, str]:
    return login_opener(base_url, username, password)[1:]


def test_the_run_command_serves_logs_in_runs_tasks_and_stops_cleanly(running_system):
    process, base_url, data_dir = running_system

    # given the printed demo logins, the operator's and the driver's
    username, password = demo_login_read(process)
    assert process.stdout.readline().split() == [
        "Driver",
        "login",
        "driver",
        "/",
        "chargenet-demo",
        "(driver)",
    ]

    # when an operator logs in through the login page
    status, url, page = login(base_url, username, password)

    # then the dashboard opens
    assert status == 200
    assert url.endswith("/dashboard/")
    assert "Network overview" in page

    # and a task queued by the web process is executed by the Celery worker through the broker
    status, health = http_get_json(f"{base_url}/healthz?worker=1", timeout=30)
    assert status == 200, health
    assert health["worker"] == "ok"

    # when the supervisor gets SIGTERM
    children = psutil.Process(process.pid).children(recursive=True)
    names = " ".join(" ".join(child.cmdline()) for child in children)
    assert "uvicorn" in names and "worker" in names and "beat" in names
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=60)

    # then every child has exited and no socket is left behind
    assert process.returncode == 0
    gone, alive = psutil.wait_procs(children, timeout=10)
    assert alive == []
    assert not (data_dir / "redis.sock").exists()


def test_a_wrong_password_is_refused_at_the_login_page(running_system):
    _, base_url, _ = running_system

    status, url, page = login(base_url, "operator", "not-the-password")

    assert url.endswith("/login/")
    assert "didn't match" in page


def test_a_child_that_dies_is_restarted(running_system):
    process, base_url, _ = running_system
    web = next(c for c in psutil.Process(process.pid).children() if "uvicorn" in " ".join(c.cmdline()))

    web.kill()
    web.wait(timeout=10)
    time.sleep(1)

    health = wait_for_health(base_url, process, timeout=60)
    assert health["status"] == "ok"
    new_web = next(c for c in psutil.Process(process.pid).children() if "uvicorn" in " ".join(c.cmdline()))
    assert new_web.pid != web.pid


def test_a_busy_port_is_one_clear_error_before_anything_claims_to_run(tmp_path):
    # given something already listening on the port
    port = free_port()
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", port))
        squatter.listen()

        # when ChargeNet is started on it
        process = manage_py(
            "run",
            env={"PORT": str(port), "HOST": "127.0.0.1", "CHARGENET_DATA_DIR": str(tmp_path / "data")},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        output, _ = process.communicate(timeout=60)

    # then it says so in one line and stops, having started nothing
    assert process.returncode == 1
    assert output.strip().splitlines() == [
        f"CommandError: port {port} on 127.0.0.1 is in use (Address already in use): stop what uses it, "
        "or start with PORT=<another port>"
    ]
    assert not (tmp_path / "data" / "redis.sock").exists()


@pytest.fixture
def embedded_redis_system(tmp_path):
    """The run command with its own supervised Redis, even where REDIS_URL names an external one (CI)."""
    data_dir = tmp_path / "data"
    with run_command_started(data_dir, DEMO="1", DEMO_STATIONS="0", REDIS_URL="") as (process, base_url):
        yield process, base_url, data_dir


def test_a_killed_redis_is_restarted_with_what_it_held(embedded_redis_system):
    import redis

    process, base_url, data_dir = embedded_redis_system
    supervisor = psutil.Process(process.pid)
    server = next(c for c in supervisor.children() if "redis-server" in " ".join(c.cmdline()))
    socket_path = next(c.laddr for c in server.net_connections(kind="unix") if c.laddr)
    # given a job waiting in a queue
    redis.Redis(unix_socket_path=socket_path).lpush("a-queue", "a job")

    # when Redis is killed
    server.kill()
    server.wait(timeout=10)

    # then the supervisor starts it again, the system is healthy, and the job is still queued
    health = wait_for_health(base_url, process, timeout=30)
    assert health["status"] == "ok"
    restarted = next(c for c in supervisor.children() if "redis-server" in " ".join(c.cmdline()))
    assert restarted.pid != server.pid
    assert redis.Redis(unix_socket_path=socket_path).lrange("a-queue", 0, -1) == [b"a job"]
