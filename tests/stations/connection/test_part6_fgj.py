"""OCPP 2.0.1 Part 6 CSMS test cases of blocks F (remote control, TriggerMessage), G (availability) and
J (meter values), each over a real socket against the real server. The CSMS's requests go through the
durable command queue (`command_create`, as the API and the dashboard send them); the test station
plays the Charging Station's side of the case; the tests assert what the operator then sees.
docs/ocpp-2.0.1-coverage.md maps every Part 6 case to its test."""

import json

import pytest

from rfid.services import id_token_create
from stations.alerts.services import alert_list
from stations.models import (
    Command,
    Connector,
    ConnectorStatusChange,
    DeviceEvent,
    DeviceVariable,
    MeterSample,
    Session,
    StationProtocolState,
)
from stations.services import CommandError, command_create, command_wait, session_remote_start
from tests.stations.connection.helpers import db, now_iso, sent_to, station_make
from tests.stations.devicemodel.helpers import booted201

pytestmark = pytest.mark.django_db(transaction=True)

CARD = {"idToken": "P6-FGJ-CARD", "type": "ISO14443"}
SIGNED = {
    "signedMeterData": "T0NNRi1Gb3JtYXQtZXhhbXBsZQ==",
    "signingMethod": "ECDSA-secp256r1-SHA256",
    "encodingMethod": "OCMF",
    "publicKey": "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE",
}


def reading(wh: float, context: str, at: float, signed: dict | None = None) -> dict:
    """One meterValue: the energy register at `at` seconds from now."""
    sampled = {"value": wh, "context": context, "measurand": "Energy.Active.Import.Register"}
    if signed is not None:
        sampled["signedMeterValue"] = signed
    return {"timestamp": now_iso(at), "sampledValue": [sampled]}


def tx_event(kind: str, tx: str, seq: int, trigger: str, evse: bool = True, **extra) -> dict:
    info = {"transactionId": tx, **extra.pop("info", {})}
    event = {
        "eventType": kind,
        "timestamp": now_iso(-60 + seq),
        "triggerReason": trigger,
        "seqNo": seq,
        "transactionInfo": info,
        **extra,
    }
    if evse:
        event["evse"] = {"id": 1, "connectorId": 1}
    return event


def availability(value: str, evse: dict | None = None) -> dict:
    """The NotifyEvent a station sends beside a StatusNotification: the connector's AvailabilityState."""
    component: dict = {"name": "Connector"}
    if evse is not None:
        component["evse"] = evse
    return {
        "generatedAt": now_iso(),
        "seqNo": 0,
        "eventData": [
            {
                "eventId": 1,
                "timestamp": now_iso(),
                "trigger": "Delta",
                "actualValue": value,
                "component": component,
                "variable": {"name": "AvailabilityState"},
                "eventNotificationType": "HardWiredNotification",
            }
        ],
    }


async def connector_reports(cp, status: str, evse_id: int = 1) -> None:
    await cp.ok(
        "StatusNotification",
        {"timestamp": now_iso(), "connectorStatus": status, "evseId": evse_id, "connectorId": 1},
    )
    await cp.ok("NotifyEvent", availability(status, {"id": evse_id, "connectorId": 1}))


async def energy_transfer_started(cp, tx: str) -> None:
    """The reusable state EnergyTransferStarted: authorized, plugged in (meter 1000 Wh), charging."""
    await cp.ok("Authorize", {"idToken": CARD})
    await cp.ok(
        "StatusNotification",
        {"timestamp": now_iso(), "connectorStatus": "Occupied", "evseId": 1, "connectorId": 1},
    )
    await cp.ok(
        "TransactionEvent",
        tx_event(
            "Started",
            tx,
            0,
            "Authorized",
            idToken=CARD,
            info={"chargingState": "EVConnected"},
            meterValue=[reading(1000, "Transaction.Begin", -60)],
        ),
    )
    await cp.ok(
        "TransactionEvent",
        tx_event("Updated", tx, 1, "ChargingStateChanged", info={"chargingState": "Charging"}),
    )


