"""Tokens and commands as an eMSP sends them, and real-time authorization (checklist E and F)."""

import pytest

from ocpi.models import RemoteCommand, RoamingToken
from rfid.models import IdToken
from rfid.services import AuthorizationContext, id_token_authorize
from stations.access.local_lists import local_list_desired
from stations.models import Command, Evse, Station

pytestmark = pytest.mark.django_db


def a_token(uid: str = "ABC123", **fields) -> dict:
    return {
        "country_code": "DE", "party_id": "EMS", "uid": uid, "type": "RFID", "contract_id": f"DE-EMS-C{uid}",
        "visual_number": "DE-EMS-0001", "issuer": "Example eMSP", "group_id": "FLEET-1", "valid": True,
        "whitelist": "ALWAYS", "language": "de", "last_updated": "2026-11-30T10:00:00Z", **fields,
    }  # fmt: skip


def test_a_pushed_token_becomes_a_roaming_card_that_charges_locally(ocpi, registered):
    _, token = registered

    created = ocpi("PUT", "/ocpi/2.2.1/tokens/DE/EMS/ABC123", token=token, body=a_token())
    fetched = ocpi("GET", "/ocpi/2.2.1/tokens/de/ems/abc123?type=RFID", token=token)

    assert created.status_code == 201 and created.body["status_code"] == 1000
    assert fetched.body["data"]["contract_id"] == "DE-EMS-CABC123"
    card = IdToken.objects.get(uid="ABC123")
    assert card.source == IdToken.Source.ROAMING and card.status == IdToken.Status.ACCEPTED
    assert id_token_authorize(uid="abc123").accepted


def test_a_second_put_updates_the_token_with_200(ocpi, registered):
    _, token = registered
    ocpi("PUT", "/ocpi/2.2.1/tokens/DE/EMS/ABC123", token=token, body=a_token())

    updated = ocpi("PUT", "/ocpi/2.2.1/tokens/DE/EMS/ABC123", token=token, body=a_token(visual_number="NEW"))

    assert updated.status_code == 200
    assert RoamingToken.objects.get().data["visual_number"] == "NEW"


def test_patch_valid_false_blocks_the_card_at_once(ocpi, registered):
    _, token = registered
    ocpi("PUT", "/ocpi/2.2.1/tokens/DE/EMS/ABC123", token=token, body=a_token())

    response = ocpi(
        "PATCH", "/ocpi/2.2.1/tokens/DE/EMS/ABC123", token=token,
        body={"valid": False, "last_updated": "2026-11-30T11:00:00Z"},
    )  # fmt: skip

    assert response.body["status_code"] == 1000
    decision = id_token_authorize(uid="ABC123")
    assert decision.status == "Blocked"


def test_bad_token_requests_get_ocpi_errors_and_change_nothing(ocpi, registered):
    _, token = registered
    ocpi("PUT", "/ocpi/2.2.1/tokens/DE/EMS/ABC123", token=token, body=a_token())

    no_last_updated = ocpi("PATCH", "/ocpi/2.2.1/tokens/DE/EMS/ABC123", token=token, body={"valid": False})
    other_uid = ocpi("PUT", "/ocpi/2.2.1/tokens/DE/EMS/ABC123", token=token, body=a_token(uid="XYZ"))
    other_party = ocpi("PUT", "/ocpi/2.2.1/tokens/FR/XXX/ABC123", token=token, body=a_token())
    too_long = ocpi(
        "PUT", "/ocpi/2.2.1/tokens/DE/EMS/ABC123", token=token, body=a_token(contract_id="C" * 80)
    )
    bad_whitelist = ocpi(
        "PUT", "/ocpi/2.2.1/tokens/DE/EMS/ABC123", token=token, body=a_token(whitelist="SOMETIMES")
    )
    unknown = ocpi("GET", "/ocpi/2.2.1/tokens/DE/EMS/NOPE", token=token)

    assert no_last_updated.body["status_code"] == 2001
    assert other_uid.body["status_code"] == 2001
    assert other_party.status_code == 404
    assert too_long.body["status_code"] == 2001 and bad_whitelist.body["status_code"] == 2001
    assert unknown.status_code == 404 and unknown.body["status_code"] == 2004
    assert RoamingToken.objects.get().valid is True
    assert IdToken.objects.count() == 1


def test_a_token_cannot_take_over_a_card_of_this_network(ocpi, registered, driver):
    _, token = registered
    IdToken.objects.create(uid="LOCAL1", driver=driver)

    response = ocpi("PUT", "/ocpi/2.2.1/tokens/DE/EMS/LOCAL1", token=token, body=a_token(uid="LOCAL1"))

    assert response.body["status_code"] == 2000
    assert IdToken.objects.get(uid="LOCAL1").source == IdToken.Source.LOCAL


