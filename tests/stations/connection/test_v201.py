"""OCPP 2.0.1 over a real socket (subprotocol ocpp2.0.1) on the same domain model as 1.6: Authorize,
TransactionEvent, MeterValues, StatusNotification, remote start/stop and the 2.0.1 error codes.
Tests are named after the OCPP 2.0.1 CSMS test cases (Part 6) where one fits."""

import contextlib
from typing import Any

import pytest

from rfid.services import id_token_create
from stations.models import Command, ConnectorStatusChange, MeterSample, Session
from stations.services import command_wait, session_remote_start, session_remote_stop
from tests.stations.connection.client import station_connection
from tests.stations.connection.helpers import PASSWORD, db, now_iso, station_make

pytestmark = pytest.mark.django_db(transaction=True)

BOOT = {"chargingStation": {"vendorName": "ChargeNet Test", "model": "TS-2"}, "reason": "PowerUp"}


@contextlib.asynccontextmanager
async def booted201(server: Any, station: Any, **kwargs: Any):
    """A connected 2.0.1 test station, booted Accepted, its EVSE 1 connector 1 Available."""
    async with station_connection(
        server.url, station.identity, PASSWORD, subprotocols=("ocpp2.0.1",), **kwargs
    ) as cp:
        assert (await cp.ok("BootNotification", BOOT))["status"] == "Accepted"
        await cp.ok(
            "StatusNotification",
            {"timestamp": now_iso(), "connectorStatus": "Available", "evseId": 1, "connectorId": 1},
        )
        yield cp


def energy(wh: float, context: str = "Sample.Periodic", ts: str | None = None) -> list[dict]:
    return [
        {
            "timestamp": ts or now_iso(),
            "sampledValue": [
                {
                    "value": wh / 1000,
                    "context": context,
                    "measurand": "Energy.Active.Import.Register",
                    "unitOfMeasure": {"unit": "kWh"},
                }
            ],
        }
    ]


def event(kind: str, tx: str, seq: int, trigger: str, **extra: Any) -> dict:
    payload = {
        "eventType": kind,
        "timestamp": extra.pop("timestamp", None) or now_iso(-60 + seq),
        "triggerReason": trigger,
        "seqNo": seq,
        "transactionInfo": {"transactionId": tx, **extra.pop("info", {})},
    }
    payload.update(extra)
    return payload


CARD = {"idToken": "V201-CARD-1", "type": "ISO14443"}


def test_TC_E_03_local_start_transaction_cable_plugin_first(ocpp_server, run):
    station = station_make()
    id_token_create(uid=CARD["idToken"])

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            started = await cp.ok(
                "TransactionEvent",
                event(
                    "Started",
                    "tx-e03",
                    0,
                    "CablePluggedIn",
                    evse={"id": 1, "connectorId": 1},
                    meterValue=energy(1000, "Transaction.Begin"),
                    info={"chargingState": "EVConnected"},
                ),
            )
            assert "idTokenInfo" not in started  # no idToken, no idTokenInfo
            authorized = await cp.ok(
                "TransactionEvent", event("Updated", "tx-e03", 1, "Authorized", idToken=CARD)
            )
            assert authorized["idTokenInfo"]["status"] == "Accepted"
            await cp.ok(
                "TransactionEvent",
                event("Updated", "tx-e03", 2, "MeterValuePeriodic", meterValue=energy(5000)),
            )
            assert await db(lambda: Session.objects.get(station=station).energy_wh)() == 4000
            ended = await cp.ok(
                "TransactionEvent",
                event(
                    "Ended",
                    "tx-e03",
                    3,
                    "EVCommunicationLost",
                    idToken=CARD,
                    meterValue=energy(8000, "Transaction.End"),
                    info={"stoppedReason": "EVDisconnected"},
                ),
            )
            assert ended["idTokenInfo"]["status"] == "Accepted"

    run(scenario())
    session = Session.objects.get(station=station)
    assert (session.transaction_id, session.status, session.id_tag) == ("tx-e03", "completed", "V201-CARD-1")
    assert (session.meter_start_wh, session.meter_stop_wh, session.energy_wh) == (1000, 8000, 7000)
    assert session.stop_reason == "EVDisconnected" and session.flags == []
    assert (session.evse.evse_id, session.connector.connector_id) == (1, 1)
    assert MeterSample.objects.filter(session=session).count() == 3


