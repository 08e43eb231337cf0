"""The certificate tests' own server: the normal ASGI server with a throw-away CA configured
(OCPP_CA_CERT_FILE / OCPP_CA_KEY_FILE) and the test double of the ISO 15118 provider."""

import pytest

from tests.stations.certificates.pki import ca_make
from tests.stations.connection.conftest import ocpp_server, run, server_start, server_stop  # noqa: F401

ORGANIZATION = "ChargeNet Tests"


@pytest.fixture(scope="session")
def station_ca(tmp_path_factory):
    return ca_make(tmp_path_factory.mktemp("station-ca"))


@pytest.fixture(scope="session")
def pki_server(test_db_name, redis_server, station_ca):
    server = server_start(
        test_db_name,
        OCPP_CA_CERT_FILE=str(station_ca.cert_file),
        OCPP_CA_KEY_FILE=str(station_ca.key_file),
        OCPP_CA_ORGANIZATION=ORGANIZATION,
        OCPP_CERTIFICATE_PROVIDER="tests.stations.certificates.provider.FakeProvider",
    )
    yield server
    server_stop(server)
