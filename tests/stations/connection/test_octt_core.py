"""OCTT 1.6 Central System test cases, Core profile (docs/ocpp-1.6-coverage.md).

Each test plays the charge point's part over a real socket and asserts what the CSMS answered on
the wire and what it stored.
"""

import asyncio
from datetime import timedelta

import pytest
from django.utils import timezone

from rfid.models import IdToken
from rfid.services import id_token_create
from stations.models import (
    Command,
    Connector,
    ConnectorStatusChange,
    MeterSample,
    Session,
    StationConfigurationKey,
)
from stations.services import StationError, session_remote_start, session_remote_stop
from tests.stations.connection.client import eventually
from tests.stations.connection.helpers import booted, now_iso, sent_to, station_make

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def card(transactional_db):
    return id_token_create(uid="CARD-OK-1", parent_id_tag="GROUP-1")


def status(connector_status, connector_id=1, error="NoError"):
    return {"connectorId": connector_id, "errorCode": error, "status": connector_status}


async def charge(cp, uid, *, connector=1, meter_start=1000, meter_stop=4500, timestamp=None, reason=None):
    """A whole session from the station's side; returns (start answer, stop answer)."""
    await cp.ok("StatusNotification", status("Preparing", connector))
    start = await cp.ok(
        "StartTransaction",
        {
            "connectorId": connector,
            "idTag": uid,
            "meterStart": meter_start,
            "timestamp": timestamp or now_iso(),
        },
    )
    await cp.ok("StatusNotification", status("Charging", connector))
    await cp.ok(
        "MeterValues",
        {
            "connectorId": connector,
            "transactionId": start["transactionId"],
            "meterValue": [
                {
                    "timestamp": now_iso(),
                    "sampledValue": [
                        {
                            "value": str(meter_start + 1500),
                            "measurand": "Energy.Active.Import.Register",
                            "unit": "Wh",
                        },
                        {"value": "7.4", "measurand": "Power.Active.Import", "unit": "kW"},
                    ],
                }
            ],
        },
    )
    stop_payload = {
        "transactionId": start["transactionId"],
        "meterStop": meter_stop,
        "timestamp": now_iso(),
        "idTag": uid,
    }
    if reason:
        stop_payload["reason"] = reason
    stop = await cp.ok("StopTransaction", stop_payload)
    await cp.ok("StatusNotification", status("Finishing", connector))
    await cp.ok("StatusNotification", status("Available", connector))
    return start, stop


def test_TC_001_cold_boot_charge_point(ocpp_server, run):
    station = station_make(heartbeat_interval=120)

    async def scenario():
        async with booted(ocpp_server, station) as cp:
            heartbeat = await cp.ok("Heartbeat", {})
            assert heartbeat["currentTime"].endswith("Z")

    run(scenario())
    station.refresh_from_db()
    assert (station.vendor, station.model) == ("ChargeNet Test", "TS-1")
    assert station.last_boot_at is not None
    connector = Connector.objects.get(evse__station=station, evse__evse_id=1)
    assert connector.status == "Available"
    assert ConnectorStatusChange.objects.filter(station=station, status="Available").exists()


def test_TC_003_regular_charging_session_plugin_first(ocpp_server, run, card):
    station = station_make()

    async def scenario():
        async with booted(ocpp_server, station) as cp:
            authorize = await cp.ok("Authorize", {"idTag": card.uid})
            assert authorize["idTagInfo"] == {"status": "Accepted", "parentIdTag": "GROUP-1"}
            start, stop = await charge(cp, card.uid)
            assert start["idTagInfo"]["status"] == "Accepted"
            assert isinstance(start["transactionId"], int)
            assert stop["idTagInfo"]["status"] == "Accepted"

    run(scenario())
    session = Session.objects.get(station=station)
    assert session.status == "completed" and session.energy_wh == 3500
    assert session.id_token == card and session.flags == []
    samples = {(s.measurand, s.unit, s.value) for s in MeterSample.objects.filter(session=session)}
    assert ("Power.Active.Import", "W", 7400) in samples and (
        "Energy.Active.Import.Register",
        "Wh",
        2500,
    ) in samples
    card.refresh_from_db()
    assert card.last_used_at is not None


def test_TC_004_1_regular_charging_session_identification_first(ocpp_server, run, card):
    station = station_make()

    async def scenario():
        async with booted(ocpp_server, station) as cp:
            assert (await cp.ok("Authorize", {"idTag": card.uid}))["idTagInfo"]["status"] == "Accepted"
            await charge(cp, card.uid)

    run(scenario())
    assert Session.objects.get(station=station).status == "completed"


