"""Bad input from a station is refused in the protocol's terms or flagged, never stored as garbage.

Values the schema lets through but no column or clock can hold (2^63, negative ids, the year 9999)
get the version's CALLERROR, except in transaction messages, which are always answered: there the
value is flagged and replaced, so nothing stored can make a later page or CDR fail.
"""

import asyncio
import json
import random
from datetime import timedelta

import pytest
import websockets
from django.utils import timezone
from rest_framework.test import APIClient
from websockets.asyncio.client import connect

from billing.services import cdr_create_for_session
from chargenet.api.services import api_key_create
from chargenet.models import User
from rfid.services import id_token_create
from stations.models import ConnectorStatusChange, MeterSample, Session
from tests.stations.connection.client import basic_auth
from tests.stations.connection.helpers import PASSWORD, booted, now_iso, station_make
from tests.stations.connection.test_v201 import booted201

pytestmark = pytest.mark.django_db(transaction=True)

HUGE = 2**63


def api_client() -> APIClient:
    admin = User.objects.create_user(username="ada", password="pw-ada-1", role="admin")
    _, key = api_key_create(user=admin, name="tests", role="operate")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def test_a_start_transaction_with_a_meter_beyond_32_bits_is_a_type_constraint_violation(ocpp_server, run):
    station = station_make()

    async def scenario():
        async with booted(ocpp_server, station) as cp:
            payload = {"connectorId": 1, "idTag": "T-1", "meterStart": HUGE, "timestamp": now_iso()}
            return await cp.call("StartTransaction", payload)

    frame = run(scenario())
    assert frame[0] == 4 and frame[2] == "TypeConstraintViolation", frame
    assert not Session.objects.filter(station=station).exists()


@pytest.mark.parametrize(
    ("action", "payload"),
    [
        ("StartTransaction", {"connectorId": -1, "idTag": "T-1", "meterStart": 0, "timestamp": "now"}),
        ("StatusNotification", {"connectorId": -3, "errorCode": "NoError", "status": "Available"}),
        (
            "MeterValues",
            {"connectorId": -1, "meterValue": [{"timestamp": "now", "sampledValue": [{"value": "1"}]}]},
        ),
    ],
)
def test_a_negative_connector_id_is_a_property_constraint_violation_and_stores_nothing(
    ocpp_server, run, action, payload
):
    station = station_make()
    text = json.dumps(payload).replace('"now"', json.dumps(now_iso()))

    async def scenario():
        async with booted(ocpp_server, station) as cp:
            frame = await cp.call(action, json.loads(text))
            # the connection stays up
            assert (await cp.call("Heartbeat", {}))[0] == 3
            return frame

    frame = run(scenario())
    assert frame[0] == 4 and frame[2] == "PropertyConstraintViolation", frame
    assert not Session.objects.filter(station=station).exists()
    assert not ConnectorStatusChange.objects.filter(station=station, evse_id__gt=1).exists()
    assert not MeterSample.objects.filter(station=station).exists()


def test_a_nul_character_is_refused_in_an_authorize_and_dropped_from_a_stop(ocpp_server, run):
    # PostgreSQL cannot store NUL in text; no OCPP field needs it
    station = station_make()

    async def scenario():
        async with booted(ocpp_server, station) as cp:
            authorize = await cp.call("Authorize", {"idTag": "T\x00-1"})
            stop = {"transactionId": 77, "meterStop": 10, "timestamp": now_iso(), "idTag": "T\x00-1"}
            return authorize, await cp.call("StopTransaction", stop)

    authorize, stop = run(scenario())
    assert authorize[0] == 4 and authorize[2] == "PropertyConstraintViolation", authorize
    assert stop[0] == 3, stop
    assert Session.objects.get(station=station).id_tag == "T-1"


