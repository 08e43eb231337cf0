"""The device model panel of a 2.0.1 station's page: readable, each writable attribute set with
SetVariables and the station's per-attribute result shown; GetBaseReport from a button."""

import asyncio

import pytest
from django.db import connection

from stations.models import DeviceVariable
from tests.stations.connection.helpers import now_iso, station_make
from tests.stations.devicemodel.helpers import booted201, report_item

pytestmark = pytest.mark.django_db(transaction=True)


def _in_thread(fn):
    def run():
        try:
            return fn()
        finally:
            connection.close()

    return asyncio.to_thread(run)


def test_tc_b_05_the_panel_sets_a_variable_and_shows_the_stations_result(ocpp_server, run, client, operator):
    station = station_make(ocpp_version="2.0.1")
    client.force_login(operator)
    panel_url = f"/stations/{station.identity}/device-model/"

    def answer(payload):
        item = payload["setVariableData"][0]
        return {
            "setVariableResult": [
                {
                    "attributeStatus": "Rejected",
                    "attributeStatusInfo": {"reasonCode": "OutOfRange", "additionalInfo": "max 3600"},
                    "component": item["component"],
                    "variable": item["variable"],
                }
            ]
        }

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            cp.responders["SetVariables"] = answer
            await cp.ok(
                "NotifyReport",
                {
                    "requestId": 1,
                    "generatedAt": now_iso(),
                    "seqNo": 0,
                    "reportData": [
                        report_item("OCPPCommCtrlr", "HeartbeatInterval", "300"),
                        report_item("ChargingStation", "Model", "TS-2", mutability="ReadOnly"),
                    ],
                },
            )
            before = await _in_thread(lambda: client.get(panel_url).content.decode())
            heartbeat = await _in_thread(
                lambda: DeviceVariable.objects.get(station=station, variable="HeartbeatInterval")
            )
            after = await _in_thread(
                lambda: client.post(
                    panel_url + "set/", {"variable": heartbeat.pk, "value": "99999"}
                ).content.decode()
            )
            sent = await cp.wait_call("SetVariables")
            report = await _in_thread(
                lambda: client.post(
                    panel_url + "report/", {"report_base": "SummaryInventory"}
                ).content.decode()
            )
            requested = await cp.wait_call("GetBaseReport")
            return before, after, sent, report, requested

    before, after, sent, report, requested = run(scenario())
    assert "HeartbeatInterval" in before and "TS-2" in before
    assert before.count('name="value"') == 1  # only the writable attribute has a form
    assert sent["setVariableData"][0]["attributeValue"] == "99999"
    assert 'data-status="Rejected"' in after and "OutOfRange max 3600" in after
    assert DeviceVariable.objects.get(station=station, variable="HeartbeatInterval").value == "300"
    assert "Report requested" in report and requested["reportBase"] == "SummaryInventory"


def test_the_station_page_of_a_2_0_1_station_loads_the_panel_and_a_viewer_cannot_set(client, viewer, db):
    station = station_make(ocpp_version="2.0.1")
    DeviceVariable.objects.create(
        station=station,
        key="OCPPCommCtrlr||||HeartbeatInterval||Actual",
        component="OCPPCommCtrlr",
        variable="HeartbeatInterval",
        value="300",
        mutability="ReadWrite",
    )
    client.force_login(viewer)

    page = client.get(f"/stations/{station.identity}/").content.decode()
    panel = client.get(f"/stations/{station.identity}/device-model/").content.decode()
    refused = client.post(f"/stations/{station.identity}/device-model/set/", {"variable": 1, "value": "1"})

    assert f"/stations/{station.identity}/device-model/" in page
    assert "HeartbeatInterval" in panel and 'name="value"' not in panel
    assert refused.status_code == 403
