"""The live system (daphne, a Celery worker, simulated stations) for the OCPI scenarios over real
HTTP, and the fake eMSP on its own socket."""

import json
import os
import subprocess
import time
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.conftest import (  # noqa: F401  (fixtures)
    browser,
    live_system,
    new_page,
    station_loop,
    stations,
)
from tests.ocpi.emsp import FakeEmsp
from tests.ocpi.test_receiver_modules import a_token
from tests.support import free_port


@pytest.fixture
def emsp():
    fake = FakeEmsp().start()
    yield fake
    fake.stop()


PEER_DIR = Path(__file__).resolve().parent.parent / "peer"
PEER_PYTHON = PEER_DIR / ".venv" / "bin" / "python"


@dataclass
class IndependentEmsp:
    base: str
    token_a: str

    @property
    def versions_url(self) -> str:
        return f"{self.base}/ocpi/versions"

    def store(self) -> dict:
        with urllib.request.urlopen(f"{self.base}/store", timeout=10) as response:
            return json.loads(response.read())

    def wait_for(self, predicate, timeout: float = 30.0, what: str = "it") -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            store = self.store()
            if predicate(store):
                return store
            time.sleep(0.2)
        raise AssertionError(f"the independent eMSP did not get {what} within {timeout} s: {self.store()}")


@pytest.fixture
def independent_emsp():
    """An eMSP on extrawest's OCPI library (tests/ocpi/peer), in its own environment; skipped,
    saying why, when `make test` has not installed it."""
    yield from _independent_emsp("2.2.1")


@pytest.fixture
def independent_emsp_211():
    """The same independent eMSP speaking only OCPI 2.1.1."""
    yield from _independent_emsp("2.1.1")


def _independent_emsp(version: str):
    if not PEER_PYTHON.exists():
        pytest.skip(f"the independent eMSP is not installed ({PEER_DIR}/.venv; `make test` installs it)")
    port = free_port()
    token_a = "peer-token-a-" + uuid.uuid4().hex[:8]
    customers = [a_token(uid="PEERCARD1", whitelist="NEVER") | {"country_code": "BE", "party_id": "IND"}]
    process = subprocess.Popen(
        [str(PEER_PYTHON), "-m", "uvicorn", "emsp_app:app", "--app-dir", str(PEER_DIR),
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        env={**os.environ, "PEER_TOKEN_A": token_a, "PEER_PORT": str(port), "PEER_TOKENS": json.dumps(customers),
             "PROTOCOL": "http", "OCPI_HOST": f"127.0.0.1:{port}", "PEER_VERSION": version},
    )  # fmt: skip
    peer = IndependentEmsp(base=f"http://127.0.0.1:{port}", token_a=token_a)
    deadline = time.monotonic() + 30
    while True:
        try:
            peer.store()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("the independent eMSP did not start") from None
            time.sleep(0.2)
    yield peer
    process.terminate()
    process.wait(timeout=10)
