"""Transaction messages are always answered, deduplicated by content and reconciled, never refused."""

import asyncio
from decimal import Decimal

import pytest

from chargenet.events import event_subscribe
from rfid.services import id_token_create
from stations.models import MeterSample, Session
from tests.stations.connection.helpers import booted, now_iso, station_make

pytestmark = pytest.mark.django_db(transaction=True)


def start_payload(uid="TX-CARD-1", connector=1, meter=0, ts=None):
    return {"connectorId": connector, "idTag": uid, "meterStart": meter, "timestamp": ts or now_iso(-30)}


def test_a_retried_start_transaction_gets_the_same_transaction_id(ocpp_server, run):
    station = station_make()
    id_token_create(uid="TX-CARD-1")
    payload = start_payload()

    async def scenario():
        async with booted(ocpp_server, station) as cp:
            first = await cp.ok("StartTransaction", payload)
            again = await cp.ok("StartTransaction", payload)  # new message id, same content
            assert again["transactionId"] == first["transactionId"]
            assert again["idTagInfo"]["status"] == "Accepted"

    run(scenario())
    assert Session.objects.filter(station=station).count() == 1


def test_stop_transactions_with_unknown_minus_one_or_zero_ids_are_acknowledged_and_reconciled(
    ocpp_server, run
):
    station = station_make()

    async def scenario():
        async with booted(ocpp_server, station) as cp:
            start = await cp.ok("StartTransaction", start_payload(uid="ANY-1"))
            # the one active session is closed by a stop that lost its id
            await cp.ok(
                "StopTransaction",
                {"transactionId": -1, "meterStop": 40, "timestamp": now_iso(-10), "idTag": "ANY-1"},
            )
            # no active session left: the stop is kept as a flagged record, once even when retried
            orphan = {"transactionId": 0, "meterStop": 99, "timestamp": now_iso(-5)}
            assert await cp.ok("StopTransaction", orphan) == {}
            assert await cp.ok("StopTransaction", orphan) == {}
            assert (
                await cp.ok(
                    "StopTransaction", {"transactionId": 424242, "meterStop": 1, "timestamp": now_iso()}
                )
                == {}
            )
            return start["transactionId"]

    transaction_id = run(scenario())
    closed = Session.objects.get(station=station, transaction_id=str(transaction_id))
    assert closed.status == "completed" and closed.energy_wh == 40
    assert closed.flags[-1] == "stopped_with_unknown_transaction_id_-1"
    orphans = Session.objects.filter(station=station).exclude(pk=closed.pk)
    assert orphans.count() == 2
    assert all(o.flags == ["stop_for_unknown_transaction"] and o.energy_wh == 0 for o in orphans)


def test_a_retried_stop_transaction_is_not_counted_twice(ocpp_server, run):
    station = station_make()

    async def scenario():
        async with booted(ocpp_server, station) as cp:
            start = await cp.ok("StartTransaction", start_payload(meter=100))
            stop = {"transactionId": start["transactionId"], "meterStop": 600, "timestamp": now_iso()}
            await cp.ok("StopTransaction", stop)
            await cp.ok("StopTransaction", {**stop, "meterStop": 900})

    run(scenario())
    session = Session.objects.get(station=station)
    assert (session.energy_wh, session.meter_stop_wh) == (500, 600)


def test_a_lost_stop_transaction_is_closed_incomplete_when_the_connector_starts_again(ocpp_server, run):
    station = station_make()

    async def scenario():
        async with booted(ocpp_server, station) as cp:
            await cp.ok("StartTransaction", start_payload(uid="A-1", ts=now_iso(-600)))
            await cp.ok("StartTransaction", start_payload(uid="B-2", meter=50))

    run(scenario())
    lost, new = Session.objects.filter(station=station).order_by("started_at")
    assert lost.status == "incomplete" and "stop_transaction_missing" in lost.flags
    assert new.status == "active"


def test_meter_values_are_normalised_stored_once_and_keep_the_session_energy(ocpp_server, run):
    station = station_make()
    events = []
    event_subscribe("session.updated", lambda t, d: events.append(d))  # in-process: not the server's

    async def scenario():
        async with booted(ocpp_server, station) as cp:
            start = await cp.ok("StartTransaction", start_payload(meter=2000))
            sample = {
                "connectorId": 1,
                "meterValue": [
                    {
                        "timestamp": now_iso(-20),
                        "sampledValue": [
                            {"value": "2.75", "unit": "kWh", "measurand": "Energy.Active.Import.Register"},
                            {"value": "11", "unit": "kW", "measurand": "Power.Active.Import"},
                            {"value": "16.1", "unit": "A", "measurand": "Current.Import", "phase": "L1"},
                            {"value": "230", "measurand": "Voltage", "phase": "L1-N"},
                            {"value": "21", "measurand": "Temperature", "unit": "Celcius"},
                        ],
                    }
                ],
            }
            await cp.ok("MeterValues", sample)  # no transactionId: the active session on connector 1
            await cp.ok("MeterValues", sample)  # replayed
            return start["transactionId"]

    run(scenario())
    session = Session.objects.get(station=station)
    assert session.energy_wh == 750
    stored = {(s.measurand, s.phase, s.unit, s.value) for s in MeterSample.objects.filter(session=session)}
    assert stored == {
        ("Energy.Active.Import.Register", "", "Wh", 2750),
        ("Power.Active.Import", "", "W", 11000),
        ("Current.Import", "L1", "A", Decimal("16.1")),
        ("Voltage", "L1-N", "V", 230),
        ("Temperature", "", "Celsius", 21),
    }
    assert asyncio  # scenario helpers


def test_status_notifications_keep_history_and_raise_and_clear_faults(ocpp_server, run):
    from stations.models import ConnectorStatusChange, StationProtocolState

    station = station_make()

    async def scenario():
        async with booted(ocpp_server, station) as cp:
            await cp.ok(
                "StatusNotification", {"connectorId": 2, "errorCode": "GroundFailure", "status": "Faulted"}
            )
            await cp.ok(
                "StatusNotification", {"connectorId": 2, "errorCode": "NoError", "status": "Available"}
            )
            await cp.ok(
                "StatusNotification", {"connectorId": 0, "errorCode": "NoError", "status": "Unavailable"}
            )

    run(scenario())
    history = list(
        ConnectorStatusChange.objects.filter(station=station, evse_id=2)
        .order_by("id")
        .values_list("previous_status", "status")
    )
    assert history == [("Unknown", "Faulted"), ("Faulted", "Available")]
    assert station.evses.get(evse_id=2).connectors.get().status == "Available"  # connector 2 = EVSE 2
    assert StationProtocolState.objects.get(station=station).station_status == "Unavailable"