def test_a_stop_with_an_impossible_meter_and_year_is_answered_flagged_and_stored_sanely(ocpp_server, run):
    station = station_make()
    id_token_create(uid="T-2")

    async def scenario():
        async with booted(ocpp_server, station) as cp:
            start = await cp.ok(
                "StartTransaction",
                {"connectorId": 1, "idTag": "T-2", "meterStart": 100, "timestamp": now_iso(-60)},
            )
            stop = {
                "transactionId": start["transactionId"],
                "meterStop": HUGE,
                "timestamp": "9999-12-31T23:59:59Z",
                "transactionData": [
                    {"timestamp": "9999-12-31T23:00:00Z", "sampledValue": [{"value": "1e40"}]},
                ],
            }
            return await cp.call("StopTransaction", stop)

    frame = run(scenario())
    assert frame[0] == 3, frame  # always answered
    session = Session.objects.get(station=station)
    assert session.status == Session.Status.COMPLETED
    assert {"timestamp_implausible", "meter_stop_implausible"} <= set(session.flags)
    assert session.stopped_at < timezone.now() + timedelta(minutes=1)
    assert session.meter_stop_wh == 100 and session.energy_wh == 0
    assert not MeterSample.objects.filter(session=session).exists()
    # the session stays usable everywhere
    assert api_client().get(f"/api/v1/sessions/{session.pk}/cost/").status_code == 200
    assert cdr_create_for_session(session_id=session.pk).session_id == session.pk


def test_a_start_dated_in_9999_or_before_the_station_existed_starts_now_and_is_flagged(ocpp_server, run):
    station = station_make()
    id_token_create(uid="T-3")

    async def scenario():
        async with booted(ocpp_server, station) as cp:
            for connector, ts in ((1, "9999-12-31T23:59:59Z"), (2, "1971-01-01T00:00:00Z")):
                payload = {"connectorId": connector, "idTag": "T-3", "meterStart": 0, "timestamp": ts}
                assert (await cp.call("StartTransaction", payload))[0] == 3

    run(scenario())
    for session in Session.objects.filter(station=station):
        assert "timestamp_implausible" in session.flags
        assert abs(session.started_at - timezone.now()) < timedelta(minutes=5)


def test_a_2_0_1_transaction_event_with_impossible_values_is_answered_and_flagged(ocpp_server, run):
    station = station_make(ocpp_version="2.0.1")
    event = {
        "eventType": "Started",
        "timestamp": "9999-12-31T23:59:59Z",
        "triggerReason": "CablePluggedIn",
        "seqNo": 0,
        "transactionInfo": {"transactionId": "TX-BAD-1"},
        "evse": {"id": -5, "connectorId": 1},
        "reservationId": -2,
    }

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            return await cp.call("TransactionEvent", event)

    frame = run(scenario())
    assert frame[0] == 3, frame
    session = Session.objects.get(station=station)
    assert {"timestamp_implausible", "evse_implausible", "reservation_implausible"} <= set(session.flags)
    assert session.evse is None and session.reservation_id is None


def test_a_frame_nested_thousands_deep_is_answered_and_the_connection_stays_up(ocpp_server, run):
    station = station_make()
    nested = "[" * 3000 + "]" * 3000  # deeper than Python's recursion limit, within the frame limit

    async def scenario():
        async with booted(ocpp_server, station) as cp:
            await cp.send_raw(f'[2,"deep-1","DataTransfer",{{"vendorId":"x","data":{nested}}}]')
            answer = await cp.next_frame()
            await cp.send_raw(nested)
            second = await cp.next_frame()
            assert (await cp.call("Heartbeat", {}))[0] == 3
            return answer, second

    answer, second = run(scenario())
    assert answer[:3] == [4, "deep-1", "FormationViolation"], answer
    assert second[:3] == [4, "-1", "FormationViolation"], second


def test_a_connection_without_an_agreeable_subprotocol_is_closed_normally(ocpp_server, run):
    station = station_make()
    headers = {"Authorization": basic_auth(station.identity, PASSWORD)}

    async def scenario():
        async with connect(ocpp_server.url + station.identity, additional_headers=headers) as ws:
            assert ws.subprotocol is None
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 10)
            return closed.value.rcvd.code if closed.value.rcvd else None

    assert run(scenario()) == 1000  # not 1002, which the server may not send, nor 1011


def test_an_identity_with_an_encoded_slash_is_refused_cleanly(ocpp_server, run):
    station = station_make()
    headers = {"Authorization": basic_auth(station.identity, PASSWORD)}

    async def status(path: str) -> int:
        try:
            async with connect(ocpp_server.url + path, subprotocols=["ocpp1.6"], additional_headers=headers):
                return 101
        except websockets.InvalidStatus as exc:
            return exc.response.status_code

    assert run(status(station.identity.replace("-", "%2F"))) == 403
    assert run(status("a%2F..%2Fb/c")) == 403
    assert run(status(station.identity)) == 101


# --- a bounded fuzz -----------------------------------------------------------------------------