async def session_ends(cp, tx: str, seq: int) -> None:
    """StopAuthorized, EVConnectedPostSession and EVDisconnected: the transaction ends at 1800 Wh."""
    await cp.ok("Authorize", {"idToken": CARD})
    await cp.ok(
        "TransactionEvent",
        tx_event("Updated", tx, seq, "StopAuthorized", idToken=CARD, info={"chargingState": "EVConnected"}),
    )
    await cp.ok(
        "TransactionEvent",
        tx_event(
            "Ended",
            tx,
            seq + 1,
            "EVCommunicationLost",
            info={"chargingState": "Idle", "stoppedReason": "Local"},
            meterValue=[reading(1800, "Transaction.End", -2)],
        ),
    )


def samples(**filters) -> list[tuple]:
    return list(
        MeterSample.objects.filter(**filters)
        .order_by("timestamp", "context")
        .values_list("evse_id", "context", "value")
    )


# --- F Remote control ----------------------------------------------------------------------------


def test_tc_f_04_a_remote_start_whose_ev_is_never_plugged_in_shows_the_session_deauthorized_by_the_timeout(
    ocpp_server, run
):
    station = station_make(ocpp_version="2.0.1")
    id_token_create(uid=CARD["idToken"])

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            await db(station.refresh_from_db)()
            # given the operator starts a session remotely
            command = await db(session_remote_start)(station=station, evse_id=1, id_token=CARD["idToken"])
            command = await db(command_wait)(command=command, timeout=10)
            request = await cp.wait_call("RequestStartTransaction")
            # when the station starts the transaction, then gives up waiting for the cable
            started = await cp.ok(
                "TransactionEvent",
                tx_event(
                    "Started",
                    "tx-f04",
                    0,
                    "RemoteStart",
                    idToken=CARD,
                    info={"remoteStartId": request["remoteStartId"]},
                ),
            )
            timeout = await cp.ok(
                "TransactionEvent", tx_event("Updated", "tx-f04", 1, "EVConnectTimeout", evse=False)
            )
            return command, request, started, timeout

    command, request, started, timeout = run(scenario())
    # then the station was asked for the operator's card, and the session shows why nothing flowed
    assert request["idToken"]["idToken"] == CARD["idToken"] and request["evseId"] == 1
    assert command.status == Command.Status.ACCEPTED
    assert started["idTokenInfo"]["status"] == "Accepted" and timeout == {}
    session = Session.objects.get(station=station, transaction_id="tx-f04")
    assert session.remote_start_id == request["remoteStartId"] and session.id_tag == CARD["idToken"]
    assert "ev_connect_timeout" in session.flags
    assert session.energy_wh == 0


# --- F TriggerMessage ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "case, request_payload, evses",
    [
        ("TC_F_11", {"requestedMessage": "MeterValues", "evse": {"id": 1}}, [1]),
        ("TC_F_12", {"requestedMessage": "MeterValues"}, [1, 2]),
    ],
)
def test_tc_f_11_tc_f_12_triggered_meter_values_are_stored_for_each_evse_that_answers(
    ocpp_server, run, case, request_payload, evses
):
    station = station_make(ocpp_version="2.0.1")

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            await cp.ok(
                "StatusNotification",
                {"timestamp": now_iso(), "connectorStatus": "Available", "evseId": 2, "connectorId": 1},
            )
            command, received = await sent_to(cp, station, "TriggerMessage", request_payload)
            for evse_id in evses:  # "this step is executed for every EVSE"
                await cp.ok(
                    "MeterValues", {"evseId": evse_id, "meterValue": [reading(4000 + evse_id, "Trigger", -1)]}
                )
            return command, received

    command, received = run(scenario())
    assert received == request_payload and command.status == Command.Status.ACCEPTED
    assert samples(station=station) == [(evse_id, "Trigger", 4000 + evse_id) for evse_id in evses]


