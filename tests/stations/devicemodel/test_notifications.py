"""OCPP 2.0.1 station → CSMS notifications over a real socket: NotifyEvent (variables, alerts, live
feed), the boot gate while Pending (B02.FR.09), security events, firmware and log status,
reservations, the smart-charging notices and DataTransfer."""

import pytest

from chargenet.models import Event
from rfid.services import id_token_create
from stations.alerts.services import alert_list
from stations.models import (
    ChargingNotice,
    Command,
    DeviceEvent,
    DeviceVariable,
    Reservation,
    SecurityEvent,
    StationProtocolState,
)
from stations.protocol import v16
from tests.stations.connection.helpers import command_send, db, now_iso, station_make
from tests.stations.devicemodel.helpers import BOOT, booted201, connected201, report_item

pytestmark = pytest.mark.django_db(transaction=True)


def notify_event(event_id: int, variable: str, value: str, **extra) -> dict:
    return {
        "generatedAt": now_iso(),
        "seqNo": 0,
        "eventData": [
            {
                "eventId": event_id,
                "timestamp": now_iso(),
                "trigger": extra.pop("trigger", "Delta"),
                "actualValue": value,
                "eventNotificationType": extra.pop("eventNotificationType", "HardWiredNotification"),
                "component": extra.pop(
                    "component", {"name": "Connector", "evse": {"id": 1, "connectorId": 1}}
                ),
                "variable": {"name": variable},
                **extra,
            }
        ],
    }


def test_tc_n_07_a_problem_event_raises_an_alert_until_the_station_clears_it(ocpp_server, run):
    station = station_make(ocpp_version="2.0.1")

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            answer = await cp.ok(
                "NotifyEvent",
                notify_event(1, "Problem", "true", trigger="Alerting", techCode="E42", techInfo="lock motor"),
            )
            raised = await db(lambda: [a.title for a in alert_list(station=station)])()
            await cp.ok("NotifyEvent", notify_event(2, "Problem", "false", trigger="Alerting", cleared=True))
            cleared = await db(lambda: [a.kind for a in alert_list(station=station)])()
            return answer, raised, cleared

    answer, raised, cleared = run(scenario())
    assert answer == {}
    assert raised == ["Connector Problem · EVSE 1"]
    assert "device_problem" not in cleared
    problem = DeviceEvent.objects.get(station=station, event_id=1)
    assert problem.problem and problem.cleared_at is not None and problem.tech_code == "E42"
    # the variable's stored value follows the events; every event reaches the live feed
    assert DeviceVariable.objects.get(station=station, variable="Problem").value == "false"
    feed = Event.objects.filter(type="station.device_event", data__station_id=station.pk).order_by("pk")
    assert [e.data["problem"] for e in feed] == [True, False]


def test_tc_n_08_periodic_and_delta_events_update_the_device_model(ocpp_server, run):
    station = station_make(ocpp_version="2.0.1")

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            await cp.ok("NotifyEvent", notify_event(5, "AvailabilityState", "Occupied"))
            await cp.ok(
                "NotifyEvent",
                notify_event(
                    6, "Power", "7400", trigger="Periodic", component={"name": "EVSE", "evse": {"id": 1}}
                ),
            )

    run(scenario())
    assert DeviceVariable.objects.get(station=station, variable="AvailabilityState").value == "Occupied"
    assert DeviceVariable.objects.get(station=station, component="EVSE", variable="Power").value == "7400"
    assert not [a for a in alert_list(station=station) if a.kind == "device_problem"]


def test_tc_b_02_a_pending_station_gets_security_error_for_notify_event_but_may_send_what_the_csms_asked(
    ocpp_server, run
):
    station = station_make(ocpp_version="2.0.1", registration_status="Pending")

    async def scenario():
        async with connected201(ocpp_server, station) as cp:
            assert (await cp.ok("BootNotification", BOOT))["status"] == "Pending"
            refused = await cp.call("NotifyEvent", notify_event(1, "Problem", "true"))
            command = await command_send(
                station, "GetBaseReport", {"requestId": 1, "reportBase": "SummaryInventory"}
            )
            report = await cp.call(
                "NotifyReport",
                {
                    "requestId": 1,
                    "generatedAt": now_iso(),
                    "seqNo": 0,
                    "reportData": [report_item("OCPPCommCtrlr", "HeartbeatInterval", "60")],
                },
            )
            return refused, command, report

    refused, command, report = run(scenario())
    assert refused[2] == "SecurityError"
    assert command.status == Command.Status.ACCEPTED
    assert report[0] == 3, report
    assert not DeviceEvent.objects.filter(station=station).exists()


def test_tc_a_security_event_firmware_and_log_status_are_recorded(ocpp_server, run):
    station = station_make(ocpp_version="2.0.1")

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            answers = [
                await cp.ok(
                    "SecurityEventNotification",
                    {"type": "TamperDetectionActivated", "timestamp": now_iso(), "techInfo": "door"},
                ),
                await cp.ok("FirmwareStatusNotification", {"status": "Downloading", "requestId": 4}),
                await cp.ok("LogStatusNotification", {"status": "Uploaded", "requestId": 9}),
                await cp.ok(
                    "PublishFirmwareStatusNotification",
                    {"status": "Published", "requestId": 5, "location": ["http://lc/fw.bin"]},
                ),
            ]
            return answers

    assert run(scenario()) == [{}, {}, {}, {}]
    event = SecurityEvent.objects.get(station=station)
    assert (event.type, event.source, event.tech_info) == ("TamperDetectionActivated", "station", "door")
    state = StationProtocolState.objects.get(station=station)
    assert (state.log_status, state.log_request_id) == ("Uploaded", 9)
    # a Local Controller's publication is about another image: its own firmware status stays
    assert (state.firmware_status, state.firmware_request_id) == ("Downloading", 4)


