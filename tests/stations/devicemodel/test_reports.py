"""OCPP 2.0.1 station → CSMS reports over a real socket: the device model (NotifyReport), its variables
read and written (Get/SetVariables), monitoring, customer information and display messages.
Named after the OCPP 2.0.1 CSMS test cases (Part 6) where one fits."""

import pytest

from chargenet.models import Event
from stations.connection.services.commands import command_create
from stations.devicemodel.services import variables_get_request
from stations.models import (
    Command,
    DeviceMonitor,
    DeviceVariable,
    DisplayMessage,
    StationReport,
)
from tests.stations.connection.helpers import command_send, db, now_iso, station_make
from tests.stations.devicemodel.helpers import booted201, report_item

pytestmark = pytest.mark.django_db(transaction=True)


def test_tc_b_07_get_base_report_full_inventory_is_stored_as_the_device_model(ocpp_server, run):
    station = station_make(ocpp_version="2.0.1")

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            command = await command_send(
                station, "GetBaseReport", {"requestId": 7, "reportBase": "FullInventory"}
            )
            assert command.status == Command.Status.ACCEPTED
            part1 = await cp.ok(
                "NotifyReport",
                {
                    "requestId": 7,
                    "generatedAt": now_iso(),
                    "seqNo": 0,
                    "tbc": True,
                    "reportData": [
                        report_item(
                            "OCPPCommCtrlr",
                            "HeartbeatInterval",
                            "300",
                            variableCharacteristics={
                                "unit": "s",
                                "dataType": "integer",
                                "supportsMonitoring": False,
                            },
                        ),
                        report_item(
                            "EVSE",
                            "AvailabilityState",
                            "Available",
                            component={"evse": {"id": 1}},
                            mutability="ReadOnly",
                        ),
                    ],
                },
            )
            first_complete = await db(lambda: StationReport.objects.get(station=station).complete)()
            part2 = await cp.ok(
                "NotifyReport",
                {
                    "requestId": 7,
                    "generatedAt": now_iso(),
                    "seqNo": 1,
                    "reportData": [
                        {
                            "component": {"name": "Connector", "evse": {"id": 1, "connectorId": 1}},
                            "variable": {"name": "ConnectorType"},
                            "variableAttribute": [
                                {
                                    "type": "Actual",
                                    "value": "cType2",
                                    "mutability": "ReadOnly",
                                    "constant": True,
                                }
                            ],
                            "variableCharacteristics": {"dataType": "string", "supportsMonitoring": False},
                        }
                    ],
                },
            )
            return part1, part2, first_complete

    part1, part2, first_complete = run(scenario())
    assert part1 == {} and part2 == {}
    assert first_complete is False
    report = StationReport.objects.get(station=station, kind="device_model", request_id=7)
    assert report.complete and report.parts == 2
    heartbeat = DeviceVariable.objects.get(
        station=station, component="OCPPCommCtrlr", variable="HeartbeatInterval"
    )
    assert (heartbeat.value, heartbeat.mutability, heartbeat.characteristics["unit"]) == (
        "300",
        "ReadWrite",
        "s",
    )
    availability = DeviceVariable.objects.get(station=station, component="EVSE", variable="AvailabilityState")
    assert (availability.evse_id, availability.value, availability.mutability) == (1, "Available", "ReadOnly")
    connector = DeviceVariable.objects.get(station=station, variable="ConnectorType")
    assert (connector.evse_id, connector.connector_id, connector.constant) == (1, 1, True)
    assert Event.objects.filter(type="station.device_model_reported", data__request_id=7).exists()


def test_tc_b_05_set_variables_stores_each_attributes_result_and_tc_b_06_get_variables_its_value(
    ocpp_server, run
):
    station = station_make(ocpp_version="2.0.1")
    component = {"name": "OCPPCommCtrlr"}

    def set_answer(payload):
        return {
            "setVariableResult": [
                {
                    "attributeStatus": "Accepted",
                    "component": component,
                    "variable": {"name": "HeartbeatInterval"},
                },
                {
                    "attributeStatus": "Rejected",
                    "attributeStatusInfo": {"reasonCode": "ReadOnly"},
                    "component": {"name": "SecurityCtrlr"},
                    "variable": {"name": "Identity"},
                },
            ]
        }

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            cp.responders["SetVariables"] = set_answer
            cp.responders["GetVariables"] = {
                "getVariableResult": [
                    {
                        "attributeStatus": "Accepted",
                        "attributeValue": "true",
                        "component": {"name": "AuthCtrlr"},
                        "variable": {"name": "Enabled"},
                    },
                    {
                        "attributeStatus": "UnknownVariable",
                        "component": {"name": "AuthCtrlr"},
                        "variable": {"name": "Nonsense"},
                    },
                ]
            }
            set_command = await command_send(
                station,
                "SetVariables",
                {
                    "setVariableData": [
                        {
                            "attributeValue": "120",
                            "component": component,
                            "variable": {"name": "HeartbeatInterval"},
                        },
                        {
                            "attributeValue": "X",
                            "component": {"name": "SecurityCtrlr"},
                            "variable": {"name": "Identity"},
                        },
                    ]
                },
            )
            get_command = await command_send(
                station,
                "GetVariables",
                {
                    "getVariableData": [
                        {"component": {"name": "AuthCtrlr"}, "variable": {"name": "Enabled"}},
                        {"component": {"name": "AuthCtrlr"}, "variable": {"name": "Nonsense"}},
                    ]
                },
            )
            return set_command, get_command

    set_command, get_command = run(scenario())
    assert set_command.status == get_command.status == Command.Status.ACCEPTED
    heartbeat = DeviceVariable.objects.get(station=station, variable="HeartbeatInterval")
    assert (heartbeat.value, heartbeat.last_status) == ("120", "Accepted")
    identity = DeviceVariable.objects.get(station=station, variable="Identity")
    assert (identity.value, identity.last_status, identity.last_status_info) == ("", "Rejected", "ReadOnly")
    enabled = DeviceVariable.objects.get(station=station, variable="Enabled")
    assert (enabled.value, enabled.last_status) == ("true", "Accepted")
    assert DeviceVariable.objects.get(station=station, variable="Nonsense").last_status == "UnknownVariable"