@pytest.mark.parametrize(
    "case, request_payload, evse_in_event",
    [
        ("TC_F_13", {"requestedMessage": "TransactionEvent", "evse": {"id": 1}}, True),
        ("TC_F_14", {"requestedMessage": "TransactionEvent"}, False),
    ],
)
def test_tc_f_13_tc_f_14_a_triggered_transaction_event_updates_the_running_session(
    ocpp_server, run, case, request_payload, evse_in_event
):
    station = station_make(ocpp_version="2.0.1")
    id_token_create(uid=CARD["idToken"])
    tx = f"tx-{case}"

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            await energy_transfer_started(cp, tx)
            command, received = await sent_to(cp, station, "TriggerMessage", request_payload)
            answer = await cp.ok(
                "TransactionEvent",
                tx_event(
                    "Updated",
                    tx,
                    2,
                    "Trigger",
                    evse=evse_in_event,
                    info={"chargingState": "Charging"},
                    meterValue=[reading(1600, "Trigger", -1)],
                ),
            )
            return command, received, answer

    command, received, answer = run(scenario())
    assert received == request_payload and command.status == Command.Status.ACCEPTED and answer == {}
    session = Session.objects.get(station=station, transaction_id=tx)
    assert session.status == Session.Status.ACTIVE and session.energy_wh == 600
    assert (1, "Trigger", 1600) in samples(session=session)


@pytest.mark.parametrize(
    "case, requested, notification, state_field",
    [
        ("TC_F_15", "LogStatusNotification", "LogStatusNotification", "log_status"),
        ("TC_F_18", "FirmwareStatusNotification", "FirmwareStatusNotification", "firmware_status"),
    ],
)
def test_tc_f_15_tc_f_18_a_triggered_idle_status_replaces_the_last_one_on_the_station(
    ocpp_server, run, case, requested, notification, state_field
):
    station = station_make(ocpp_version="2.0.1")
    last = {"LogStatusNotification": "Uploaded", "FirmwareStatusNotification": "Installed"}[notification]

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            # given the last upload / update finished
            await cp.ok(notification, {"status": last, "requestId": 7})
            before = await db(
                lambda: getattr(StationProtocolState.objects.get(station=station), state_field)
            )()
            # when the CSMS asks where it stands, the station says it is idle
            command, received = await sent_to(cp, station, "TriggerMessage", {"requestedMessage": requested})
            await cp.ok(notification, {"status": "Idle"})
            return before, command, received

    before, command, received = run(scenario())
    assert received == {"requestedMessage": requested} and command.status == Command.Status.ACCEPTED
    state = StationProtocolState.objects.get(station=station)
    assert before == last and getattr(state, state_field) == "Idle"


@pytest.mark.parametrize("case, status", [("TC_F_23", "Available"), ("TC_F_24", "Occupied")])
def test_tc_f_23_tc_f_24_a_triggered_status_notification_names_the_evse_and_its_report_is_kept(
    ocpp_server, run, case, status
):
    station = station_make(ocpp_version="2.0.1")

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            if status == "Occupied":
                await connector_reports(cp, "Occupied")
            command, received = await sent_to(
                cp, station, "TriggerMessage", {"requestedMessage": "StatusNotification", "evse": {"id": 1}}
            )
            await connector_reports(cp, status)
            return command, received

    command, received = run(scenario())
    assert received == {"requestedMessage": "StatusNotification", "evse": {"id": 1}}
    assert command.status == Command.Status.ACCEPTED
    connector = Connector.objects.get(evse__station=station, evse__evse_id=1)
    assert connector.status == status
    # the triggered report is in the connector's history as the station sent it
    assert ConnectorStatusChange.objects.filter(connector=connector, status=status).count() == 2
    variable = DeviceVariable.objects.get(
        station=station, component="Connector", variable="AvailabilityState"
    )
    assert variable.value == status