def test_tc_h_01_reserve_now_is_recorded_and_tc_h_05_reservation_status_update_ends_it(ocpp_server, run):
    station = station_make(ocpp_version="2.0.1")
    id_token_create(uid="RES-CARD")

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            command = await command_send(
                station,
                "ReserveNow",
                {
                    "id": 77,
                    "evseId": 1,
                    "expiryDateTime": now_iso(900),
                    "idToken": {"idToken": "RES-CARD", "type": "ISO14443"},
                },
            )
            active = await db(lambda: Reservation.objects.get(station=station, reservation_id=77).status)()
            await cp.ok(
                "ReservationStatusUpdate", {"reservationId": 77, "reservationUpdateStatus": "Expired"}
            )
            return command, active

    command, active = run(scenario())
    assert command.status == Command.Status.ACCEPTED
    assert active == Reservation.Status.ACTIVE
    reservation = Reservation.objects.get(station=station, reservation_id=77)
    assert (reservation.status, reservation.connector_id, reservation.id_tag) == ("expired", 1, "RES-CARD")


def test_tc_k_smart_charging_notices_are_stored_answered_and_published(ocpp_server, run):
    station = station_make(ocpp_version="2.0.1")
    schedule = {
        "id": 1,
        "chargingRateUnit": "W",
        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 11000}],
    }

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            return [
                await cp.ok(
                    "NotifyEVChargingNeeds",
                    {
                        "evseId": 1,
                        "chargingNeeds": {
                            "requestedEnergyTransfer": "AC_three_phase",
                            "acChargingParameters": {
                                "energyAmount": 20000,
                                "evMinCurrent": 6,
                                "evMaxCurrent": 32,
                                "evMaxVoltage": 400,
                            },
                        },
                    },
                ),
                await cp.ok(
                    "NotifyEVChargingSchedule",
                    {"timeBase": now_iso(), "evseId": 1, "chargingSchedule": schedule},
                ),
                await cp.ok(
                    "NotifyChargingLimit",
                    {
                        "evseId": 1,
                        "chargingLimit": {"chargingLimitSource": "EMS"},
                        "chargingSchedule": [schedule],
                    },
                ),
                await cp.ok("ClearedChargingLimit", {"chargingLimitSource": "EMS", "evseId": 1}),
                await cp.ok(
                    "ReportChargingProfiles",
                    {
                        "requestId": 8,
                        "chargingLimitSource": "CSO",
                        "evseId": 1,
                        "tbc": False,
                        "chargingProfile": [
                            {
                                "id": 3,
                                "stackLevel": 0,
                                "chargingProfilePurpose": "TxDefaultProfile",
                                "chargingProfileKind": "Absolute",
                                "chargingSchedule": [schedule],
                            }
                        ],
                    },
                ),
            ]

    answers = run(scenario())
    # no transaction runs on EVSE 1, so no schedule can follow the needs (K15): Rejected
    assert answers == [{"status": "Rejected"}, {"status": "Accepted"}, {}, {}, {}]
    kinds = list(ChargingNotice.objects.filter(station=station).order_by("pk").values_list("kind", "source"))
    assert kinds == [
        ("ev_needs", ""),
        ("ev_schedule", ""),
        ("charging_limit", "EMS"),
        ("limit_cleared", "EMS"),
        ("profiles", "CSO"),
    ]
    needs = ChargingNotice.objects.get(station=station, kind="ev_needs")
    assert needs.data["chargingNeeds"]["acChargingParameters"]["energyAmount"] == 20000  # as sent
    published = set(Event.objects.filter(data__station_id=station.pk).values_list("type", flat=True))
    assert {
        "station.charging_needs",
        "station.ev_charging_schedule",
        "station.charging_limit",
        "station.charging_limit_cleared",
        "station.charging_profiles_reported",
    } <= published


def test_tc_p_01_data_transfer_goes_to_the_vendor_handler_with_its_data_untouched(ocpp_server, run):
    station = station_make(ocpp_version="2.0.1")

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            unknown = await cp.ok("DataTransfer", {"vendorId": "org.unknown", "messageId": "x"})
            return unknown

    # no vendor handler is registered in the server: every vendor id is unknown (P01.FR.03)
    assert run(scenario()) == {"status": "UnknownVendorId"}
    assert "org.unknown" not in v16.VENDOR_HANDLERS


def test_an_event_naming_a_negative_evse_is_stored_without_one(ocpp_server, run):
    station = station_make(ocpp_version="2.0.1")

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            return await cp.call(
                "NotifyEvent",
                notify_event(
                    3, "Problem", "true", trigger="Alerting", component={"name": "EVSE", "evse": {"id": -1}}
                ),
            )

    answer = run(scenario())
    assert answer[0] == 3, answer
    assert DeviceEvent.objects.get(station=station, event_id=3).evse_id is None
