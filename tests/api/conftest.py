"""Fixtures of the API tests: an API client per persona, each with its own key."""

import pytest
from rest_framework.test import APIClient

from chargenet.api.services import api_key_create


def _client_for(user, role: str = "operate") -> APIClient:
    _, key = api_key_create(user=user, name="tests", role=role)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.fixture
def anonymous(db):
    return APIClient()


@pytest.fixture
def operator_api(operator):
    return _client_for(operator)


@pytest.fixture
def operator_read_key_api(operator):
    return _client_for(operator, role="read")


@pytest.fixture
def viewer_api(viewer):
    return _client_for(viewer)


@pytest.fixture
def driver_api(driver):
    return _client_for(driver.user)


@pytest.fixture
def other_driver_api(other_driver):
    return _client_for(other_driver.user)


@pytest.fixture
def station(db):
    from stations.services import station_create

    return station_create(identity="CP-1", evses=2)[0]