def test_TC_E_53_the_csms_accepts_seqNo_0_and_counts_a_retried_event_once(ocpp_server, run):
    station = station_make()

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            start = event("Started", "tx-e53", 0, "Authorized", evse={"id": 1}, meterValue=energy(200))
            await cp.ok("TransactionEvent", start)
            await cp.ok("TransactionEvent", start)  # a retry under a new message id
            end = event(
                "Ended",
                "tx-e53",
                1,
                "StopAuthorized",
                meterValue=energy(700),
                info={"stoppedReason": "Local"},
            )
            await cp.ok("TransactionEvent", end)
            await cp.ok("TransactionEvent", {**end, "meterValue": energy(900)})  # retried, then changed
            # a second transaction on the same station starts its seqNo at 0 again
            await cp.ok("TransactionEvent", event("Started", "tx-e53-b", 0, "Authorized", evse={"id": 1}))

    run(scenario())
    first = Session.objects.get(station=station, transaction_id="tx-e53")
    assert (first.status, first.energy_wh, first.meter_stop_wh) == ("completed", 500, 700)
    assert Session.objects.get(station=station, transaction_id="tx-e53-b").status == "active"
    assert Session.objects.filter(station=station).count() == 2


def test_updated_and_ended_events_for_an_unknown_transaction_are_reconciled_and_offline_ones_accepted(
    ocpp_server, run
):
    station = station_make()

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            # the Started event was lost; the queued events arrive later, marked offline
            await cp.ok(
                "TransactionEvent",
                event(
                    "Updated",
                    "tx-lost",
                    4,
                    "MeterValuePeriodic",
                    offline=True,
                    evse={"id": 2, "connectorId": 1},
                    meterValue=energy(3000),
                ),
            )
            await cp.ok(
                "TransactionEvent",
                event(
                    "Ended",
                    "tx-lost",
                    5,
                    "EVCommunicationLost",
                    offline=True,
                    meterValue=energy(4500),
                    info={"stoppedReason": "PowerLoss"},
                ),
            )
            # an Ended with nothing known at all is still acknowledged (its cost: nothing, I02)
            ended = await cp.ok("TransactionEvent", event("Ended", "tx-nothing", 9, "AbnormalCondition"))
            assert ended == {"totalCost": 0.0}

    run(scenario())
    lost = Session.objects.get(station=station, transaction_id="tx-lost")
    assert (lost.status, lost.energy_wh, lost.stop_reason, lost.evse.evse_id) == (
        "completed",
        1500,
        "PowerLoss",
        2,
    )
    # seqNos 0-3 never came: the CSMS asks whether the station still queues them (GetTransactionStatus)
    assert lost.flags == ["started_event_missing", "seq_no_gap"]
    nothing = Session.objects.get(station=station, transaction_id="tx-nothing")
    assert (nothing.status, nothing.energy_wh) == ("completed", 0)
    assert nothing.flags == ["started_event_missing", "seq_no_gap"]


def test_TC_C_02_authorize_answers_idTokenInfo_for_known_and_unknown_tokens(ocpp_server, run):
    station = station_make()
    id_token_create(uid="V201-OK")
    id_token_create(uid="V201-BLOCKED", status="Blocked")

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            answers = {}
            for uid in ("V201-OK", "V201-BLOCKED", "V201-NOBODY"):
                reply = await cp.ok("Authorize", {"idToken": {"idToken": uid, "type": "ISO14443"}})
                answers[uid] = reply["idTokenInfo"]["status"]
            return answers

    answers = run(scenario())
    assert answers["V201-OK"] == "Accepted"
    assert answers["V201-BLOCKED"] == "Blocked"
    assert answers["V201-NOBODY"] in ("Invalid", "Unknown")


def test_a_transaction_started_with_an_unknown_token_is_kept_flagged_and_told_so(ocpp_server, run):
    station = station_make()

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            reply = await cp.ok(
                "TransactionEvent",
                event(
                    "Started",
                    "tx-unknown",
                    0,
                    "Authorized",
                    evse={"id": 1},
                    idToken={"idToken": "NOBODY-9", "type": "ISO14443"},
                ),
            )
            return reply["idTokenInfo"]["status"]

    status = run(scenario())
    assert status != "Accepted"
    session = Session.objects.get(station=station, transaction_id="tx-unknown")
    assert session.status == "active" and session.flags == [f"authorization_{status.lower()}"]


