"""OCPP 2.0.1 Part 6, block N (diagnostics, monitoring, customer information): the CSMS cases not
played elsewhere, each over a real socket against the real server. The operator's request goes
through the service the dashboard and the API call; the test station answers as the case says; the
test asserts what ChargeNet sent and what the operator then sees. docs/ocpp-2.0.1-coverage.md maps
every Part 6 case to its test."""

import pytest

from chargenet.events import events_dispatch_due
from fleet.models import DiagnosticsRequest
from fleet.services import diagnostics_collect
from rfid.services import id_token_create
from stations.access.local_lists import local_list_desired
from stations.devicemodel import selectors
from stations.devicemodel.services import (
    customer_information_request,
    monitoring_report_request,
    variable_monitoring_clear_request,
    variable_monitoring_set_request,
    variables_get_request,
)
from stations.models import Command, DeviceEvent, LocalListSync, StationProtocolState, StationReport
from stations.services import command_wait
from tests.stations.connection.helpers import db, now_iso
from tests.stations.connection.helpers import station_make as _station_make
from tests.stations.devicemodel.helpers import BOOT, booted201, connected201

pytestmark = pytest.mark.django_db(transaction=True)

CARD, CARD_TYPE = "100000C01", "Central"


def station_make(**fields):
    return _station_make(ocpp_version="2.0.1", **fields)


async def answered(command: Command) -> Command:
    """The command as stored once the station answered it."""
    return await db(command_wait)(command=command, timeout=10)


async def requested(service, **kwargs) -> Command:
    """Ask through a device model service (as the dashboard and the API do); the final command."""
    return await answered(await db(service)(**kwargs))


def listed_monitors(station) -> list[tuple]:
    """The monitors the operator sees listed for the station."""
    return [
        (m.monitor_id, m.component, m.evse_id, m.variable, m.type, m.value)
        for m in selectors.device_monitors(station=station)
    ]


def monitor(monitor_id: int, component: dict, variable: str, kind: str, value: float) -> dict:
    """One NotifyMonitoringReport entry with a single monitor."""
    return {
        "component": component,
        "variable": {"name": variable},
        "variableMonitoring": [
            {"id": monitor_id, "transaction": False, "value": value, "type": kind, "severity": 5}
        ],
    }


async def report(cp, request_id: int, *parts: list[dict]) -> None:
    """The station sends its NotifyMonitoringReport for `request_id`, one message per part."""
    for seq_no, monitors in enumerate(parts):
        answer = await cp.ok(
            "NotifyMonitoringReport",
            {
                "requestId": request_id,
                "seqNo": seq_no,
                "generatedAt": now_iso(),
                "tbc": seq_no < len(parts) - 1,
                "monitor": monitors,
            },
        )
        assert answer == {}


async def monitors_known(cp, station, *monitors: dict) -> None:
    """Given: the operator asked for every monitor and the station reported these."""
    command = await requested(monitoring_report_request, station=station)
    await cp.wait_call("GetMonitoringReport")
    await report(cp, command.payload["requestId"], list(monitors))


EVSE_1 = {"name": "EVSE", "evse": {"id": 1}}
STATION = {"name": "ChargingStation"}


