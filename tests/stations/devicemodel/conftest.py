"""The device model tests use the OCPP tests' real server (tests/stations/connection/conftest.py), and
the certificate tests' one with a throw-away CA (tests/stations/certificates/conftest.py)."""

from tests.stations.certificates.conftest import pki_server, station_ca  # noqa: F401
from tests.stations.connection.conftest import ocpp_server, run  # noqa: F401
