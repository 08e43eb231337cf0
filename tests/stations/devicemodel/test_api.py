"""The device model over the REST API of the real server, with a 2.0.1 test station on a real socket:
typed GetVariables / SetVariables / GetBaseReport and display messages (docs/api.md)."""

import asyncio
import json
import urllib.error
import urllib.request

import pytest

from chargenet.api.services import api_key_create
from stations.models import Command
from tests.stations.connection.helpers import now_iso, station_make
from tests.stations.devicemodel.helpers import booted201, report_item

pytestmark = pytest.mark.django_db(transaction=True)


def api(base_url: str, key: str, method: str, path: str, body: dict | None = None) -> tuple[int, dict | list]:
    request = urllib.request.Request(
        f"{base_url}/api/v1{path}",
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Token {key}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


@pytest.fixture
def key(operator):
    return api_key_create(user=operator, name="device model", role="operate")[1]


def test_set_variables_answers_each_attributes_result_and_the_device_model_shows_it(ocpp_server, run, key):
    station = station_make(ocpp_version="2.0.1")
    call = lambda *a: asyncio.to_thread(api, ocpp_server.base_url, key, *a)  # noqa: E731

    def set_answer(payload):
        return {
            "setVariableResult": [
                {
                    "attributeStatus": "Accepted"
                    if item["variable"]["name"] == "HeartbeatInterval"
                    else "Rejected",
                    "component": item["component"],
                    "variable": item["variable"],
                }
                for item in payload["setVariableData"]
            ]
        }

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            cp.responders["SetVariables"] = set_answer
            status, command = await call(
                "POST",
                f"/stations/{station.identity}/variables/set/",
                {
                    "variables": [
                        {"component": "OCPPCommCtrlr", "variable": "HeartbeatInterval", "value": "90"},
                        {"component": "EVSE", "evse_id": 1, "variable": "Power", "value": "1"},
                    ],
                    "wait": 10,
                },
            )
            sent = await cp.wait_call("SetVariables")
            model = await call("GET", f"/stations/{station.identity}/device-model/")
            return status, command, sent, model

    status, command, sent, (model_status, model) = run(scenario())
    assert status == 201 and command["status"] == "accepted"
    assert [r["attributeStatus"] for r in command["response"]["setVariableResult"]] == [
        "Accepted",
        "Rejected",
    ]
    assert sent["setVariableData"][1]["component"] == {"name": "EVSE", "evse": {"id": 1}}
    assert model_status == 200
    shown = {(v["component"], v["variable"]): (v["value"], v["last_status"]) for v in model}
    assert shown == {
        ("OCPPCommCtrlr", "HeartbeatInterval"): ("90", "Accepted"),
        ("EVSE", "Power"): ("", "Rejected"),
    }


def test_get_base_report_then_the_reported_device_model_is_listed(ocpp_server, run, key):
    station = station_make(ocpp_version="2.0.1")
    call = lambda *a: asyncio.to_thread(api, ocpp_server.base_url, key, *a)  # noqa: E731

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            status, command = await call(
                "POST",
                f"/stations/{station.identity}/base-report/",
                {"report_base": "SummaryInventory", "wait": 10},
            )
            request = await cp.wait_call("GetBaseReport")
            await cp.ok(
                "NotifyReport",
                {
                    "requestId": request["requestId"],
                    "generatedAt": now_iso(),
                    "seqNo": 0,
                    "reportData": [report_item("ChargingStation", "Model", "TS-2", mutability="ReadOnly")],
                },
            )
            return status, command, request, await call("GET", f"/stations/{station.identity}/device-model/")

    status, command, request, (_, model) = run(scenario())
    assert status == 201 and command["status"] == "accepted"
    assert request["reportBase"] == "SummaryInventory" and request["requestId"] > 0
    assert [(v["component"], v["variable"], v["value"], v["mutability"]) for v in model] == [
        ("ChargingStation", "Model", "TS-2", "ReadOnly")
    ]


def test_tc_o_01_a_display_message_set_over_the_api_is_listed_once_accepted(ocpp_server, run, key):
    station = station_make(ocpp_version="2.0.1")
    call = lambda *a: asyncio.to_thread(api, ocpp_server.base_url, key, *a)  # noqa: E731

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            status, command = await call(
                "POST",
                f"/stations/{station.identity}/display-messages/",
                {"message_id": 4, "content": "Free charging today", "priority": "InFront", "wait": 10},
            )
            listed = await call("GET", f"/stations/{station.identity}/display-messages/")
            # O02 / O05: ask for what it shows, then clear the message
            asked = await call(
                "POST", f"/stations/{station.identity}/display-messages/request/", {"wait": 10}
            )
            request = await cp.wait_call("GetDisplayMessages")
            cleared = await call(
                "POST", f"/stations/{station.identity}/display-messages/4/clear/", {"wait": 10}
            )
            after = await call("GET", f"/stations/{station.identity}/display-messages/")
            return status, command, listed, asked, request, cleared, after

    status, command, (_, messages), asked, request, cleared, (_, after) = run(scenario())
    assert asked[0] == 201 and asked[1]["status"] == "accepted" and request["requestId"] > 0
    assert cleared[0] == 201 and cleared[1]["payload"] == {"id": 4} and after == []
    assert status == 201 and command["status"] == "accepted"
    assert command["payload"]["message"]["message"] == {"format": "UTF8", "content": "Free charging today"}
    assert [(m["message_id"], m["priority"], m["content"]) for m in messages] == [
        (4, "InFront", "Free charging today")
    ]


def test_bad_requests_are_refused_with_a_clear_error_and_nothing_is_sent(ocpp_server, run, key):
    old = station_make()  # OCPP 1.6: no device model

    def scenario_sync():
        return (
            api(ocpp_server.base_url, key, "POST", f"/stations/{old.identity}/base-report/", {}),
            api(
                ocpp_server.base_url,
                key,
                "POST",
                f"/stations/{old.identity}/variables/set/",
                {"variables": []},
            ),
            api(ocpp_server.base_url, key, "GET", "/stations/NO-SUCH/device-model/"),
        )

    (status_16, body_16), (status_empty, body_empty), (status_missing, _) = scenario_sync()
    assert status_16 == 409 and "do not support" in json.dumps(body_16)
    assert status_empty == 400 and "variables" in json.dumps(body_empty)
    assert status_missing == 404


def test_display_messages_are_asked_for_over_the_api_by_id_priority_and_state(ocpp_server, run, key):
    station = station_make(ocpp_version="2.0.1")
    call = lambda *a: asyncio.to_thread(api, ocpp_server.base_url, key, *a)  # noqa: E731
    path = f"/stations/{station.identity}/display-messages/request/"

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            cp.responders["GetDisplayMessages"] = {"status": "Unknown"}
            asked = await call(
                "POST", path, {"ids": [3, 4], "priority": "InFront", "state": "Idle", "wait": 10}
            )
            request = await cp.wait_call("GetDisplayMessages")
            refused = await call("POST", path, {"priority": "Urgent"})
            return asked, request, refused

    (status, command), request, (refused_status, refused) = run(scenario())
    assert status == 201 and command["status"] == "rejected" and command["response"] == {"status": "Unknown"}
    assert {k: v for k, v in request.items() if k != "requestId"} == {
        "id": [3, 4],
        "priority": "InFront",
        "state": "Idle",
    }
    # a priority OCPP does not have is refused and nothing more is sent
    assert refused_status == 400 and "priority" in refused["error"]["details"]
    assert Command.objects.filter(station=station, action="GetDisplayMessages").count() == 1
