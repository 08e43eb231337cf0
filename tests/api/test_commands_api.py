"""Commands over the API (docs/api.md): create, wait for the answer, list, get, idempotent retries."""

import threading
import time

import pytest
from django.db import connection

from stations.models import Command

pytestmark = pytest.mark.django_db


def _answer_like_a_station(*, status: str, response: dict) -> threading.Thread:
    """Play the OCPP connection's part: answer the first queued command once it appears."""

    def run():
        try:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                if Command.objects.filter(status=Command.Status.QUEUED).update(
                    status=status, response=response
                ):
                    return
                time.sleep(0.05)
        finally:
            connection.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


@pytest.mark.django_db(transaction=True)
def test_with_wait_the_response_carries_the_stations_answer(operator_api, station):
    thread = _answer_like_a_station(status="accepted", response={"status": "Accepted"})

    response = operator_api.post(
        "/api/v1/stations/CP-1/commands/",
        {"action": "Reset", "payload": {"type": "Soft"}, "wait": 10},
        format="json",
    )
    thread.join()

    assert response.status_code == 201
    body = response.json()
    assert (body["action"], body["status"], body["response"]) == ("Reset", "accepted", {"status": "Accepted"})
    assert body["requested_by"] == "olivia"


def test_without_wait_the_command_is_returned_queued_and_can_be_fetched(operator_api, station):
    created = operator_api.post(
        "/api/v1/stations/CP-1/commands/", {"action": "ClearCache", "payload": {}}, format="json"
    ).json()

    fetched = operator_api.get(f"/api/v1/stations/CP-1/commands/{created['id']}/")
    listed = operator_api.get("/api/v1/commands/?station=CP-1&status=queued").json()["results"]

    assert created["status"] == "queued"
    assert fetched.json()["id"] == created["id"]
    assert [c["id"] for c in listed] == [created["id"]]


def test_a_payload_that_breaks_the_ocpp_schema_is_refused_and_nothing_is_queued(operator_api, station):
    response = operator_api.post(
        "/api/v1/stations/CP-1/commands/", {"action": "Reset", "payload": {"type": "Gentle"}}, format="json"
    )

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "command_refused"
    assert "not valid OCPP 1.6" in response.json()["error"]["message"]
    assert not Command.objects.exists()


