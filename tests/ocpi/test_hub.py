"""A partner that is a hub: HubClientInfo about the parties behind it, and OCPI 2.2.1 routing headers
honoured on what it sends us and set on what we send it."""

import pytest
from django.utils import timezone

from ocpi.models import ClientInfo, Push
from ocpi.services import push_deliver, pushes_for_location, pushes_for_session, roaming_session_record
from rfid.models import IdToken
from stations.models import Evse, Session
from tests.ocpi.test_receiver_modules import a_token, online

pytestmark = pytest.mark.django_db


def client_info(country_code: str = "FR", party_id: str = "OTH", **fields) -> dict:
    return {"country_code": country_code, "party_id": party_id, "role": "EMSP", "status": "CONNECTED",
            "last_updated": "2026-12-01T10:00:00Z", **fields}  # fmt: skip


def from_party(country_code: str, party_id: str) -> dict:
    return {"OCPI-from-country-code": country_code, "OCPI-from-party-id": party_id}


def test_a_hub_tells_us_about_a_party_behind_it_and_the_partner_page_lists_it(
    ocpi, registered, client, operator
):
    partner, token = registered

    created = ocpi("PUT", "/ocpi/2.2.1/hubclientinfo/FR/OTH", token=token, body=client_info())
    updated = ocpi("PUT", "/ocpi/2.2.1/hubclientinfo/fr/oth", token=token,
                   body=client_info(status="SUSPENDED", last_updated="2026-12-02T10:00:00Z"))  # fmt: skip
    stale = ocpi("PUT", "/ocpi/2.2.1/hubclientinfo/FR/OTH", token=token,
                 body=client_info(status="OFFLINE", last_updated="2026-11-01T10:00:00Z"))  # fmt: skip
    fetched = ocpi("GET", "/ocpi/2.2.1/hubclientinfo/FR/OTH", token=token)

    assert (created.status_code, updated.status_code, stale.status_code) == (201, 200, 200)
    assert fetched.body["data"] == client_info(status="SUSPENDED", last_updated="2026-12-02T10:00:00Z")
    # configuration module: no routing headers on the answer
    assert "OCPI-to-party-id" not in fetched.headers
    client.force_login(operator)
    page = client.get(f"/roaming/{partner.pk}/").content.decode()
    assert "FR*OTH" in page and "Suspended" in page


def test_bad_client_info_gets_2001_and_changes_nothing(ocpi, registered):
    _, token = registered

    wrong_party = ocpi(
        "PUT", "/ocpi/2.2.1/hubclientinfo/FR/OTH", token=token, body=client_info(party_id="XYZ")
    )
    bad_status = ocpi(
        "PUT", "/ocpi/2.2.1/hubclientinfo/FR/OTH", token=token, body=client_info(status="ASLEEP")
    )
    no_date = ocpi("PUT", "/ocpi/2.2.1/hubclientinfo/FR/OTH", token=token, body=client_info(last_updated=""))
    unknown = ocpi("GET", "/ocpi/2.2.1/hubclientinfo/FR/OTH", token=token)

    assert [r.body["status_code"] for r in (wrong_party, bad_status, no_date)] == [2001] * 3
    assert unknown.status_code == 404 and unknown.body["status_code"] == 2000
    assert not ClientInfo.objects.exists()


@pytest.fixture
def two_parties(ocpi, registered, network):
    """The partner is a hub for DE*EMS and FR*OTH; each party's customer charges at CP-1."""
    partner, token = registered
    ocpi("PUT", "/ocpi/2.2.1/hubclientinfo/FR/OTH", token=token, body=client_info())
    station = online("CP-1")
    sessions = {}
    for number, (country_code, party_id, uid) in enumerate(
        (("DE", "EMS", "EMS001"), ("FR", "OTH", "OTH001")), 1
    ):
        pushed = ocpi(
            "PUT", f"/ocpi/2.2.1/tokens/{country_code}/{party_id}/{uid}", token=token,
            body=a_token(uid=uid, country_code=country_code, party_id=party_id),
            headers=from_party(country_code, party_id),
        )  # fmt: skip
        assert pushed.status_code == 201, pushed.body
        session = Session.objects.create(
            station=station, evse=Evse.objects.get(station=station, evse_id=number), transaction_id=str(number),
            id_token=IdToken.objects.get(uid=uid), id_tag=uid, started_at=timezone.now(),
        )  # fmt: skip
        roaming_session_record(session_id=session.pk)
        sessions[party_id] = session
    return sessions


