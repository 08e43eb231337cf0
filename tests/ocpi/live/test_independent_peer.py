"""ChargeNet against an eMSP that is not ChargeNet's code: extrawest's OCPI library on FastAPI, run
in its own environment (tests/ocpi/peer). ChargeNet registers with it, pushes its network, and
asks it in real time about its customer's card."""

import json
import urllib.request

import pytest

from tests.e2e.conftest import in_thread
from tests.ocpi.live.test_roaming import operator_api_key, published_location

pytestmark = pytest.mark.timeout(180)


def test_chargenet_registers_with_an_independent_emsp_and_pushes_its_network(
    live_system, stations, independent_emsp
):
    from ocpi.models import Partner
    from ocpi.services import partner_create

    base = live_system.base_url
    key = in_thread(operator_api_key)
    location = in_thread(published_location)
    stations.connect("PEER-CP-1", evses=2, location=location)
    partner, _ = in_thread(
        partner_create, name="Independent eMSP", country_code="BE", party_id="IND", roles=["EMSP"]
    )

    # when the operator has ChargeNet register with the eMSP's versions URL and its token A
    request = urllib.request.Request(
        f"{base}/api/v1/ocpi/partners/{partner.pk}/register/",
        data=json.dumps({"versions_url": independent_emsp.versions_url, "token_a": independent_emsp.token_a}).encode(),
        method="POST", headers={"Authorization": f"Token {key}", "Content-Type": "application/json"},
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=30) as response:
        registered = json.loads(response.read())

    # then both sides hold the other's credentials
    assert registered["status"] == "registered"
    store = independent_emsp.store()
    assert store["credentials"]["theirs"]["credentials"]["url"] == f"{base}/ocpi/versions"
    assert in_thread(lambda: Partner.objects.get(pk=partner.pk).token_b.startswith("peer-"))

    # and the eMSP receives the location with both EVSEs, as its own library validated them
    store = independent_emsp.wait_for(
        lambda s: str(location.pk) in s["locations"] and len(s["locations"][str(location.pk)]["evses"]) == 2,
        what="the location",
    )
    received = store["locations"][str(location.pk)]
    assert received["country_code"].upper() == "NL" and received["party_id"].upper() == "CNT"
    assert {evse["status"] for evse in received["evses"]} == {"AVAILABLE"}


def test_a_card_of_the_independent_emsp_is_authorized_there_in_real_time(
    live_system, stations, independent_emsp
):
    from ocpi.services import partner_create, partner_register_with

    partner, _ = in_thread(
        partner_create, name="Independent eMSP", country_code="BE", party_id="IND", roles=["EMSP"]
    )
    in_thread(
        partner_register_with, partner=partner, versions_url=independent_emsp.versions_url,
        token_a=independent_emsp.token_a, our_versions_url=f"{live_system.base_url}/ocpi/versions",
    )  # fmt: skip
    location = in_thread(published_location)
    sim = stations.connect("PEER-CP-2", evses=1, location=location)

    # when the eMSP's customer holds its card (unknown to ChargeNet) to the station
    answer = stations.run(sim.authorize("PEERCARD1"))

    # then the eMSP allowed it and the card is now a roaming card of that partner
    assert answer.id_tag_info["status"] == "Accepted"
    from ocpi.models import RoamingToken

    token = in_thread(lambda: RoamingToken.objects.get(uid__iexact="PEERCARD1"))
    # (the library lower-cases CiStrings, which OCPI compares case-insensitively)
    assert token.partner_id == partner.pk and token.authorization_reference.upper() == "IND-REF-1"