VALID_FRAMES = [
    (
        "StatusNotification",
        {"connectorId": 1, "errorCode": "NoError", "status": "Available", "timestamp": "T"},
    ),
    ("StartTransaction", {"connectorId": 1, "idTag": "FUZZ-1", "meterStart": 10, "timestamp": "T"}),
    (
        "MeterValues",
        {
            "connectorId": 1,
            "transactionId": 1,
            "meterValue": [{"timestamp": "T", "sampledValue": [{"value": "120", "unit": "Wh"}]}],
        },
    ),
    ("StopTransaction", {"transactionId": 1, "meterStop": 500, "timestamp": "T", "idTag": "FUZZ-1"}),
    ("Authorize", {"idTag": "FUZZ-1"}),
    ("Heartbeat", {}),
    ("DataTransfer", {"vendorId": "fuzz", "data": "x"}),
]
NASTY = [
    HUGE,
    -HUGE,
    2**31,
    -1,
    0,
    -(2**31) - 1,
    1e308,
    -0.0,
    "",
    "x" * 300,
    "9999-12-31T23:59:59Z",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59-01:00",
    "0001-01-01T00:00:00+01:00",
    "1970-01-01T00:00:00Z",
    "not a time",
    "\x00",
    None,
    True,
    [],
    {},
    "1e999999",
]


def fuzz_frames(rng: random.Random, transaction_ids: list[int], count: int) -> list[str]:
    frames = []
    for number in range(count):
        action, template = rng.choice(VALID_FRAMES)
        payload = json.loads(json.dumps(template).replace('"T"', json.dumps(now_iso(-rng.randint(0, 600)))))
        if "transactionId" in payload and transaction_ids:
            payload["transactionId"] = rng.choice(transaction_ids)
        for _ in range(rng.randint(1, 2)):
            target = payload
            keys = list(target)
            if not keys:
                break
            key = rng.choice(keys)
            if isinstance(target[key], list) and target[key] and rng.random() < 0.5:
                target = target[key][0]
                key = rng.choice(list(target))
                if isinstance(target[key], list) and target[key]:
                    target = target[key][0]
                    key = rng.choice(list(target))
            target[key] = rng.choice(NASTY)
        frames.append(json.dumps([2, f"fz{number}", action, payload]))
    return frames


def test_three_hundred_mutated_1_6_frames_get_no_internal_error_and_leave_nothing_out_of_range(
    ocpp_server, run
):
    station = station_make()
    id_token_create(uid="FUZZ-1")
    rng = random.Random(12)
    answers: list = []

    async def scenario():
        async with booted(ocpp_server, station) as cp:
            transaction_ids = []
            for batch in range(6):
                start = {"connectorId": 1, "idTag": "FUZZ-1", "meterStart": batch, "timestamp": now_iso(-700)}
                transaction_ids.append((await cp.ok("StartTransaction", start))["transactionId"])
                for text in fuzz_frames(rng, transaction_ids, 50):
                    message_id = json.loads(text)[1]
                    future = asyncio.get_running_loop().create_future()
                    cp.pending[message_id] = future
                    await cp.send_raw(text)
                    answers.append(await asyncio.wait_for(future, 10))
            assert (await cp.call("Heartbeat", {}))[0] == 3

    run(scenario())
    # then: every frame was answered, none with InternalError
    assert len(answers) == 300
    internal = [a for a in answers if a[0] == 4 and a[2] in ("InternalError", "GenericError")]
    assert not internal, internal[:3]
    # nothing out of range stored
    now = timezone.now()
    sessions = list(Session.objects.filter(station=station))
    for session in sessions:
        assert station.created_at - timedelta(days=31) < session.started_at < now + timedelta(days=1)
        assert session.stopped_at is None or session.stopped_at < now + timedelta(days=1)
        assert 0 <= session.meter_start_wh < 2**31
        assert session.meter_stop_wh is None or 0 <= session.meter_stop_wh < 2**31
    assert not MeterSample.objects.filter(station=station, timestamp__gt=now + timedelta(days=1)).exists()
    # and every session still answers on the API and can be priced
    client = api_client()
    for session in sessions:
        assert client.get(f"/api/v1/sessions/{session.pk}/").status_code == 200
        assert client.get(f"/api/v1/sessions/{session.pk}/cost/").status_code == 200
        if session.status != Session.Status.ACTIVE:
            cdr_create_for_session(session_id=session.pk)
    assert client.get("/api/v1/sessions/?limit=200").status_code == 200
