"""Smart charging over OCPI end to end: an eMSP sets, reads and clears the charging profile of its
customer's session on a running ChargeNet; a simulated station receives the profile, and the results
reach the eMSP's response_url."""

import pytest

from tests.e2e.conftest import in_thread
from tests.ocpi.live.test_roaming import published_location
from tests.ocpi.test_receiver_modules import a_token

pytestmark = pytest.mark.timeout(180)


def test_an_emsp_limits_its_customers_session_and_the_station_follows(live_system, stations, emsp):
    from ocpi.services import partner_create

    _, token_a = in_thread(
        partner_create, name="Example eMSP", country_code="DE", party_id="EMS", roles=["EMSP"]
    )
    emsp.register_with(f"{live_system.base_url}/ocpi/versions", token_a)
    location = in_thread(published_location)
    sim = stations.connect("PROFILE-CP-1", evses=1, location=location)
    _, page, _ = emsp.call("GET", emsp.cpo_endpoints["locations"], emsp.token_c)
    evse_uid = page["data"][0]["evses"][0]["uid"]

    # given the eMSP's customer charging, started by the eMSP
    emsp.call("PUT", emsp.cpo_endpoints["tokens"] + "/DE/EMS/ABC123", emsp.token_c, a_token())
    emsp.call("POST", emsp.cpo_endpoints["commands"] + "/START_SESSION", emsp.token_c, {
        "response_url": f"{emsp.base}/ocpi/2.2.1/commands/START_SESSION/1", "token": a_token(),
        "location_id": str(location.pk), "evse_uid": evse_uid,
    })  # fmt: skip
    session = emsp.wait_for(
        lambda r: r.method == "PUT" and r.path.startswith("/ocpi/2.2.1/sessions/"), what="the session"
    ).body
    _, details, _ = emsp.call("GET", f"{live_system.base_url}/ocpi/2.2.1", emsp.token_c)
    module = next(e["url"] for e in details["data"]["endpoints"] if e["identifier"] == "chargingprofiles")
    profiles = f"{module}/{session['id']}"

    # when the eMSP limits the session to 3.7 kW
    status, answer, _ = emsp.call("PUT", profiles, emsp.token_c, {
        "response_url": f"{emsp.base}/profiles/set",
        "charging_profile": {"charging_rate_unit": "W", "charging_profile_period": [{"start_period": 0, "limit": 3700}]},
    })  # fmt: skip

    # then the station gets a TxProfile for its transaction and the eMSP hears it was accepted
    assert status == 200 and answer["data"]["result"] == "ACCEPTED"
    received = stations.run(sim.wait_received("SetChargingProfile"))
    profile = received.payload["csChargingProfiles"]
    assert profile["chargingProfilePurpose"] == "TxProfile"
    assert profile["chargingSchedule"]["chargingSchedulePeriod"] == [{"startPeriod": 0, "limit": 3700}]
    assert emsp.wait_for(lambda r: r.path == "/profiles/set", what="the set result").body == {
        "result": "ACCEPTED"
    }

    # when it asks for the active profile
    status, answer, _ = emsp.call(
        "GET", f"{profiles}?duration=600&response_url={emsp.base}/profiles/active", emsp.token_c
    )

    # then the station's composite schedule reaches it, with the limit it set
    assert answer["data"]["result"] == "ACCEPTED"
    active = emsp.wait_for(lambda r: r.path == "/profiles/active", what="the active profile").body
    assert active["result"] == "ACCEPTED"
    assert active["profile"]["charging_profile"]["charging_profile_period"][0]["limit"] == 3700

    # when it clears its profile, the station drops it
    status, answer, _ = emsp.call(
        "DELETE", f"{profiles}?response_url={emsp.base}/profiles/clear", emsp.token_c
    )
    assert answer["data"]["result"] == "ACCEPTED"
    stations.run(sim.wait_received("ClearChargingProfile"))
    assert emsp.wait_for(lambda r: r.path == "/profiles/clear", what="the clear result").body == {
        "result": "ACCEPTED"
    }
    assert sim.charging_profiles == []
