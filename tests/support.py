"""Helpers for tests that start real ChargeNet processes and talk to them over sockets."""

import contextlib
import http.cookiejar
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# Browser tests: Playwright drives the system Chromium (env CHROMIUM_PATH), headless and quiet.
CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_get_json(url: str, timeout: float = 15.0) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def wait_for_health(base_url: str, process: subprocess.Popen, timeout: float = 60.0) -> dict:
    """Poll /healthz until it answers 200; fail early when the process dies."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited with code {process.returncode} before it was healthy")
        try:
            status, body = http_get_json(f"{base_url}/healthz", timeout=3)
            if status == 200:
                return body
            last = body
        except (OSError, ValueError) as exc:
            last = exc
        time.sleep(0.3)
    raise AssertionError(f"/healthz not healthy within {timeout} s: {last}")


def manage_py(*args: str, env: dict[str, str] | None = None, **kwargs) -> subprocess.Popen:
    """Start `manage.py <args>` with the test environment plus `env`."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.Popen(
        [sys.executable, str(REPO / "manage.py"), *args], env=full_env, cwd=REPO, **kwargs
    )


@contextlib.contextmanager
def run_command_started(data_dir: Path, **env: str) -> Iterator[tuple[subprocess.Popen, str]]:
    """`manage.py run` (the supervisor) on a free port with `data_dir`, healthy; yields the process
    (stdout piped, text) and its base URL, and kills it with every child afterwards."""
    import psutil

    port = free_port()
    env = {"PORT": str(port), "HOST": "127.0.0.1", "CHARGENET_DATA_DIR": str(data_dir), **env}
    process = manage_py("run", env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_for_health(base_url, process, timeout=90)
        yield process, base_url
    finally:
        if process.poll() is None:
            children = psutil.Process(process.pid).children(recursive=True)
            process.kill()
            for child in children:
                child.kill()


def demo_login_read(process: subprocess.Popen, timeout: float = 20.0) -> tuple[str, str]:
    """The demo operator's user name and password from the run command's banner."""
    banner = ""
    deadline = time.monotonic() + timeout
    while "Demo login" not in banner and time.monotonic() < deadline:
        banner += process.stdout.readline()
    match = re.search(r"Demo login\s+(\S+) / (\S+)", banner)
    assert match, banner
    return match.group(1), match.group(2)


def login_opener(base_url: str, username: str, password: str):
    """Log in through the log-in page; returns (opener keeping the session cookie, response status,
    final URL, page HTML)."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(f"{base_url}/login/", timeout=15).read().decode()
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    form = urllib.parse.urlencode({"username": username, "password": password, "csrfmiddlewaretoken": csrf})
    request = urllib.request.Request(
        f"{base_url}/login/", data=form.encode(), headers={"Referer": f"{base_url}/login/"}
    )
    with opener.open(request, timeout=15) as response:
        return opener, response.status, response.url, response.read().decode()