def test_a_token_the_emsp_wants_to_decide_on_stays_out_of_local_lists(ocpi, registered, network):
    _, token = registered
    ocpi("PUT", "/ocpi/2.2.1/tokens/DE/EMS/ALW1", token=token, body=a_token(uid="ALW1"))
    ocpi("PUT", "/ocpi/2.2.1/tokens/DE/EMS/NEV1", token=token, body=a_token(uid="NEV1", whitelist="NEVER"))

    entries = local_list_desired(station=Station.objects.get(identity="CP-1"))

    assert "ALW1" in entries and "NEV1" not in entries


def test_a_never_token_is_authorized_in_real_time_and_the_reference_is_kept(ocpi, emsp, registered, network):
    _, token = registered
    ocpi("PUT", "/ocpi/2.2.1/tokens/DE/EMS/NEV1", token=token, body=a_token(uid="NEV1", whitelist="NEVER"))
    emsp.authorize["NEV1"] = {
        "allowed": "ALLOWED",
        "token": a_token(uid="NEV1"),
        "authorization_reference": "REF-9",
    }

    decision = id_token_authorize(uid="NEV1", context=AuthorizationContext(station_identity="CP-1"))

    assert decision.accepted
    asked = next(r for r in emsp.received if r.path.endswith("/authorize"))
    assert asked.path == "/ocpi/2.2.1/tokens/NEV1/authorize" and asked.query == {"type": ["RFID"]}
    assert asked.body["location_id"] == str(network[0].pk)
    assert asked.headers["ocpi-to-party-id"] == "EMS" and asked.headers["ocpi-from-party-id"] == "CNT"
    assert RoamingToken.objects.get(uid="NEV1").authorization_reference == "REF-9"


def test_a_blocked_answer_from_the_emsp_refuses_the_card(ocpi, emsp, registered, network):
    _, token = registered
    ocpi("PUT", "/ocpi/2.2.1/tokens/DE/EMS/NEV1", token=token, body=a_token(uid="NEV1", whitelist="NEVER"))
    emsp.authorize["NEV1"] = {"allowed": "BLOCKED", "token": a_token(uid="NEV1")}

    decision = id_token_authorize(uid="NEV1", context=AuthorizationContext(station_identity="CP-1"))

    assert decision.status == "Blocked"


def test_an_allowed_offline_token_charges_when_its_emsp_is_unreachable(ocpi, emsp, registered, network):
    partner, token = registered
    ocpi(
        "PUT",
        "/ocpi/2.2.1/tokens/DE/EMS/OFF1",
        token=token,
        body=a_token(uid="OFF1", whitelist="ALLOWED_OFFLINE"),
    )
    never = ocpi(
        "PUT", "/ocpi/2.2.1/tokens/DE/EMS/NEV1", token=token, body=a_token(uid="NEV1", whitelist="NEVER")
    )
    assert never.status_code == 201
    emsp.stop()  # the eMSP goes away

    offline = id_token_authorize(uid="OFF1", context=AuthorizationContext(station_identity="CP-1"))
    never_decision = id_token_authorize(uid="NEV1", context=AuthorizationContext(station_identity="CP-1"))

    assert offline.accepted
    assert not never_decision.accepted and "did not answer" in never_decision.reason
    emsp.start()


def test_an_unknown_card_is_authorized_by_its_emsp_and_becomes_a_roaming_card(emsp, registered, network):
    emsp.authorize["FOREIGN7"] = {"allowed": "ALLOWED", "token": a_token(uid="FOREIGN7", whitelist="NEVER")}

    decision = id_token_authorize(uid="FOREIGN7", context=AuthorizationContext(station_identity="CP-1"))
    unknown = id_token_authorize(uid="NOBODY", context=AuthorizationContext(station_identity="CP-1"))

    assert decision.accepted
    assert RoamingToken.objects.get(uid="FOREIGN7").whitelist == "NEVER"
    assert unknown.status == "Invalid" and unknown.reason == "unknown card"


def test_an_unknown_command_is_not_supported(ocpi, registered):
    _, token = registered

    response = ocpi(
        "POST", "/ocpi/2.2.1/commands/SELF_DESTRUCT", token=token, body={"response_url": "http://x"}
    )

    assert response.body["status_code"] == 1000
    assert response.body["data"]["result"] == "NOT_SUPPORTED"


