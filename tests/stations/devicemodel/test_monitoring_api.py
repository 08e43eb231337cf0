"""N Monitoring and customer information over the REST API of the real server, with a 2.0.1 test
station on a real socket (docs/api.md): SetVariableMonitoring, ClearVariableMonitoring,
GetMonitoringReport, SetMonitoringBase, SetMonitoringLevel and CustomerInformation."""

import asyncio

import pytest

from stations.models import DeviceMonitor
from tests.stations.connection.helpers import now_iso, station_make
from tests.stations.devicemodel.helpers import booted201
from tests.stations.devicemodel.test_api import api, key  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)


def _set_answer(payload: dict) -> dict:
    results = []
    for n, item in enumerate(payload["setMonitoringData"]):
        accepted = item["variable"]["name"] != "Nonsense"
        results.append(
            {
                "id": 70 + n,
                "status": "Accepted" if accepted else "UnknownVariable",
                "type": item["type"],
                "severity": item["severity"],
                "component": item["component"],
                "variable": item["variable"],
            }
        )
    return {"setMonitoringResult": results}


def test_tc_n_04_set_and_tc_n_06_clear_variable_monitoring_list_the_monitors_the_station_accepted(
    ocpp_server,
    run,
    key,  # noqa: F811
):
    station = station_make(ocpp_version="2.0.1")
    call = lambda *a: asyncio.to_thread(api, ocpp_server.base_url, key, *a)  # noqa: E731
    path = f"/stations/{station.identity}/monitors/"

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            cp.responders["SetVariableMonitoring"] = _set_answer
            cp.responders["ClearVariableMonitoring"] = lambda p: {
                "clearMonitoringResult": [{"id": i, "status": "Accepted"} for i in p["id"]]
            }
            status, command = await call(
                "POST",
                path,
                {
                    "monitors": [
                        {
                            "component": "EVSE",
                            "evse_id": 1,
                            "variable": "Power",
                            "type": "UpperThreshold",
                            "value": 11000,
                            "severity": 4,
                        },
                        {
                            "component": "EVSE",
                            "variable": "Nonsense",
                            "type": "Delta",
                            "value": 1,
                            "severity": 8,
                        },
                    ],
                    "wait": 10,
                },
            )
            sent = await cp.wait_call("SetVariableMonitoring")
            listed = await call("GET", path)
            cleared = await call("POST", f"{path}clear/", {"monitor_ids": [70], "wait": 10})
            after = await call("GET", path)
            return status, command, sent, listed, cleared, after

    status, command, sent, (_, listed), (clear_status, _), (_, after) = run(scenario())
    assert status == 201 and command["status"] == "accepted"
    assert sent["setMonitoringData"][0] == {
        "type": "UpperThreshold",
        "value": 11000.0,
        "severity": 4,
        "component": {"name": "EVSE", "evse": {"id": 1}},
        "variable": {"name": "Power"},
    }
    assert [r["status"] for r in command["response"]["setMonitoringResult"]] == [
        "Accepted",
        "UnknownVariable",
    ]
    # only the accepted monitor is listed, under the id the station gave it
    assert [(m["monitor_id"], m["variable"], m["evse_id"], m["value"], m["severity"]) for m in listed] == [
        (70, "Power", 1, 11000.0, 4)
    ]
    assert clear_status == 201 and after == []


def test_tc_n_02_monitoring_report_and_tc_n_03_base_and_tc_n_05_level_are_sent_as_typed(
    ocpp_server,
    run,
    key,  # noqa: F811
):
    station = station_make(ocpp_version="2.0.1")
    call = lambda *a: asyncio.to_thread(api, ocpp_server.base_url, key, *a)  # noqa: E731
    base = f"/stations/{station.identity}"

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            report = await call(
                "POST", f"{base}/monitors/report/", {"criteria": ["ThresholdMonitoring"], "wait": 10}
            )
            request = await cp.wait_call("GetMonitoringReport")
            # the station reports its monitors for that request
            await cp.ok(
                "NotifyMonitoringReport",
                {
                    "requestId": request["requestId"],
                    "seqNo": 0,
                    "generatedAt": now_iso(),
                    "monitor": [
                        {
                            "component": {"name": "ChargingStation"},
                            "variable": {"name": "Temperature"},
                            "variableMonitoring": [
                                {
                                    "id": 5,
                                    "transaction": False,
                                    "value": 60,
                                    "type": "UpperThreshold",
                                    "severity": 3,
                                }
                            ],
                        }
                    ],
                },
            )
            monitors = await call("GET", f"{base}/monitors/")
            base_set = await call(
                "POST", f"{base}/monitoring-base/", {"monitoring_base": "FactoryDefault", "wait": 10}
            )
            base_sent = await cp.wait_call("SetMonitoringBase")
            level = await call("POST", f"{base}/monitoring-level/", {"severity": 4, "wait": 10})
            level_sent = await cp.wait_call("SetMonitoringLevel")
            bad_level = await call("POST", f"{base}/monitoring-level/", {"severity": 12})
            bad_base = await call("POST", f"{base}/monitoring-base/", {"monitoring_base": "Some"})
            return report, request, monitors, base_set, base_sent, level, level_sent, bad_level, bad_base

    report, request, monitors, base_set, base_sent, level, level_sent, bad_level, bad_base = run(scenario())
    assert report[0] == 201 and report[1]["status"] == "accepted"
    assert request["monitoringCriteria"] == ["ThresholdMonitoring"] and request["requestId"] > 0
    assert [(m["monitor_id"], m["variable"], m["value"]) for m in monitors[1]] == [(5, "Temperature", 60.0)]
    assert base_set[0] == 201 and base_sent == {"monitoringBase": "FactoryDefault"}
    assert level[0] == 201 and level_sent == {"severity": 4}
    # bad input: a 400 naming the field, nothing sent
    assert bad_level[0] == 400 and "severity" in str(bad_level[1])
    assert bad_base[0] == 400 and "monitoring_base" in str(bad_base[1])
    assert DeviceMonitor.objects.filter(station=station).count() == 1


