"""ChargingProfiles as an eMSP sends them (CPO receiver, OCPI 2.2.1): the immediate answer, the
station command it becomes, and the result POSTed to the eMSP's response_url."""

import pytest
from django.utils import timezone

from ocpi.models import RemoteCommand
from ocpi.services import remote_command_result_send, remote_commands_overdue, roaming_session_record
from rfid.models import IdToken
from stations.connection.services.commands import command_complete
from stations.models import ChargingProfile, Command, Evse, Session, Station
from tests.ocpi.test_receiver_modules import a_token, online

pytestmark = pytest.mark.django_db

A_PROFILE = {"charging_rate_unit": "W", "charging_profile_period": [{"start_period": 0, "limit": 7400}]}


@pytest.fixture
def roaming_session(ocpi, registered, network):
    """The eMSP's customer charging on EVSE 2 of CP-1."""
    _, token = registered
    ocpi("PUT", "/ocpi/2.2.1/tokens/DE/EMS/ABC123", token=token, body=a_token())
    station = online("CP-1")
    session = Session.objects.create(
        station=station, evse=Evse.objects.get(station=station, evse_id=2), transaction_id="41",
        id_token=IdToken.objects.get(uid="ABC123"), id_tag="ABC123", started_at=timezone.now(),
    )  # fmt: skip
    roaming_session_record(session_id=session.pk)
    return session


def answered(status: str, response: dict | None = None) -> Command:
    """The station's answer to the last command."""
    command = Command.objects.order_by("-id").first()
    assert command is not None
    Command.objects.filter(pk=command.pk).update(status=Command.Status.SENT)
    command_complete(command_id=command.pk, response=response or {"status": status})
    return command


def results(emsp, path: str) -> list[dict]:
    return [r.body for r in emsp.received if r.path == path]


def test_a_profile_becomes_a_tx_profile_on_the_sessions_evse_and_the_result_reaches_the_emsp(
    ocpi, emsp, registered, roaming_session
):
    _, token = registered

    # when the eMSP sets a 7.4 kW profile on its session
    response = ocpi(
        "PUT", f"/ocpi/2.2.1/chargingprofiles/{roaming_session.pk}", token=token,
        body={"charging_profile": A_PROFILE, "response_url": f"{emsp.base}/profiles/1"},
    )  # fmt: skip

    # then it is accepted at once and the station is sent a TxProfile for the transaction
    assert response.body["status_code"] == 1000
    assert response.body["data"]["result"] == "ACCEPTED" and response.body["data"]["timeout"] > 0
    command = Command.objects.get()
    assert command.action == "SetChargingProfile"
    profile = command.payload["csChargingProfiles"]
    assert command.payload["connectorId"] == 2
    assert profile["chargingProfilePurpose"] == "TxProfile" and profile["transactionId"] == 41
    assert profile["chargingSchedule"]["chargingSchedulePeriod"] == [{"startPeriod": 0, "limit": 7400}]

    # and when the station accepts, the eMSP gets ACCEPTED once and the profile counts as installed
    answered("Accepted")
    remote = RemoteCommand.objects.get()
    assert remote_command_result_send(remote_command_id=remote.pk) == "ACCEPTED"
    assert remote_command_result_send(remote_command_id=remote.pk) == ""
    assert results(emsp, "/profiles/1") == [{"result": "ACCEPTED"}]
    assert ChargingProfile.objects.get(station__identity="CP-1").is_active


def test_a_station_that_refuses_or_stays_silent_is_reported_rejected(ocpi, emsp, registered, roaming_session):
    _, token = registered
    path = f"/ocpi/2.2.1/chargingprofiles/{roaming_session.pk}"
    ocpi("PUT", path, token=token, body={"charging_profile": A_PROFILE, "response_url": f"{emsp.base}/p/1"})
    answered("Rejected")
    remote_command_result_send(remote_command_id=RemoteCommand.objects.get().pk)

    ocpi("PUT", path, token=token, body={"charging_profile": A_PROFILE, "response_url": f"{emsp.base}/p/2"})
    RemoteCommand.objects.filter(result_sent_at__isnull=True).update(deadline=timezone.now())
    for remote_id in remote_commands_overdue():
        remote_command_result_send(remote_command_id=remote_id)

    assert results(emsp, "/p/1") == [{"result": "REJECTED"}]
    assert results(emsp, "/p/2") == [{"result": "REJECTED"}]