def test_start_session_on_an_unknown_location_is_2003_and_queues_nothing(ocpi, emsp, registered, network):
    _, token = registered
    body = {
        "response_url": f"{emsp.base}/results/1",
        "token": a_token(),
        "location_id": "999999",
        "evse_uid": "1",
    }

    response = ocpi("POST", "/ocpi/2.2.1/commands/START_SESSION", token=token, body=body)

    assert response.body["status_code"] == 2003
    assert response.body["data"]["result"] == "REJECTED"
    assert not Command.objects.exists() and not RemoteCommand.objects.exists()


def test_start_session_without_an_evse_is_rejected_with_a_reason(ocpi, emsp, registered, network):
    _, token = registered
    body = {"response_url": f"{emsp.base}/results/1", "token": a_token(), "location_id": str(network[0].pk)}

    response = ocpi("POST", "/ocpi/2.2.1/commands/START_SESSION", token=token, body=body)

    assert response.body["data"]["result"] == "REJECTED"
    assert "evse_uid" in response.body["data"]["message"][0]["text"]


def test_start_session_becomes_a_durable_remote_start_for_the_station(ocpi, emsp, registered, network):
    _, token = registered
    station = Station.objects.get(identity="CP-1")
    Station.objects.filter(pk=station.pk).update(channel_name="test.channel")
    evse = Evse.objects.get(station=station, evse_id=2)
    body = {
        "response_url": f"{emsp.base}/results/1", "token": a_token(), "location_id": str(network[0].pk),
        "evse_uid": str(evse.pk), "authorization_reference": "REF-1",
    }  # fmt: skip

    response = ocpi("POST", "/ocpi/2.2.1/commands/START_SESSION", token=token, body=body)

    assert response.body["data"]["result"] == "ACCEPTED" and response.body["data"]["timeout"] > 0
    command = Command.objects.get()
    assert command.action == "RemoteStartTransaction"
    assert command.payload == {"connectorId": 2, "idTag": "ABC123"}
    assert RemoteCommand.objects.get().station_command == command


def test_stop_session_for_an_unknown_session_is_unknown_session(ocpi, emsp, registered):
    _, token = registered

    response = ocpi(
        "POST", "/ocpi/2.2.1/commands/STOP_SESSION", token=token,
        body={"response_url": f"{emsp.base}/results/2", "session_id": "424242"},
    )  # fmt: skip

    assert response.body["data"]["result"] == "UNKNOWN_SESSION"


def test_a_station_answer_is_posted_to_the_response_url_once(ocpi, emsp, registered, network):
    from ocpi.services import remote_command_result_send
    from stations.connection.services.commands import command_complete

    _, token = registered
    Station.objects.filter(identity="CP-1").update(channel_name="test.channel")
    evse = Evse.objects.get(station__identity="CP-1", evse_id=1)
    body = {"response_url": f"{emsp.base}/results/7", "token": a_token(), "location_id": str(network[0].pk),
            "evse_uid": str(evse.pk)}  # fmt: skip
    ocpi("POST", "/ocpi/2.2.1/commands/START_SESSION", token=token, body=body)
    command = Command.objects.get()
    Command.objects.filter(pk=command.pk).update(status=Command.Status.SENT)
    command_complete(command_id=command.pk, response={"status": "Accepted"})
    remote = RemoteCommand.objects.get()

    first = remote_command_result_send(remote_command_id=remote.pk)
    second = remote_command_result_send(remote_command_id=remote.pk)

    assert (first, second) == ("ACCEPTED", "")
    results = [r for r in emsp.received if r.path == "/results/7"]
    assert len(results) == 1 and results[0].body == {"result": "ACCEPTED"}


def online(identity: str) -> Station:
    """A station the tests treat as connected (commands for it are queued for its socket)."""
    Station.objects.filter(identity=identity).update(channel_name="test.channel", is_online=True)
    return Station.objects.get(identity=identity)


def test_a_station_that_does_not_answer_in_time_is_reported_as_timeout(ocpi, emsp, registered, network):
    from django.utils import timezone

    from ocpi.services import remote_command_result_send, remote_commands_overdue

    _, token = registered
    station = online("CP-1")
    evse = Evse.objects.get(station=station, evse_id=1)
    body = {"response_url": f"{emsp.base}/results/9", "token": a_token(), "location_id": str(network[0].pk),
            "evse_uid": str(evse.pk)}  # fmt: skip
    ocpi("POST", "/ocpi/2.2.1/commands/START_SESSION", token=token, body=body)
    RemoteCommand.objects.update(deadline=timezone.now())

    for remote_id in remote_commands_overdue():
        remote_command_result_send(remote_command_id=remote_id)

    assert [r.body for r in emsp.received if r.path == "/results/9"] == [{"result": "TIMEOUT"}]
    assert remote_commands_overdue() == []


