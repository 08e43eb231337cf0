"""Locations, tariffs, sessions and CDRs as a partner pulls them (checklist C and D of docs/ocpi.md)."""

from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest

from billing.services import tariff_assign, tariff_create, tariff_update
from stations.models import Connector, Evse

pytestmark = pytest.mark.django_db

ENERGY = [{"price_components": [{"type": "ENERGY", "price": "0.35", "step_size": 1}]}]


def test_a_partner_gets_only_published_locations_with_their_evses_and_connectors(ocpi, registered, network):
    _, token = registered

    response = ocpi("GET", "/ocpi/2.2.1/locations", token=token)

    assert response.status_code == 200
    names = [location["name"] for location in response.body["data"]]
    assert names == ["Harbour", "Station square"]  # the private depot is not published
    harbour = response.body["data"][0]
    assert harbour["country_code"] == "NL" and harbour["party_id"] == "CNT" and harbour["country"] == "NLD"
    assert harbour["coordinates"] == {"latitude": "52.370216", "longitude": "4.895168"}
    assert harbour["time_zone"] == "Europe/Amsterdam"
    assert [evse["status"] for evse in harbour["evses"]] == ["AVAILABLE", "AVAILABLE"]
    connector = harbour["evses"][0]["connectors"][0]
    assert connector["standard"] == "IEC_62196_T2" and connector["power_type"] == "AC_3_PHASE"
    assert connector["max_electric_power"] == 22000
    assert harbour["last_updated"] == "2026-01-01T00:00:00Z"


def test_the_evse_status_follows_the_live_connector_status(ocpi, registered, network):
    _, token = registered
    evse = Evse.objects.filter(station__identity="CP-1").first()
    Connector.objects.filter(evse=evse).update(
        status="Charging", status_updated_at=datetime(2026, 2, 1, tzinfo=UTC)
    )

    response = ocpi("GET", f"/ocpi/2.2.1/locations/{network[0].pk}/{evse.pk}", token=token)

    assert response.body["data"]["status"] == "CHARGING"
    assert response.body["data"]["last_updated"] == "2026-02-01T00:00:00Z"
    location = ocpi("GET", f"/ocpi/2.2.1/locations/{network[0].pk}", token=token).body["data"]
    assert location["last_updated"] == "2026-02-01T00:00:00Z"  # the parent follows its EVSE


def test_one_connector_is_served_by_its_path(ocpi, registered, network):
    _, token = registered
    evse = Evse.objects.filter(station__identity="CP-1").first()

    response = ocpi("GET", f"/ocpi/2.2.1/locations/{network[0].pk}/{evse.pk}/1", token=token)

    assert response.body["data"]["id"] == "1"


def test_an_unknown_location_evse_or_connector_is_a_404_with_2003(ocpi, registered, network):
    _, token = registered
    evse = Evse.objects.filter(station__identity="CP-1").first()

    for path in ("999999", str(network[2].pk), f"{network[0].pk}/999999", f"{network[0].pk}/{evse.pk}/7"):
        response = ocpi("GET", f"/ocpi/2.2.1/locations/{path}", token=token)
        assert response.status_code == 404, path
        assert response.body["status_code"] == 2003, path


def test_pages_carry_the_total_our_limit_and_a_link_that_keeps_every_filter(ocpi, registered, db):
    _, token = registered
    for number in range(5):
        tariff_create(code=f"T{number}", name=f"Tariff {number}", currency="EUR", elements=ENERGY)

    first = ocpi("GET", "/ocpi/2.2.1/tariffs?limit=2&date_from=2020-01-01T00:00:00Z", token=token)

    assert [t["id"] for t in first.body["data"]] == ["T0", "T1"]
    assert first["X-Total-Count"] == "5"
    assert first["X-Limit"] == "100"
    link = first["Link"]
    assert link.endswith('>; rel="next"')
    following = urlsplit(link[1 : link.index(">")])
    assert following.scheme == "http" and following.netloc == "testserver"
    assert parse_qs(following.query) == {
        "limit": ["2"],
        "offset": ["2"],
        "date_from": ["2020-01-01T00:00:00Z"],
    }
    # following the links returns every tariff once, and the last page has no link
    seen = [t["id"] for t in first.body["data"]]
    while "Link" in first:
        url = first["Link"][1 : first["Link"].index(">")]
        first = ocpi("GET", url.replace("http://testserver", ""), token=token)
        seen += [t["id"] for t in first.body["data"]]
    assert seen == ["T0", "T1", "T2", "T3", "T4"]


