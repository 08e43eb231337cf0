"""Helpers for tests that start real ChargeNet processes and talk to them over sockets."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


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