def test_reserve_now_gets_our_own_reservation_id_and_cancel_finds_it(ocpi, emsp, registered, network):
    _, token = registered
    station = online("CP-1")
    evse = Evse.objects.get(station=station, evse_id=2)
    reserve = {
        "response_url": f"{emsp.base}/results/r", "token": a_token(), "expiry_date": "2026-12-31T10:00:00Z",
        "reservation_id": "EMSP-RES-1", "location_id": str(network[0].pk), "evse_uid": str(evse.pk),
    }  # fmt: skip

    reserved = ocpi("POST", "/ocpi/2.2.1/commands/RESERVE_NOW", token=token, body=reserve)
    cancelled = ocpi(
        "POST", "/ocpi/2.2.1/commands/CANCEL_RESERVATION", token=token,
        body={"response_url": f"{emsp.base}/results/c", "reservation_id": "EMSP-RES-1"},
    )  # fmt: skip
    unknown = ocpi(
        "POST", "/ocpi/2.2.1/commands/CANCEL_RESERVATION", token=token,
        body={"response_url": f"{emsp.base}/results/u", "reservation_id": "NOPE"},
    )  # fmt: skip

    assert reserved.body["data"]["result"] == "ACCEPTED" and cancelled.body["data"]["result"] == "ACCEPTED"
    assert unknown.body["data"]["result"] == "REJECTED"
    reserve_now, cancel = Command.objects.order_by("id")
    assert reserve_now.action == "ReserveNow" and reserve_now.payload["connectorId"] == 2
    assert reserve_now.payload["idTag"] == "ABC123"
    assert cancel.action == "CancelReservation"
    assert cancel.payload == {"reservationId": reserve_now.payload["reservationId"]}


def test_unlock_connector_becomes_an_unlock_for_the_station(ocpi, emsp, registered, network):
    _, token = registered
    station = online("CP-1")
    evse = Evse.objects.get(station=station, evse_id=2)

    response = ocpi(
        "POST", "/ocpi/2.2.1/commands/UNLOCK_CONNECTOR", token=token,
        body={"response_url": f"{emsp.base}/results/x", "location_id": str(network[0].pk),
              "evse_uid": str(evse.pk), "connector_id": "1"},
    )  # fmt: skip

    assert response.body["data"]["result"] == "ACCEPTED"
    command = Command.objects.get()
    assert (command.action, command.payload) == ("UnlockConnector", {"connectorId": 2})


def test_a_partner_cannot_read_or_stop_another_partners_token_or_session(ocpi, emsp, registered, network):
    from ocpi.services import partner_create
    from stations.models import Session

    _, token = registered
    ocpi("PUT", "/ocpi/2.2.1/tokens/DE/EMS/ABC123", token=token, body=a_token())
    # a second eMSP registers
    other, other_token_a = partner_create(
        name="Other eMSP", country_code="FR", party_id="OTH", roles=["EMSP"]
    )
    emsp.party_id, emsp.country_code = "OTH", "FR"
    other_token = ocpi("POST", "/ocpi/2.2.1/credentials", token=other_token_a, body=emsp.credentials()).body[
        "data"
    ]["token"]
    station = online("CP-1")
    from ocpi.services import roaming_session_record

    session = Session.objects.create(
        station=station, transaction_id="1", id_token=IdToken.objects.get(uid="ABC123"), id_tag="ABC123",
        started_at=network[0].created_at,
    )  # fmt: skip
    roaming_session_record(session_id=session.pk)

    read = ocpi("GET", "/ocpi/2.2.1/tokens/DE/EMS/ABC123", token=other_token)
    change = ocpi("PUT", "/ocpi/2.2.1/tokens/DE/EMS/ABC123", token=other_token, body=a_token(valid=False))
    stop = ocpi(
        "POST", "/ocpi/2.2.1/commands/STOP_SESSION", token=other_token,
        body={"response_url": f"{emsp.base}/results/s", "session_id": str(session.pk)},
    )  # fmt: skip
    listed = ocpi("GET", "/ocpi/2.2.1/sessions", token=other_token)

    assert read.status_code == 404 and change.status_code == 404
    assert stop.body["data"]["result"] == "REJECTED"
    assert listed.body["data"] == []
    assert ocpi("GET", "/ocpi/2.2.1/sessions", token=token).body["data"][0]["id"] == str(session.pk)
    assert IdToken.objects.get(uid="ABC123").status == IdToken.Status.ACCEPTED
    assert not Command.objects.exists()