def test_f06_fr_13_a_status_notification_trigger_without_an_evse_is_refused_and_nothing_is_queued():
    station = station_make(ocpp_version="2.0.1")

    with pytest.raises(CommandError, match="EVSE"):
        command_create(
            station=station, action="TriggerMessage", payload={"requestedMessage": "StatusNotification"}
        )

    assert not Command.objects.filter(station=station).exists()


# --- G Availability ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "case, before, request_payload, after",
    [
        ("TC_G_06", "Unavailable", {"operationalStatus": "Operative"}, "Available"),
        (
            "TC_G_07",
            "Available",
            {"operationalStatus": "Inoperative", "evse": {"id": 1, "connectorId": 1}},
            "Unavailable",
        ),
        (
            "TC_G_08",
            "Unavailable",
            {"operationalStatus": "Operative", "evse": {"id": 1, "connectorId": 1}},
            "Available",
        ),
    ],
)
def test_tc_g_06_tc_g_07_tc_g_08_the_connector_shows_the_availability_the_station_reports_after_the_change(
    ocpp_server, run, case, before, request_payload, after
):
    station = station_make(ocpp_version="2.0.1")

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            await connector_reports(cp, before)
            shown_before = await db(lambda: Connector.objects.get(evse__station=station).status)()
            command, received = await sent_to(cp, station, "ChangeAvailability", request_payload)
            await connector_reports(cp, after)
            return shown_before, command, received

    shown_before, command, received = run(scenario())
    assert received == request_payload
    assert command.status == Command.Status.ACCEPTED and command.response == {"status": "Accepted"}
    assert shown_before == before
    assert Connector.objects.get(evse__station=station).status == after
    assert DeviceVariable.objects.get(station=station, variable="AvailabilityState").value == after


@pytest.mark.parametrize(
    "case, request_payload, idle_evse_after",
    [
        # the whole station: its idle EVSE goes Unavailable at once, the charging one after its session
        ("TC_G_14", {"operationalStatus": "Inoperative"}, "Unavailable"),
        # one connector: nothing else changes
        ("TC_G_17", {"operationalStatus": "Inoperative", "evse": {"id": 1, "connectorId": 1}}, "Available"),
    ],
)
def test_tc_g_14_tc_g_17_inoperative_during_a_transaction_is_scheduled_and_the_session_ends_normally(
    ocpp_server, run, case, request_payload, idle_evse_after
):
    station = station_make(ocpp_version="2.0.1")
    id_token_create(uid=CARD["idToken"])
    tx = f"tx-{case}"

    def statuses() -> dict[int, str]:
        return dict(Connector.objects.filter(evse__station=station).values_list("evse__evse_id", "status"))

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            await connector_reports(cp, "Available", evse_id=2)
            await energy_transfer_started(cp, tx)
            command, received = await sent_to(
                cp, station, "ChangeAvailability", request_payload, {"status": "Scheduled"}
            )
            if idle_evse_after == "Unavailable":  # "all unoccupied connectors" report Unavailable
                await connector_reports(cp, "Unavailable", evse_id=2)
            session_during = await db(
                lambda: Session.objects.get(station=station, transaction_id=tx).status
            )()
            during = await db(statuses)()
            await session_ends(cp, tx, 2)
            await cp.ok(
                "StatusNotification",
                {"timestamp": now_iso(), "connectorStatus": "Unavailable", "evseId": 1, "connectorId": 1},
            )
            return command, received, session_during, during

    command, received, session_during, during = run(scenario())
    assert received == request_payload
    # the change waits for the transaction: the command shows Scheduled, the session charges on
    assert command.status == Command.Status.ACCEPTED and command.response == {"status": "Scheduled"}
    assert session_during == Session.Status.ACTIVE and during == {1: "Occupied", 2: idle_evse_after}
    session = Session.objects.get(station=station, transaction_id=tx)
    assert session.status == Session.Status.COMPLETED and session.energy_wh == 800
    assert statuses() == {1: "Unavailable", 2: idle_evse_after}


