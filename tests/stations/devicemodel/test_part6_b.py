"""OCPP 2.0.1 Part 6 CSMS test cases of block B (provisioning) that had no test yet, each over a real
socket against the real server: the operator asks through the REST API (the service every interface
uses), the test station answers as the case says, and the test checks what the CSMS sent and what
the operator then sees (the device model, the command, the session). docs/ocpp-2.0.1-coverage.md
maps every Part 6 case to its test."""

import pytest
from asgiref.sync import sync_to_async
from rest_framework.test import APIClient

from chargenet.api.services import api_key_create
from stations.models import Command, DeviceVariable, Session, Station, StationReport
from tests.stations.connection.client import eventually
from tests.stations.connection.helpers import now_iso, station_make
from tests.stations.devicemodel.helpers import booted201, report_item

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def api(operator):
    _, key = api_key_create(user=operator, name="tests", role="operate")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def post(api, station, path: str, body: dict):
    return sync_to_async(api.post)(
        f"/api/v1/stations/{station.identity}/{path}/", {**body, "wait": 10}, format="json"
    )


def names(items: list[dict]) -> set[tuple]:
    return {(i["component"]["name"], i["variable"]["name"], i["variable"].get("instance")) for i in items}


def stored(station, component: str, variable: str, instance: str = "", evse_id=None) -> str | None:
    row = DeviceVariable.objects.filter(
        station=station,
        component=component,
        variable=variable,
        variable_instance=instance,
        evse_id=evse_id,
        attribute_type="Actual",
    ).first()
    return row.value if row else None


FIVE = [
    {"component": "DeviceDataCtrlr", "variable": "ItemsPerMessage", "variable_instance": "GetReport"},
    {"component": "DeviceDataCtrlr", "variable": "ItemsPerMessage", "variable_instance": "GetVariables"},
    {"component": "DeviceDataCtrlr", "variable": "BytesPerMessage", "variable_instance": "GetReport"},
    {"component": "DeviceDataCtrlr", "variable": "BytesPerMessage", "variable_instance": "GetVariables"},
    {"component": "AuthCtrlr", "variable": "AuthorizeRemoteStart"},
]
VALUES = {
    ("DeviceDataCtrlr", "ItemsPerMessage"): "4",
    ("DeviceDataCtrlr", "BytesPerMessage"): "4096",
    ("AuthCtrlr", "AuthorizeRemoteStart"): "true",
}


def get_variables_answer(payload: dict) -> dict:
    return {
        "getVariableResult": [
            {
                "attributeStatus": "Accepted",
                "attributeValue": VALUES[(item["component"]["name"], item["variable"]["name"])],
                "component": item["component"],
                "variable": item["variable"],
            }
            for item in payload["getVariableData"]
        ]
    }


def test_tc_b_08_get_variables_never_asks_for_more_items_than_the_station_takes_in_one_message(
    ocpp_server, run, api
):
    station = station_make(ocpp_version="2.0.1")

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            cp.responders["GetVariables"] = get_variables_answer
            # configuration state: the CSMS reads ItemsPerMessage[GetVariables] = 4
            await post(api, station, "variables/get", {"variables": [FIVE[1]]})
            await cp.wait_call("GetVariables")
            # step 1: the operator asks for five variables
            answer = await post(api, station, "variables/get", {"variables": FIVE})
            requests = [await cp.wait_call("GetVariables"), await cp.wait_call("GetVariables")]
            return answer, requests

    answer, requests = run(scenario())
    sizes = sorted(len(r["getVariableData"]) for r in requests)
    assert sizes == [1, 4]
    assert names([i for r in requests for i in r["getVariableData"]]) == {
        ("DeviceDataCtrlr", "ItemsPerMessage", "GetReport"),
        ("DeviceDataCtrlr", "ItemsPerMessage", "GetVariables"),
        ("DeviceDataCtrlr", "BytesPerMessage", "GetReport"),
        ("DeviceDataCtrlr", "BytesPerMessage", "GetVariables"),
        ("AuthCtrlr", "AuthorizeRemoteStart", None),
    }
    assert answer.status_code == 201 and answer.json()["status"] == "accepted"
    # every value the station gave, from either request, is in the device model
    eventually(lambda: stored(station, "AuthCtrlr", "AuthorizeRemoteStart") == "true")
    assert stored(station, "DeviceDataCtrlr", "BytesPerMessage", "GetReport") == "4096"
    assert stored(station, "DeviceDataCtrlr", "ItemsPerMessage", "GetVariables") == "4"
    commands = Command.objects.filter(station=station, action="GetVariables")
    assert commands.count() == 3 and set(commands.values_list("status", flat=True)) == {"accepted"}