def test_a_hub_forwarding_for_one_party_reaches_only_that_partys_tokens_and_sessions(
    ocpi, emsp, registered, two_parties
):
    _, token = registered
    as_ems = from_party("DE", "EMS")

    # when the hub acts for DE*EMS
    foreign_token = ocpi("GET", "/ocpi/2.2.1/tokens/FR/OTH/OTH001", token=token, headers=as_ems)
    own_token = ocpi("GET", "/ocpi/2.2.1/tokens/DE/EMS/EMS001", token=token, headers=as_ems)
    listed = ocpi("GET", "/ocpi/2.2.1/sessions", token=token, headers=as_ems)
    stop_foreign = ocpi(
        "POST", "/ocpi/2.2.1/commands/STOP_SESSION", token=token, headers=as_ems,
        body={"response_url": f"{emsp.base}/r/1", "session_id": str(two_parties["OTH"].pk)},
    )  # fmt: skip
    profile_foreign = ocpi(
        "PUT", f"/ocpi/2.2.1/chargingprofiles/{two_parties['OTH'].pk}", token=token, headers=as_ems,
        body={"response_url": f"{emsp.base}/r/2",
              "charging_profile": {"charging_rate_unit": "A", "charging_profile_period": [{"start_period": 0, "limit": 16}]}},
    )  # fmt: skip

    # then it sees and touches DE*EMS's objects only
    assert foreign_token.status_code == 404 and own_token.body["data"]["uid"] == "EMS001"
    assert [s["id"] for s in listed.body["data"]] == [str(two_parties["EMS"].pk)]
    assert stop_foreign.body["data"]["result"] == "REJECTED"
    assert profile_foreign.body["data"]["result"] == "UNKNOWN_SESSION"
    # and without routing headers the hub sees every party's sessions
    everything = ocpi("GET", "/ocpi/2.2.1/sessions", token=token).body["data"]
    assert len(everything) == 2


def test_a_party_the_hub_does_not_speak_for_is_refused(ocpi, registered, two_parties):
    _, token = registered

    stranger = ocpi("GET", "/ocpi/2.2.1/sessions", token=token, headers=from_party("BE", "XXX"))
    half = ocpi("GET", "/ocpi/2.2.1/sessions", token=token, headers={"OCPI-from-country-code": "DE"})

    assert stranger.body["status_code"] == 2001 and "BE*XXX" in stranger.body["status_message"]
    assert half.body["status_code"] == 2001


def test_a_session_pushed_to_a_hub_is_addressed_to_the_party_of_its_token(
    emsp, registered, network, two_parties
):
    partner, _ = registered
    for session in two_parties.values():
        pushes_for_session(session_id=session.pk, method="PUT", event_key="")
    pushes_for_location(location_id=network[0].pk, event_key="")
    emsp.received.clear()

    for push in Push.objects.filter(partner=partner, status=Push.Status.PENDING):
        push_deliver(partner_id=partner.pk, object_key=push.object_key)

    to = {
        r.path.rsplit("/", 1)[1]: (r.headers["ocpi-to-country-code"], r.headers["ocpi-to-party-id"])
        for r in emsp.received
        if "/sessions/" in r.path
    }
    assert to == {str(two_parties["EMS"].pk): ("DE", "EMS"), str(two_parties["OTH"].pk): ("FR", "OTH")}
    # and a location, which every party may see, goes to the hub itself
    location = next(r for r in emsp.received if "/locations/" in r.path)
    assert (location.headers["ocpi-to-country-code"], location.headers["ocpi-to-party-id"]) == ("DE", "EMS")


