"""A simulated station against a tiny CSMS: what it sends, and how it answers every 1.6 command."""

import pytest
from ocpp.exceptions import InternalError
from ocpp.v16 import call
from websockets.exceptions import InvalidStatus

from stations.simulator import SimulatedStation
from tests.stations.simulator.conftest import PASSWORD, FileServer


async def test_a_station_boots_with_its_password_and_takes_the_heartbeat_interval_it_is_given(csms):
    csms.heartbeat_interval = 42
    station = SimulatedStation(url=csms.url, identity="SIM-002", password=PASSWORD)
    await station.connect()
    try:
        boot = await station.boot()
        beat = await station.heartbeat()
    finally:
        await station.close()

    assert boot.status == "Accepted"
    assert station.heartbeat_interval == 42
    assert beat.current_time
    side = await csms.station("SIM-002")
    assert side.actions() == ["BootNotification", "Heartbeat"]
    assert side.received[0][1]["chargePointSerialNumber"] == "SIM-002"


async def test_a_station_with_the_wrong_password_is_refused_at_the_handshake(csms):
    station = SimulatedStation(url=csms.url, identity="SIM-002", password="not-the-password")

    with pytest.raises(InvalidStatus):
        await station.connect()

    assert "SIM-002" not in csms.stations


async def test_status_authorize_and_a_local_session_reach_the_csms(csms, station):
    csms.blocked.add("BLOCKED1")

    await station.status(1, "Available")
    accepted = await station.authorize("CARD0001")
    blocked = await station.authorize("BLOCKED1")
    start = await station.start_transaction(1, "CARD0001", meter_start=1000)
    await station.meter_values(1, start.transaction_id, energy_wh=1500, power_w=7400)
    await station.stop_transaction(start.transaction_id, meter_stop=2000, reason="Local")

    assert accepted.id_tag_info["status"] == "Accepted"
    assert blocked.id_tag_info["status"] == "Blocked"
    side = await csms.station("SIM-001")
    assert side.actions()[1:] == [
        "StatusNotification",
        "Authorize",
        "Authorize",
        "StartTransaction",
        "MeterValues",
        "StopTransaction",
    ]
    meter = side.received[5][1]
    assert meter["transactionId"] == start.transaction_id
    values = {v["measurand"]: v["value"] for v in meter["meterValue"][0]["sampledValue"]}
    assert values == {"Energy.Active.Import.Register": "1500", "Power.Active.Import": "7400"}
    assert side.received[6][1]["meterStop"] == 2000
    assert station.connectors[1].transaction_id is None


async def test_a_remote_start_starts_a_session_with_rising_meter_values_and_a_remote_stop_ends_it(
    csms, station
):
    side = await csms.station("SIM-001")

    # when the CSMS asks for a remote start on connector 2
    answer = await side.call(call.RemoteStartTransaction(id_tag="CARD0001", connector_id=2))

    # then the station accepts, starts a transaction and meters it
    assert answer.status == "Accepted"
    await station.wait_sent("MeterValues", count=2)
    start = next(p for a, p in side.received if a == "StartTransaction")
    assert start["connectorId"] == 2 and start["idTag"] == "CARD0001"
    transaction_id = station.connectors[2].transaction_id
    meters = [p for a, p in side.received if a == "MeterValues"]
    energies = [int(m["meterValue"][0]["sampledValue"][0]["value"]) for m in meters]
    assert all(m["transactionId"] == transaction_id for m in meters)
    assert energies == sorted(energies) and energies[-1] > start["meterStart"]
    statuses = [p["status"] for a, p in side.received if a == "StatusNotification" and p["connectorId"] == 2]
    assert statuses == ["Preparing", "Charging"]

    # when the CSMS stops it remotely
    answer = await side.call(call.RemoteStopTransaction(transaction_id=transaction_id))

    # then the station stops the transaction and the connector becomes available again
    assert answer.status == "Accepted"
    await station.wait_for(lambda: station.connectors[2].status == "Available")
    stop = next(p for a, p in side.received if a == "StopTransaction")
    assert stop["transactionId"] == transaction_id and stop["reason"] == "Remote"
    assert stop["meterStop"] >= energies[-1]


async def test_a_remote_start_on_a_busy_connector_and_a_remote_stop_of_an_unknown_transaction_are_rejected(
    csms, station
):
    side = await csms.station("SIM-001")
    await station.session_start(1, "CARD0001")

    busy = await side.call(call.RemoteStartTransaction(id_tag="CARD0002", connector_id=1))
    unknown = await side.call(call.RemoteStopTransaction(transaction_id=999999))

    assert busy.status == "Rejected"
    assert unknown.status == "Rejected"
    assert [a for a, _ in side.received].count("StartTransaction") == 1


async def test_configured_answers_delays_and_errors_are_what_the_csms_gets(csms, station):
    side = await csms.station("SIM-001")
    station.responses["RemoteStartTransaction"] = "Rejected"
    station.errors["Reset"] = "InternalError"

    refused = await side.call(call.RemoteStartTransaction(id_tag="CARD0001", connector_id=1))
    with pytest.raises(InternalError):
        await side.call(call.Reset(type="Soft"), suppress=False)

    assert refused.status == "Rejected"
    assert "StartTransaction" not in side.actions()
    assert [c.action for c in station.received] == ["RemoteStartTransaction", "Reset"]
    assert station.received[0].payload == {"idTag": "CARD0001", "connectorId": 1}
    assert station.connected


