"""OCPP 2.0.1 Part 6 CSMS test cases not covered elsewhere, each over a real socket against the real
server: the CSMS sends the case's request through the durable command queue (as the dashboard and
the API do), the test station answers as the case says, and what the operator sees follows the
answer. docs/ocpp-2.0.1-coverage.md maps every Part 6 case to its test."""

import asyncio

import pytest

from stations.models import Command, Connector, Session, StationProtocolState
from tests.stations.connection.helpers import db, now_iso, sent_to, station_make
from tests.stations.devicemodel.helpers import BOOT, booted201, connected201

pytestmark = pytest.mark.django_db(transaction=True)


def test_tc_b_01_a_cold_boot_is_accepted_with_the_heartbeat_interval_and_the_station_shows_online(
    ocpp_server, run
):
    station = station_make(ocpp_version="2.0.1")

    async def scenario():
        async with connected201(ocpp_server, station) as cp:
            boot = await cp.ok("BootNotification", BOOT)
            heartbeat = await cp.ok("Heartbeat", {})
            online = await db(lambda: type(station).objects.get(pk=station.pk).is_online)()
            return boot, heartbeat, online

    boot, heartbeat, online = run(scenario())
    assert boot["status"] == "Accepted" and boot["interval"] > 0 and boot["currentTime"].endswith("Z")
    assert heartbeat["currentTime"].endswith("Z")
    assert online


@pytest.mark.parametrize(
    "case, payload, answer, status",
    [
        ("TC_B_20", {"type": "OnIdle"}, {"status": "Accepted"}, Command.Status.ACCEPTED),
        ("TC_B_21", {"type": "OnIdle"}, {"status": "Scheduled"}, Command.Status.ACCEPTED),
        ("TC_B_22", {"type": "Immediate"}, {"status": "Accepted"}, Command.Status.ACCEPTED),
        ("TC_B_25", {"type": "Immediate", "evseId": 1}, {"status": "Accepted"}, Command.Status.ACCEPTED),
        ("TC_B_26", {"type": "OnIdle", "evseId": 1}, {"status": "Scheduled"}, Command.Status.ACCEPTED),
        ("TC_C_37", None, {"status": "Accepted"}, Command.Status.ACCEPTED),
        ("TC_C_38", None, {"status": "Rejected"}, Command.Status.REJECTED),
        ("TC_F_06", None, {"status": "Unlocked"}, Command.Status.ACCEPTED),
        ("TC_G_04", {"operationalStatus": "Operative", "evse": {"id": 1}}, {"status": "Accepted"}, Command.Status.ACCEPTED),
        ("TC_G_05", {"operationalStatus": "Inoperative"}, {"status": "Accepted"}, Command.Status.ACCEPTED),
        ("TC_G_11", {"operationalStatus": "Inoperative", "evse": {"id": 1}}, {"status": "Scheduled"}, Command.Status.ACCEPTED),
        ("TC_N_16", {"severity": 4}, {"status": "Accepted"}, Command.Status.ACCEPTED),
        ("TC_N_17", {"severity": 9}, {"status": "Rejected"}, Command.Status.REJECTED),
        ("TC_O_26", None, {"status": "Rejected"}, Command.Status.REJECTED),
        ("TC_L_04", None, {"status": "RevokedCertificate"}, Command.Status.REJECTED),
        ("TC_L_05", None, {"status": "InvalidCertificate"}, Command.Status.REJECTED),
    ],
)  # fmt: skip
def test_a_command_of_the_case_ends_as_the_stations_answer_says(
    ocpp_server, run, case, payload, answer, status
):
    action, default = {
        "TC_B": ("Reset", None),
        "TC_C": ("ClearCache", {}),
        "TC_F": ("UnlockConnector", {"evseId": 1, "connectorId": 1}),
        "TC_G": ("ChangeAvailability", None),
        "TC_N": ("SetMonitoringLevel", None),
        "TC_L": (
            "UpdateFirmware",
            {
                "requestId": 3,
                "firmware": {"location": "https://example.invalid/f", "retrieveDateTime": now_iso(0)},
            },
        ),
        "TC_O": (
            "SetDisplayMessage",
            {"message": {"id": 1, "priority": "NormalCycle", "message": {"format": "UTF8", "content": "Hi"}}},
        ),
    }[case[:4]]
    station = station_make(ocpp_version="2.0.1")

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            return await sent_to(cp, station, action, payload if payload is not None else default, answer)

    command, received = run(scenario())
    # the station got the request as the case sends it, and the command shows its answer
    assert received == (payload if payload is not None else default)
    assert command.status == status and command.response == answer