@pytest.mark.parametrize(
    "case, components, reported",
    [
        pytest.param(
            "TC_N_03",
            [{"component": "EVSE", "evse_id": 1, "variable": "AvailabilityState"}],
            [monitor(8, STATION, "Power", "UpperThreshold", 100.0)],
            id="tc_n_03_one_component_variable",
        ),
        pytest.param(
            "TC_N_60",
            [
                {"component": "ChargingStation", "variable": "AvailabilityState"},
                {"component": "EVSE", "evse_id": 1, "variable": "AvailabilityState"},
            ],
            [
                monitor(11, STATION, "AvailabilityState", "UpperThreshold", 100.0),
                monitor(12, EVSE_1, "AvailabilityState", "UpperThreshold", 100.0),
            ],
            id="tc_n_60_a_list_of_component_variables",
        ),
    ],
)
def test_a_monitoring_report_filtered_by_criteria_and_components_keeps_only_the_monitors_the_station_has(
    ocpp_server, run, case, components, reported
):
    station = station_make()
    # the second request of the case: ThresholdMonitoring on the components its report names
    second = [{"component": "ChargingStation", "variable": "Power"}] if case == "TC_N_03" else components

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            # given monitors ChargeNet knew of: a stale delta monitor on each component asked for,
            # a threshold monitor the station has dropped since, and one on another variable
            await monitors_known(
                cp,
                station,
                monitor(7, EVSE_1, "AvailabilityState", "Delta", 1),
                monitor(
                    9,
                    EVSE_1 if case == "TC_N_60" else STATION,
                    "AvailabilityState" if case == "TC_N_60" else "Power",
                    "LowerThreshold",
                    5,
                ),
                monitor(10, EVSE_1, "Power", "Delta", 500),
                *([monitor(6, STATION, "AvailabilityState", "Delta", 1)] if case == "TC_N_60" else []),
            )
            # when the operator asks for the delta monitors of those components: EmptyResultSet
            cp.responders["GetMonitoringReport"] = {"status": "EmptyResultSet"}
            empty = await requested(
                monitoring_report_request,
                station=station,
                criteria=["DeltaMonitoring"],
                component_variables=components,
            )
            empty_sent = await cp.wait_call("GetMonitoringReport")
            after_empty = await db(listed_monitors)(station)
            # and then for their threshold monitors: Accepted, and the station reports them
            cp.responders["GetMonitoringReport"] = {"status": "Accepted"}
            accepted = await requested(
                monitoring_report_request,
                station=station,
                criteria=["ThresholdMonitoring"],
                component_variables=second,
            )
            accepted_sent = await cp.wait_call("GetMonitoringReport")
            await report(cp, accepted_sent["requestId"], reported)
            return empty, empty_sent, after_empty, accepted, accepted_sent

    empty, empty_sent, after_empty, accepted, accepted_sent = run(scenario())

    def component_variable(item):
        component = {"name": item["component"]}
        if "evse_id" in item:
            component["evse"] = {"id": item["evse_id"]}
        return {"component": component, "variable": {"name": item["variable"]}}

    # the requests carry the case's criteria and component/variable list
    assert empty_sent["monitoringCriteria"] == ["DeltaMonitoring"]
    assert empty_sent["componentVariable"] == [component_variable(c) for c in components]
    assert accepted_sent["monitoringCriteria"] == ["ThresholdMonitoring"]
    assert accepted_sent["componentVariable"] == [component_variable(c) for c in second]
    assert empty_sent["requestId"] != accepted_sent["requestId"]
    # EmptyResultSet is an answer, not a refusal: the stale delta monitors there are no longer listed
    assert empty.status == Command.Status.ACCEPTED and empty.response == {"status": "EmptyResultSet"}
    assert 7 not in [row[0] for row in after_empty] and 6 not in [row[0] for row in after_empty]
    assert 10 in [row[0] for row in after_empty]  # another variable: not covered by the request
    # the threshold report is listed; the threshold monitor the station no longer reported is gone
    assert accepted.status == Command.Status.ACCEPTED
    reported_ids = [m["variableMonitoring"][0]["id"] for m in reported]
    assert [row[0] for row in listed_monitors(station)] == sorted([*reported_ids, 10])
    report_row = StationReport.objects.get(
        station=station, kind=StationReport.Kind.MONITORING, request_id=accepted_sent["requestId"]
    )
    assert report_row.complete