def test_a_stop_session_result_goes_to_the_party_of_the_session(ocpi, emsp, registered, two_parties):
    from ocpi.models import RemoteCommand
    from ocpi.services import remote_command_result_send
    from stations.connection.services.commands import command_complete
    from stations.models import Command

    _, token = registered
    answer = ocpi(
        "POST", "/ocpi/2.2.1/commands/STOP_SESSION", token=token, headers=from_party("FR", "OTH"),
        body={"response_url": f"{emsp.base}/r/stop", "session_id": str(two_parties["OTH"].pk)},
    )  # fmt: skip
    command = Command.objects.get(action="RemoteStopTransaction")
    Command.objects.filter(pk=command.pk).update(status=Command.Status.SENT)
    command_complete(command_id=command.pk, response={"status": "Accepted"})

    remote_command_result_send(remote_command_id=RemoteCommand.objects.get().pk)

    assert answer.body["data"]["result"] == "ACCEPTED"
    result = next(r for r in emsp.received if r.path == "/r/stop")
    assert (result.headers["ocpi-to-country-code"], result.headers["ocpi-to-party-id"]) == ("FR", "OTH")


def test_a_cpo_hub_pushes_locations_only_for_the_party_it_acts_for(ocpi, cpo, cpo_partner):
    from ocpi.models import PartnerLocation
    from tests.ocpi.cpo import a_location

    # given the CPO is a hub that also forwards for BE*XYZ
    ocpi("PUT", "/ocpi/2.2.1/hubclientinfo/BE/XYZ", token=cpo.token_c,
         body=client_info("BE", "XYZ", role="CPO"))  # fmt: skip
    theirs = a_location("LOC9") | {"party_id": "XYZ"}

    as_xyz = ocpi("PUT", "/ocpi/2.2.1/emsp/locations/BE/XYZ/LOC9", token=cpo.token_c, body=theirs,
                  headers=from_party("BE", "XYZ"))  # fmt: skip
    as_cpx = ocpi("PUT", "/ocpi/2.2.1/emsp/locations/BE/XYZ/LOC8", token=cpo.token_c,
                  body=a_location("LOC8") | {"party_id": "XYZ"}, headers=from_party("BE", "CPX"))  # fmt: skip

    assert as_xyz.status_code == 201 and as_cpx.body["status_code"] == 2001
    assert list(PartnerLocation.objects.values_list("party_id", "object_id")) == [("XYZ", "LOC9")]


def test_a_party_its_hub_reports_offline_gets_its_pushes_once_it_is_back(ocpi, emsp, registered, two_parties):
    partner, token = registered
    ocpi("PUT", "/ocpi/2.2.1/hubclientinfo/FR/OTH", token=token,
         body=client_info(status="OFFLINE", last_updated="2026-12-02T10:00:00Z"))  # fmt: skip
    pushes_for_session(session_id=two_parties["OTH"].pk, method="PUT", event_key="")
    push = Push.objects.get(partner=partner, object_key=f"session:{two_parties['OTH'].pk}")
    emsp.received.clear()

    # when the party is offline at the hub, nothing goes out and the push waits
    push_deliver(partner_id=partner.pk, object_key=push.object_key)
    push.refresh_from_db()
    assert emsp.received == []
    assert push.status == Push.Status.PENDING and "OFFLINE" in push.last_error

    # when the hub says it is connected again, the push goes to it
    ocpi("PUT", "/ocpi/2.2.1/hubclientinfo/FR/OTH", token=token,
         body=client_info(status="CONNECTED", last_updated="2026-12-03T10:00:00Z"))  # fmt: skip
    Push.objects.filter(pk=push.pk).update(next_attempt_at=None)
    push_deliver(partner_id=partner.pk, object_key=push.object_key)
    push.refresh_from_db()
    assert push.status == Push.Status.SUCCEEDED
    assert [r.headers["ocpi-to-party-id"] for r in emsp.received] == ["OTH"]
