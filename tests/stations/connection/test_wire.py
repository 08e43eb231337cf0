"""Bad input over a real socket: each gets the right 1.6 answer, nothing of it is stored, and the
next message is served normally. Plus the boot gate, lenient mode and the message log."""

import json

import pytest
import websockets

from stations.models import MeterSample, OcppMessage, ProtocolViolation, Station
from stations.network.selectors import ocpp_message_list
from stations.services import station_update
from tests.stations.connection.client import eventually, station_connection
from tests.stations.connection.helpers import PASSWORD, booted, now_iso, station_make

pytestmark = pytest.mark.django_db(transaction=True)


def test_malformed_frames_get_1_6_call_errors_and_the_connection_keeps_serving(ocpp_server, run):
    station = station_make()

    async def scenario():
        async with booted(ocpp_server, station) as cp:
            await cp.send_raw("this is not json")
            assert (await cp.next_frame())[:3] == [4, "-1", "FormationViolation"]
            await cp.send_raw('{"not": "an array"}')
            assert (await cp.next_frame())[:3] == [4, "-1", "FormationViolation"]
            await cp.send_raw('[2, "short-1", "Heartbeat"]')
            assert (await cp.next_frame())[:3] == [4, "short-1", "ProtocolError"]
            # an unknown message type is ignored (1.6 J §4.1.3): the next answer is the Heartbeat's
            await cp.send_raw('[7, "odd-1", {}]')
            answer = await cp.call("Heartbeat", {})
            assert answer[0] == 3 and "currentTime" in answer[2]

    run(scenario())


def test_unknown_and_unsupported_actions_and_schema_violations_are_refused_with_1_6_codes(ocpp_server, run):
    station = station_make()
    station_update(station=station, lenient=False)

    async def scenario():
        async with booted(ocpp_server, station) as cp:
            assert (await cp.call("MakeCoffee", {}))[2] == "NotImplemented"
            assert (await cp.call("Reset", {"type": "Hard"}))[2] == "NotSupported"
            missing = await cp.call(
                "StartTransaction", {"connectorId": 1, "idTag": "X", "timestamp": now_iso()}
            )
            assert missing[2] == "OccurenceConstraintViolation"
            wrong_type = await cp.call(
                "StartTransaction",
                {"connectorId": "one", "idTag": "X", "meterStart": 0, "timestamp": now_iso()},
            )
            assert wrong_type[2] == "TypeConstraintViolation"
            extra = await cp.call("Heartbeat", {"surprise": True})
            assert extra[2] == "FormationViolation"
            bad_enum = await cp.call(
                "MeterValues",
                {
                    "connectorId": 1,
                    "meterValue": [
                        {"timestamp": now_iso(), "sampledValue": [{"value": "5", "unit": "Joule"}]}
                    ],
                },
            )
            assert bad_enum[2] == "PropertyConstraintViolation"
            assert (await cp.call("Heartbeat", {}))[0] == 3

    run(scenario())
    # nothing of a refused message was stored
    assert not station.sessions.exists()
    assert not MeterSample.objects.filter(station=station).exists()


def test_an_oversize_frame_is_refused_unparsed_and_the_next_one_is_served(ocpp_server, run):
    station = station_make()

    async def scenario():
        async with booted(ocpp_server, station) as cp:
            await cp.send_raw(json.dumps([2, "big-1", "DataTransfer", {"vendorId": "X", "data": "x" * 9000}]))
            error = await cp.next_frame()
            assert error[:3] == [4, "big-1", "FormationViolation"] and "8192" in error[3]
            assert (await cp.call("Heartbeat", {}))[0] == 3

    run(scenario())


def test_before_an_accepted_boot_every_call_but_boot_notification_gets_security_error(ocpp_server, run):
    station = station_make()
    station_update(station=station, registration_status="Pending")

    async def scenario():
        async with station_connection(ocpp_server.url, station.identity, PASSWORD) as cp:
            answer = await cp.call("Heartbeat", {})
            assert answer[2] == "SecurityError"
            assert (await cp.boot())["status"] == "Pending"
            status = await cp.call(
                "StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Available"}
            )
            assert status[2] == "SecurityError"
            # accepted now: the next boot opens the gate
            await __import__("asyncio").to_thread(
                lambda: Station.objects.filter(pk=station.pk).update(registration_status="Accepted")
            )
            assert (await cp.boot())["status"] == "Accepted"
            assert (await cp.call("Heartbeat", {}))[0] == 3

    run(scenario())


def test_a_lenient_station_is_served_despite_harmless_violations_and_they_are_recorded(ocpp_server, run):
    station = station_make()

    async def scenario():
        async with station_connection(ocpp_server.url, station.identity, PASSWORD) as cp:
            # Schneider EVlink sends 26-character serial numbers (ocpp issue #122)
            boot = await cp.boot(chargePointSerialNumber="S" * 26)
            assert boot["status"] == "Accepted"
            await cp.ok(
                "StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Available"}
            )
            await cp.ok(
                "MeterValues",
                {
                    "connectorId": 1,
                    "meterValue": [
                        {
                            "timestamp": now_iso(),
                            "sampledValue": [{"value": "12", "measurand": "Request.Energy", "unit": "Wh"}],
                        }
                    ],
                },
            )

    run(scenario())
    station.refresh_from_db()
    assert station.serial_number == "S" * 26
    actions = eventually(
        lambda: sorted(ProtocolViolation.objects.filter(station=station).values_list("action", flat=True))
    )
    assert actions == ["BootNotification", "MeterValues"]


def test_a_strict_station_gets_the_same_violation_refused(ocpp_server, run):
    station = station_make()
    station_update(station=station, lenient=False)

    async def scenario():
        async with station_connection(ocpp_server.url, station.identity, PASSWORD) as cp:
            answer = await cp.call(
                "BootNotification",
                {"chargePointVendor": "V", "chargePointModel": "M", "chargePointSerialNumber": "S" * 26},
            )
            assert answer[2] == "TypeConstraintViolation"

    run(scenario())
    station.refresh_from_db()
    assert station.serial_number == ""


def test_every_frame_in_and_out_is_in_the_message_log(ocpp_server, run):
    station = station_make()

    async def scenario():
        async with booted(ocpp_server, station) as cp:
            await cp.call("Heartbeat", {}, message_id="hb-77")
            await cp.send_raw("garbage")
            await cp.next_frame()

    run(scenario())
    eventually(lambda: OcppMessage.objects.filter(station=station, payload="garbage").exists())
    heartbeat = ocpp_message_list(station=station, action="Heartbeat")
    assert [(m.direction, m.message_id) for m in heartbeat] == [("out", "hb-77"), ("in", "hb-77")]
    assert ocpp_message_list(station=station, direction="in").filter(action="BootNotification").count() == 1


def test_the_connection_can_speak_ocpp_2_0_1_when_that_is_all_the_station_offers(ocpp_server, run):
    station = station_make()

    async def scenario():
        async with station_connection(
            ocpp_server.url, station.identity, PASSWORD, subprotocols=("ocpp2.0.1",)
        ) as cp:
            assert cp.ws.subprotocol == "ocpp2.0.1"
            boot = await cp.ok(
                "BootNotification",
                {"chargingStation": {"vendorName": "V", "model": "M"}, "reason": "PowerUp"},
            )
            assert boot["status"] == "Accepted"
            assert (await cp.call("Heartbeat", {}))[0] == 3
            assert (await cp.call("Reset", {"type": "Immediate"}))[2] == "NotSupported"  # CSMS → station only

    run(scenario())
    assert websockets  # the client library is the independent peer here
