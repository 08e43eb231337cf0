"""OCPP 2.0.1 transactions over a real socket: seqNo gaps (GetTransactionStatus), totalCost at Ended
from billing's pricing, remoteStartId tied to the remote start, and Authorize not counting the card's
own session at this station as concurrent."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from billing.services import tariff_create
from rfid.services import id_token_create
from stations.common import StationError
from stations.models import Command, Session
from stations.services import command_wait, session_remote_start
from tests.stations.connection.helpers import db, now_iso, station_make
from tests.stations.devicemodel.helpers import booted201

pytestmark = pytest.mark.django_db(transaction=True)

CARD = {"idToken": "TX-CARD-1", "type": "ISO14443"}


def energy(wh: float, context: str = "Sample.Periodic") -> list[dict]:
    return [
        {
            "timestamp": now_iso(),
            "sampledValue": [{"value": wh, "context": context, "measurand": "Energy.Active.Import.Register"}],
        }
    ]


def event(kind: str, tx: str, seq: int, trigger: str, **extra) -> dict:
    return {
        "eventType": kind,
        "timestamp": extra.pop("timestamp", None) or now_iso(-60 + seq),
        "triggerReason": trigger,
        "seqNo": seq,
        "transactionInfo": {"transactionId": tx, **extra.pop("info", {})},
        **extra,
    }


def test_tc_e_seq_no_gap_at_ended_sends_get_transaction_status(ocpp_server, run):
    station = station_make(ocpp_version="2.0.1")

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            cp.responders["GetTransactionStatus"] = {"messagesInQueue": False}
            await cp.ok(
                "TransactionEvent",
                event("Started", "tx-gap", 0, "CablePluggedIn", evse={"id": 1, "connectorId": 1}),
            )
            await cp.ok(
                "TransactionEvent",
                event("Updated", "tx-gap", 2, "MeterValuePeriodic", meterValue=energy(500)),
            )
            await cp.ok(
                "TransactionEvent",
                event("Ended", "tx-gap", 3, "EVCommunicationLost", meterValue=energy(900, "Transaction.End")),
            )
            return await cp.wait_call("GetTransactionStatus")

    request = run(scenario())
    assert request == {"transactionId": "tx-gap"}
    session = Session.objects.get(station=station, transaction_id="tx-gap")
    assert "seq_no_gap" in session.flags and session.seq_nos == [0, 2, 3]
    # the station's answer is kept on the command
    command = Command.objects.get(station=station, action="GetTransactionStatus")
    assert command_wait(command=command, timeout=10).response == {"messagesInQueue": False}


def test_tc_e_no_get_transaction_status_without_a_gap(ocpp_server, run):
    station = station_make(ocpp_version="2.0.1")

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            await cp.ok(
                "TransactionEvent",
                event("Started", "tx-ok", 0, "CablePluggedIn", evse={"id": 1, "connectorId": 1}),
            )
            # a retried event (same seqNo) is no gap
            await cp.ok("TransactionEvent", event("Updated", "tx-ok", 1, "MeterValuePeriodic"))
            await cp.ok("TransactionEvent", event("Updated", "tx-ok", 1, "MeterValuePeriodic"))
            await cp.ok("TransactionEvent", event("Ended", "tx-ok", 2, "EVCommunicationLost"))

    run(scenario())
    assert "seq_no_gap" not in Session.objects.get(station=station, transaction_id="tx-ok").flags
    assert not Command.objects.filter(station=station, action="GetTransactionStatus").exists()


def test_tc_i_02_the_ended_event_is_answered_with_the_sessions_total_cost(ocpp_server, run):
    station = station_make(ocpp_version="2.0.1")
    id_token_create(uid=CARD["idToken"])
    tariff_create(
        code="KWH30",
        name="30 ct per kWh",
        currency="EUR",
        is_default=True,
        elements=[{"price_components": [{"type": "ENERGY", "price": "0.30", "step_size": 1}]}],
    )

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            await cp.ok(
                "TransactionEvent",
                event(
                    "Started",
                    "tx-cost",
                    0,
                    "Authorized",
                    idToken=CARD,
                    evse={"id": 1, "connectorId": 1},
                    meterValue=energy(1000, "Transaction.Begin"),
                ),
            )
            updated = await cp.ok(
                "TransactionEvent",
                event("Updated", "tx-cost", 1, "MeterValuePeriodic", meterValue=energy(6000)),
            )
            ended = await cp.ok(
                "TransactionEvent",
                event(
                    "Ended",
                    "tx-cost",
                    2,
                    "StopAuthorized",
                    idToken=CARD,
                    meterValue=energy(11000, "Transaction.End"),
                    info={"stoppedReason": "Local"},
                ),
            )
            return updated, ended

    updated, ended = run(scenario())
    assert "totalCost" not in updated
    # 10 kWh at 0.30 EUR (VAT 0 unless the tariff says otherwise)
    assert Decimal(str(ended["totalCost"])) == Decimal("3.00")
    assert ended["idTokenInfo"]["status"] == "Accepted"


def test_tc_f_02_remote_start_id_ties_the_session_to_the_remote_start(ocpp_server, run):
    station = station_make(ocpp_version="2.0.1")
    id_token_create(uid="REMOTE-CARD")

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            await db(lambda: station.refresh_from_db())()
            command = await db(session_remote_start)(station=station, evse_id=1, id_token="REMOTE-CARD")
            await db(command_wait)(command=command, timeout=10)
            request = await cp.wait_call("RequestStartTransaction")
            # the station starts on cable plug-in and names no idToken: the remote start's card counts
            await cp.ok(
                "TransactionEvent",
                event(
                    "Started",
                    "tx-f02",
                    0,
                    "RemoteStart",
                    evse={"id": 1, "connectorId": 1},
                    info={"remoteStartId": request["remoteStartId"]},
                ),
            )
            return request

    request = run(scenario())
    session = Session.objects.get(station=station, transaction_id="tx-f02")
    assert session.remote_start_id == request["remoteStartId"]
    assert session.id_tag == "REMOTE-CARD" and session.id_token.uid == "REMOTE-CARD"


def test_tc_f_01_a_remote_start_reaches_a_station_whose_ev_is_plugged_in_first(ocpp_server, run):
    station = station_make(ocpp_version="2.0.1")
    id_token_create(uid="CABLE-FIRST", type="Central")

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            # given: the driver plugs in; the station (TxStartPoint EVConnected) opens a transaction
            await cp.ok(
                "StatusNotification",
                {"timestamp": now_iso(), "connectorStatus": "Occupied", "evseId": 1, "connectorId": 1},
            )
            await cp.ok(
                "TransactionEvent",
                event(
                    "Started",
                    "tx-f01",
                    0,
                    "CablePluggedIn",
                    evse={"id": 1, "connectorId": 1},
                    info={"chargingState": "EVConnected"},
                ),
            )
            # when: the operator starts the session for the driver's card
            command = await db(session_remote_start)(station=station, evse_id=1, id_token="CABLE-FIRST")
            await db(command_wait)(command=command, timeout=10)
            request = await cp.wait_call("RequestStartTransaction")
            await cp.ok(
                "TransactionEvent",
                event(
                    "Updated",
                    "tx-f01",
                    1,
                    "RemoteStart",
                    evse={"id": 1, "connectorId": 1},
                    info={"remoteStartId": request["remoteStartId"], "chargingState": "EVConnected"},
                ),
            )
            return request

    request = run(scenario())
    # then: the station was asked with the card as it is registered, and the open session is the card's
    assert request["idToken"] == {"idToken": "CABLE-FIRST", "type": "Central"}
    session = Session.objects.get(station=station, transaction_id="tx-f01")
    assert session.id_token.uid == "CABLE-FIRST"


def test_a_remote_start_is_refused_while_a_card_holds_the_connector(ocpp_server, run):
    station = station_make(ocpp_version="2.0.1")
    id_token_create(uid="HOLDER")
    id_token_create(uid="LATECOMER")

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            await cp.ok(
                "StatusNotification",
                {"timestamp": now_iso(), "connectorStatus": "Occupied", "evseId": 1, "connectorId": 1},
            )
            await cp.ok(
                "TransactionEvent",
                event(
                    "Started",
                    "tx-held",
                    0,
                    "Authorized",
                    evse={"id": 1, "connectorId": 1},
                    idToken={"idToken": "HOLDER", "type": "ISO14443"},
                ),
            )
            try:
                await db(session_remote_start)(station=station, evse_id=1, id_token="LATECOMER")
            except StationError as exc:
                return str(exc)
            return None

    assert run(scenario()) == "the connector has an active session"
    assert not Command.objects.filter(station=station, action="RequestStartTransaction").exists()


def _kwh30_tariff() -> None:
    tariff_create(
        code="KWH30C",
        name="30 ct per kWh",
        currency="EUR",
        is_default=True,
        elements=[{"price_components": [{"type": "ENERGY", "price": "0.30", "step_size": 1}]}],
    )


def test_tc_i_01_cost_updated_is_sent_while_charging_once_per_interval_and_on_change(
    ocpp_server, run, settings
):
    """I01: while the session charges the station is sent its running cost (CostUpdated), the price
    the driver sees; not again within the interval nor for an unchanged amount; totalCost at Ended."""
    from chargenet.events import events_dispatch_due

    settings.OCPP_COST_UPDATED_INTERVAL = 3600
    station = station_make(ocpp_version="2.0.1")
    id_token_create(uid=CARD["idToken"])
    _kwh30_tariff()

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            started = event(
                "Started",
                "tx-i01",
                0,
                "Authorized",
                idToken=CARD,
                evse={"id": 1, "connectorId": 1},
                meterValue=energy(1000, "Transaction.Begin"),
            )
            await cp.ok("TransactionEvent", started)
            await cp.ok(
                "TransactionEvent",
                event("Updated", "tx-i01", 1, "MeterValuePeriodic", meterValue=energy(6000)),
            )
            await db(events_dispatch_due)()
            first = await cp.wait_call("CostUpdated")
            # within the interval: a further update sends nothing
            await cp.ok(
                "TransactionEvent",
                event("Updated", "tx-i01", 2, "MeterValuePeriodic", meterValue=energy(8000)),
            )
            await db(events_dispatch_due)()
            ended = await cp.ok(
                "TransactionEvent",
                event("Ended", "tx-i01", 3, "StopAuthorized", meterValue=energy(11000, "Transaction.End")),
            )
            await db(events_dispatch_due)()
            return first, ended

    first, ended = run(scenario())
    # 5 kWh at 0.30 EUR
    assert first == {"totalCost": 1.5, "transactionId": "tx-i01"}
    assert Decimal(str(ended["totalCost"])) == Decimal("3.00")
    commands = Command.objects.filter(station=station, action="CostUpdated").order_by("pk")
    assert [c.payload["totalCost"] for c in commands] == [1.5]
    assert commands.get().status == Command.Status.ACCEPTED


def test_cost_updated_is_sent_again_only_when_the_amount_changed(ocpp_server, run, settings):
    from chargenet.events import events_dispatch_due

    settings.OCPP_COST_UPDATED_INTERVAL = 1  # every update is past the interval in this test
    station = station_make(ocpp_version="2.0.1")
    _kwh30_tariff()

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            await cp.ok(
                "TransactionEvent",
                event(
                    "Started",
                    "tx-chg",
                    0,
                    "CablePluggedIn",
                    evse={"id": 1, "connectorId": 1},
                    meterValue=energy(0, "Transaction.Begin"),
                ),
            )
            costs = []
            for seq, wh in ((1, 2000), (2, 2000), (3, 4000)):
                await cp.ok(
                    "TransactionEvent",
                    event("Updated", "tx-chg", seq, "MeterValuePeriodic", meterValue=energy(wh)),
                )
                # the next update comes after the interval
                await db(
                    lambda: Command.objects.filter(action="CostUpdated").update(
                        created_at=timezone.now() - timedelta(seconds=5)
                    )
                )()
                await db(events_dispatch_due)()
            costs.append((await cp.wait_call("CostUpdated"))["totalCost"])
            costs.append((await cp.wait_call("CostUpdated"))["totalCost"])
            return costs

    costs = run(scenario())
    assert costs == [0.6, 1.2]
    assert [
        c.payload["totalCost"]
        for c in Command.objects.filter(station=station, action="CostUpdated").order_by("pk")
    ] == [
        0.6,
        1.2,
    ]


def test_cost_updated_is_not_sent_when_turned_off(ocpp_server, run, settings):
    from chargenet.events import events_dispatch_due

    settings.OCPP_COST_UPDATED_INTERVAL = 0
    station = station_make(ocpp_version="2.0.1")
    _kwh30_tariff()

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            await cp.ok(
                "TransactionEvent",
                event(
                    "Started",
                    "tx-off",
                    0,
                    "CablePluggedIn",
                    evse={"id": 1, "connectorId": 1},
                    meterValue=energy(0, "Transaction.Begin"),
                ),
            )
            await cp.ok(
                "TransactionEvent",
                event("Updated", "tx-off", 1, "MeterValuePeriodic", meterValue=energy(2000)),
            )
            await db(events_dispatch_due)()

    run(scenario())
    assert Session.objects.get(station=station, transaction_id="tx-off").energy_wh == 2000
    assert not Command.objects.filter(station=station, action="CostUpdated").exists()