def test_a_limit_above_our_maximum_is_clamped(ocpi, registered, settings, db):
    _, token = registered
    settings.OCPI_PAGE_LIMIT = 3
    for number in range(4):
        tariff_create(code=f"T{number}", name=f"Tariff {number}", currency="EUR", elements=ENERGY)

    response = ocpi("GET", "/ocpi/2.2.1/tariffs?limit=500", token=token)

    assert len(response.body["data"]) == 3 and response["X-Limit"] == "3" and "Link" in response


def test_date_to_is_exclusive_and_a_malformed_date_is_2001(ocpi, registered, network):
    _, token = registered

    before = ocpi("GET", "/ocpi/2.2.1/locations?date_to=2026-01-01T00:00:00Z", token=token)
    on = ocpi("GET", "/ocpi/2.2.1/locations?date_from=2026-01-01T00:00:00", token=token)
    malformed = ocpi("GET", "/ocpi/2.2.1/locations?date_from=yesterday", token=token)

    assert before.body["data"] == [] and before["X-Total-Count"] == "0"
    assert len(on.body["data"]) == 2  # no zone means UTC; date_from is inclusive
    assert malformed.status_code == 200 and malformed.body["status_code"] == 2001


def test_tariffs_are_served_with_numbers_and_the_connector_names_its_tariff(ocpi, registered, network):
    _, token = registered
    tariff = tariff_create(code="AMS-AC", name="Amsterdam AC", currency="EUR", elements=ENERGY)
    tariff_assign(tariff=tariff, location_id=network[0].pk)

    tariffs = ocpi("GET", "/ocpi/2.2.1/tariffs", token=token).body["data"]
    location = ocpi("GET", f"/ocpi/2.2.1/locations/{network[0].pk}", token=token).body["data"]

    assert tariffs[0]["id"] == "AMS-AC" and tariffs[0]["party_id"] == "CNT"
    assert tariffs[0]["elements"][0]["price_components"][0]["price"] == 0.35
    assert tariffs[0]["tariff_alt_text"] == [{"language": "en", "text": "Amsterdam AC"}]
    assert location["evses"][0]["connectors"][0]["tariff_ids"] == ["AMS-AC"]


def test_a_tariffs_texts_for_drivers_reach_partners_in_each_language(ocpi, registered):
    # given the operator's texts for drivers, as 2.0.1 stations show them too
    _, token = registered
    tariff = tariff_create(code="AMS-DC", name="Amsterdam DC", currency="EUR", elements=ENERGY)
    tariff_update(
        tariff=tariff,
        alt_texts=[
            {"language": "en", "text": "0.35 EUR/kWh"},
            {"language": "sv-SE", "text": "0,35 EUR/kWh"},
        ],
    )

    served = ocpi("GET", "/ocpi/2.2.1/tariffs", token=token).body["data"]

    # then the partner gets the same texts, each language in OCPI's two letters
    assert served[0]["tariff_alt_text"] == [
        {"language": "en", "text": "0.35 EUR/kWh"},
        {"language": "sv", "text": "0,35 EUR/kWh"},
    ]


def test_sessions_and_cdrs_lists_hold_only_the_callers_own(ocpi, registered):
    _, token = registered

    sessions = ocpi("GET", "/ocpi/2.2.1/sessions", token=token)
    cdrs = ocpi("GET", "/ocpi/2.2.1/cdrs", token=token)

    assert sessions.body["data"] == [] and sessions["X-Total-Count"] == "0"
    assert cdrs.body["data"] == [] and cdrs["X-Total-Count"] == "0"


def test_routes_answer_with_and_without_a_trailing_slash_and_never_redirect(ocpi, registered):
    _, token = registered

    assert ocpi("GET", "/ocpi/2.2.1/tariffs/", token=token).status_code == 200
    assert ocpi("GET", "/ocpi/2.2.1/tariffs", token=token).status_code == 200
    assert ocpi("PUT", "/ocpi/2.2.1/tokens/DE/EMS/X1", token=token, body={}).status_code == 200