@pytest.mark.parametrize(
    "case, report_base, parts",
    [
        (
            "TC_B_12",
            "ConfigurationInventory",
            [
                [report_item("OCPPCommCtrlr", "OfflineThreshold", "60")],
                [report_item("TxCtrlr", "EVConnectionTimeOut", "90")],
            ],
        ),
        (
            "TC_B_14",
            "SummaryInventory",
            [
                [
                    report_item(
                        "EVSE", "AvailabilityState", "Available", component={"evse": {"id": 1}}, mutability="ReadOnly"
                    )
                ],
                [report_item("ChargingStation", "AvailabilityState", "Available", mutability="ReadOnly")],
            ],
        ),
    ],
)  # fmt: skip
def test_tc_b_12_tc_b_14_a_base_report_of_the_asked_kind_is_stored_once_every_part_arrived(
    ocpp_server, run, api, case, report_base, parts
):
    station = station_make(ocpp_version="2.0.1")

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            command = await post(api, station, "base-report", {"report_base": report_base})
            request = await cp.wait_call("GetBaseReport")
            for number, data in enumerate(parts):
                await cp.ok(
                    "NotifyReport",
                    {
                        "requestId": request["requestId"],
                        "generatedAt": now_iso(),
                        "seqNo": number,
                        "tbc": number < len(parts) - 1,
                        "reportData": [
                            {
                                **item,
                                "variableCharacteristics": {"dataType": "string", "supportsMonitoring": True},
                            }
                            for item in data
                        ],
                    },
                )
            return command, request

    command, request = run(scenario())
    assert request["reportBase"] == report_base and isinstance(request["requestId"], int)
    assert request["requestId"] >= 0
    assert command.json()["status"] == "accepted"
    report = StationReport.objects.get(station=station, request_id=request["requestId"])
    assert report.complete and report.parts == 2
    # the operator sees every reported variable with its characteristics
    model = sync_to_async(api.get)
    listed = run(model(f"/api/v1/stations/{station.identity}/device-model/")).json()
    reported = {(row["component"], row["evse_id"], row["variable"]): row for row in listed}
    for data in parts:
        for item in data:
            row = reported[
                (
                    item["component"]["name"],
                    (item["component"].get("evse") or {}).get("id"),
                    item["variable"]["name"],
                )
            ]
            assert row["value"] == item["variableAttribute"][0]["value"]
            assert row["characteristics"]["dataType"] == "string"


def test_tc_b_18_a_custom_report_names_criteria_and_variables_and_an_empty_result_is_no_failure(
    ocpp_server, run, api
):
    station = station_make(ocpp_version="2.0.1")
    wanted = [{"component": "EVSE", "evse_id": 1, "variable": "AvailabilityState"}]

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            cp.responders["GetReport"] = {"status": "EmptyResultSet"}
            empty = await post(
                api, station, "custom-report", {"component_criteria": ["Problem"], "variables": wanted}
            )
            first = await cp.wait_call("GetReport")
            cp.responders["GetReport"] = {"status": "Accepted"}
            found = await post(
                api, station, "custom-report", {"component_criteria": ["Available"], "variables": wanted}
            )
            second = await cp.wait_call("GetReport")
            await cp.ok(
                "NotifyReport",
                {
                    "requestId": second["requestId"],
                    "generatedAt": now_iso(),
                    "seqNo": 0,
                    "reportData": [
                        report_item(
                            "EVSE",
                            "AvailabilityState",
                            "Available",
                            component={"evse": {"id": 1}},
                            mutability="ReadOnly",
                        )
                    ],
                },
            )
            return empty, first, found, second

    empty, first, found, second = run(scenario())
    for request, criterion in ((first, "Problem"), (second, "Available")):
        assert request["componentCriteria"] == [criterion]
        assert request["componentVariable"] == [
            {"component": {"name": "EVSE", "evse": {"id": 1}}, "variable": {"name": "AvailabilityState"}}
        ]
    assert first["requestId"] != second["requestId"]
    # nothing matched: shown as done with an empty result, not as a refusal
    assert empty.json()["status"] == "accepted"
    assert empty.json()["response"] == {"status": "EmptyResultSet"}
    assert not StationReport.objects.filter(station=station, request_id=first["requestId"]).exists()
    assert found.json()["status"] == "accepted"
    assert stored(station, "EVSE", "AvailabilityState", evse_id=1) == "Available"
    assert StationReport.objects.get(station=station, request_id=second["requestId"]).complete