def test_tc_n_47_a_report_of_all_monitors_asks_without_filters_and_lists_exactly_what_the_station_reports(
    ocpp_server, run
):
    station = station_make()

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            # given a monitor the operator set earlier, which the station has lost since
            cp.responders["SetVariableMonitoring"] = lambda p: {
                "setMonitoringResult": [
                    {
                        "id": 40,
                        "status": "Accepted",
                        "type": "Delta",
                        "severity": 6,
                        "component": p["setMonitoringData"][0]["component"],
                        "variable": p["setMonitoringData"][0]["variable"],
                    }
                ]
            }
            await requested(
                variable_monitoring_set_request,
                station=station,
                monitors=[
                    {
                        "component": "EVSE",
                        "evse_id": 1,
                        "variable": "Power",
                        "type": "Delta",
                        "value": 500,
                        "severity": 6,
                    }
                ],
            )
            before = await db(listed_monitors)(station)
            # when the operator asks for every monitor
            command = await requested(monitoring_report_request, station=station)
            sent = await cp.wait_call("GetMonitoringReport")
            # the station reports in two parts (tbc)
            await report(
                cp,
                sent["requestId"],
                [monitor(1, STATION, "Power", "UpperThreshold", 100.0)],
                [monitor(2, EVSE_1, "AvailabilityState", "Delta", 1)],
            )
            return before, command, sent

    before, command, sent = run(scenario())
    assert [row[0] for row in before] == [40]
    # neither monitoringCriteria nor componentVariable: all monitors
    assert sent == {"requestId": sent["requestId"]} and command.status == Command.Status.ACCEPTED
    assert listed_monitors(station) == [
        (1, "ChargingStation", None, "Power", "UpperThreshold", 100.0),
        (2, "EVSE", 1, "AvailabilityState", "Delta", 1.0),
    ]
    row = StationReport.objects.get(station=station, request_id=sent["requestId"])
    assert row.complete and row.parts == 2


def test_tc_n_18_monitors_are_cleared_in_as_many_requests_as_the_station_takes_ids_per_message(
    ocpp_server, run
):
    station = station_make()
    limit = {
        "component": "MonitoringCtrlr",
        "variable": "ItemsPerMessage",
        "variable_instance": "ClearVariableMonitoring",
    }

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            # the CSMS reads how many ids the station takes per ClearVariableMonitoring
            cp.responders["GetVariables"] = lambda p: {
                "getVariableResult": [
                    {
                        "attributeStatus": "Accepted",
                        "attributeValue": "3",
                        "component": p["getVariableData"][0]["component"],
                        "variable": p["getVariableData"][0]["variable"],
                    }
                ]
            }
            (read,) = await db(variables_get_request)(station=station, variables=[limit])
            read = await answered(read)
            read_sent = await cp.wait_call("GetVariables")
            await monitors_known(
                cp, station, *(monitor(n, EVSE_1, "Power", "Delta", 100 * n) for n in range(1, 8))
            )
            # when the operator clears seven monitors
            cp.responders["ClearVariableMonitoring"] = lambda p: {
                "clearMonitoringResult": [{"id": i, "status": "Accepted"} for i in p["id"]]
            }
            commands = await db(variable_monitoring_clear_request)(
                station=station, monitor_ids=list(range(1, 8))
            )
            final = [await answered(c) for c in commands]
            sent = [(await cp.wait_call("ClearVariableMonitoring"))["id"] for _ in commands]
            return read, read_sent, final, sent

    read, read_sent, final, sent = run(scenario())
    assert read.status == Command.Status.ACCEPTED
    assert read_sent["getVariableData"] == [
        {
            "component": {"name": "MonitoringCtrlr"},
            "variable": {"name": "ItemsPerMessage", "instance": "ClearVariableMonitoring"},
        }
    ]
    # never more than three ids in one request, every id sent once, each request answered
    assert sent == [[1, 2, 3], [4, 5, 6], [7]]
    assert [c.status for c in final] == [Command.Status.ACCEPTED] * 3
    assert listed_monitors(station) == []


def test_tc_n_44_a_monitor_the_station_refuses_to_clear_stays_listed(ocpp_server, run):
    station = station_make()

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            await monitors_known(cp, station, monitor(41, EVSE_1, "Power", "UpperThreshold", 22000))
            cp.responders["ClearVariableMonitoring"] = lambda p: {
                "clearMonitoringResult": [{"id": i, "status": "Rejected"} for i in p["id"]]
            }
            (command,) = await db(variable_monitoring_clear_request)(station=station, monitor_ids=[41])
            return await answered(command), await cp.wait_call("ClearVariableMonitoring")

    command, sent = run(scenario())
    assert sent == {"id": [41]}
    # the answer is shown as the station gave it, and the monitor is still there
    assert command.response == {"clearMonitoringResult": [{"id": 41, "status": "Rejected"}]}
    assert listed_monitors(station) == [(41, "EVSE", 1, "Power", "UpperThreshold", 22000.0)]