def test_tc_d_08_tc_d_09_the_local_list_version_is_kept_as_the_station_reports_it(ocpp_server, run):
    station = station_make(ocpp_version="2.0.1")

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            with_list, _ = await sent_to(cp, station, "GetLocalListVersion", {}, {"versionNumber": 5})
            without, _ = await sent_to(cp, station, "GetLocalListVersion", {}, {"versionNumber": 0})
            return with_list, without

    with_list, without = run(scenario())
    assert with_list.status == Command.Status.ACCEPTED and with_list.response == {"versionNumber": 5}
    assert without.status == Command.Status.ACCEPTED and without.response == {"versionNumber": 0}


@pytest.mark.parametrize(
    "case, payload, answer",
    [
        ("TC_E_29", {"transactionId": "tx-1"}, {"ongoingIndicator": True, "messagesInQueue": True}),
        ("TC_E_30", {"transactionId": "tx-1"}, {"ongoingIndicator": True, "messagesInQueue": False}),
        ("TC_E_31", {"transactionId": "tx-1"}, {"ongoingIndicator": False, "messagesInQueue": True}),
        ("TC_E_33", {}, {"messagesInQueue": True}),
        ("TC_E_34", {}, {"messagesInQueue": False}),
    ],
)
def test_get_transaction_status_keeps_the_stations_answer(ocpp_server, run, case, payload, answer):
    station = station_make(ocpp_version="2.0.1")

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            return await sent_to(cp, station, "GetTransactionStatus", payload, answer)

    command, received = run(scenario())
    assert received == payload
    assert command.status == Command.Status.ACCEPTED and command.response == answer


def test_tc_f_20_a_triggered_heartbeat_is_answered_and_tc_f_27_not_implemented_is_shown(ocpp_server, run):
    station = station_make(ocpp_version="2.0.1")

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            trigger, _ = await sent_to(cp, station, "TriggerMessage", {"requestedMessage": "Heartbeat"})
            heartbeat = await cp.ok("Heartbeat", {})
            cp.responders["TriggerMessage"] = {"status": "NotImplemented"}
            refused, _ = await sent_to(
                cp, station, "TriggerMessage", {"requestedMessage": "SignCombinedCertificate"}
            )
            return trigger, heartbeat, refused

    trigger, heartbeat, refused = run(scenario())
    assert trigger.status == Command.Status.ACCEPTED and "currentTime" in heartbeat
    assert refused.status == Command.Status.REJECTED and refused.response == {"status": "NotImplemented"}


def test_tc_g_03_an_evse_set_inoperative_shows_unavailable_once_the_station_says_so(ocpp_server, run):
    station = station_make(ocpp_version="2.0.1")

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            command, _ = await sent_to(
                cp, station, "ChangeAvailability", {"operationalStatus": "Inoperative", "evse": {"id": 1}}
            )
            await cp.ok(
                "StatusNotification",
                {"timestamp": now_iso(), "connectorStatus": "Unavailable", "evseId": 1, "connectorId": 1},
            )
            return command

    command = run(scenario())
    assert command.status == Command.Status.ACCEPTED
    assert Connector.objects.get(evse__station=station).status == "Unavailable"


def test_tc_n_25_a_log_upload_is_followed_to_uploaded_and_tc_n_34_a_refusal_is_shown(ocpp_server, run):
    station = station_make(ocpp_version="2.0.1")
    request = {
        "logType": "DiagnosticsLog",
        "requestId": 11,
        "log": {"remoteLocation": "ftp://example.invalid/"},
    }

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            command, _ = await sent_to(
                cp, station, "GetLog", request, {"status": "Accepted", "filename": "d.log"}
            )
            for status in ("Uploading", "Uploaded"):
                await cp.ok("LogStatusNotification", {"status": status, "requestId": 11})
            cp.responders["GetLog"] = {"status": "Rejected"}
            refused, _ = await sent_to(cp, station, "GetLog", {**request, "requestId": 12})
            await asyncio.sleep(0.2)
            return command, refused

    command, refused = run(scenario())
    assert command.status == Command.Status.ACCEPTED and command.response["filename"] == "d.log"
    state = StationProtocolState.objects.get(station=station)
    assert (state.log_status, state.log_request_id) == ("Uploaded", 11)
    assert refused.status == Command.Status.REJECTED


