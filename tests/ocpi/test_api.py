"""The REST API of roaming partners (/api/v1/ocpi/…)."""

import pytest

from ocpi.models import Partner
from ocpi.services import roaming_session_record
from rfid.models import IdToken
from stations.models import Session, Station
from tests.api.conftest import _client_for
from tests.ocpi.test_receiver_modules import a_token

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator_api(operator):
    return _client_for(operator)


def test_adding_a_partner_answers_201_with_token_a_and_our_absolute_versions_url(operator_api):
    response = operator_api.post(
        "/api/v1/ocpi/partners/", {"name": "Example eMSP", "country_code": "DE", "party_id": "EMS", "roles": ["EMSP"]},
        format="json",
    )  # fmt: skip

    assert response.status_code == 201
    body = response.json()
    assert body["id"] == Partner.objects.get().pk
    assert body["versions_url"] == "http://testserver/ocpi/versions"
    assert len(body["token_a"]) >= 32
    assert "token_a" not in operator_api.get(f"/api/v1/ocpi/partners/{body['id']}/").json()


def test_a_bad_partner_is_a_400_that_says_why_and_stores_nothing(operator_api):
    taken = {"name": "A", "country_code": "DE", "party_id": "EMS", "roles": ["EMSP"]}
    operator_api.post("/api/v1/ocpi/partners/", taken, format="json")

    twice = operator_api.post("/api/v1/ocpi/partners/", taken, format="json")
    bad_role = operator_api.post(
        "/api/v1/ocpi/partners/", {**taken, "party_id": "XYZ", "roles": ["PIRATE"]}, format="json"
    )

    assert twice.status_code == 400 and "already exists" in twice.json()["error"]["message"]
    assert bad_role.status_code == 400 and "role" in bad_role.json()["error"]["message"]
    assert Partner.objects.count() == 1


def test_a_viewer_may_list_partners_but_not_add_one(viewer):
    api = _client_for(viewer)

    listing = api.get("/api/v1/ocpi/partners/")
    adding = api.post(
        "/api/v1/ocpi/partners/",
        {"name": "A", "country_code": "DE", "party_id": "EMS", "roles": ["EMSP"]},
        format="json",
    )

    assert listing.status_code == 200
    assert adding.status_code == 403 and not Partner.objects.exists()


def test_a_partners_roaming_sessions_are_listed_with_how_they_were_authorized(
    operator_api, ocpi, registered, network
):
    partner, token = registered
    ocpi("PUT", "/ocpi/2.2.1/tokens/DE/EMS/ABC123", token=token, body=a_token())
    session = Session.objects.create(
        station=Station.objects.get(identity="CP-1"), transaction_id="7", id_token=IdToken.objects.get(uid="ABC123"),
        id_tag="ABC123", started_at=network[0].created_at,
    )  # fmt: skip
    roaming_session_record(session_id=session.pk)

    response = operator_api.get(f"/api/v1/ocpi/partners/{partner.pk}/sessions/")

    assert response.status_code == 200
    row = response.json()["results"][0]
    assert row["session_id"] == session.pk and row["auth_method"] == "WHITELIST"
    assert row["cdr_token"]["contract_id"] == "DE-EMS-CABC123" and row["cdr_id"] is None