def test_TC_004_2_identification_first_connection_timeout(ocpp_server, run, card):
    station = station_make()

    async def scenario():
        async with booted(ocpp_server, station) as cp:
            await cp.ok("Authorize", {"idTag": card.uid})
            await cp.ok("StatusNotification", status("Preparing"))
            await cp.ok("StatusNotification", status("Available"))  # no cable within ConnectionTimeOut

    run(scenario())
    assert not Session.objects.filter(station=station).exists()
    assert Connector.objects.get(evse__station=station).status == "Available"


def test_TC_005_1_ev_side_disconnected(ocpp_server, run, card):
    station = station_make()

    async def scenario():
        async with booted(ocpp_server, station) as cp:
            await charge(cp, card.uid, reason="EVDisconnected")

    run(scenario())
    assert Session.objects.get(station=station).stop_reason == "EVDisconnected"


def test_TC_007_regular_start_charging_session_cached_id(ocpp_server, run, card):
    station = station_make()

    async def scenario():
        async with booted(ocpp_server, station) as cp:
            start, _ = await charge(cp, card.uid)  # no Authorize: the card came from the cache
            assert start["idTagInfo"]["status"] == "Accepted"

    run(scenario())
    assert Session.objects.get(station=station).id_token == card


async def remote_start_first(cp, station, uid):
    command, received = await sent_to(cp, station, "RemoteStartTransaction", {"connectorId": 1, "idTag": uid})
    assert received == {"connectorId": 1, "idTag": uid}
    assert command.status == Command.Status.ACCEPTED
    return command


def test_TC_010_remote_start_charging_session_cable_plugged_in_first(ocpp_server, run, card):
    station = station_make()

    async def scenario():
        async with booted(ocpp_server, station) as cp:
            await cp.ok("StatusNotification", status("Preparing"))
            await asyncio.to_thread(session_remote_start, station=station, evse_id=1, id_token=card)
            received = await cp.wait_call("RemoteStartTransaction")
            assert received == {"connectorId": 1, "idTag": card.uid}
            start = await cp.ok(
                "StartTransaction",
                {"connectorId": 1, "idTag": card.uid, "meterStart": 0, "timestamp": now_iso()},
            )
            assert start["idTagInfo"]["status"] == "Accepted"

    run(scenario())
    assert eventually(lambda: Command.objects.get(station=station).status == Command.Status.ACCEPTED)
    assert Session.objects.get(station=station).status == "active"


def test_TC_011_1_remote_start_charging_session_remote_start_first(ocpp_server, run, card):
    station = station_make()

    async def scenario():
        async with booted(ocpp_server, station) as cp:
            await remote_start_first(cp, station, card.uid)
            await charge(cp, card.uid)

    run(scenario())
    assert Session.objects.get(station=station).status == "completed"


def test_TC_011_2_remote_start_charging_session_time_out(ocpp_server, run, card):
    station = station_make()

    async def scenario():
        async with booted(ocpp_server, station) as cp:
            await remote_start_first(cp, station, card.uid)
            await cp.ok("StatusNotification", status("Preparing"))
            await cp.ok("StatusNotification", status("Available"))  # no cable: the station gives up

    run(scenario())
    assert not Session.objects.filter(station=station).exists()


def test_TC_012_remote_stop_charging_session(ocpp_server, run, card):
    station = station_make()

    async def scenario():
        async with booted(ocpp_server, station) as cp:
            start = await cp.ok(
                "StartTransaction",
                {"connectorId": 1, "idTag": card.uid, "meterStart": 10, "timestamp": now_iso()},
            )
            session = await asyncio.to_thread(Session.objects.get, station=station)
            await asyncio.to_thread(session_remote_stop, session=session)
            assert await cp.wait_call("RemoteStopTransaction") == {"transactionId": start["transactionId"]}
            await cp.ok(
                "StopTransaction",
                {
                    "transactionId": start["transactionId"],
                    "meterStop": 110,
                    "timestamp": now_iso(),
                    "reason": "Remote",
                },
            )

    run(scenario())
    session = Session.objects.get(station=station)
    assert (session.status, session.stop_reason, session.energy_wh) == ("completed", "Remote", 100)