def test_tc_n_24_periodic_events_of_a_periodic_monitor_are_answered_and_kept_without_raising_a_problem(
    ocpp_server, run
):
    station = station_make()

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            cp.responders["SetVariableMonitoring"] = lambda p: {
                "setMonitoringResult": [
                    {
                        "id": 31,
                        "status": "Accepted",
                        "type": "Periodic",
                        "severity": 8,
                        "component": p["setMonitoringData"][0]["component"],
                        "variable": p["setMonitoringData"][0]["variable"],
                    }
                ]
            }
            await requested(
                variable_monitoring_set_request,
                station=station,
                monitors=[
                    {
                        "component": "EVSE",
                        "evse_id": 1,
                        "variable": "Power",
                        "type": "Periodic",
                        "value": 60,
                        "severity": 8,
                    }
                ],
            )
            answers = []
            for n, value in enumerate(("0", "7400", "11000"), start=1):
                answers.append(
                    await cp.ok(
                        "NotifyEvent",
                        {
                            "generatedAt": now_iso(),
                            "seqNo": 0,
                            "eventData": [
                                {
                                    "eventId": n,
                                    "timestamp": now_iso(),
                                    "trigger": "Periodic",
                                    "actualValue": value,
                                    "eventNotificationType": "CustomMonitor",
                                    "variableMonitoringId": 31,
                                    "component": EVSE_1,
                                    "variable": {"name": "Power"},
                                }
                            ],
                        },
                    )
                )
            return answers

    assert run(scenario()) == [{}, {}, {}]  # N08.FR.02: an empty NotifyEventResponse each time
    events = DeviceEvent.objects.filter(station=station).order_by("event_id")
    assert [(e.trigger, e.variable, e.evse_id, e.actual_value) for e in events] == [
        ("Periodic", "Power", 1, "0"),
        ("Periodic", "Power", 1, "7400"),
        ("Periodic", "Power", 1, "11000"),
    ]
    assert not selectors.device_problems_open(station=station).exists()
    power = selectors.device_model_components(station=station)["EVSE · EVSE 1"]
    assert [(v.variable, v.value) for v in power] == [("Power", "11000")]


def test_tc_n_48_an_alert_on_a_write_only_variable_without_a_value_is_kept_as_an_open_problem(
    ocpp_server, run
):
    station = station_make()

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            return await cp.ok(
                "NotifyEvent",
                {
                    "generatedAt": now_iso(),
                    "seqNo": 0,
                    "eventData": [
                        {
                            "eventId": 1,
                            "timestamp": now_iso(),
                            "trigger": "Alerting",
                            "actualValue": "",
                            "eventNotificationType": "CustomMonitor",
                            "variableMonitoringId": 12,
                            "component": {"name": "SecurityCtrlr"},
                            "variable": {"name": "BasicAuthPassword"},
                        }
                    ],
                },
            )

    assert run(scenario()) == {}
    (problem,) = selectors.device_problems_open(station=station)
    assert (problem.component, problem.variable, problem.trigger) == (
        "SecurityCtrlr",
        "BasicAuthPassword",
        "Alerting",
    )
    assert problem.actual_value == ""


def test_tc_n_49_a_threshold_alert_the_station_clears_after_a_reboot_is_no_longer_an_open_problem(
    ocpp_server, run
):
    station = station_make()

    def alert(event_id: int, value: str, **extra):
        return {
            "generatedAt": now_iso(),
            "seqNo": 0,
            "eventData": [
                {
                    "eventId": event_id,
                    "timestamp": now_iso(),
                    "trigger": "Alerting",
                    "actualValue": value,
                    "eventNotificationType": "CustomMonitor",
                    "variableMonitoringId": 3,
                    "component": EVSE_1,
                    "variable": {"name": "Power"},
                    **extra,
                }
            ],
        }

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            await cp.ok("NotifyEvent", alert(1, "23000"))
        open_before = await db(lambda: list(selectors.device_problems_open(station=station)))()
        # the station reboots, and reports the threshold alert cleared
        async with connected201(ocpp_server, station) as cp:
            assert (await cp.ok("BootNotification", {**BOOT, "reason": "PowerUp"}))["status"] == "Accepted"
            answer = await cp.ok("NotifyEvent", alert(1, "0", cleared=True))
        return open_before, answer

    open_before, answer = run(scenario())
    assert answer == {}
    assert [(p.variable, p.actual_value) for p in open_before] == [("Power", "23000")]
    assert not selectors.device_problems_open(station=station).exists()
    raised = DeviceEvent.objects.get(station=station, problem=True)
    assert raised.cleared_at is not None