@pytest.mark.parametrize(
    "case, statuses",
    [
        ("TC_L_01", ["Downloading", "Downloaded", "SignatureVerified", "Installing", "Installed"]),
        ("TC_L_06", ["Downloading", "Downloaded", "InvalidSignature"]),
        ("TC_L_07", ["Downloading", "DownloadFailed"]),
        ("TC_L_09", ["Downloading", "Downloaded", "SignatureVerified", "Installing", "InstallationFailed"]),
        (
            "TC_L_02",
            ["Downloading", "Downloaded", "SignatureVerified", "InstallScheduled", "Installing", "Installed"],
        ),
        (
            "TC_L_03",
            [
                "DownloadScheduled",
                "Downloading",
                "Downloaded",
                "SignatureVerified",
                "Installing",
                "Installed",
            ],
        ),
        (
            "TC_L_08",
            ["Downloading", "Downloaded", "SignatureVerified", "Installing", "InstallVerificationFailed"],
        ),
    ],
)
def test_a_secure_firmware_update_shows_the_last_status_the_station_reported(
    ocpp_server, run, case, statuses
):
    station = station_make(ocpp_version="2.0.1")
    firmware = {
        "location": "https://example.invalid/fw.bin",
        "retrieveDateTime": now_iso(),
        "signingCertificate": "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----",
        "signature": "c2ln",
    }

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            command, received = await sent_to(
                cp, station, "UpdateFirmware", {"requestId": 21, "firmware": firmware}
            )
            for status in statuses:
                await cp.ok("FirmwareStatusNotification", {"status": status, "requestId": 21})
            return command, received

    command, received = run(scenario())
    assert command.status == Command.Status.ACCEPTED and received["firmware"] == firmware
    state = StationProtocolState.objects.get(station=station)
    assert (state.firmware_status, state.firmware_request_id) == (statuses[-1], 21)


def test_tc_p_03_messages_with_custom_data_are_served_as_any_other(ocpp_server, run):
    station = station_make(ocpp_version="2.0.1")
    custom = {"vendorId": "com.example.charger", "temperature": 41}

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            heartbeat = await cp.ok("Heartbeat", {"customData": custom})
            status = await cp.ok(
                "StatusNotification",
                {
                    "timestamp": now_iso(),
                    "connectorStatus": "Occupied",
                    "evseId": 1,
                    "connectorId": 1,
                    "customData": custom,
                },
            )
            return heartbeat, status

    heartbeat, status = run(scenario())
    assert "currentTime" in heartbeat and status == {}
    assert Connector.objects.get(evse__station=station).status == "Occupied"


@pytest.mark.parametrize(
    "case, trigger, state",
    [
        ("TC_E_01", "ChargingStateChanged", "EVConnected"),
        ("TC_E_02", "ChargingStateChanged", "Charging"),
        ("TC_E_09", "EVDetected", "EVConnected"),
        ("TC_E_10", "Authorized", "Idle"),
        ("TC_E_11", "SignedDataReceived", "Charging"),
        ("TC_E_12", "EVDetected", "Idle"),
    ],
)
def test_a_transaction_starts_whichever_option_the_station_starts_it_on(
    ocpp_server, run, case, trigger, state
):
    station = station_make(ocpp_version="2.0.1")
    transaction_id = f"tx-{case}"

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            return await cp.ok(
                "TransactionEvent",
                {
                    "eventType": "Started",
                    "timestamp": now_iso(),
                    "triggerReason": trigger,
                    "seqNo": 0,
                    "transactionInfo": {"transactionId": transaction_id, "chargingState": state},
                    "evse": {"id": 1, "connectorId": 1},
                },
            )

    assert run(scenario()) == {}
    session = Session.objects.get(station=station, transaction_id=transaction_id)
    assert session.stopped_at is None and session.connector is not None


@pytest.mark.parametrize(
    "case, trigger, reason",
    [
        ("TC_E_07", "EVCommunicationLost", "EVDisconnected"),
        ("TC_E_08", "StopAuthorized", "Local"),
        ("TC_E_14", "EVCommunicationLost", "EVDisconnected"),
        ("TC_E_15", "StopAuthorized", "Local"),
        ("TC_E_16", "Deauthorized", "DeAuthorized"),
        ("TC_E_17", "Deauthorized", "EVDisconnected"),
        ("TC_E_19", "EVDeparted", "Local"),
        ("TC_E_20", "EVCommunicationLost", "EVDisconnected"),
        ("TC_E_21", "RemoteStop", "Remote"),
        ("TC_E_22", "ChargingStateChanged", "Local"),
        ("TC_E_39", "EVConnectTimeout", "Timeout"),
    ],
)
def test_a_transaction_ends_with_the_reason_the_station_gives(ocpp_server, run, case, trigger, reason):
    station = station_make(ocpp_version="2.0.1")
    transaction_id = f"tx-{case}"

    def event(event_type: str, seq_no: int, trigger_reason: str, **info):
        return {
            "eventType": event_type,
            "timestamp": now_iso(),
            "triggerReason": trigger_reason,
            "seqNo": seq_no,
            "transactionInfo": {"transactionId": transaction_id, **info},
            "evse": {"id": 1, "connectorId": 1},
        }

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            await cp.ok("TransactionEvent", event("Started", 0, "CablePluggedIn"))
            return await cp.ok("TransactionEvent", event("Ended", 1, trigger, stoppedReason=reason))

    assert "idTokenInfo" not in run(scenario())
    session = Session.objects.get(station=station, transaction_id=transaction_id)
    assert session.stopped_at is not None and session.stop_reason == reason