@pytest.mark.parametrize("kind", ["Hard", "Soft"])
def test_TC_013_hard_reset_and_TC_014_soft_reset(ocpp_server, run, card, kind):
    station = station_make()

    async def scenario():
        async with booted(ocpp_server, station) as cp:
            start = await cp.ok(
                "StartTransaction",
                {"connectorId": 1, "idTag": card.uid, "meterStart": 0, "timestamp": now_iso()},
            )
            command, received = await sent_to(cp, station, "Reset", {"type": kind})
            assert received == {"type": kind} and command.status == Command.Status.ACCEPTED
            await cp.ok(
                "StopTransaction",
                {
                    "transactionId": start["transactionId"],
                    "meterStop": 50,
                    "timestamp": now_iso(),
                    "reason": f"{kind}Reset",
                },
            )
            assert (await cp.boot())["status"] == "Accepted"

    run(scenario())
    assert Session.objects.get(station=station).stop_reason == f"{kind}Reset"


def test_TC_017_1_unlock_connector_no_session_and_TC_017_2_fixed_cable(ocpp_server, run):
    station = station_make()

    async def scenario():
        async with booted(ocpp_server, station) as cp:
            unlocked, _ = await sent_to(
                cp, station, "UnlockConnector", {"connectorId": 1}, {"status": "Unlocked"}
            )
            assert unlocked.status == Command.Status.ACCEPTED
            fixed, _ = await sent_to(
                cp, station, "UnlockConnector", {"connectorId": 1}, {"status": "NotSupported"}
            )
            assert fixed.status == Command.Status.REJECTED and fixed.response == {"status": "NotSupported"}

    run(scenario())


def test_TC_018_1_unlock_connector_with_session(ocpp_server, run, card):
    station = station_make()

    async def scenario():
        async with booted(ocpp_server, station) as cp:
            start = await cp.ok(
                "StartTransaction",
                {"connectorId": 1, "idTag": card.uid, "meterStart": 0, "timestamp": now_iso()},
            )
            command, _ = await sent_to(
                cp, station, "UnlockConnector", {"connectorId": 1}, {"status": "Unlocked"}
            )
            assert command.status == Command.Status.ACCEPTED
            await cp.ok(
                "StopTransaction",
                {
                    "transactionId": start["transactionId"],
                    "meterStop": 5,
                    "timestamp": now_iso(),
                    "reason": "UnlockCommand",
                },
            )

    run(scenario())
    assert Session.objects.get(station=station).stop_reason == "UnlockCommand"


def test_TC_019_1_retrieve_all_configuration_keys_and_TC_019_2_a_specific_key(ocpp_server, run):
    station = station_make()
    keys = [
        {"key": "HeartbeatInterval", "readonly": False, "value": "300"},
        {"key": "NumberOfConnectors", "readonly": True, "value": "1"},
    ]

    async def scenario():
        async with booted(ocpp_server, station) as cp:
            command, received = await sent_to(cp, station, "GetConfiguration", {}, {"configurationKey": keys})
            assert received == {} and command.status == Command.Status.ACCEPTED
            one, received = await sent_to(
                cp,
                station,
                "GetConfiguration",
                {"key": ["HeartbeatInterval", "Nope"]},
                {"configurationKey": [{**keys[0], "value": "120"}], "unknownKey": ["Nope"]},
            )
            assert received == {"key": ["HeartbeatInterval", "Nope"]}
            assert one.response["unknownKey"] == ["Nope"]

    run(scenario())
    stored = dict(StationConfigurationKey.objects.filter(station=station).values_list("key", "value"))
    assert stored == {"HeartbeatInterval": "120", "NumberOfConnectors": "1"}
    assert StationConfigurationKey.objects.get(station=station, key="NumberOfConnectors").readonly


def test_TC_021_change_set_configuration(ocpp_server, run):
    station = station_make()

    async def scenario():
        async with booted(ocpp_server, station) as cp:
            command, received = await sent_to(
                cp, station, "ChangeConfiguration", {"key": "MeterValueSampleInterval", "value": "60"}
            )
            assert received == {"key": "MeterValueSampleInterval", "value": "60"}
            assert command.status == Command.Status.ACCEPTED

    run(scenario())
    assert StationConfigurationKey.objects.get(station=station, key="MeterValueSampleInterval").value == "60"


@pytest.mark.parametrize(
    ("case", "card_fields", "expected"),
    [
        ("TC_023_1_invalid", None, "Invalid"),
        ("TC_023_2_expired", {"expires_at": timezone.now() - timedelta(days=1)}, "Expired"),
        ("TC_023_3_blocked", {"status": "Blocked"}, "Blocked"),
    ],
)
def test_TC_023_start_charging_session_authorize_invalid_expired_blocked(
    ocpp_server, run, case, card_fields, expected
):
    station = station_make()
    uid = f"CARD-{case[-7:]}"
    if card_fields is not None:
        id_token_create(uid=uid, **card_fields)

    async def scenario():
        async with booted(ocpp_server, station) as cp:
            assert (await cp.ok("Authorize", {"idTag": uid}))["idTagInfo"]["status"] == expected

    run(scenario())
    assert not Session.objects.filter(station=station).exists()