async def test_a_soft_reset_makes_the_station_reconnect_and_boot_again(csms, station):
    side = await csms.station("SIM-001")

    answer = await side.call(call.Reset(type="Soft"))

    assert answer.status == "Accepted"
    await station.wait_for(lambda: csms.connections == 2 and csms.stations["SIM-001"] is not side)
    new_side = csms.stations["SIM-001"]
    await station.wait_for(lambda: new_side.actions().count("StatusNotification") == 3)
    assert new_side.actions()[0] == "BootNotification"


async def test_trigger_message_is_accepted_and_then_the_requested_message_is_sent(csms, station):
    side = await csms.station("SIM-001")

    for requested in ("StatusNotification", "Heartbeat", "MeterValues", "BootNotification"):
        answer = await side.call(call.TriggerMessage(requested_message=requested, connector_id=1))
        assert answer.status == "Accepted"
        await station.wait_for(lambda r=requested: side.actions()[-1] == r)

    status = [p for a, p in side.received if a == "StatusNotification"][-1]
    assert status["connectorId"] == 1 and status["status"] == "Available"


async def test_configuration_keys_can_be_read_and_changed_and_the_heartbeat_interval_follows(csms, station):
    side = await csms.station("SIM-001")

    changed = await side.call(call.ChangeConfiguration(key="HeartbeatInterval", value="15"))
    readonly = await side.call(call.ChangeConfiguration(key="NumberOfConnectors", value="5"))
    unknown = await side.call(call.ChangeConfiguration(key="NoSuchKey", value="1"))
    not_a_number = await side.call(call.ChangeConfiguration(key="MeterValueSampleInterval", value="soon"))
    read = await side.call(call.GetConfiguration(key=["HeartbeatInterval", "NoSuchKey"]))
    everything = await side.call(call.GetConfiguration())

    assert (changed.status, readonly.status, unknown.status, not_a_number.status) == (
        "Accepted",
        "Rejected",
        "NotSupported",
        "Rejected",
    )
    assert station.heartbeat_interval == 15
    assert read.configuration_key == [{"key": "HeartbeatInterval", "readonly": False, "value": "15"}]
    assert read.unknown_key == ["NoSuchKey"]
    assert {"key": "NumberOfConnectors", "readonly": True, "value": "2"} in everything.configuration_key


async def test_the_local_list_is_kept_with_its_version(csms, station):
    side = await csms.station("SIM-001")
    entry = {"idTag": "CARD0001", "idTagInfo": {"status": "Accepted"}}

    full = await side.call(
        call.SendLocalList(list_version=3, update_type="Full", local_authorization_list=[entry])
    )
    stale = await side.call(call.SendLocalList(list_version=2, update_type="Differential"))
    version = await side.call(call.GetLocalListVersion())

    assert (full.status, stale.status, version.list_version) == ("Accepted", "VersionMismatch", 3)
    assert station.local_list == {"CARD0001": {"status": "Accepted"}}


async def test_a_reservation_holds_the_connector_for_its_card_until_cancelled(csms, station):
    side = await csms.station("SIM-001")

    reserved = await side.call(
        call.ReserveNow(
            connector_id=1, expiry_date="2099-01-01T00:00:00Z", id_tag="CARD0001", reservation_id=7
        )
    )
    await station.wait_for(lambda: station.connectors[1].status == "Reserved")
    other_card = await side.call(call.RemoteStartTransaction(id_tag="CARD0002", connector_id=1))
    cancelled = await side.call(call.CancelReservation(reservation_id=7))
    unknown = await side.call(call.CancelReservation(reservation_id=8))

    assert (reserved.status, other_card.status, cancelled.status, unknown.status) == (
        "Accepted",
        "Rejected",
        "Accepted",
        "Rejected",
    )
    await station.wait_for(lambda: station.connectors[1].status == "Available")


async def test_a_firmware_update_and_a_diagnostics_request_report_each_step(csms, station, file_server):
    side = await csms.station("SIM-001")

    await side.call(
        call.UpdateFirmware(location=f"{file_server}/fw.bin", retrieve_date="2020-01-01T00:00:00Z")
    )
    diagnostics = await side.call(call.GetDiagnostics(location=f"{file_server}/upload/"))

    assert diagnostics.file_name.startswith("diagnostics-SIM-001")
    await station.wait_for(
        lambda: [p["status"] for a, p in side.received if a == "FirmwareStatusNotification"][-1:]
        == ["Installed"]
    )
    firmware = [p["status"] for a, p in side.received if a == "FirmwareStatusNotification"]
    assert firmware == ["Downloading", "Downloaded", "Installing", "Installed"]
    assert station.firmware_downloads == [b"FIRMWARE"]
    await station.wait_for(lambda: ("DiagnosticsStatusNotification", {"status": "Uploaded"}) in side.received)
    assert b"diagnostics-SIM-001" in FileServer.uploads[0] and b"SIM-001 ChargeNet" in FileServer.uploads[0]