def test_tc_g_20_a_connector_lock_failure_is_an_alert_for_the_operator(ocpp_server, run):
    station = station_make(ocpp_version="2.0.1")
    lock_failure = {
        "generatedAt": now_iso(),
        "seqNo": 0,
        "eventData": [
            {
                "eventId": 20,
                "timestamp": now_iso(),
                "trigger": "Delta",
                "actualValue": "true",
                "component": {"name": "ConnectorPlugRetentionLock", "evse": {"id": 1, "connectorId": 1}},
                "variable": {"name": "Problem"},
                "eventNotificationType": "HardWiredNotification",
            }
        ],
    }

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            return await cp.ok("NotifyEvent", lock_failure)

    assert run(scenario()) == {}
    event = DeviceEvent.objects.get(station=station, event_id=20)
    assert event.problem and event.component == "ConnectorPlugRetentionLock" and event.cleared_at is None
    titles = [alert.title for alert in alert_list(station=station) if alert.kind == "device_problem"]
    assert titles and "ConnectorPlugRetentionLock" in titles[0]


# --- J Meter values ------------------------------------------------------------------------------


def test_tc_j_02_clock_aligned_values_during_a_transaction_keep_the_main_meter_apart_from_the_session(
    ocpp_server, run
):
    station = station_make(ocpp_version="2.0.1")
    id_token_create(uid=CARD["idToken"])
    fiscal = {
        "generatedAt": now_iso(),
        "seqNo": 0,
        "eventData": [
            {
                "eventId": 30,
                "timestamp": now_iso(),
                "trigger": "Periodic",
                "actualValue": "250000",
                "component": {"name": "FiscalMetering"},
                "variable": {"name": "EnergyImportRegister"},
                "eventNotificationType": "HardWiredNotification",
            }
        ],
    }

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            await energy_transfer_started(cp, "tx-j02")
            for tick, (station_meter, evse_meter) in enumerate([(250000, 1300), (250500, 1700)]):
                # the station's own meter (evseId 0) and the charging EVSE, at each clock-aligned tick
                await cp.ok(
                    "MeterValues",
                    {"evseId": 0, "meterValue": [reading(station_meter, "Sample.Clock", -20 + tick)]},
                )
                await cp.ok("NotifyEvent", fiscal)
                await cp.ok(
                    "TransactionEvent",
                    tx_event(
                        "Updated",
                        "tx-j02",
                        2 + tick,
                        "MeterValueClock",
                        info={"chargingState": "Charging"},
                        meterValue=[reading(evse_meter, "Sample.Clock", -20 + tick)],
                    ),
                )

    run(scenario())
    session = Session.objects.get(station=station, transaction_id="tx-j02")
    assert session.status == Session.Status.ACTIVE and session.energy_wh == 700
    assert samples(session=session) == [
        (1, "Transaction.Begin", 1000),
        (1, "Sample.Clock", 1300),
        (1, "Sample.Clock", 1700),
    ]
    assert samples(station=station, session=None) == [
        (0, "Sample.Clock", 250000),
        (0, "Sample.Clock", 250500),
    ]
    assert DeviceVariable.objects.get(station=station, component="FiscalMetering").value == "250000"