def test_a_missing_action_is_a_validation_error(operator_api, station):
    response = operator_api.post("/api/v1/stations/CP-1/commands/", {"payload": {}}, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["details"] == {"action": ["This field is required."]}


@pytest.mark.parametrize(
    ("persona", "expected"), [("viewer_api", 403), ("driver_api", 403), ("anonymous", 401)]
)
def test_only_operators_with_an_operate_key_send_commands(request, persona, expected, station):
    client = request.getfixturevalue(persona)

    response = client.post("/api/v1/stations/CP-1/commands/", {"action": "ClearCache"}, format="json")

    assert response.status_code == expected
    assert not Command.objects.exists()


def test_a_command_for_an_unknown_station_is_a_404(operator_api):
    response = operator_api.post("/api/v1/stations/NOPE/commands/", {"action": "ClearCache"}, format="json")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_a_retry_with_the_same_idempotency_key_returns_the_first_response_and_acts_once(
    operator_api, station
):
    body = {"action": "ClearCache", "payload": {}}

    first = operator_api.post(
        "/api/v1/stations/CP-1/commands/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    again = operator_api.post(
        "/api/v1/stations/CP-1/commands/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert Command.objects.count() == 1


def test_an_idempotency_key_reused_for_another_request_is_refused(operator_api, station):
    operator_api.post(
        "/api/v1/stations/CP-1/commands/", {"action": "ClearCache"}, format="json", HTTP_IDEMPOTENCY_KEY="k-2"
    )

    response = operator_api.post(
        "/api/v1/stations/CP-1/commands/",
        {"action": "Reset", "payload": {"type": "Hard"}},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k-2",
    )

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "idempotency_key_reused"
    assert Command.objects.count() == 1


def test_the_same_idempotency_key_from_two_users_acts_twice(operator_api, admin_user, station):
    from tests.api.conftest import _client_for

    body = {"action": "ClearCache"}
    operator_api.post("/api/v1/stations/CP-1/commands/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-3")
    _client_for(admin_user).post(
        "/api/v1/stations/CP-1/commands/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-3"
    )

    assert Command.objects.count() == 2


@pytest.fixture
def online_station(station):
    """CP-1 connected (presence as the OCPP consumer records it) with its connectors Available."""
    from stations.models import Connector, Station

    Station.objects.filter(pk=station.pk).update(is_online=True, channel_name="specific.test!CP-1")
    Connector.objects.filter(evse__station=station).update(status=Connector.Status.AVAILABLE)
    station.refresh_from_db()
    return station


def test_a_retried_remote_start_never_starts_a_second_session(operator_api, online_station):
    from rfid.services import id_token_create

    id_token_create(uid="CARD-1")
    body = {"evse_id": 1, "id_token": "CARD-1"}

    first = operator_api.post(
        "/api/v1/stations/CP-1/remote-start/", body, format="json", HTTP_IDEMPOTENCY_KEY="rs"
    )
    again = operator_api.post(
        "/api/v1/stations/CP-1/remote-start/", body, format="json", HTTP_IDEMPOTENCY_KEY="rs"
    )

    assert first.status_code == 201, first.json()
    assert again.json()["id"] == first.json()["id"]
    command = Command.objects.get()
    assert command.action == "RemoteStartTransaction"
    assert command.payload["idTag"] == "CARD-1"


def test_remote_start_on_an_offline_station_is_refused_and_a_retry_is_refused_the_same_way(
    operator_api, station
):
    from rfid.services import id_token_create

    id_token_create(uid="CARD-1")
    body = {"evse_id": 1, "id_token": "CARD-1"}

    first = operator_api.post(
        "/api/v1/stations/CP-1/remote-start/", body, format="json", HTTP_IDEMPOTENCY_KEY="rs"
    )
    again = operator_api.post(
        "/api/v1/stations/CP-1/remote-start/", body, format="json", HTTP_IDEMPOTENCY_KEY="rs"
    )

    assert first.status_code == again.status_code == 409
    assert first.json() == again.json()
    assert "offline" in first.json()["error"]["message"]
    assert not Command.objects.exists()


def test_remote_start_with_a_blocked_card_is_refused_with_the_reason(operator_api, online_station):
    from rfid.services import id_token_create

    id_token_create(uid="CARD-1", status="Blocked")

    response = operator_api.post(
        "/api/v1/stations/CP-1/remote-start/", {"evse_id": 1, "id_token": "CARD-1"}, format="json"
    )

    assert response.status_code == 409
    assert "blocked" in response.json()["error"]["message"]
    assert not Command.objects.exists()


def test_remote_stop_asks_the_station_to_stop_the_sessions_transaction(operator_api, online_station):
    from stations.models import Session

    session = Session.objects.create(
        station=online_station, transaction_id="17", started_at="2025-01-01T10:00:00Z"
    )

    response = operator_api.post(f"/api/v1/sessions/{session.pk}/remote-stop/", {}, format="json")

    assert response.status_code == 201
    command = Command.objects.get()
    assert command.action == "RemoteStopTransaction"
    assert command.payload == {"transactionId": 17}


def test_a_finished_session_cannot_be_stopped(operator_api, station):
    from stations.models import Session

    session = Session.objects.create(
        station=station, transaction_id="18", started_at="2025-01-01T10:00:00Z", status="completed"
    )

    response = operator_api.post(f"/api/v1/sessions/{session.pk}/remote-stop/", {}, format="json")

    assert response.status_code == 409
    assert not Command.objects.exists()
