"""The smart-charging tests use the OCPP test server (tests/stations/connection) and, for the
scenarios, the live system of the e2e tests (server, Celery worker with beat, simulated stations)."""

from tests.e2e.conftest import browser as e2e_browser  # noqa: F401
from tests.e2e.conftest import live_system, new_page, station_loop, stations  # noqa: F401
from tests.stations.connection.conftest import ocpp_server, run  # noqa: F401
