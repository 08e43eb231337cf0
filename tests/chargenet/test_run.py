"""The one supervised run command, started for real: web, worker, beat and Redis together."""

import http.cookiejar
import re
import signal
import subprocess
import time
import urllib.parse
import urllib.request

import psutil
import pytest

from tests.support import free_port, http_get_json, manage_py, wait_for_health


@pytest.fixture
def running_system(tmp_path):
    port = free_port()
    data_dir = tmp_path / "data"
    env = {
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "CHARGENET_DATA_DIR": str(data_dir),
        "DEMO": "1",
        "DEMO_STATIONS": "0",
    }
    process = manage_py("run", env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_for_health(base_url, process, timeout=90)
        yield process, base_url, data_dir
    finally:
        if process.poll() is None:
            process.kill()
            for child in (
                psutil.Process(process.pid).children(recursive=True) if psutil.pid_exists(process.pid) else []
            ):
                child.kill()


def login(base_url: str, username: str, password: str) -> tuple[int, str, str]:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(f"{base_url}/login/", timeout=15).read().decode()
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    form = urllib.parse.urlencode({"username": username, "password": password, "csrfmiddlewaretoken": csrf})
    request = urllib.request.Request(
        f"{base_url}/login/", data=form.encode(), headers={"Referer": f"{base_url}/login/"}
    )
    with opener.open(request, timeout=15) as response:
        return response.status, response.url, response.read().decode()


def test_the_run_command_serves_logs_in_runs_tasks_and_stops_cleanly(running_system):
    process, base_url, data_dir = running_system

    # given the printed demo login
    banner = ""
    deadline = time.monotonic() + 20
    while "Demo login" not in banner and time.monotonic() < deadline:
        banner += process.stdout.readline()
    match = re.search(r"Demo login\s+(\S+) / (\S+)", banner)
    assert match, banner

    # when an operator logs in through the login page
    status, url, page = login(base_url, match.group(1), match.group(2))

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
    assert "daphne" in names and "worker" in names and "beat" in names
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
    web = next(c for c in psutil.Process(process.pid).children() if "daphne" in " ".join(c.cmdline()))

    web.kill()
    web.wait(timeout=10)
    time.sleep(1)

    health = wait_for_health(base_url, process, timeout=60)
    assert health["status"] == "ok"
    new_web = next(c for c in psutil.Process(process.pid).children() if "daphne" in " ".join(c.cmdline()))
    assert new_web.pid != web.pid
