"""The operator at ChargeNet's console, as a pytest plugin: load it with `-p octt_operator`.

Many OCTT cases say "Manually request the CSMS to …" and then only wait for the call to arrive at
the simulated station; the suite's own CSMS stand-in does that by itself. Against ChargeNet this
plugin plays the operator: when such a case starts, it waits until the station has spoken to
ChargeNet (booted, or sent anything) and then issues the case's actions through the commands
endpoint, one after the other, exactly as an integrator would.
"""

import datetime
import os
import threading
import time

import chargenet_client as api
import pytest

_rid = iter(range(5000, 10**9))


def call(action, payload, after=None, pause=0.0):
    """One operator step: send `action`; `after` names an earlier step whose answer must be in."""
    return {"action": action, "payload": payload, "after": after, "pause": pause}


def post(path, body, after=None, pause=0.0):
    """One operator step through a typed endpoint: `path` under /api/v1/stations/<identity>/."""
    return {"path": path, "payload": body, "after": after, "pause": pause}


def session_post(path, pause=0.0):
    """One operator step on the station's newest active session: `path` under /api/v1/sessions/<id>/."""
    return {"session_path": path, "payload": {}, "after": None, "pause": pause}


def _local_list_entry(uid_var, type_var):
    return {
        "idToken": {"idToken": os.environ[uid_var], "type": os.environ[type_var]},
        "idTokenInfo": {"status": "Accepted"},
    }


def _rid_payload(payload):
    return {"requestId": next(_rid), **payload}


def _cv(component, variable, **extra):
    item = {"component": {"name": component}, "variable": {"name": variable}}
    item.update(extra)
    return item


def _device_model_known(station_var, report_data):
    """A case's Configuration State: ChargeNet already knows these device-model values of the
    station, as after an earlier NotifyReport. Played before the case as the station itself."""

    def configure():
        import asyncio
        import base64
        import json

        import websockets

        identity = os.environ[station_var]
        token = base64.b64encode(f"{identity}:{os.environ['BASIC_AUTH_CP_PASSWORD']}".encode()).decode()

        async def report():
            async with websockets.connect(
                f"{os.environ['CSMS_ADDRESS']}/{identity}",
                subprotocols=["ocpp2.0.1"],
                extra_headers={"Authorization": f"Basic {token}"},
            ) as ws:
                now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
                boot = {
                    "chargingStation": {"model": "CP Model 1.0", "vendorName": "tzi.app"},
                    "reason": "PowerUp",
                }
                for n, (action, payload) in enumerate(
                    [
                        ("BootNotification", boot),
                        (
                            "NotifyReport",
                            {"requestId": 1, "generatedAt": now, "seqNo": 0, "reportData": report_data},
                        ),
                    ]
                ):
                    await ws.send(json.dumps([2, f"octt-pre-{n}", action, payload]))
                    while json.loads(await ws.recv())[1] != f"octt-pre-{n}":
                        pass

        asyncio.run(report())

    return configure


def _display_message(message_id, **extra):
    message = {
        "id": message_id,
        "priority": "NormalCycle",
        "message": {"format": "UTF8", "content": f"OCTT message {message_id}"},
    }
    message.update(extra)
    return {"message": message}


def _delta_monitor(component, **extra):
    return {
        "value": 1,
        "type": "Delta",
        "severity": 8,
        "component": {"name": component, **extra},
        "variable": {"name": "AvailabilityState"},
    }


def _signed_firmware(**extra):
    firmware = {
        "location": "https://firmware.example.com/cp-2.0.bin",
        "retrieveDateTime": _in_seconds(0),
        "signingCertificate": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
        "signature": "c2lnbmF0dXJl",
    }
    firmware.update(extra)
    return {"firmware": firmware}


def _valid_token():
    return {
        "idToken": os.environ.get("VALID_ID_TOKEN", ""),
        "type": os.environ.get("VALID_ID_TOKEN_TYPE", ""),
    }


class _in_seconds(str):
    """An expiryDateTime `seconds` after the moment the step is sent (TRANSACTION_DURATION)."""

    def __new__(cls, seconds):
        obj = super().__new__(cls, "")
        obj.seconds = seconds
        return obj


class _ActiveTransaction(str):
    """The transactionId of the station's ongoing session, as the operator reads it in ChargeNet."""

    def __new__(cls):
        return super().__new__(cls, "")


class _LatestTransaction(str):
    """The transactionId of the station's newest session, ended or not."""

    def __new__(cls):
        return super().__new__(cls, "")


def _resolve(value, station_id=""):
    if isinstance(value, _LatestTransaction):
        found = api.request("GET", f"/api/v1/sessions/?station={station_id}&page_size=100")
        newest = max(found["results"], key=lambda row: row["started_at"], default=None)
        return newest["transaction_id"] if newest else ""
    if isinstance(value, _ActiveTransaction):
        found = api.request("GET", f"/api/v1/sessions/?station={station_id}&status=active&page_size=100")
        newest = max(found["results"], key=lambda row: row["started_at"], default=None)
        return newest["transaction_id"] if newest else ""
    if isinstance(value, _in_seconds):
        moment = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=value.seconds)
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, dict):
        return {k: _resolve(v, station_id) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, station_id) for v in value]
    return value