def _items_per_message(instance: str) -> dict:
    return {
        "component": {"name": "DeviceDataCtrlr"},
        "variable": {"name": "ItemsPerMessage", "instance": instance},
    }


def test_tc_b_08_a_raw_get_variables_command_is_split_by_the_stations_items_per_message(ocpp_server, run):
    station = station_make(ocpp_version="2.0.1")
    wanted = [
        {"component": "DeviceDataCtrlr", "variable": "ItemsPerMessage", "variable_instance": "GetReport"},
        {"component": "DeviceDataCtrlr", "variable": "ItemsPerMessage", "variable_instance": "GetVariables"},
        {"component": "DeviceDataCtrlr", "variable": "BytesPerMessage", "variable_instance": "GetReport"},
        {"component": "DeviceDataCtrlr", "variable": "BytesPerMessage", "variable_instance": "GetVariables"},
        {"component": "AuthCtrlr", "variable": "AuthorizeRemoteStart"},
    ]

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            # given: the operator read the station's limit, 4 variables per GetVariables
            cp.responders["GetVariables"] = {
                "getVariableResult": [
                    {
                        "attributeStatus": "Accepted",
                        "attributeValue": "4",
                        **_items_per_message("GetVariables"),
                    }
                ]
            }
            await command_send(
                station, "GetVariables", {"getVariableData": [_items_per_message("GetVariables")]}
            )
            cp.received.clear()
            # when: five variables are asked for at once
            cp.responders["GetVariables"] = lambda payload: {
                "getVariableResult": [
                    {"attributeStatus": "Accepted", "attributeValue": "1", **item}
                    for item in payload["getVariableData"]
                ]
            }
            # (through the commands endpoint's service, as an integrator sends a raw request)
            items = [
                {
                    "component": {"name": w["component"]},
                    "variable": {
                        "name": w["variable"],
                        **({"instance": w["variable_instance"]} if "variable_instance" in w else {}),
                    },
                }
                for w in wanted
            ]
            first = await db(command_create)(
                station=station, action="GetVariables", payload={"getVariableData": items}
            )
            requests = [await cp.wait_call("GetVariables"), await cp.wait_call("GetVariables")]
            return first, requests

    first, requests = run(scenario())
    # then: the station got them in two requests, 4 and 1, all five asked once
    assert [len(r["getVariableData"]) for r in requests] == [4, 1]
    asked = [
        (i["variable"]["name"], i["variable"].get("instance")) for r in requests for i in r["getVariableData"]
    ]
    assert sorted(asked, key=str) == sorted(
        [(w["variable"], w.get("variable_instance")) for w in wanted], key=str
    )
    assert first.payload == {"getVariableData": requests[0]["getVariableData"]}


def test_tc_n_18_clear_monitoring_is_split_by_the_stations_items_per_message(ocpp_server, run):
    station = station_make(ocpp_version="2.0.1")
    limit = {
        "component": {"name": "MonitoringCtrlr"},
        "variable": {"name": "ItemsPerMessage", "instance": "ClearVariableMonitoring"},
    }

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            # given: the operator read the station's limit, 3 monitor ids per ClearVariableMonitoring
            cp.responders["GetVariables"] = {
                "getVariableResult": [{"attributeStatus": "Accepted", "attributeValue": "3", **limit}]
            }
            await command_send(station, "GetVariables", {"getVariableData": [limit]})
            cp.responders["ClearVariableMonitoring"] = lambda payload: {
                "clearMonitoringResult": [{"id": i, "status": "Accepted"} for i in payload["id"]]
            }
            # when: five monitors are cleared at once
            await command_send(station, "ClearVariableMonitoring", {"id": [11, 12, 13, 14, 15]})
            return [
                await cp.wait_call("ClearVariableMonitoring"),
                await cp.wait_call("ClearVariableMonitoring"),
            ]

    requests = run(scenario())
    # then: the station got them in two requests, 3 and 2, each id once
    assert [len(r["id"]) for r in requests] == [3, 2]
    assert sorted(i for r in requests for i in r["id"]) == [11, 12, 13, 14, 15]