@pytest.mark.parametrize(
    "case, context, signed",
    [
        ("TC_J_03", "Sample.Clock", None),
        ("TC_J_04", "Sample.Clock", SIGNED),
        ("TC_J_11", "Sample.Periodic", SIGNED),
    ],
)
def test_tc_j_03_tc_j_04_tc_j_11_the_meter_values_of_the_ended_event_close_the_session_signed_ones_kept(
    ocpp_server, run, case, context, signed
):
    station = station_make(ocpp_version="2.0.1")
    id_token_create(uid=CARD["idToken"])
    tx = f"tx-{case}"

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            await energy_transfer_started(cp, tx)
            await connector_reports(cp, "Available")  # EVDisconnected
            end = reading(1900, context, -5, signed)
            end["sampledValue"].append(
                {"value": 1900, "context": "Transaction.End", "measurand": "Energy.Active.Import.Register"}
                | ({"signedMeterValue": signed} if signed else {})
            )
            return await cp.ok(
                "TransactionEvent",
                tx_event(
                    "Ended",
                    tx,
                    2,
                    "EVCommunicationLost",
                    info={"chargingState": "Idle", "stoppedReason": "EVDisconnected"},
                    meterValue=[reading(1500, context, -10, signed), end],
                ),
            )

    answer = run(scenario())
    assert "idTokenInfo" not in answer
    session = Session.objects.get(station=station, transaction_id=tx)
    assert session.status == Session.Status.COMPLETED and session.stop_reason == "EVDisconnected"
    assert (session.meter_start_wh, session.meter_stop_wh, session.energy_wh) == (1000, 1900, 900)
    assert samples(session=session)[1:] == [
        (1, context, 1500),
        (1, context, 1900),
        (1, "Transaction.End", 1900),
    ]
    kept = {
        json.loads(s.signed_data)["signedMeterData"] if s.signed_data else ""
        for s in MeterSample.objects.filter(session=session).exclude(context="Transaction.Begin")
    }
    # a signed reading is kept with its proof, as the station sent it, for the driver to verify
    assert kept == ({SIGNED["signedMeterData"]} if signed else {""})
    if signed:
        proof = MeterSample.objects.filter(session=session, context="Transaction.End").get().signed_data
        assert json.loads(proof) == SIGNED


def test_tc_j_07_the_transaction_begin_value_of_the_started_event_is_the_sessions_meter_start(
    ocpp_server, run
):
    station = station_make(ocpp_version="2.0.1")

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            await connector_reports(cp, "Occupied")  # EVConnectedPreSession
            return await cp.ok(
                "TransactionEvent",
                tx_event(
                    "Started",
                    "tx-j07",
                    0,
                    "CablePluggedIn",
                    info={"chargingState": "EVConnected"},
                    meterValue=[reading(52000, "Transaction.Begin", -1)],
                ),
            )

    assert run(scenario()) == {}
    session = Session.objects.get(station=station, transaction_id="tx-j07")
    assert session.evse.evse_id == 1 and session.meter_start_wh == 52000 and session.energy_wh == 0
    assert samples(session=session) == [(1, "Transaction.Begin", 52000)]


def test_tc_j_08_a_transaction_begin_value_sent_after_the_start_still_counts_as_the_meter_start(
    ocpp_server, run
):
    station = station_make(ocpp_version="2.0.1")
    id_token_create(uid=CARD["idToken"])

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            # Authorized: the card is presented before any EVSE is chosen
            await cp.ok("Authorize", {"idToken": CARD})
            await cp.ok(
                "TransactionEvent",
                tx_event(
                    "Started",
                    "tx-j08",
                    0,
                    "Authorized",
                    evse=False,
                    idToken=CARD,
                    info={"chargingState": "Idle"},
                ),
            )
            # EVConnectedPreSession: the cable goes in and the start reading comes with it
            await connector_reports(cp, "Occupied")
            await cp.ok(
                "TransactionEvent",
                tx_event(
                    "Updated",
                    "tx-j08",
                    1,
                    "CablePluggedIn",
                    info={"chargingState": "EVConnected"},
                    meterValue=[reading(52000, "Transaction.Begin", -30)],
                ),
            )
            # EnergyTransferStarted
            await cp.ok(
                "TransactionEvent",
                tx_event(
                    "Updated",
                    "tx-j08",
                    2,
                    "ChargingStateChanged",
                    info={"chargingState": "Charging"},
                    meterValue=[reading(52400, "Sample.Periodic", -10)],
                ),
            )

    run(scenario())
    session = Session.objects.get(station=station, transaction_id="tx-j08")
    assert session.evse.evse_id == 1 and session.id_tag == CARD["idToken"]
    # energy counts from the Transaction.Begin reading, not from zero
    assert (session.meter_start_wh, session.energy_wh) == (52000, 400)
    assert samples(session=session) == [(1, "Transaction.Begin", 52000), (1, "Sample.Periodic", 52400)]
