"""Roaming end to end over real HTTP: an eMSP registers with a running ChargeNet, pulls locations,
pushes a token, starts and stops a session on a simulated station, and gets the session and the CDR
pushed with the totals the operator sees."""

import asyncio
import json
import urllib.request
from decimal import Decimal

import pytest

from tests.e2e.conftest import in_thread
from tests.ocpi.test_receiver_modules import a_token

pytestmark = pytest.mark.timeout(180)


def operator_api_key() -> str:
    from chargenet.api.services import api_key_create
    from chargenet.models import User

    user = User.objects.create_user(username="olivia", password="pw-olivia-1", role="operator")
    return api_key_create(user=user, name="roaming desk", role="operate")[1]


def api_post(url: str, key: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), method="POST",
        headers={"Authorization": f"Token {key}", "Content-Type": "application/json"},
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=15) as response:
        return response.status, json.loads(response.read())


def published_location():
    from decimal import Decimal as D

    from stations.network.services.locations import location_create

    return location_create(
        name="Harbour", address="Kade 1", city="Amsterdam", postal_code="1011AA", country="NLD",
        latitude=D("52.370216"), longitude=D("4.895168"), time_zone="Europe/Amsterdam",
    )  # fmt: skip


def test_an_emsp_roams_on_a_running_chargenet_from_registration_to_cdr(live_system, stations, emsp):
    from billing.models import Cdr
    from billing.services import tariff_create
    from stations.models import Evse, Session

    base = live_system.base_url
    key = in_thread(operator_api_key)
    in_thread(tariff_create, code="AC-1", name="AC", currency="EUR", is_default=True,
              elements=[{"price_components": [{"type": "ENERGY", "price": "0.35", "step_size": 1}]}])  # fmt: skip
    location = in_thread(published_location)
    sim = stations.connect("ROAM-CP-1", evses=2, location=location)

    # given the operator adds the eMSP as a partner and hands it token A
    status, partner = api_post(
        f"{base}/api/v1/ocpi/partners/",
        key,
        {"name": "Example eMSP", "country_code": "DE", "party_id": "EMS", "roles": ["EMSP"]},
    )
    assert status == 201 and partner["versions_url"] == f"{base}/ocpi/versions"

    # when the eMSP registers with token A
    emsp.register_with(partner["versions_url"], partner["token_a"])

    # then it pages through the locations, one per page
    status, page, headers = emsp.call("GET", emsp.cpo_endpoints["locations"] + "?limit=1", emsp.token_c)
    assert status == 200 and headers["x-total-count"] == "1" and "link" not in headers
    evses = {evse["physical_reference"]: evse for evse in page["data"][0]["evses"]}
    evse_uid = evses["ROAM-CP-1 2"]["uid"]

    # when it pushes its customer's card and starts a session on EVSE 2 with it
    status, answer, _ = emsp.call(
        "PUT", emsp.cpo_endpoints["tokens"] + "/DE/EMS/ABC123", emsp.token_c, a_token()
    )
    assert status == 201 and answer["status_code"] == 1000
    start = {
        "response_url": f"{emsp.base}/ocpi/2.2.1/commands/START_SESSION/1", "token": a_token(),
        "location_id": str(location.pk), "evse_uid": evse_uid, "authorization_reference": "AUTH-1",
    }  # fmt: skip
    status, answer, _ = emsp.call(
        "POST", emsp.cpo_endpoints["commands"] + "/START_SESSION", emsp.token_c, start
    )
    assert answer["data"]["result"] == "ACCEPTED"

    # then the station starts charging, the eMSP gets the command result, the EVSE status and the session
    remote_start = stations.run(sim.wait_received("RemoteStartTransaction"))
    assert remote_start.payload["idTag"] == "ABC123"
    result = emsp.wait_for(
        lambda r: r.path == "/ocpi/2.2.1/commands/START_SESSION/1", what="the command result"
    )
    assert result.body["result"] == "ACCEPTED"
    session_put = emsp.wait_for(
        lambda r: r.method == "PUT" and r.path.startswith("/ocpi/2.2.1/sessions/"), what="the session"
    )
    assert (
        session_put.body["auth_method"] == "COMMAND"
        and session_put.body["authorization_reference"] == "AUTH-1"
    )
    assert session_put.body["evse_uid"] == evse_uid
    status_patch = emsp.wait_for(
        lambda r: r.method == "PATCH"
        and r.path.endswith(f"/{evse_uid}")
        and r.body.get("status") == "CHARGING",
        what="the EVSE status CHARGING",
    )
    assert status_patch.path == f"/ocpi/2.2.1/locations/NL/CNT/{location.pk}/{evse_uid}"
    session_id = session_put.body["id"]
    emsp.wait_for(
        lambda r: r.method == "PATCH"
        and r.path.endswith(f"/sessions/NL/CNT/{session_id}")
        and r.body["kwh"] > 0,
        what="a session PATCH with energy",
    )

    # when the eMSP stops the session
    stop = {"response_url": f"{emsp.base}/ocpi/2.2.1/commands/STOP_SESSION/2", "session_id": session_id}
    status, answer, _ = emsp.call(
        "POST", emsp.cpo_endpoints["commands"] + "/STOP_SESSION", emsp.token_c, stop
    )
    assert answer["data"]["result"] == "ACCEPTED"

    # then the session is completed and the CDR posted, with the totals ChargeNet keeps
    stations.run(sim.wait_sent("StopTransaction"))
    cdr_post = emsp.wait_for(
        lambda r: r.method == "POST" and r.path == "/ocpi/2.2.1/cdrs", timeout=30, what="the CDR"
    )
    cdr = in_thread(lambda: Cdr.objects.get(session_id=int(session_id)))
    assert cdr_post.body["id"] == cdr.cdr_id
    assert Decimal(str(cdr_post.body["total_cost"]["incl_vat"])) == cdr.total_incl_vat
    assert Decimal(str(cdr_post.body["total_energy"])) == Decimal(cdr.energy_wh) / 1000 > 0
    completed = emsp.wait_for(
        lambda r: r.method == "PUT"
        and r.path.endswith(f"/sessions/NL/CNT/{session_id}")
        and r.body["status"] == "COMPLETED",
        what="the completed session",
    )
    assert Decimal(str(completed.body["total_cost"]["incl_vat"])) == cdr.total_incl_vat
    # and the eMSP's pull of its CDRs agrees with the push
    status, pulled, _ = emsp.call("GET", emsp.cpo_endpoints["cdrs"], emsp.token_c)
    assert [c["id"] for c in pulled["data"]] == [cdr.cdr_id]
    assert in_thread(lambda: Session.objects.get(pk=int(session_id)).evse_id) == int(evse_uid)
    assert in_thread(lambda: Evse.objects.filter(station__identity="ROAM-CP-1").count()) == 2