@pytest.mark.parametrize(
    "case, clear, certificate, data",
    [
        pytest.param("TC_N_28", False, None, "", id="tc_n_28_report_no_data"),
        pytest.param("TC_N_31", True, None, "", id="tc_n_31_clear_and_report_no_data"),
        pytest.param(
            "TC_N_63",
            True,
            {
                "hashAlgorithm": "SHA256",
                "issuerNameHash": "a" * 64,
                "issuerKeyHash": "b" * 64,
                "serialNumber": "1f2e3d",
            },
            "contract certificate 1f2e3d: 2 sessions",
            id="tc_n_63_clear_and_report_customer_certificate",
        ),
    ],
)
def test_customer_information_accepted_shows_what_the_station_reported_even_when_it_holds_nothing(
    ocpp_server, run, case, clear, certificate, data
):
    station = station_make()
    customer = {"certificate": certificate} if certificate else {"id_token": CARD, "id_token_type": CARD_TYPE}

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            command = await requested(
                customer_information_request, station=station, report=True, clear=clear, **customer
            )
            sent = await cp.wait_call("CustomerInformation")
            answer = await cp.ok(
                "NotifyCustomerInformation",
                {"data": data, "seqNo": 0, "generatedAt": now_iso(), "requestId": sent["requestId"]},
            )
            return command, sent, answer

    command, sent, answer = run(scenario())
    assert sent["report"] is True and sent["clear"] is clear
    if certificate:
        assert sent["customerCertificate"] == certificate and "idToken" not in sent
    else:
        assert sent["idToken"] == {"idToken": CARD, "type": CARD_TYPE}
    assert command.status == Command.Status.ACCEPTED and answer == {}
    (row,) = selectors.customer_information_requests(station=station)
    assert (row["status"], row["complete"], row["data"], row["clear"]) == ("Accepted", True, data, clear)


def test_tc_n_29_customer_information_the_station_does_not_accept_is_shown_rejected_without_data(
    ocpp_server, run
):
    station = station_make()

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            cp.responders["CustomerInformation"] = {"status": "Rejected"}
            command = await requested(
                customer_information_request, station=station, id_token=CARD, id_token_type=CARD_TYPE
            )
            return command, await cp.wait_call("CustomerInformation")

    command, sent = run(scenario())
    assert sent["report"] is True and sent["idToken"] == {"idToken": CARD, "type": CARD_TYPE}
    assert command.status == Command.Status.REJECTED
    (row,) = selectors.customer_information_requests(station=station)
    assert (row["status"], row["complete"], row["data"]) == ("Rejected", False, "")
    assert not StationReport.objects.filter(station=station).exists()


