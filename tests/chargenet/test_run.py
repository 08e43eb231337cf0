"""The one supervised run command, started for real: web, worker, beat and Redis together."""

import signal
import time

import psutil
import pytest

from tests.support import demo_login_read, http_get_json, login_opener, run_command_started, wait_for_health


@pytest.fixture
def running_system(tmp_path):
    data_dir = tmp_path / "data"
    with run_command_started(data_dir, DEMO="1", DEMO_STATIONS="0") as (process, base_url):
        yield process, base_url, data_dir


def login(base_url: str, username: str, password: str) -> tuple[int, str, str]:
    return login_opener(base_url, username, password)[1:]


def test_the_run_command_serves_logs_in_runs_tasks_and_stops_cleanly(running_system):
    process, base_url, data_dir = running_system

    # given the printed demo login
    username, password = demo_login_read(process)

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


def test_a_killed_redis_is_restarted_with_what_it_held(running_system):
    import redis

    process, base_url, data_dir = running_system
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
