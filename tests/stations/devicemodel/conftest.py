"""The device model tests use the OCPP tests' real server (tests/stations/connection/conftest.py)."""

from tests.stations.connection.conftest import ocpp_server, run  # noqa: F401