def test_a_second_request_while_the_station_has_not_answered_is_too_often(
    ocpi, emsp, registered, roaming_session
):
    _, token = registered
    path = f"/ocpi/2.2.1/chargingprofiles/{roaming_session.pk}"
    body = {"charging_profile": A_PROFILE, "response_url": f"{emsp.base}/p/1"}

    first = ocpi("PUT", path, token=token, body=body)
    second = ocpi("PUT", path, token=token, body=body)

    assert (first.body["data"]["result"], second.body["data"]["result"]) == ("ACCEPTED", "TOO_OFTEN")
    assert Command.objects.count() == 1


def test_get_asks_the_station_for_its_composite_schedule_and_posts_the_active_profile(
    ocpi, emsp, registered, roaming_session
):
    _, token = registered

    response = ocpi(
        "GET", f"/ocpi/2.2.1/chargingprofiles/{roaming_session.pk}?duration=900&response_url={emsp.base}/active/1",
        token=token,
    )  # fmt: skip
    command = answered(
        "Accepted",
        {"status": "Accepted", "connectorId": 2, "scheduleStart": "2026-12-03T10:00:00Z",
         "chargingSchedule": {"duration": 900, "chargingRateUnit": "W",
                              "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 11000.0}]}},
    )  # fmt: skip
    remote_command_result_send(remote_command_id=RemoteCommand.objects.get().pk)

    assert response.body["data"]["result"] == "ACCEPTED"
    assert command.action == "GetCompositeSchedule"
    assert command.payload == {"connectorId": 2, "duration": 900, "chargingRateUnit": "W"}
    assert results(emsp, "/active/1") == [
        {
            "result": "ACCEPTED",
            "profile": {
                "start_date_time": "2026-12-03T10:00:00Z",
                "charging_profile": {
                    "start_date_time": "2026-12-03T10:00:00Z", "duration": 900, "charging_rate_unit": "W",
                    "charging_profile_period": [{"start_period": 0, "limit": 11000.0}],
                },
            },
        }
    ]  # fmt: skip


def test_delete_clears_only_the_emsps_profile_and_says_unknown_when_there_is_none(
    ocpi, emsp, registered, roaming_session, django_capture_on_commit_callbacks, eager_tasks
):
    _, token = registered
    path = f"/ocpi/2.2.1/chargingprofiles/{roaming_session.pk}"

    # given nothing set yet: the eMSP hears UNKNOWN and no command goes to the station
    with django_capture_on_commit_callbacks(execute=True):
        nothing = ocpi("DELETE", f"{path}?response_url={emsp.base}/clear/0", token=token)
    assert nothing.body["data"]["result"] == "ACCEPTED" and Command.objects.count() == 0
    assert results(emsp, "/clear/0") == [{"result": "UNKNOWN"}]

    # given the eMSP's profile installed
    ocpi("PUT", path, token=token, body={"charging_profile": A_PROFILE, "response_url": f"{emsp.base}/p/1"})
    answered("Accepted")
    remote_command_result_send(remote_command_id=RemoteCommand.objects.get(command="SET_CHARGING_PROFILE").pk)

    # when it clears it
    ocpi("DELETE", f"{path}?response_url={emsp.base}/clear/1", token=token)
    clear = answered("Accepted")
    remote_command_result_send(
        remote_command_id=RemoteCommand.objects.get(response_url__endswith="/clear/1").pk
    )

    # then exactly its profile is cleared
    assert clear.action == "ClearChargingProfile" and clear.payload == {"id": 1_001_002}
    assert results(emsp, "/clear/1") == [{"result": "ACCEPTED"}]
    assert not ChargingProfile.objects.filter(is_active=True).exists()


def test_bad_profile_requests_get_ocpi_errors_or_answers_and_send_nothing(
    ocpi, emsp, registered, roaming_session
):
    _, token = registered
    path = f"/ocpi/2.2.1/chargingprofiles/{roaming_session.pk}"
    url = f"{emsp.base}/p/x"

    no_url = ocpi("PUT", path, token=token, body={"charging_profile": A_PROFILE})
    bad_unit = ocpi("PUT", path, token=token,
                    body={"response_url": url, "charging_profile": {**A_PROFILE, "charging_rate_unit": "kW"}})  # fmt: skip
    no_periods = ocpi("PUT", path, token=token,
                      body={"response_url": url, "charging_profile": {"charging_rate_unit": "W"}})  # fmt: skip
    bad_duration = ocpi("GET", f"{path}?duration=soon&response_url={url}", token=token)
    unknown = ocpi("PUT", "/ocpi/2.2.1/chargingprofiles/999999", token=token,
                   body={"response_url": url, "charging_profile": A_PROFILE})  # fmt: skip
    not_json = ocpi("PUT", path, token=token, raw=b"{nope")

    assert [r.body["status_code"] for r in (no_url, bad_unit, no_periods, bad_duration)] == [2001] * 4
    assert unknown.body["data"]["result"] == "UNKNOWN_SESSION"
    assert not_json.status_code == 400
    assert Command.objects.count() == 0 and RemoteCommand.objects.count() == 0


def test_a_profile_for_a_finished_session_is_rejected(ocpi, emsp, registered, roaming_session):
    _, token = registered
    Session.objects.filter(pk=roaming_session.pk).update(status=Session.Status.COMPLETED)

    response = ocpi(
        "PUT", f"/ocpi/2.2.1/chargingprofiles/{roaming_session.pk}", token=token,
        body={"charging_profile": A_PROFILE, "response_url": f"{emsp.base}/p/1"},
    )  # fmt: skip

    assert response.body["data"]["result"] == "REJECTED" and Command.objects.count() == 0


def test_the_module_is_listed_in_the_version_details(ocpi, registered):
    _, token = registered

    endpoints = ocpi("GET", "/ocpi/2.2.1", token=token).body["data"]["endpoints"]

    listed = {(e["identifier"], e["role"]) for e in endpoints}
    assert {("chargingprofiles", "RECEIVER"), ("hubclientinfo", "RECEIVER")} <= listed


def test_a_201_station_gets_the_profile_in_its_own_shape(ocpi, emsp, registered, roaming_session):
    _, token = registered
    Station.objects.filter(pk=roaming_session.station_id).update(ocpp_version="2.0.1")

    ocpi(
        "PUT", f"/ocpi/2.2.1/chargingprofiles/{roaming_session.pk}", token=token,
        body={"charging_profile": {**A_PROFILE, "start_date_time": "2026-12-03T18:00:00Z", "duration": 7200},
              "response_url": f"{emsp.base}/p/1"},
    )  # fmt: skip

    command = Command.objects.get()
    assert command.payload["evseId"] == 2
    profile = command.payload["chargingProfile"]
    assert profile["chargingProfilePurpose"] == "TxProfile" and profile["transactionId"] == "41"
    assert profile["chargingProfileKind"] == "Absolute"
    assert profile["chargingSchedule"][0]["startSchedule"] == "2026-12-03T18:00:00Z"
    assert profile["chargingSchedule"][0]["duration"] == 7200


def test_charging_profiles_and_hub_client_info_are_not_served_under_211(
    ocpi, emsp, registered, roaming_session
):
    _, token = registered

    profile = ocpi(
        "PUT", f"/ocpi/2.1.1/chargingprofiles/{roaming_session.pk}", token=token,
        body={"charging_profile": A_PROFILE, "response_url": f"{emsp.base}/p/1"},
    )  # fmt: skip
    hub = ocpi("GET", "/ocpi/2.1.1/hubclientinfo/FR/OTH", token=token)

    assert profile.status_code == 404 and hub.status_code == 404
    assert Command.objects.count() == 0