async def test_a_download_that_fails_is_reported_as_download_failed(csms, station):
    side = await csms.station("SIM-001")

    await side.call(
        call.UpdateFirmware(location="http://127.0.0.1:9/fw.bin", retrieve_date="2020-01-01T00:00:00Z")
    )

    await station.wait_for(
        lambda: [p["status"] for a, p in side.received if a == "FirmwareStatusNotification"][-1:]
        == ["DownloadFailed"]
    )


CHARGING_PROFILE = {
    "chargingProfileId": 1,
    "stackLevel": 0,
    "chargingProfilePurpose": "TxDefaultProfile",
    "chargingProfileKind": "Absolute",
    "chargingSchedule": {
        "chargingRateUnit": "W",
        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 11000.0}],
    },
}

# Each CSMS→CP command with what a healthy charger answers. The CSMS side's `call()` validates the
# answer against the 1.6 schema, so reaching the assertion means the answer is schema-valid.
COMMANDS = [
    (call.ChangeAvailability(connector_id=1, type="Inoperative"), {"status": "Accepted"}),
    (call.ChangeAvailability(connector_id=0, type="Operative"), {"status": "Accepted"}),
    (call.ClearCache(), {"status": "Accepted"}),
    (call.DataTransfer(vendor_id="com.example", message_id="Ping", data="x"), {"status": "Accepted"}),
    (call.UnlockConnector(connector_id=1), {"status": "Unlocked"}),
    (call.UnlockConnector(connector_id=9), {"status": "NotSupported"}),
    (call.Reset(type="Hard"), {"status": "Accepted"}),
    (call.SetChargingProfile(connector_id=0, cs_charging_profiles=CHARGING_PROFILE), {"status": "Accepted"}),
    (call.ClearChargingProfile(id=99), {"status": "Unknown"}),
    (call.GetCompositeSchedule(connector_id=1, duration=3600), {"status": "Accepted", "connector_id": 1}),
    (call.TriggerMessage(requested_message="DiagnosticsStatusNotification"), {"status": "Accepted"}),
    (call.TriggerMessage(requested_message="FirmwareStatusNotification"), {"status": "Accepted"}),
    (call.TriggerMessage(requested_message="StatusNotification", connector_id=7), {"status": "Rejected"}),
    (call.ExtendedTriggerMessage(requested_message="SignChargePointCertificate"), {"status": "Accepted"}),
    (call.ExtendedTriggerMessage(requested_message="LogStatusNotification"), {"status": "Accepted"}),
    (call.CertificateSigned(certificate_chain="-----BEGIN CERTIFICATE-----"), {"status": "Accepted"}),
    (
        call.InstallCertificate(certificate_type="CentralSystemRootCertificate", certificate="-----BEGIN X"),
        {"status": "Accepted"},
    ),
    (call.GetInstalledCertificateIds(certificate_type="ManufacturerRootCertificate"), {"status": "NotFound"}),
    (
        call.DeleteCertificate(
            certificate_hash_data={
                "hashAlgorithm": "SHA256",
                "issuerNameHash": "00",
                "issuerKeyHash": "00",
                "serialNumber": "1",
            }
        ),
        {"status": "NotFound"},
    ),
    (
        call.GetLog(
            log={"remoteLocation": "https://example.com/logs"}, log_type="DiagnosticsLog", request_id=5
        ),
        {"status": "Accepted", "filename": "diagnosticslog-SIM-001-5.log"},
    ),
    (
        call.SignedUpdateFirmware(
            request_id=6,
            firmware={
                "location": "https://example.com/fw.bin",
                "retrieveDateTime": "2020-01-01T00:00:00Z",
                "signingCertificate": "-----BEGIN CERTIFICATE-----",
                "signature": "c2ln",
            },
        ),
        {"status": "Accepted"},
    ),
]


@pytest.mark.parametrize(
    "command,expected", COMMANDS, ids=[f"{type(c).__name__}-{i}" for i, (c, _) in enumerate(COMMANDS)]
)
async def test_every_csms_command_gets_a_schema_valid_sensible_answer(csms, station, command, expected):
    side = await csms.station("SIM-001")

    answer = await side.call(command, suppress=False)

    assert {key: getattr(answer, key) for key in expected} == expected
    assert station.received[-1].action == type(command).__name__


async def test_a_certificate_installed_by_the_csms_is_listed_and_can_be_deleted(csms, station):
    side = await csms.station("SIM-001")
    await side.call(
        call.InstallCertificate(certificate_type="ManufacturerRootCertificate", certificate="PEM-1")
    )

    listed = await side.call(call.GetInstalledCertificateIds(certificate_type="ManufacturerRootCertificate"))
    deleted = await side.call(call.DeleteCertificate(certificate_hash_data=listed.certificate_hash_data[0]))

    assert listed.status == "Accepted" and len(listed.certificate_hash_data) == 1
    assert deleted.status == "Accepted"
    assert station.certificates == []