def test_tc_b_27_an_immediate_evse_reset_during_a_transaction_ends_the_session_as_the_station_reports(
    ocpp_server, run
):
    from tests.stations.connection.helpers import sent_to

    station = station_make(ocpp_version="2.0.1")

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            await cp.ok(
                "TransactionEvent",
                {
                    "eventType": "Started",
                    "timestamp": now_iso(-30),
                    "triggerReason": "CablePluggedIn",
                    "seqNo": 0,
                    "transactionInfo": {"transactionId": "tx-b27", "chargingState": "Charging"},
                    "evse": {"id": 1, "connectorId": 1},
                },
            )
            command, received = await sent_to(cp, station, "Reset", {"type": "Immediate", "evseId": 1})
            await cp.ok(
                "TransactionEvent",
                {
                    "eventType": "Ended",
                    "timestamp": now_iso(),
                    "triggerReason": "ResetCommand",
                    "seqNo": 1,
                    "transactionInfo": {
                        "transactionId": "tx-b27",
                        "chargingState": "EVConnected",
                        "stoppedReason": "ImmediateReset",
                    },
                },
            )
            return command, received

    command, received = run(scenario())
    assert received == {"type": "Immediate", "evseId": 1}
    assert command.status == Command.Status.ACCEPTED
    session = Session.objects.get(station=station)
    assert session.status == Session.Status.COMPLETED and session.stopped_at is not None
    assert session.stop_reason == "ImmediateReset"


@pytest.mark.parametrize(
    "case, answer, status", [("TC_B_42", "Accepted", "accepted"), ("TC_B_44", "Failed", "rejected")]
)
def test_tc_b_42_tc_b_44_a_new_network_connection_profile_is_sent_and_the_stations_answer_shown(
    ocpp_server, run, api, settings, case, answer, status
):
    station = station_make(ocpp_version="2.0.1")

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            cp.responders["SetNetworkProfile"] = {"status": answer}
            command = await post(
                api,
                station,
                "network-profile",
                {"configuration_slot": 2, "message_timeout": 45, "ocpp_interface": "Wireless0"},
            )
            return command, await cp.wait_call("SetNetworkProfile")

    command, received = run(scenario())
    host = settings.SITE_URL.split("://", 1)[1]
    assert received == {
        "configurationSlot": 2,
        "connectionData": {
            "ocppVersion": "OCPP20",
            "ocppTransport": "JSON",
            "ocppCsmsUrl": f"ws://{host}/ocpp/",
            "messageTimeout": 45,
            "securityProfile": 1,
            "ocppInterface": "Wireless0",
        },
    }
    assert command.status_code == 201
    assert command.json()["status"] == status and command.json()["response"] == {"status": answer}
    # nothing about how the station connects changed on ChargeNet's side
    assert Station.objects.get(pk=station.pk).security_profile == 1


def test_a_network_profile_that_would_lower_the_security_profile_is_refused_and_nothing_is_queued(api):
    station = station_make(ocpp_version="2.0.1", security_profile=Station.SecurityProfile.TLS_BASIC)
    response = api.post(
        f"/api/v1/stations/{station.identity}/network-profile/",
        {"configuration_slot": 1, "security_profile": 1},
        format="json",
    )
    assert response.status_code == 409
    assert "never lowered" in str(response.json())
    assert not Command.objects.filter(station=station).exists()