def test_an_unknown_roaming_card_is_authorized_in_real_time_at_a_station(live_system, stations, emsp):
    from ocpi.services import partner_create

    partner, token_a = in_thread(
        partner_create, name="Example eMSP", country_code="DE", party_id="EMS", roles=["EMSP"]
    )
    emsp.register_with(f"{live_system.base_url}/ocpi/versions", token_a)
    location = in_thread(published_location)
    sim = stations.connect("ROAM-CP-2", evses=1, location=location)
    emsp.authorize["VISITOR9"] = {"allowed": "ALLOWED", "token": a_token(uid="VISITOR9", whitelist="NEVER"),
                                  "authorization_reference": "RT-77"}  # fmt: skip

    # when a driver of the eMSP holds an unknown card to the station
    accepted = stations.run(sim.authorize("VISITOR9"))
    refused = stations.run(sim.authorize("STRANGER"))

    # then ChargeNet asked the eMSP and the station lets the card charge; a card nobody knows is refused
    assert accepted.id_tag_info["status"] == "Accepted"
    assert refused.id_tag_info["status"] == "Invalid"
    asked = next(r for r in emsp.received if r.path == "/ocpi/2.2.1/tokens/VISITOR9/authorize")
    assert asked.body["location_id"] == str(location.pk)


def test_while_an_emsp_thinks_about_a_card_the_other_stations_are_served(live_system, stations, emsp):
    from ocpi.services import partner_create
    from stations.models import Connector

    partner, token_a = in_thread(
        partner_create, name="Example eMSP", country_code="DE", party_id="EMS", roles=["EMSP"]
    )
    emsp.register_with(f"{live_system.base_url}/ocpi/versions", token_a)
    location = in_thread(published_location)
    visited = stations.connect("ROAM-CP-4", evses=1, location=location)
    other = stations.connect("ROAM-CP-5", evses=1)
    emsp.authorize["VISITOR8"] = {"allowed": "ALLOWED", "token": a_token(uid="VISITOR8", whitelist="NEVER")}

    # given a visitor's card presented at one station, and its eMSP slow to answer
    emsp.authorize_gate.clear()
    pending = asyncio.run_coroutine_threadsafe(visited.authorize("VISITOR8"), stations.loop.loop)
    emsp.wait_for(lambda r: r.path.endswith("/tokens/VISITOR8/authorize"), what="the authorization request")

    # when another station reports a status change meanwhile
    stations.run(other.status(1, "Preparing"))

    # then it is answered and stored while the eMSP still thinks
    status = in_thread(lambda: Connector.objects.get(evse__station__identity="ROAM-CP-5").status)
    assert status == "Preparing"
    assert not pending.done()

    # and once the eMSP answers, the visitor may charge
    emsp.authorize_gate.set()
    assert pending.result(timeout=30).id_tag_info["status"] == "Accepted"


def test_a_partner_that_was_down_gets_the_evse_status_it_missed(live_system, stations, emsp):
    from ocpi.services import partner_create

    partner, token_a = in_thread(
        partner_create, name="Example eMSP", country_code="DE", party_id="EMS", roles=["EMSP"]
    )
    emsp.register_with(f"{live_system.base_url}/ocpi/versions", token_a)
    location = in_thread(published_location)
    sim = stations.connect("ROAM-CP-3", evses=1, location=location)
    emsp.wait_for(
        lambda r: r.method == "PATCH" and r.body.get("status") == "AVAILABLE", what="the first status"
    )

    # when the eMSP is down while the connector faults
    emsp.down = True
    stations.run(sim.fault(1, "GroundFailure"))
    emsp.wait_for(
        lambda r: r.method == "PATCH" and r.body.get("status") == "OUTOFORDER", what="a first attempt"
    )
    emsp.received.clear()
    emsp.down = False

    # then the worker's retry brings it the status it missed
    retried = emsp.wait_for(
        lambda r: r.method == "PATCH" and r.body.get("status") == "OUTOFORDER", timeout=30, what="the retry"
    )
    assert retried.path.startswith(f"/ocpi/2.2.1/locations/NL/CNT/{location.pk}/")
