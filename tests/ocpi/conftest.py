"""Fixtures of the OCPI tests: a fake eMSP on a real socket, partners, and an OCPI client for the
in-process server."""

import base64
import json
from typing import Any

import pytest

from tests.ocpi.cpo import FakeCpo
from tests.ocpi.emsp import FakeEmsp


@pytest.fixture(autouse=True)
def partners_on_loopback(settings):
    # The fake eMSP listens on 127.0.0.1, which the SSRF guard refuses outside DEBUG.
    settings.OCPI_ALLOW_PRIVATE_HOSTS = True


@pytest.fixture
def emsp():
    fake = FakeEmsp().start()
    yield fake
    fake.stop()


class Ocpi:
    """Speaks OCPI to the in-process server as a partner would."""

    def __init__(self, client):
        self.client = client

    def __call__(
        self, method: str, path: str, *, token: str | None = None, body: Any = None, raw: bytes | None = None,
        encode: bool = True, headers: dict | None = None,
    ):  # fmt: skip
        all_headers = dict(headers or {})
        if token is not None:
            all_headers["Authorization"] = "Token " + (
                base64.b64encode(token.encode()).decode() if encode else token
            )
        data = raw if raw is not None else (json.dumps(body) if body is not None else "")
        response = self.client.generic(
            method, path, data, content_type="application/json", headers=all_headers
        )
        response.body = json.loads(response.content) if response.content else None
        return response


@pytest.fixture
def ocpi(client):
    return Ocpi(client)


@pytest.fixture
def partner_with_token_a(db):
    from ocpi.services import partner_create

    return partner_create(name="Example eMSP", country_code="DE", party_id="EMS", roles=["EMSP"])


@pytest.fixture
def registered(ocpi, emsp, partner_with_token_a):
    """The fake eMSP registered with ChargeNet: returns (partner, token C it calls us with)."""
    partner, token_a = partner_with_token_a
    response = ocpi("POST", "/ocpi/2.2.1/credentials", token=token_a, body=emsp.credentials())
    assert response.body["status_code"] == 1000, response.body
    partner.refresh_from_db()
    return partner, response.body["data"]["token"]


@pytest.fixture
def network(db):
    """Two published locations with a station each (EVSE statuses live), and one private location."""
    from datetime import UTC, datetime
    from decimal import Decimal

    from stations.models import Connector, Evse, Location, Station

    def place(name: str, identity: str, *, public: bool = True, evses: int = 2) -> Location:
        location = Location.objects.create(
            name=name, address="Kade 1", city="Amsterdam", postal_code="1011AA", country="NLD",
            latitude=Decimal("52.370216"), longitude=Decimal("4.895168"), time_zone="Europe/Amsterdam",
            is_public=public,
        )  # fmt: skip
        Location.objects.filter(pk=location.pk).update(created_at=datetime(2025, 12, 1, tzinfo=UTC))
        station = Station.objects.create(identity=identity, location=location, is_online=True)
        for number in range(1, evses + 1):
            evse = Evse.objects.create(station=station, evse_id=number)
            Connector.objects.create(
                evse=evse,
                connector_id=1,
                status="Available",
                status_updated_at=datetime(2026, 1, 1, tzinfo=UTC),
            )
        return location

    return [place("Harbour", "CP-1"), place("Station square", "CP-2"), place("Depot", "CP-3", public=False)]


# --- the eMSP role: a CPO partner and a roaming card of ours ----------------------------------------


@pytest.fixture
def cpo():
    fake = FakeCpo().start()
    yield fake
    fake.stop()


@pytest.fixture
def cpo_partner(cpo):
    """ChargeNet registered with the fake CPO (its token A given by the operator)."""
    from ocpi import services

    partner, _ = services.partner_create(name="Example CPO", country_code="BE", party_id="CPX", roles=["CPO"])
    return services.partner_register_with(
        partner=partner, versions_url=cpo.versions_url, token_a="cpo-token-a",
        our_versions_url="http://testserver/ocpi/versions",
    )  # fmt: skip


@pytest.fixture
def card(driver):
    """Dana's card, offered for roaming."""
    from ocpi import services
    from rfid.services import id_token_create

    card = id_token_create(uid="DANA0001", driver=driver, printed_number="NL-CNT-0001")
    services.emsp_token_enable(id_token=card)
    return card