def test_TC_024_start_charging_session_lock_failure(ocpp_server, run, card):
    station = station_make()

    async def scenario():
        async with booted(ocpp_server, station) as cp:
            await cp.ok("Authorize", {"idTag": card.uid})
            await cp.ok("StatusNotification", status("Faulted", error="ConnectorLockFailure"))

    run(scenario())
    connector = Connector.objects.get(evse__station=station)
    assert (connector.status, connector.error_code) == ("Faulted", "ConnectorLockFailure")


def test_TC_026_remote_start_charging_session_rejected(ocpp_server, run, card):
    station = station_make()

    async def scenario():
        async with booted(ocpp_server, station) as cp:
            command, _ = await sent_to(
                cp,
                station,
                "RemoteStartTransaction",
                {"connectorId": 1, "idTag": card.uid},
                {"status": "Rejected"},
            )
            assert command.status == Command.Status.REJECTED

    run(scenario())
    assert not Session.objects.filter(station=station).exists()


def test_TC_028_remote_stop_transaction_rejected(ocpp_server, run, card):
    station = station_make()

    async def scenario():
        async with booted(ocpp_server, station) as cp:
            await cp.ok(
                "StartTransaction",
                {"connectorId": 1, "idTag": card.uid, "meterStart": 0, "timestamp": now_iso()},
            )
            session = await asyncio.to_thread(Session.objects.get, station=station)
            cp.responders["RemoteStopTransaction"] = {"status": "Rejected"}
            command = await asyncio.to_thread(session_remote_stop, session=session)
            await cp.wait_call("RemoteStopTransaction")
            # Stay connected until the answer is recorded: closing first would race the reply.
            await asyncio.to_thread(
                eventually, lambda: Command.objects.get(pk=command.pk).status == Command.Status.REJECTED
            )

    run(scenario())
    assert Session.objects.get(station=station).status == "active"


def test_TC_030_unlock_connector_unlock_failure_and_TC_031_unknown_connector(ocpp_server, run):
    station = station_make()

    async def scenario():
        async with booted(ocpp_server, station) as cp:
            failed, _ = await sent_to(
                cp, station, "UnlockConnector", {"connectorId": 1}, {"status": "UnlockFailed"}
            )
            assert failed.status == Command.Status.REJECTED
            unknown, received = await sent_to(
                cp, station, "UnlockConnector", {"connectorId": 9}, {"status": "NotSupported"}
            )
            assert received == {"connectorId": 9} and unknown.status == Command.Status.REJECTED

    run(scenario())


def test_TC_032_1_power_failure_boot_stop_transactions(ocpp_server, run, card):
    station = station_make()

    async def scenario():
        async with booted(ocpp_server, station) as cp:
            start = await cp.ok(
                "StartTransaction",
                {"connectorId": 1, "idTag": card.uid, "meterStart": 0, "timestamp": now_iso(-60)},
            )
            # power returns: the station boots again, then delivers the stop it queued
            assert (await cp.boot())["status"] == "Accepted"
            closed = await asyncio.to_thread(Session.objects.get, station=station)
            assert (closed.status, closed.stop_reason, closed.flags) == (
                "incomplete",
                "Reboot",
                ["closed_by_reboot"],
            )
            await cp.ok(
                "StopTransaction",
                {
                    "transactionId": start["transactionId"],
                    "meterStop": 800,
                    "timestamp": now_iso(-5),
                    "reason": "PowerLoss",
                },
            )

    run(scenario())
    session = Session.objects.get(station=station)
    assert (session.status, session.stop_reason, session.energy_wh) == ("completed", "PowerLoss", 800)
    assert "closed_by_reboot" in session.flags and "stopped_late" in session.flags


def test_TC_037_1_offline_start_transaction_valid_id_tag(ocpp_server, run, card):
    station = station_make()

    async def scenario():
        async with booted(ocpp_server, station) as cp:
            # delivered after reconnecting, with the original (old) timestamps, in order
            start = await cp.ok(
                "StartTransaction",
                {"connectorId": 1, "idTag": card.uid, "meterStart": 0, "timestamp": now_iso(-3600)},
            )
            assert start["idTagInfo"]["status"] == "Accepted"

    run(scenario())
    session = Session.objects.get(station=station)
    assert timezone.now() - session.started_at > timedelta(minutes=59)


