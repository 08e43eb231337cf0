"""The live system (daphne, a Celery worker, simulated stations) for the OCPI scenarios over real
HTTP, and the fake eMSP on its own socket."""

import pytest

from tests.e2e.conftest import live_system, station_loop, stations  # noqa: F401  (fixtures)
from tests.ocpi.emsp import FakeEmsp


@pytest.fixture
def emsp():
    fake = FakeEmsp().start()
    yield fake
    fake.stop()