def test_get_variables_within_the_stations_limit_stay_one_request(ocpp_server, run):
    station = station_make(ocpp_version="2.0.1")

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            await cp.ok(
                "NotifyReport",
                {
                    "requestId": 1,
                    "generatedAt": now_iso(),
                    "seqNo": 0,
                    "reportData": [
                        {
                            **_items_per_message("GetVariables"),
                            "variableAttribute": [{"type": "Actual", "value": "2", "mutability": "ReadOnly"}],
                        }
                    ],
                },
            )
            await db(variables_get_request)(
                station=station,
                variables=[
                    {"component": "AuthCtrlr", "variable": "Enabled"},
                    {"component": "AuthCtrlr", "variable": "AuthorizeRemoteStart"},
                ],
            )
            return await cp.wait_call("GetVariables")

    request = run(scenario())
    assert len(request["getVariableData"]) == 2
    assert Command.objects.filter(station=station, action="GetVariables").count() == 1


def test_tc_n_02_notify_monitoring_report_is_stored(ocpp_server, run):
    station = station_make(ocpp_version="2.0.1")

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            return await cp.ok(
                "NotifyMonitoringReport",
                {
                    "requestId": 3,
                    "seqNo": 0,
                    "generatedAt": now_iso(),
                    "monitor": [
                        {
                            "component": {"name": "EVSE", "evse": {"id": 1}},
                            "variable": {"name": "Power"},
                            "variableMonitoring": [
                                {
                                    "id": 11,
                                    "transaction": False,
                                    "value": 22000,
                                    "type": "UpperThreshold",
                                    "severity": 4,
                                }
                            ],
                        }
                    ],
                },
            )

    assert run(scenario()) == {}
    monitor = DeviceMonitor.objects.get(station=station, monitor_id=11)
    assert (monitor.variable, monitor.evse_id, monitor.type, monitor.severity, monitor.value) == (
        "Power",
        1,
        "UpperThreshold",
        4,
        22000,
    )
    assert StationReport.objects.get(station=station, kind="monitoring", request_id=3).complete


def test_tc_n_09_customer_information_parts_are_stored_per_request(ocpp_server, run):
    station = station_make(ocpp_version="2.0.1")

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            command = await command_send(
                station,
                "CustomerInformation",
                {
                    "requestId": 21,
                    "report": True,
                    "clear": False,
                    "idToken": {"idToken": "CARD-9", "type": "ISO14443"},
                },
            )
            assert command.status == Command.Status.ACCEPTED
            # the parts may arrive out of order; the text is joined in seqNo order
            await cp.ok(
                "NotifyCustomerInformation",
                {"data": "sessions: 2", "tbc": False, "seqNo": 1, "generatedAt": now_iso(), "requestId": 21},
            )
            await cp.ok(
                "NotifyCustomerInformation",
                {"data": "card CARD-9; ", "tbc": True, "seqNo": 0, "generatedAt": now_iso(), "requestId": 21},
            )

    run(scenario())
    report = StationReport.objects.get(station=station, kind="customer_info", request_id=21)
    assert report.data == "card CARD-9; sessions: 2" and report.parts == 2


def test_tc_o_04_notify_display_messages_are_stored(ocpp_server, run):
    station = station_make(ocpp_version="2.0.1")

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            await cp.ok(
                "NotifyDisplayMessages",
                {
                    "requestId": 5,
                    "messageInfo": [
                        {
                            "id": 1,
                            "priority": "NormalCycle",
                            "state": "Idle",
                            "message": {"format": "UTF8", "content": "Welcome", "language": "en"},
                        },
                        {
                            "id": 2,
                            "priority": "AlwaysFront",
                            "message": {"format": "UTF8", "content": "Out of order soon"},
                        },
                    ],
                },
            )

    run(scenario())
    messages = list(
        DisplayMessage.objects.filter(station=station).values_list("message_id", "priority", "content")
    )
    assert messages == [(1, "NormalCycle", "Welcome"), (2, "AlwaysFront", "Out of order soon")]


def test_a_password_set_with_set_variables_is_never_stored(ocpp_server, run):
    station = station_make(ocpp_version="2.0.1")
    secret = {"component": {"name": "SecurityCtrlr"}, "variable": {"name": "BasicAuthPassword"}}

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            cp.responders["SetVariables"] = {"setVariableResult": [{"attributeStatus": "Accepted", **secret}]}
            return await command_send(
                station,
                "SetVariables",
                {"setVariableData": [{"attributeValue": "s3cret-s3cret-s3cret", **secret}]},
            )

    assert run(scenario()).status == Command.Status.ACCEPTED
    stored = DeviceVariable.objects.get(station=station, variable="BasicAuthPassword")
    assert (stored.value, stored.last_status) == ("", "Accepted")