def test_tc_n_46_clearing_a_cards_customer_data_removes_it_from_the_stations_local_list(
    ocpp_server, run, eager_tasks
):
    # given a station whose local list ChargeNet confirmed at version 1, the card in it
    station = station_make()
    type(station).objects.filter(pk=station.pk).update(local_list_enabled=True)
    station.refresh_from_db()
    id_token_create(uid=CARD, type=CARD_TYPE)
    id_token_create(uid="100000C02")
    LocalListSync.objects.update_or_create(
        station=station,
        defaults={
            "version": 1,
            "entries": local_list_desired(station=station),
            "confirmed": True,
            "due_at": None,
        },
    )

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            command = await requested(
                customer_information_request,
                station=station,
                id_token=CARD,
                id_token_type=CARD_TYPE,
                report=True,
                clear=True,
            )
            sent = await cp.wait_call("CustomerInformation")
            await cp.ok(
                "NotifyCustomerInformation",
                {
                    "data": "Customer information data.",
                    "seqNo": 0,
                    "generatedAt": now_iso(),
                    "requestId": sent["requestId"],
                },
            )
            update = await cp.wait_call("SendLocalList")
            send = await db(lambda: Command.objects.get(station=station, action="SendLocalList"))()
            return command, sent, update, await answered(send)

    command, sent, update, send = run(scenario())
    assert sent["report"] is True and sent["clear"] is True
    assert sent["idToken"] == {"idToken": CARD, "type": CARD_TYPE}
    assert command.status == Command.Status.ACCEPTED
    # a differential update to the next version that removes the card (no idTokenInfo)
    assert update == {
        "versionNumber": 2,
        "updateType": "Differential",
        "localAuthorizationList": [{"idToken": {"idToken": CARD, "type": CARD_TYPE}}],
    }
    assert send.status == Command.Status.ACCEPTED
    # once the worker has followed the answer, the list ChargeNet keeps for the station agrees
    events_dispatch_due()
    sync = LocalListSync.objects.get(station=station)
    assert sync.version == 2 and sorted(sync.entries) == ["100000C02"]


def test_tc_n_35_a_security_log_is_requested_and_followed_to_uploaded(ocpp_server, run, eager_tasks):
    station = station_make()

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            cp.responders["GetLog"] = {"status": "Accepted", "filename": "security.log"}
            request = await db(diagnostics_collect)(station=station, log_type="SecurityLog")
            command = await answered(request.command)
            sent = await cp.wait_call("GetLog")
            for status in ("Uploading", "Uploaded"):
                assert (
                    await cp.ok("LogStatusNotification", {"status": status, "requestId": sent["requestId"]})
                    == {}
                )
            return request, command, sent

    request, command, sent = run(scenario())
    assert sent["logType"] == "SecurityLog" and sent["requestId"] == request.request_id
    assert sent["log"]["remoteLocation"].startswith("http")
    assert command.status == Command.Status.ACCEPTED and command.response["filename"] == "security.log"
    state = StationProtocolState.objects.get(station=station)
    assert (state.log_status, state.log_request_id) == ("Uploaded", request.request_id)
    events_dispatch_due()
    request.refresh_from_db()
    assert request.station_status == "Uploaded"


def test_tc_n_36_a_second_log_request_cancels_the_first_and_is_followed_to_uploaded(
    ocpp_server, run, eager_tasks
):
    station = station_make()

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            first = await db(diagnostics_collect)(station=station)
            first_command = await answered(first.command)
            await cp.wait_call("GetLog")
            await cp.ok("LogStatusNotification", {"status": "Uploading", "requestId": first.request_id})
            # the second request while the first uploads: the station cancels the first
            cp.responders["GetLog"] = {"status": "AcceptedCanceled", "filename": "second.log"}
            second = await db(diagnostics_collect)(station=station)
            second_command = await answered(second.command)
            await cp.wait_call("GetLog")
            for status, request_id in (
                ("AcceptedCanceled", first.request_id),
                ("Uploading", second.request_id),
                ("Uploaded", second.request_id),
            ):
                assert await cp.ok("LogStatusNotification", {"status": status, "requestId": request_id}) == {}
            return first, first_command, second, second_command

    first, first_command, second, second_command = run(scenario())
    assert first.request_id != second.request_id
    assert first_command.status == Command.Status.ACCEPTED
    # AcceptedCanceled accepts the second request: it is not shown as refused
    assert second_command.status == Command.Status.ACCEPTED
    assert second_command.response == {"status": "AcceptedCanceled", "filename": "second.log"}
    state = StationProtocolState.objects.get(station=station)
    assert (state.log_status, state.log_request_id) == ("Uploaded", second.request_id)
    # on the log requests page: the first cancelled by the station, the second uploaded
    events_dispatch_due()
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, first.station_status) == (DiagnosticsRequest.Status.FAILED, "AcceptedCanceled")
    assert first.error == "the station cancelled this upload for a newer log request"
    assert (second.status, second.station_status) == (DiagnosticsRequest.Status.UPLOADING, "Uploaded")