def _no_charging_profiles(station_var):
    """Memory State "no charging profiles": the operator removes those ChargeNet holds for the
    station (ChargeNet sends a station its installed profiles again whenever it boots)."""

    def configure():
        identity = os.environ[station_var]
        found = api.request("GET", f"/api/v1/stations/{identity}/charging-profiles/")
        rows = found["results"] if isinstance(found, dict) else found
        for profile_id in sorted({row["profile_id"] for row in rows if row.get("status") == "installed"}):
            try:
                api.request("DELETE", f"/api/v1/stations/{identity}/charging-profiles/{profile_id}/")
            except api.ApiError:
                pass

    return configure


# test function name -> (env var naming the station, [steps]); a third item runs before the case

SCRIPTS = {
    "test_tc_b_07": (
        "BASIC_AUTH_CP_B",
        [
            call(
                "GetVariables",
                {
                    "getVariableData": [
                        _cv("OCPPCommCtrlr", "OfflineThreshold"),
                        _cv("AuthCtrlr", "AuthorizeRemoteStart"),
                    ]
                },
            ),
        ],
    ),
    "test_tc_b_08": (
        "BASIC_AUTH_CP_B",
        [
            call(
                "GetVariables",
                {
                    "getVariableData": [
                        {
                            "component": {"name": "DeviceDataCtrlr"},
                            "variable": {"name": "ItemsPerMessage", "instance": "GetReport"},
                        },
                        {
                            "component": {"name": "DeviceDataCtrlr"},
                            "variable": {"name": "ItemsPerMessage", "instance": "GetVariables"},
                        },
                        {
                            "component": {"name": "DeviceDataCtrlr"},
                            "variable": {"name": "BytesPerMessage", "instance": "GetReport"},
                        },
                        {
                            "component": {"name": "DeviceDataCtrlr"},
                            "variable": {"name": "BytesPerMessage", "instance": "GetVariables"},
                        },
                        _cv("AuthCtrlr", "AuthorizeRemoteStart"),
                    ]
                },
            ),
        ],
    ),
    "test_tc_b_09": (
        "BASIC_AUTH_CP_B",
        [
            call(
                "SetVariables",
                {"setVariableData": [_cv("OCPPCommCtrlr", "OfflineThreshold", attributeValue="123")]},
            ),
        ],
    ),
    "test_tc_b_10": (
        "BASIC_AUTH_CP_B",
        [
            call(
                "SetVariables",
                {
                    "setVariableData": [
                        _cv("OCPPCommCtrlr", "OfflineThreshold", attributeValue="123"),
                        _cv("AuthCtrlr", "AuthorizeRemoteStart", attributeValue="false"),
                    ]
                },
            ),
        ],
    ),
    "test_tc_d_01": (
        "CP201_SP1",
        [
            call(
                "SendLocalList",
                {
                    "versionNumber": 1,
                    "updateType": "Full",
                    "localAuthorizationList": [
                        _local_list_entry("LOCAL_AUTH_LIST_ID_TOKEN", "LOCAL_AUTH_LIST_ID_TOKEN_TYPE")
                    ],
                },
            ),
        ],
    ),
    "test_tc_d_02": (
        "CP201_SP1",
        [
            call("GetLocalListVersion", {}),
            call(
                "SendLocalList",
                {
                    "versionNumber": 2,
                    "updateType": "Differential",
                    "localAuthorizationList": [
                        _local_list_entry("LOCAL_AUTH_LIST_ID_TOKEN_2", "LOCAL_AUTH_LIST_ID_TOKEN_TYPE_2")
                    ],
                },
                after=0,
            ),
        ],
    ),
    "test_tc_d_08": ("CP201_SP1", [call("GetLocalListVersion", {})]),
    "test_tc_f_01": (
        "CP201_SP1",
        [
            post(
                "remote-start/", {"evse_id": 1, "id_token": os.environ.get("VALID_ID_TOKEN", "")}, pause=1.0
            ),
        ],
    ),
    "test_tc_f_02": (
        "CP201_SP1",
        [post("remote-start/", {"evse_id": 1, "id_token": os.environ.get("VALID_ID_TOKEN", "")})],
    ),
    "test_tc_f_03": (
        "CP201_SP1",
        [post("remote-start/", {"evse_id": 1, "id_token": os.environ.get("VALID_ID_TOKEN", "")})],
    ),
    "test_tc_f_04": (
        "CP201_SP1",
        [post("remote-start/", {"evse_id": 1, "id_token": os.environ.get("VALID_ID_TOKEN", "")})],
    ),
    "test_tc_f_06": ("CP201_SP1", [call("UnlockConnector", {"evseId": 1, "connectorId": 1})]),
    "test_tc_f_11": (
        "CP201_SP1",
        [call("TriggerMessage", {"requestedMessage": "MeterValues", "evse": {"id": 1}})],
    ),
    "test_tc_f_13": (
        "CP201_SP1",
        [
            call("TriggerMessage", {"requestedMessage": "TransactionEvent", "evse": {"id": 1}}, pause=2.0),
        ],
        _device_model_known(
            "BASIC_AUTH_CP_B",
            [
                {
                    "component": {"name": "DeviceDataCtrlr"},
                    "variable": {"name": "ItemsPerMessage", "instance": "GetVariables"},
                    "variableAttribute": [{"type": "Actual", "value": "4", "mutability": "ReadOnly"}],
                }
            ],
        ),
    ),
    "test_tc_g_03": (
        "CP201_SP1",
        [call("ChangeAvailability", {"operationalStatus": "Inoperative", "evse": {"id": 1}})],
    ),
    "test_tc_h_01": (
        "CP201_SP1",
        [
            call(
                "ReserveNow",
                {
                    "id": 101,
                    "expiryDateTime": "2099-01-01T00:00:00Z",
                    "evseId": 1,
                    "idToken": {
                        "idToken": os.environ.get("VALID_ID_TOKEN", ""),
                        "type": os.environ.get("VALID_ID_TOKEN_TYPE", ""),
                    },
                },
            ),
        ],
    ),
    "test_tc_f_12": ("CP201_SP1", [call("TriggerMessage", {"requestedMessage": "MeterValues"})]),
    "test_tc_g_04": (
        "CP201_SP1",
        [call("ChangeAvailability", {"operationalStatus": "Operative", "evse": {"id": 1}})],
    ),
    "test_tc_g_05": ("CP201_SP1", [call("ChangeAvailability", {"operationalStatus": "Inoperative"})]),
    "test_tc_h_07": (
        "CP201_SP1",
        [
            call(
                "ReserveNow",
                {"id": 107, "expiryDateTime": _in_seconds(5), "evseId": 1, "idToken": _valid_token()},
            )
        ],
    ),
    "test_tc_h_08": (
        "CP201_SP1",
        [
            call(
                "ReserveNow", {"id": 108, "expiryDateTime": "2099-01-01T00:00:00Z", "idToken": _valid_token()}
            )
        ],
    ),
    "test_tc_d_03": (
        "CP201_SP1",
        [
            call(
                "SendLocalList",
                {
                    "versionNumber": 3,
                    "updateType": "Differential",
                    "localAuthorizationList": [
                        {
                            "idToken": {
                                "idToken": os.environ.get("LOCAL_AUTH_LIST_ID_TOKEN_2", ""),
                                "type": os.environ.get("LOCAL_AUTH_LIST_ID_TOKEN_TYPE_2", ""),
                            }
                        }
                    ],
                },
            ),
        ],
    ),
    "test_tc_d_04": ("CP201_SP1", [call("SendLocalList", {"versionNumber": 4, "updateType": "Full"})]),
    "test_tc_d_09": ("CP201_SP1", [call("GetLocalListVersion", {})]),
    "test_tc_e_29": (
        "CP201_SP1",
        [
            call("GetTransactionStatus", {"transactionId": _ActiveTransaction()}, pause=2.0),
        ],
    ),
    "test_tc_g_06": ("CP201_SP1", [call("ChangeAvailability", {"operationalStatus": "Operative"})]),
    "test_tc_h_14": (
        "CP201_SP1",
        [
            call(
                "ReserveNow", {"id": 141, "expiryDateTime": "2099-01-01T00:00:00Z", "idToken": _valid_token()}
            ),
            call(
                "ReserveNow",
                {"id": 142, "expiryDateTime": "2099-01-01T00:00:00Z", "idToken": _valid_token()},
                after=0,
            ),
        ],
    ),
    "test_tc_o_01": (
        "CP201_SP1",
        [
            call(
                "SetDisplayMessage",
                {
                    "message": {
                        "id": 11,
                        "priority": "NormalCycle",
                        "state": "Idle",
                        "message": {"format": "UTF8", "content": "Welcome"},
                    }
                },
            ),
        ],
    ),
    "test_tc_n_01": (
        "CP201_SP1",
        [
            call("GetMonitoringReport", {"monitoringCriteria": ["DeltaMonitoring"]}),
            call("GetMonitoringReport", {"monitoringCriteria": ["ThresholdMonitoring"]}, after=0),
        ],
    ),
    "test_tc_l_01": (
        "CP201_SP1",
        [
            call(
                "UpdateFirmware",
                {
                    "firmware": {
                        "location": "https://firmware.example.com/cp-2.0.bin",
                        "retrieveDateTime": _in_seconds(0),
                        "signingCertificate": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
                        "signature": "c2lnbmF0dXJl",
                    }
                },
            ),
        ],
    ),
    "test_tc_k_01": (
        "CP201_SP1",
        [
            call(
                "SetChargingProfile",
                {
                    "evseId": 1,
                    "chargingProfile": {
                        "id": 101,
                        "stackLevel": 1,
                        "chargingProfilePurpose": "TxDefaultProfile",
                        "chargingProfileKind": "Absolute",
                        "validFrom": _in_seconds(0),
                        "validTo": _in_seconds(3600),
                        "chargingSchedule": [
                            {
                                "id": 1,
                                "startSchedule": _in_seconds(0),
                                "chargingRateUnit": "A",
                                "duration": 3600,
                                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 6.0}],
                            }
                        ],
                    },
                },
            ),
        ],
        _no_charging_profiles("CP201_SP1"),
    ),
    "test_tc_e_30": (
        "CP201_SP1",
        [
            call("GetTransactionStatus", {"transactionId": _ActiveTransaction()}, pause=1.0),
        ],
    ),
    "test_tc_e_33": ("CP201_SP1", [call("GetTransactionStatus", {}, pause=3.0)]),
    "test_tc_b_22": ("BASIC_AUTH_CP_B", [call("Reset", {"type": "Immediate"}, pause=1.0)]),
    "test_tc_g_07": (
        "CP201_SP1",
        [
            call(
                "ChangeAvailability",
                {"operationalStatus": "Inoperative", "evse": {"id": 1, "connectorId": 1}},
            ),
        ],
    ),
    "test_tc_h_15": (
        "CP201_SP1",
        [
            call(
                "ReserveNow",
                {
                    "id": 151,
                    "expiryDateTime": "2099-01-01T00:00:00Z",
                    "connectorType": "cType2",
                    "idToken": _valid_token(),
                },
            ),
        ],
    ),
    "test_tc_f_14": (
        "CP201_SP1",
        [call("TriggerMessage", {"requestedMessage": "TransactionEvent"}, pause=2.0)],
    ),
    "test_tc_l_03": (
        "CP201_SP1",
        [
            call(
                "UpdateFirmware",
                {
                    "firmware": {
                        "location": "https://firmware.example.com/cp-2.0.bin",
                        "retrieveDateTime": _in_seconds(3600),
                        "signingCertificate": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
                        "signature": "c2lnbmF0dXJl",
                    }
                },
            ),
        ],
    ),
    "test_tc_o_06": (
        "CP201_SP1",
        [
            call(
                "SetDisplayMessage",
                {
                    "message": {
                        "id": 16,
                        "priority": "InFront",
                        "transactionId": _ActiveTransaction(),
                        "message": {"format": "UTF8", "content": "Enjoy your charge"},
                    }
                },
                pause=1.0,
            ),
        ],
    ),
    "test_tc_b_13": ("BASIC_AUTH_CP_B", [call("GetBaseReport", {"reportBase": "FullInventory"})]),
    "test_tc_b_14": ("BASIC_AUTH_CP_B", [call("GetBaseReport", {"reportBase": "SummaryInventory"})]),
    "test_tc_b_18": (
        "BASIC_AUTH_CP_B",
        [
            call(
                "GetReport",
                {
                    "componentCriteria": ["Problem"],
                    "componentVariable": [
                        {
                            "component": {"name": "EVSE", "evse": {"id": 1}},
                            "variable": {"name": "AvailabilityState"},
                        }
                    ],
                },
            ),
            call(
                "GetReport",
                {
                    "componentCriteria": ["Available"],
                    "componentVariable": [
                        {
                            "component": {"name": "EVSE", "evse": {"id": 1}},
                            "variable": {"name": "AvailabilityState"},
                        }
                    ],
                },
                after=0,
            ),
        ],
    ),
    "test_tc_b_44": (
        "BASIC_AUTH_CP_B",
        [
            call(
                "SetNetworkProfile",
                {
                    "configurationSlot": 1,
                    "connectionData": {
                        "messageTimeout": 30,
                        "ocppCsmsUrl": os.environ.get("CSMS_ADDRESS", ""),
                        "ocppInterface": "Wired0",
                        "ocppTransport": "JSON",
                        "ocppVersion": "OCPP20",
                        "securityProfile": 1,
                    },
                },
            ),
        ],
    ),
    "test_tc_f_15": ("CP201_SP1", [call("TriggerMessage", {"requestedMessage": "LogStatusNotification"})]),
    "test_tc_f_18": (
        "CP201_SP1",
        [call("TriggerMessage", {"requestedMessage": "FirmwareStatusNotification"})],
    ),
    "test_tc_f_20": ("CP201_SP1", [call("TriggerMessage", {"requestedMessage": "Heartbeat"})]),
    "test_tc_f_23": (
        "CP201_SP1",
        [
            call(
                "TriggerMessage",
                {"requestedMessage": "StatusNotification", "evse": {"id": 1, "connectorId": 1}},
            )
        ],
    ),
    "test_tc_f_24": (
        "CP201_SP1",
        [
            call(
                "TriggerMessage",
                {"requestedMessage": "StatusNotification", "evse": {"id": 1, "connectorId": 1}},
                pause=1.0,
            )
        ],
    ),
    # F_27: any message the station has not implemented; the suite's station answers NotImplemented
    "test_tc_f_27": (
        "CP201_SP1",
        [call("TriggerMessage", {"requestedMessage": "SignChargingStationCertificate"})],
    ),
    "test_tc_e_21": ("CP201_SP1", [session_post("remote-stop/", pause=1.0)]),
    # E_31: the station reconnects after TRANSACTION_DURATION (5 s) and reports its ended transaction
    "test_tc_e_31": (
        "CP201_SP1",
        [call("GetTransactionStatus", {"transactionId": _LatestTransaction()}, pause=7.0)],
    ),
    "test_tc_e_34": ("CP201_SP1", [{**call("GetTransactionStatus", {}), "blind": True}]),
    "test_tc_g_08": (
        "CP201_SP1",
        [call("ChangeAvailability", {"operationalStatus": "Operative", "evse": {"id": 1, "connectorId": 1}})],
    ),
    "test_tc_g_11": (
        "CP201_SP1",
        [call("ChangeAvailability", {"operationalStatus": "Inoperative", "evse": {"id": 1}}, pause=1.0)],
    ),
    "test_tc_g_14": (
        "CP201_SP1",
        [call("ChangeAvailability", {"operationalStatus": "Inoperative"}, pause=1.0)],
    ),
    "test_tc_g_17": (
        "CP201_SP1",
        [
            call(
                "ChangeAvailability",
                {"operationalStatus": "Inoperative", "evse": {"id": 1, "connectorId": 1}},
                pause=1.0,
            )
        ],
    ),
    "test_tc_h_17": (
        "CP201_SP1",
        [
            call(
                "ReserveNow",
                {"id": 171, "expiryDateTime": "2099-01-01T00:00:00Z", "evseId": 1, "idToken": _valid_token()},
            ),
            call("CancelReservation", {"reservationId": 171}, after=0, pause=1.0),
        ],
    ),
    "test_tc_h_19": (
        "CP201_SP1",
        [
            call(
                "ReserveNow",
                {
                    "id": 191,
                    "expiryDateTime": "2099-01-01T00:00:00Z",
                    "evseId": 1,
                    "idToken": _valid_token(),
                    "groupIdToken": {"idToken": os.environ.get("GROUP_ID", ""), "type": "Central"},
                },
            )
        ],
    ),
    "test_tc_h_20": (
        "CP201_SP1",
        [
            call(
                "ReserveNow",
                {"id": 201, "expiryDateTime": "2099-01-01T00:00:00Z", "evseId": 1, "idToken": _valid_token()},
            )
        ],
    ),
    "test_tc_h_22": (
        "CP201_SP1",
        [
            call(
                "ReserveNow",
                {"id": 221, "expiryDateTime": "2099-01-01T00:00:00Z", "evseId": 1, "idToken": _valid_token()},
            )
        ],
    ),
    "test_tc_o_02": (
        "CP201_SP1",
        [call("SetDisplayMessage", _display_message(21)), call("GetDisplayMessages", {}, after=0)],
    ),
    "test_tc_o_03": ("CP201_SP1", [call("GetDisplayMessages", {})]),
    "test_tc_o_04": (
        "CP201_SP1",
        [call("SetDisplayMessage", _display_message(41)), call("ClearDisplayMessage", {"id": 41}, after=0)],
    ),
    "test_tc_o_05": ("CP201_SP1", [call("ClearDisplayMessage", {"id": 999})]),
    "test_tc_o_07": (
        "CP201_SP1",
        [call("SetDisplayMessage", _display_message(71)), call("GetDisplayMessages", {"id": [71]}, after=0)],
    ),
    "test_tc_o_08": (
        "CP201_SP1",
        [
            call("SetDisplayMessage", _display_message(81, priority="InFront")),
            call("GetDisplayMessages", {"priority": "InFront"}, after=0),
        ],
    ),
    "test_tc_o_09": (
        "CP201_SP1",
        [
            call("SetDisplayMessage", _display_message(91, state="Charging")),
            call("GetDisplayMessages", {"state": "Charging"}, after=0),
        ],
    ),
    # O_10: the station does not know the transaction named (its answer is UnknownTransaction)
    "test_tc_o_10": (
        "CP201_SP1",
        [call("SetDisplayMessage", _display_message(101, transactionId=_ActiveTransaction()), pause=1.0)],
    ),
    "test_tc_o_11": (
        "CP201_SP1",
        [
            call("SetDisplayMessage", _display_message(111)),
            call("GetDisplayMessages", {"id": [112]}, after=0),
        ],
    ),
    "test_tc_o_12": (
        "CP201_SP1",
        [
            call("SetDisplayMessage", _display_message(121)),
            call("SetDisplayMessage", _display_message(121, priority="AlwaysFront"), after=0),
        ],
    ),
    "test_tc_o_13": (
        "CP201_SP1",
        [call("SetDisplayMessage", _display_message(131, startDateTime=_in_seconds(60)))],
    ),
    "test_tc_o_14": (
        "CP201_SP1",
        [call("SetDisplayMessage", _display_message(141, endDateTime=_in_seconds(60)))],
    ),
    "test_tc_o_17": ("CP201_SP1", [call("SetDisplayMessage", _display_message(171, priority="AlwaysFront"))]),
    "test_tc_o_18": ("CP201_SP1", [call("SetDisplayMessage", _display_message(181, state="Faulted"))]),
    "test_tc_o_19": (
        "CP201_SP1",
        [
            call(
                "SetDisplayMessage",
                _display_message(191, message={"format": "HTML", "content": "<b>OCTT</b>"}),
            )
        ],
    ),
    "test_tc_o_25": ("CP201_SP1", [call("SetDisplayMessage", _display_message(251, state="Charging"))]),
    "test_tc_o_26": ("CP201_SP1", [call("SetDisplayMessage", _display_message(261))]),
    "test_tc_o_27": (
        "CP201_SP1",
        [
            call(
                "SetDisplayMessage",
                _display_message(271, transactionId=_ActiveTransaction(), startDateTime=_in_seconds(60)),
                pause=1.0,
            )
        ],
    ),
    "test_tc_o_28": (
        "CP201_SP1",
        [
            call(
                "SetDisplayMessage",
                _display_message(281, transactionId=_ActiveTransaction(), endDateTime=_in_seconds(60)),
                pause=1.0,
            )
        ],
    ),
    "test_tc_n_02": (
        "CP201_SP1",
        [
            call("GetMonitoringReport", {"componentVariable": [_cv("ChargingStation", "Power")]}),
            call(
                "GetMonitoringReport",
                {
                    "componentVariable": [
                        {
                            "component": {"name": "EVSE", "evse": {"id": 1}},
                            "variable": {"name": "AvailabilityState"},
                        }
                    ]
                },
                after=0,
            ),
        ],
    ),
    "test_tc_n_03": (
        "CP201_SP1",
        [
            call(
                "GetMonitoringReport",
                {
                    "monitoringCriteria": ["DeltaMonitoring"],
                    "componentVariable": [
                        {
                            "component": {"name": "EVSE", "evse": {"id": 1}},
                            "variable": {"name": "AvailabilityState"},
                        }
                    ],
                },
            ),
            call(
                "GetMonitoringReport",
                {
                    "monitoringCriteria": ["ThresholdMonitoring"],
                    "componentVariable": [_cv("ChargingStation", "Power")],
                },
                after=0,
            ),
        ],
    ),
    "test_tc_n_05": (
        "CP201_SP1",
        [
            call("SetMonitoringBase", {"monitoringBase": "All"}),
            call("SetMonitoringBase", {"monitoringBase": "FactoryDefault"}, after=0),
            call("SetMonitoringBase", {"monitoringBase": "HardWiredOnly"}, after=1),
        ],
    ),
    "test_tc_n_08": (
        "CP201_SP1",
        [call("SetVariableMonitoring", {"setMonitoringData": [_delta_monitor("EVSE", evse={"id": 1})]})],
    ),
    "test_tc_n_09": (
        "CP201_SP1",
        [
            call(
                "SetVariableMonitoring",
                {
                    "setMonitoringData": [
                        _delta_monitor("EVSE", evse={"id": 1}),
                        _delta_monitor("ChargingStation"),
                    ]
                },
            )
        ],
    ),
    "test_tc_n_16": ("CP201_SP1", [call("SetMonitoringLevel", {"severity": 4})]),
    "test_tc_n_17": ("CP201_SP1", [call("SetMonitoringLevel", {"severity": 4})]),
    # N_18: the operator reads the station's limit, then clears five monitors at once
    "test_tc_n_18": (
        "CP201_SP1",
        [
            call(
                "GetVariables",
                {
                    "getVariableData": [
                        {
                            "component": {"name": "MonitoringCtrlr"},
                            "variable": {"name": "ItemsPerMessage", "instance": "ClearVariableMonitoring"},
                        }
                    ]
                },
            ),
            call("ClearVariableMonitoring", {"id": [1, 2, 3, 4, 5]}, after=0),
        ],
    ),
    "test_tc_n_25": (
        "CP201_SP1",
        [
            call(
                "GetLog",
                {"logType": "DiagnosticsLog", "log": {"remoteLocation": "https://logs.example.com/upload"}},
            )
        ],
    ),
    "test_tc_n_27": (
        "CP201_SP1",
        [call("CustomerInformation", {"report": True, "clear": False, "idToken": _valid_token()})],
    ),
    "test_tc_n_28": (
        "CP201_SP1",
        [call("CustomerInformation", {"report": True, "clear": False, "idToken": _valid_token()})],
    ),
    "test_tc_n_29": (
        "CP201_SP1",
        [call("CustomerInformation", {"report": True, "clear": False, "idToken": _valid_token()})],
    ),
    "test_tc_n_30": (
        "CP201_SP1",
        [call("CustomerInformation", {"report": True, "clear": True, "idToken": _valid_token()})],
    ),
    "test_tc_n_31": (
        "CP201_SP1",
        [call("CustomerInformation", {"report": True, "clear": True, "idToken": _valid_token()})],
    ),
    "test_tc_n_32": (
        "CP201_SP1",
        [call("CustomerInformation", {"report": False, "clear": True, "idToken": _valid_token()})],
    ),
    "test_tc_n_34": (
        "CP201_SP1",
        [
            call(
                "GetLog",
                {"logType": "DiagnosticsLog", "log": {"remoteLocation": "https://logs.example.com/upload"}},
            )
        ],
    ),
    "test_tc_n_35": (
        "CP201_SP1",
        [
            call(
                "GetLog",
                {"logType": "SecurityLog", "log": {"remoteLocation": "https://logs.example.com/upload"}},
            )
        ],
    ),
    # N_36: a second GetLog while the first upload is still running
    "test_tc_n_36": (
        "CP201_SP1",
        [
            call(
                "GetLog",
                {"logType": "DiagnosticsLog", "log": {"remoteLocation": "https://logs.example.com/upload"}},
            ),
            call(
                "GetLog",
                {"logType": "DiagnosticsLog", "log": {"remoteLocation": "https://logs.example.com/upload"}},
                after=0,
                pause=1.0,
            ),
        ],
    ),
    "test_tc_n_44": ("CP201_SP1", [call("ClearVariableMonitoring", {"id": [1]})]),
    "test_tc_n_47": ("CP201_SP1", [call("GetMonitoringReport", {})]),
    "test_tc_n_62": (
        "CP201_SP1",
        [
            call(
                "CustomerInformation",
                {"report": True, "clear": True, "customerIdentifier": "OpenChargeAlliance"},
            )
        ],
    ),
    "test_tc_n_63": (
        "CP201_SP1",
        [
            call(
                "CustomerInformation",
                {
                    "report": True,
                    "clear": True,
                    "customerCertificate": {
                        "hashAlgorithm": "SHA256",
                        "issuerNameHash": "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90",
                        "issuerKeyHash": "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0",
                        "serialNumber": "1a2b3c4d",
                    },
                },
            )
        ],
    ),
    "test_tc_n_60": (
        "CP201_SP1",
        [
            call(
                "GetMonitoringReport",
                {
                    "monitoringCriteria": ["DeltaMonitoring"],
                    "componentVariable": [
                        _cv("ChargingStation", "AvailabilityState"),
                        {
                            "component": {"name": "EVSE", "evse": {"id": 1}},
                            "variable": {"name": "AvailabilityState"},
                        },
                    ],
                },
            ),
            call(
                "GetMonitoringReport",
                {
                    "monitoringCriteria": ["ThresholdMonitoring"],
                    "componentVariable": [
                        _cv("ChargingStation", "AvailabilityState"),
                        {
                            "component": {"name": "EVSE", "evse": {"id": 1}},
                            "variable": {"name": "AvailabilityState"},
                        },
                    ],
                },
                after=0,
            ),
        ],
    ),
    "test_tc_l_02": (
        "CP201_SP1",
        [
            call(
                "UpdateFirmware",
                {
                    "firmware": {
                        "location": "https://firmware.example.com/cp-2.0.bin",
                        "retrieveDateTime": _in_seconds(0),
                        "installDateTime": _in_seconds(3600),
                        "signingCertificate": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
                        "signature": "c2lnbmF0dXJl",
                    }
                },
            ),
        ],
    ),
    "test_tc_l_04": (
        "CP201_SP1",
        [
            call(
                "UpdateFirmware",
                {
                    "firmware": {
                        "location": "https://firmware.example.com/cp-2.0.bin",
                        "retrieveDateTime": _in_seconds(0),
                        "signingCertificate": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
                        "signature": "c2lnbmF0dXJl",
                    }
                },
            ),
        ],
    ),
    "test_tc_l_05": ("CP201_SP1", [call("UpdateFirmware", _signed_firmware())]),
    "test_tc_l_06": ("CP201_SP1", [call("UpdateFirmware", _signed_firmware())]),
    "test_tc_l_07": ("CP201_SP1", [call("UpdateFirmware", _signed_firmware())]),
    "test_tc_l_08": ("CP201_SP1", [call("UpdateFirmware", _signed_firmware())]),
    "test_tc_l_09": ("CP201_SP1", [call("UpdateFirmware", _signed_firmware())]),
    # L_10, L_11: a second UpdateFirmware while the first download runs
    "test_tc_l_10": (
        "CP201_SP1",
        [
            call("UpdateFirmware", _signed_firmware()),
            call(
                "UpdateFirmware",
                _signed_firmware(location="https://firmware.example.com/cp-2.1.bin"),
                after=0,
                pause=1.0,
            ),
        ],
    ),
    "test_tc_l_11": (
        "CP201_SP1",
        [
            call("UpdateFirmware", _signed_firmware()),
            call(
                "UpdateFirmware",
                _signed_firmware(location="https://firmware.example.com/cp-2.1.bin"),
                after=0,
                pause=1.0,
            ),
        ],
    ),
    "test_tc_l_17": (
        "CP201_SP1",
        [
            call(
                "PublishFirmware",
                {
                    "location": "https://firmware.example.com/cp-2.0.bin",
                    "checksum": "0123456789abcdef0123456789abcdef",
                },
            )
        ],
    ),
    "test_tc_l_19": (
        "CP201_SP1",
        [
            call(
                "PublishFirmware",
                {
                    "location": "https://firmware.example.com/cp-2.0.bin",
                    "checksum": "0123456789abcdef0123456789abcdef",
                },
            )
        ],
    ),
    "test_tc_l_20": (
        "CP201_SP1",
        [
            call(
                "PublishFirmware",
                {
                    "location": "https://firmware.example.com/cp-2.0.bin",
                    "checksum": "0123456789abcdef0123456789abcdef",
                },
            )
        ],
    ),
    "test_tc_l_21": (
        "CP201_SP1",
        [call("UnpublishFirmware", {"checksum": "0123456789abcdef0123456789abcdef"})],
    ),
    "test_tc_l_22": (
        "CP201_SP1",
        [call("UnpublishFirmware", {"checksum": "0123456789abcdef0123456789abcdef"})],
    ),
    "test_tc_l_23": (
        "CP201_SP1",
        [call("UnpublishFirmware", {"checksum": "0123456789abcdef0123456789abcdef"})],
    ),
    "test_tc_l_24": (
        "CP201_SP1",
        [
            call(
                "PublishFirmware",
                {
                    "location": "https://firmware.example.com/cp-2.0.bin",
                    "checksum": "0123456789abcdef0123456789abcdef",
                },
            )
        ],
    ),
    "test_tc_l_13": ("CP201_SP1", [call("UpdateFirmware", _signed_firmware(), pause=1.0)]),
    # M_12: the same question three times (the station answers with SHA256, SHA384, SHA512 hashes)
    "test_tc_m_12": (
        "CP201_SP1",
        [
            call("GetInstalledCertificateIds", {"certificateType": ["CSMSRootCertificate"]}),
            call(
                "GetInstalledCertificateIds", {"certificateType": ["CSMSRootCertificate"]}, after=0, pause=0.5
            ),
            call(
                "GetInstalledCertificateIds", {"certificateType": ["CSMSRootCertificate"]}, after=1, pause=0.5
            ),
        ],
    ),
    "test_tc_m_13": (
        "CP201_SP1",
        [call("GetInstalledCertificateIds", {"certificateType": ["ManufacturerRootCertificate"]})],
    ),
    "test_tc_m_14": (
        "CP201_SP1",
        [call("GetInstalledCertificateIds", {"certificateType": ["V2GRootCertificate"]})],
    ),
    "test_tc_m_15": (
        "CP201_SP1",
        [call("GetInstalledCertificateIds", {"certificateType": ["V2GCertificateChain"]})],
    ),
    "test_tc_m_16": (
        "CP201_SP1",
        [call("GetInstalledCertificateIds", {"certificateType": ["MORootCertificate"]})],
    ),
    "test_tc_m_17": (
        "CP201_SP1",
        [
            call(
                "GetInstalledCertificateIds",
                {"certificateType": ["CSMSRootCertificate", "ManufacturerRootCertificate"]},
            )
        ],
    ),
    "test_tc_m_18": ("CP201_SP1", [call("GetInstalledCertificateIds", {})]),
    "test_tc_m_19": (
        "CP201_SP1",
        [call("GetInstalledCertificateIds", {"certificateType": ["ManufacturerRootCertificate"]})],
    ),
}

