"""The whole system under `manage.py run` (embedded Redis supervised with the rest, the pytest test
database), a fleet of simulated chargers that behave like real ones (a transaction message is sent
again, unchanged, until it is answered), and SIGKILL of one process at a time."""

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import pytest
from ocpp.v16 import call

from stations.simulator import SimulatedStation
from stations.simulator.station import now_iso
from tests.support import REPO, free_port, http_get_json

HEALTH_TIMEOUT = 30.0  # the promise: healthy again within 30 s of a kill
SERVED_TIMEOUT = 30.0  # and every charger served again within 30 s
VISIBILITY_TIMEOUT = 10


@dataclass
class System:
    """`manage.py run` on a free port; its children are found by their command lines."""

    process: subprocess.Popen
    base_url: str
    ocpp_url: str
    data_dir: Path
    log_path: Path

    def child(self, name: str) -> psutil.Process:
        for child in psutil.Process(self.process.pid).children():
            with contextlib.suppress(psutil.Error):
                cmdline = " ".join(child.cmdline())
                if {
                    "web": "chargenet.asgi:application" in cmdline,
                    "worker": " worker " in f"{cmdline} ",
                    "beat": " beat " in f"{cmdline} ",
                    "redis": "redis-server" in cmdline,
                }[name]:
                    return child
        raise AssertionError(f"no {name} process under the supervisor:\n{self.log()}")

    def kill(self, name: str) -> float:
        """SIGKILL the child and everything in its process group (a worker's pool too); returns when."""
        child = self.child(name)
        os.killpg(child.pid, signal.SIGKILL)
        return time.monotonic()

    def health_after(self, killed_at: float, *, worker: bool = False, timeout: float = 120.0) -> float:
        """Seconds from `killed_at` until /healthz answers 200 (the database and the channel layer;
        with `worker`, also a Celery worker through the broker)."""
        url = f"{self.base_url}/healthz" + ("?worker=1" if worker else "")
        deadline = killed_at + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"the supervisor exited with {self.process.returncode}:\n{self.log()}")
            with contextlib.suppress(OSError, ValueError):
                status, _ = http_get_json(url, timeout=5)
                if status == 200:
                    return time.monotonic() - killed_at
            time.sleep(0.2)
        raise AssertionError(f"{url} not 200 within {timeout} s of the kill:\n{self.log()}")

    def redis_socket(self) -> str:
        """The Unix socket the embedded Redis listens on."""
        return next(c.laddr for c in self.child("redis").net_connections(kind="unix") if c.laddr)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]


@pytest.fixture(scope="module")
def emptied_afterwards(django_db_blocker, test_db_name):
    """What the scenarios stored is removed once the system has stopped (other tests expect an
    empty database)."""
    yield
    from django.core.management import call_command

    with django_db_blocker.unblock():
        call_command("flush", interactive=False, verbosity=0)


@pytest.fixture(scope="module")
def system(emptied_afterwards, test_db_name, tmp_path_factory) -> Iterator[System]:
    """The real system on the test database. Redis is always the embedded one (it is what the
    supervisor restarts), whatever REDIS_URL the tests themselves use."""
    data_dir = tmp_path_factory.mktemp("faults")
    log_path = data_dir / "run.log"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env |= {
        "DJANGO_SETTINGS_MODULE": "tests.stations.connection.server_settings",
        "CHARGENET_TEST_DB_NAME": test_db_name,
        "CHARGENET_DATA_DIR": str(data_dir),
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "DEMO": "0",
        "LOG_LEVEL": "WARNING",
        # A task whose worker was killed is handed on after 10 s instead of 5 minutes.
        "CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT),
        "BILLING_INVOICE_PERIOD": "daily",
        "WEBHOOK_ALLOW_PRIVATE_HOSTS": "1",
        "EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",
    }
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, str(REPO / "manage.py"), "run", "--no-seed"],
            env=env,
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    system = System(process, f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}/ocpp/", data_dir, log_path)
    try:
        system.health_after(time.monotonic(), worker=True, timeout=120)
        yield system
    finally:
        children = psutil.Process(process.pid).children(recursive=True) if process.poll() is None else []
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        for child in children:
            with contextlib.suppress(psutil.Error):
                child.kill()


@dataclass
class Ack:
    """A CALL the charger sent and the CSMS answered: from here on the CSMS owns it."""

    action: str
    payload: Any
    response: Any
    at: float


@dataclass
class Charger:
    """A simulated charger that behaves like a real one across outages: it reconnects with a short
    back-off (without a new BootNotification) and sends a transaction message again, unchanged,
    until it gets an answer."""

    identity: str
    password: str
    url: str
    id_tag: str
    acks: list[Ack] = field(default_factory=list)
    call_errors: list[str] = field(default_factory=list)
    completed: list[int] = field(default_factory=list)
    booted: bool = False
    connects: int = 0  # WebSocket connections opened, the first included

    def __post_init__(self) -> None:
        self.sim = SimulatedStation(
            url=self.url, identity=self.identity, password=self.password, connectors=1, response_timeout=10
        )

    async def _online(self) -> None:
        while not self.sim.connected:
            try:
                await self.sim.close()
                await self.sim.connect(open_timeout=5)
                self.connects += 1
                # Boot once: after a lost connection a charger reconnects without rebooting (a
                # boot would end its running session).
                if not self.booted:
                    boot = await self.sim.boot()
                    if boot.status != "Accepted":
                        raise ConnectionError(f"boot {boot.status}")
                    self.booted = True
            except Exception:
                await asyncio.sleep(0.5)

    async def send(self, payload: Any) -> Any:
        while True:
            await self._online()
            try:
                response = await self.sim.send(payload)
            except Exception as exc:
                if hasattr(exc, "code"):  # a CALLERROR: not acknowledged, a charger tries again
                    self.call_errors.append(f"{type(payload).__name__}: {exc}")
                await asyncio.sleep(0.3)
                continue
            self.acks.append(Ack(type(payload).__name__, payload, response, time.monotonic()))
            return response

    async def charge(self, stop: asyncio.Event) -> None:
        """Sessions back to back (start, three meter values, stop) until `stop` is set."""
        meter = 0
        while not stop.is_set():
            answer = await self.send(
                call.StartTransaction(
                    connector_id=1, id_tag=self.id_tag, meter_start=meter, timestamp=now_iso()
                )
            )
            transaction_id = answer.transaction_id
            for _ in range(3):
                await asyncio.sleep(0.3)
                meter += 250
                await self.send(
                    call.MeterValues(
                        connector_id=1,
                        transaction_id=transaction_id,
                        meter_value=[
                            {
                                "timestamp": now_iso(),
                                "sampled_value": [
                                    {
                                        "value": str(meter),
                                        "measurand": "Energy.Active.Import.Register",
                                        "unit": "Wh",
                                    }
                                ],
                            }
                        ],
                    )
                )
            meter += 250
            await self.send(
                call.StopTransaction(transaction_id=transaction_id, meter_stop=meter, timestamp=now_iso())
            )
            self.completed.append(transaction_id)

    def served_since(self, moment: float) -> float | None:
        """Seconds from `moment` to this charger's first answered message after it."""
        later = [ack.at for ack in self.acks if ack.at > moment]
        return min(later) - moment if later else None