def test_meter_values_and_status_notifications_map_onto_evse_and_connector(ocpp_server, run):
    station = station_make()

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            await cp.ok(
                "TransactionEvent",
                event("Started", "tx-mv", 0, "Authorized", evse={"id": 1}, meterValue=energy(100)),
            )
            await cp.ok("MeterValues", {"evseId": 1, "meterValue": energy(2100)})
            await cp.ok(
                "StatusNotification",
                {"timestamp": now_iso(), "connectorStatus": "Occupied", "evseId": 2, "connectorId": 2},
            )

    run(scenario())
    session = Session.objects.get(station=station, transaction_id="tx-mv")
    assert session.energy_wh == 2000
    assert MeterSample.objects.filter(session=session, evse_id=1).count() == 2
    connector = station.evses.get(evse_id=2).connectors.get(connector_id=2)
    assert connector.status == "Occupied"
    assert ConnectorStatusChange.objects.filter(station=station, evse_id=2, status="Occupied").exists()


def test_TC_F_01_remote_start_and_stop_go_out_as_2_0_1_requests(ocpp_server, run):
    station = station_make(ocpp_version="2.0.1")
    id_token_create(uid="V201-REMOTE")

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            await db(lambda: station.refresh_from_db())()
            command = await db(session_remote_start)(station=station, evse_id=1, id_token="V201-REMOTE")
            command = await db(command_wait)(command=command, timeout=10)
            request = await cp.wait_call("RequestStartTransaction")
            await cp.ok(
                "TransactionEvent",
                event(
                    "Started",
                    "tx-f01",
                    0,
                    "RemoteStart",
                    evse={"id": 1, "connectorId": 1},
                    idToken=request["idToken"],
                    info={"remoteStartId": request["remoteStartId"]},
                ),
            )
            session = await db(Session.objects.get)(station=station, transaction_id="tx-f01")
            stop = await db(session_remote_stop)(session=session)
            stop = await db(command_wait)(command=stop, timeout=10)
            return command, request, stop, await cp.wait_call("RequestStopTransaction")

    command, request, stop, stop_request = run(scenario())
    assert command.status == Command.Status.ACCEPTED and stop.status == Command.Status.ACCEPTED
    assert request["evseId"] == 1 and request["idToken"] == {"idToken": "V201-REMOTE", "type": "ISO14443"}
    assert isinstance(request["remoteStartId"], int)
    assert stop_request == {"transactionId": "tx-f01"}
    assert Session.objects.get(station=station, transaction_id="tx-f01").id_tag == "V201-REMOTE"


def test_framing_errors_use_the_2_0_1_codes(ocpp_server, run):
    station = station_make()

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            codes = {}
            await cp.send_raw("not json")
            codes["unreadable"] = (await cp.next_frame())[2]
            await cp.send_raw('[2, 17, "Heartbeat", {}]')
            codes["id_not_a_string"] = (await cp.next_frame())[2]
            await cp.send_raw('[7, "m-7", "Heartbeat", {}]')
            codes["unknown_type"] = await cp.next_frame()
            await cp.send_raw('[2, "m-8", "Heartbeat", []]')
            codes["payload_not_object"] = (await cp.next_frame())[2]
            missing = await cp.call("TransactionEvent", {"eventType": "Started"})
            codes["missing"] = missing[2]
            bad_type = await cp.call("Authorize", {"idToken": {"idToken": 5, "type": "ISO14443"}})
            codes["bad_type"] = bad_type[2]
            return codes

    codes = run(scenario())
    assert codes["unreadable"] == "RpcFrameworkError"
    assert codes["id_not_a_string"] == "RpcFrameworkError"
    assert codes["unknown_type"][:3] == [4, "m-7", "MessageTypeNotSupported"]
    assert codes["payload_not_object"] == "FormatViolation"
    assert codes["missing"] == "OccurrenceConstraintViolation"
    assert codes["bad_type"] == "TypeConstraintViolation"


def test_a_station_registered_as_1_6_that_negotiates_2_0_1_is_commanded_in_2_0_1(ocpp_server, run):
    # given a station registered as OCPP 1.6 whose firmware now speaks 2.0.1
    station = station_make()
    id_token_create(uid="V201-UPGRADED")

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            await db(lambda: station.refresh_from_db())()
            command = await db(session_remote_start)(station=station, evse_id=1, id_token="V201-UPGRADED")
            await db(command_wait)(command=command, timeout=10)
            return await cp.wait_call("RequestStartTransaction")

    # then its record follows the connection and the remote start goes out as a 2.0.1 request
    request = run(scenario())
    station.refresh_from_db()
    assert station.ocpp_version == "2.0.1"
    assert request["idToken"]["idToken"] == "V201-UPGRADED"