_NEEDS_REQUEST_ID = {
    "GetBaseReport",
    "GetReport",
    "GetMonitoringReport",
    "GetLog",
    "CustomerInformation",
    "GetDisplayMessages",
    "GetChargingProfiles",
    "UpdateFirmware",
    "PublishFirmware",
}


def _station_spoke_since(station_id, since_iso, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if api.messages_in(station_id, since_iso):
                return True
        except api.ApiError:
            pass
        time.sleep(0.3)
    return False


def _wait_final(station_id, command_id, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        cmd = api.request("GET", f"/api/v1/stations/{station_id}/commands/{command_id}/")
        if cmd["status"] not in ("queued", "sent", "pending"):
            return cmd
        time.sleep(0.3)
    return None


def _play(station_id, steps, since_iso, log):
    if steps and steps[0].get("blind"):
        # the case's station only listens (it sends nothing, not even a boot): act once it is connected
        time.sleep(2.0)
    elif not _station_spoke_since(station_id, since_iso, timeout=30):
        log.append("station never spoke")
        return
    time.sleep(float(os.environ.get("OCTT_OPERATOR_DELAY", "1.0")))
    sent = []
    for step in steps:
        if step["after"] is not None and sent[step["after"]] is not None:
            _wait_final(station_id, sent[step["after"]]["id"])
        time.sleep(step["pause"])
        payload = _resolve(step["payload"], station_id)
        name = step.get("action") or step.get("path") or step["session_path"]
        try:
            if "session_path" in step:
                found = api.request(
                    "GET", f"/api/v1/sessions/?station={station_id}&status=active&page_size=100"
                )
                newest = max(found["results"], key=lambda row: row["started_at"])
                sent.append(
                    api.request("POST", f"/api/v1/sessions/{newest['id']}/{step['session_path']}", payload)
                )
            elif "path" in step:
                sent.append(api.request("POST", f"/api/v1/stations/{station_id}/{step['path']}", payload))
            else:
                if step["action"] in _NEEDS_REQUEST_ID and "requestId" not in payload:
                    payload = _rid_payload(payload)
                sent.append(api.command(station_id, step["action"], payload))
            log.append(f"sent {name}")
        except api.ApiError as exc:
            sent.append(None)
            log.append(f"{name} refused: {exc}")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    script = SCRIPTS.get(item.originalname if hasattr(item, "originalname") else item.name)
    thread = None
    log = []
    if script is not None:
        env_name, steps, *pre = script
        station_id = os.environ[env_name]
        for configure in pre:
            configure()
        since = (datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=2)).strftime(
            "%Y-%m-%dT%H:%M:%SZ"
        )
        thread = threading.Thread(target=_play, args=(station_id, steps, since, log), daemon=True)
        thread.start()
    yield
    if thread is not None:
        thread.join(timeout=5)
        item.add_report_section("call", "operator", "\n".join(log))