def test_tc_n_09_customer_information_for_a_card_shows_the_data_the_station_returned(
    ocpp_server,
    run,
    key,  # noqa: F811
):
    station = station_make(ocpp_version="2.0.1")
    call = lambda *a: asyncio.to_thread(api, ocpp_server.base_url, key, *a)  # noqa: E731
    path = f"/stations/{station.identity}/customer-information/"

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            status, command = await call("POST", path, {"id_token": "GDPR-CARD", "clear": True, "wait": 10})
            sent = await cp.wait_call("CustomerInformation")
            for seq, (part, tbc) in enumerate(
                (("card GDPR-CARD: 3 sessions", True), (", last 2026-12-01", False))
            ):
                await cp.ok(
                    "NotifyCustomerInformation",
                    {
                        "data": part,
                        "tbc": tbc,
                        "seqNo": seq,
                        "generatedAt": now_iso(),
                        "requestId": sent["requestId"],
                    },
                )
            other = await call("POST", path, {"customer_identifier": "cust-9", "wait": 10})
            await cp.wait_call("CustomerInformation")
            for_card = await call("GET", f"{path}?id_token=GDPR-CARD")
            everything = await call("GET", path)
            nobody = await call("POST", path, {"report": True})
            return status, command, sent, other, for_card, everything, nobody

    status, command, sent, other, (_, for_card), (_, everything), nobody = run(scenario())
    assert status == 201 and command["status"] == "accepted"
    assert sent["idToken"] == {"idToken": "GDPR-CARD", "type": "ISO14443"}
    assert sent["report"] is True and sent["clear"] is True
    assert other[0] == 201
    assert len(for_card) == 1
    row = for_card[0]
    assert row["data"] == "card GDPR-CARD: 3 sessions, last 2026-12-01" and row["complete"] is True
    assert row["status"] == "Accepted" and row["clear"] is True
    assert [r["customer_identifier"] for r in everything] == ["cust-9", ""]
    assert nobody[0] == 400 and "id_token" in str(nobody[1])


def test_tc_n_63_customer_information_for_a_certificate_over_the_api_sends_its_hash_data(
    ocpp_server,
    run,
    key,  # noqa: F811
):
    station = station_make(ocpp_version="2.0.1")
    call = lambda *a: asyncio.to_thread(api, ocpp_server.base_url, key, *a)  # noqa: E731
    path = f"/stations/{station.identity}/customer-information/"
    certificate = {
        "hash_algorithm": "SHA256",
        "issuer_name_hash": "a" * 64,
        "issuer_key_hash": "b" * 64,
        "serial_number": "1f2e3d",
    }

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            created = await call(
                "POST", path, {"customer_certificate": certificate, "clear": True, "wait": 10}
            )
            sent = await cp.wait_call("CustomerInformation")
            bad = await call("POST", path, {"customer_certificate": {**certificate, "hash_algorithm": "MD5"}})
            return created, sent, bad

    (status, command), sent, bad = run(scenario())
    assert status == 201 and command["status"] == "accepted"
    assert sent["customerCertificate"] == {
        "hashAlgorithm": "SHA256",
        "issuerNameHash": "a" * 64,
        "issuerKeyHash": "b" * 64,
        "serialNumber": "1f2e3d",
    }
    assert sent["report"] is True and sent["clear"] is True and "idToken" not in sent
    assert bad[0] == 400 and "hash_algorithm" in str(bad[1])