def test_TC_037_3_offline_start_transaction_invalid_id_tag(ocpp_server, run):
    station = station_make()
    id_token_create(uid="BLOCKED-9", status="Blocked")

    async def scenario():
        async with booted(ocpp_server, station) as cp:
            start = await cp.ok(
                "StartTransaction",
                {"connectorId": 1, "idTag": "BLOCKED-9", "meterStart": 0, "timestamp": now_iso(-600)},
            )
            assert (
                start["idTagInfo"]["status"] == "Blocked"
            )  # the station stops it (StopTransactionOnInvalidId)
            await cp.ok(
                "StopTransaction",
                {
                    "transactionId": start["transactionId"],
                    "meterStop": 3,
                    "timestamp": now_iso(-590),
                    "reason": "DeAuthorized",
                },
            )

    run(scenario())
    session = Session.objects.get(station=station)
    assert session.flags == ["authorization_blocked"] and session.stop_reason == "DeAuthorized"


def test_TC_039_offline_transaction(ocpp_server, run, card):
    station = station_make()

    async def scenario():
        async with booted(ocpp_server, station) as cp:
            start = await cp.ok(
                "StartTransaction",
                {"connectorId": 1, "idTag": card.uid, "meterStart": 100, "timestamp": now_iso(-7200)},
            )
            await cp.ok(
                "MeterValues",
                {
                    "connectorId": 1,
                    "transactionId": start["transactionId"],
                    "meterValue": [
                        {"timestamp": now_iso(-5400), "sampledValue": [{"value": "1.1", "unit": "kWh"}]},
                        {"timestamp": now_iso(-3600), "sampledValue": [{"value": "2.1", "unit": "kWh"}]},
                    ],
                },
            )
            await cp.ok(
                "StopTransaction",
                {"transactionId": start["transactionId"], "meterStop": 2600, "timestamp": now_iso(-3000)},
            )

    run(scenario())
    session = Session.objects.get(station=station)
    assert (session.status, session.energy_wh) == ("completed", 2500)
    assert list(session.samples.values_list("value", flat=True)) == [1100, 2100]


def test_TC_040_1_configuration_keys_not_supported_and_TC_040_2_invalid_value(ocpp_server, run):
    station = station_make()

    async def scenario():
        async with booted(ocpp_server, station) as cp:
            unknown, _ = await sent_to(
                cp,
                station,
                "ChangeConfiguration",
                {"key": "NoSuchKey", "value": "1"},
                {"status": "NotSupported"},
            )
            invalid, _ = await sent_to(
                cp,
                station,
                "ChangeConfiguration",
                {"key": "HeartbeatInterval", "value": "-5"},
                {"status": "Rejected"},
            )
            assert unknown.status == invalid.status == Command.Status.REJECTED

    run(scenario())
    assert not StationConfigurationKey.objects.filter(station=station).exists()


def test_TC_061_clear_authorization_data_in_authorization_cache(ocpp_server, run):
    station = station_make()

    async def scenario():
        async with booted(ocpp_server, station) as cp:
            command, received = await sent_to(cp, station, "ClearCache", {})
            assert received == {} and command.status == Command.Status.ACCEPTED

    run(scenario())


def test_TC_064_data_transfer_to_a_central_system(ocpp_server, run):
    station = station_make()

    async def scenario():
        async with booted(ocpp_server, station) as cp:
            answer = await cp.ok(
                "DataTransfer", {"vendorId": "com.example", "messageId": "hello", "data": '{"snake_case": 1}'}
            )
            assert answer == {"status": "UnknownVendorId"}

    run(scenario())


def test_remote_start_is_refused_for_an_offline_station_or_a_busy_connector(card):
    station = station_make()
    with pytest.raises(StationError, match="offline"):
        session_remote_start(station=station, evse_id=1, id_token=card)
    station.is_online, station.channel_name = True, "x"
    station.save()
    Connector.objects.filter(evse__station=station).update(status="Faulted")
    with pytest.raises(StationError, match="faulted"):
        session_remote_start(station=station, evse_id=1, id_token=card)
    Connector.objects.filter(evse__station=station).update(status="Available")
    IdToken.objects.filter(pk=card.pk).update(status="Blocked")
    with pytest.raises(StationError, match="blocked"):
        session_remote_start(station=station, evse_id=1, id_token=card)
    assert not Command.objects.filter(station=station).exists()
