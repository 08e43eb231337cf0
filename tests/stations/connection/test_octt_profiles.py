"""OCTT 1.6 Central System test cases beyond Core: Local Auth List, Firmware, Reservation, Remote
Trigger, Smart Charging and the Security cases that need no TLS client certificate."""

import pytest

from rfid.services import id_token_create
from stations.models import (
    ChargingProfile,
    Command,
    Reservation,
    SecurityEvent,
    Session,
    StationProtocolState,
)
from tests.stations.connection.helpers import booted, now_iso, sent_to, station_make

pytestmark = pytest.mark.django_db(transaction=True)


def state(station):
    return StationProtocolState.objects.get(station=station)


def roundtrip(ocpp_server, run, station, steps):
    """Run (action, payload, answer) steps through the command queue; returns the final commands."""

    async def scenario():
        results = []
        async with booted(ocpp_server, station) as cp:
            for action, payload, answer in steps:
                command, received = await sent_to(cp, station, action, payload, answer)
                assert received == payload
                results.append(command)
        return results

    return run(scenario())


# --- Local Authorization List Management -----------------------------------------------------------


def test_TC_042_1_get_local_list_version_not_supported_and_TC_042_2_empty(ocpp_server, run):
    station = station_make()
    unsupported, empty = roundtrip(
        ocpp_server,
        run,
        station,
        [("GetLocalListVersion", {}, {"listVersion": -1}), ("GetLocalListVersion", {}, {"listVersion": 0})],
    )
    assert unsupported.response == {"listVersion": -1} and empty.status == Command.Status.ACCEPTED
    assert state(station).local_list_version == 0


def test_TC_043_1_not_supported_TC_043_3_failed_TC_043_4_full_and_TC_043_5_differential_local_list(
    ocpp_server, run
):
    station = station_make()
    full = {
        "listVersion": 5,
        "updateType": "Full",
        "localAuthorizationList": [{"idTag": "A1", "idTagInfo": {"status": "Accepted"}}],
    }
    diff = {"listVersion": 6, "updateType": "Differential", "localAuthorizationList": [{"idTag": "A1"}]}
    not_supported, failed, ok_full, ok_diff = roundtrip(
        ocpp_server,
        run,
        station,
        [
            ("SendLocalList", full, {"status": "NotSupported"}),
            ("SendLocalList", full, {"status": "Failed"}),
            ("SendLocalList", full, {"status": "Accepted"}),
            ("SendLocalList", diff, {"status": "Accepted"}),
        ],
    )
    assert not_supported.status == failed.status == Command.Status.REJECTED
    assert ok_full.status == ok_diff.status == Command.Status.ACCEPTED
    assert state(station).local_list_version == 6


# --- Firmware Management -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "notifications", "final"),
    [
        ("TC_044_1", ["Downloading", "Downloaded", "Installing", "Installed"], "Installed"),
        ("TC_044_2", ["Downloading", "DownloadFailed"], "DownloadFailed"),
        ("TC_044_3", ["Downloading", "Downloaded", "Installing", "InstallationFailed"], "InstallationFailed"),
    ],
)
def test_TC_044_firmware_update(ocpp_server, run, case, notifications, final):
    station = station_make()

    async def scenario():
        async with booted(ocpp_server, station) as cp:
            payload = {"location": "https://fw.example.com/v2.bin", "retrieveDate": now_iso()}
            command, received = await sent_to(cp, station, "UpdateFirmware", payload, {})
            assert received == payload and command.status == Command.Status.ACCEPTED
            for status in notifications:
                assert await cp.ok("FirmwareStatusNotification", {"status": status}) == {}

    run(scenario())
    assert state(station).firmware_status == final


@pytest.mark.parametrize(("case", "final"), [("TC_045_1", "Uploaded"), ("TC_045_2", "UploadFailed")])
def test_TC_045_get_diagnostics(ocpp_server, run, case, final):
    station = station_make()

    async def scenario():
        async with booted(ocpp_server, station) as cp:
            payload = {"location": "ftp://logs.example.com/"}
            command, _ = await sent_to(cp, station, "GetDiagnostics", payload, {"fileName": "diag-1.zip"})
            assert command.status == Command.Status.ACCEPTED
            for status in ("Uploading", final):
                await cp.ok("DiagnosticsStatusNotification", {"status": status})

    run(scenario())
    assert (state(station).diagnostics_status, state(station).diagnostics_file_name) == (final, "diag-1.zip")


# --- Reservation ---------------------------------------------------------------------------------------


def reserve(reservation_id, connector_id=1, id_tag="RES-CARD-1", **extra):
    return {
        "connectorId": connector_id,
        "expiryDate": now_iso(900),
        "idTag": id_tag,
        "reservationId": reservation_id,
        **extra,
    }


@pytest.mark.parametrize(("case", "connector_id"), [("TC_046", 1), ("TC_049", 0)])
def test_TC_046_reservation_of_a_connector_and_TC_049_of_the_charge_point_used_by_a_transaction(
    ocpp_server, run, case, connector_id
):
    station = station_make()
    id_token_create(uid="RES-CARD-1")

    async def scenario():
        async with booted(ocpp_server, station) as cp:
            command, _ = await sent_to(cp, station, "ReserveNow", reserve(11, connector_id))
            assert command.status == Command.Status.ACCEPTED
            await cp.ok(
                "StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Reserved"}
            )
            start = await cp.ok(
                "StartTransaction",
                {
                    "connectorId": 1,
                    "idTag": "RES-CARD-1",
                    "meterStart": 0,
                    "timestamp": now_iso(),
                    "reservationId": 11,
                },
            )
            assert start["idTagInfo"]["status"] == "Accepted"

    run(scenario())
    assert Reservation.objects.get(station=station).status == Reservation.Status.USED
    assert Session.objects.get(station=station).reservation_id == 11


def test_TC_047_reservation_of_a_connector_expire(ocpp_server, run):
    station = station_make()
    (command,) = roundtrip(ocpp_server, run, station, [("ReserveNow", reserve(12), {"status": "Accepted"})])
    reservation = Reservation.objects.get(station=station)
    assert reservation.status == Reservation.Status.ACTIVE and reservation.expires_at is not None


@pytest.mark.parametrize(
    ("case", "answer"),
    [
        ("TC_048_1", "Faulted"),
        ("TC_048_2", "Occupied"),
        ("TC_048_3", "Unavailable"),
        ("TC_048_4", "Rejected"),
    ],
)
def test_TC_048_reservation_of_a_connector_refused(ocpp_server, run, case, answer):
    station = station_make()
    (command,) = roundtrip(ocpp_server, run, station, [("ReserveNow", reserve(13), {"status": answer})])
    assert command.status == Command.Status.REJECTED
    reservation = Reservation.objects.get(station=station)
    assert (reservation.status, reservation.response_status) == (Reservation.Status.REFUSED, answer)


def test_TC_051_cancel_reservation_and_TC_052_cancel_reservation_rejected(ocpp_server, run):
    station = station_make()
    _, cancelled, refused = roundtrip(
        ocpp_server,
        run,
        station,
        [
            ("ReserveNow", reserve(14), {"status": "Accepted"}),
            ("CancelReservation", {"reservationId": 14}, {"status": "Accepted"}),
            ("CancelReservation", {"reservationId": 99}, {"status": "Rejected"}),
        ],
    )
    assert cancelled.status == Command.Status.ACCEPTED and refused.status == Command.Status.REJECTED
    assert Reservation.objects.get(station=station).status == Reservation.Status.CANCELLED


def test_TC_053_use_a_reserved_connector_with_parent_id_tag(ocpp_server, run):
    station = station_make()
    id_token_create(uid="SIBLING-2", parent_id_tag="FAMILY")

    async def scenario():
        async with booted(ocpp_server, station) as cp:
            await sent_to(cp, station, "ReserveNow", reserve(15, parentIdTag="FAMILY"))
            authorize = await cp.ok("Authorize", {"idTag": "SIBLING-2"})
            assert authorize["idTagInfo"] == {"status": "Accepted", "parentIdTag": "FAMILY"}

    run(scenario())
    assert Reservation.objects.get(station=station).parent_id_tag == "FAMILY"


# --- Remote Trigger --------------------------------------------------------------------------------------


def test_TC_054_trigger_message(ocpp_server, run):
    station = station_make()

    async def scenario():
        async with booted(ocpp_server, station) as cp:
            for message in (
                "MeterValues",
                "Heartbeat",
                "StatusNotification",
                "DiagnosticsStatusNotification",
                "FirmwareStatusNotification",
            ):
                command, _ = await sent_to(
                    cp, station, "TriggerMessage", {"requestedMessage": message, "connectorId": 1}
                )
                assert command.status == Command.Status.ACCEPTED
            assert (await cp.call("Heartbeat", {}))[0] == 3
            await cp.ok("DiagnosticsStatusNotification", {"status": "Idle"})

    run(scenario())
    assert state(station).diagnostics_status == "Idle"


def test_TC_055_trigger_message_rejected(ocpp_server, run):
    station = station_make()
    (command,) = roundtrip(
        ocpp_server,
        run,
        station,
        [("TriggerMessage", {"requestedMessage": "MeterValues"}, {"status": "Rejected"})],
    )
    assert command.status == Command.Status.REJECTED


# --- Smart Charging ---------------------------------------------------------------------------------------


def profile(profile_id, purpose, stack_level=0, **extra):
    return {
        "chargingProfileId": profile_id,
        "stackLevel": stack_level,
        "chargingProfilePurpose": purpose,
        "chargingProfileKind": "Absolute",
        "chargingSchedule": {
            "chargingRateUnit": "A",
            "startSchedule": now_iso(),
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16.0}],
        },
        **extra,
    }


def test_TC_056_central_smart_charging_tx_default_profile(ocpp_server, run):
    station = station_make()
    (command,) = roundtrip(
        ocpp_server,
        run,
        station,
        [
            (
                "SetChargingProfile",
                {"connectorId": 0, "csChargingProfiles": profile(1, "TxDefaultProfile")},
                None,
            )
        ],
    )
    stored = ChargingProfile.objects.get(station=station)
    assert (stored.connector_id, stored.purpose, stored.is_active) == (0, "TxDefaultProfile", True)


def test_TC_057_central_smart_charging_tx_profile(ocpp_server, run):
    station = station_make()

    async def scenario():
        async with booted(ocpp_server, station) as cp:
            start = await cp.ok(
                "StartTransaction",
                {"connectorId": 1, "idTag": "TXP-1", "meterStart": 0, "timestamp": now_iso()},
            )
            payload = {
                "connectorId": 1,
                "csChargingProfiles": profile(2, "TxProfile", transactionId=start["transactionId"]),
            }
            command, _ = await sent_to(cp, station, "SetChargingProfile", payload)
            assert command.status == Command.Status.ACCEPTED
            return start["transactionId"]

    transaction_id = run(scenario())
    assert ChargingProfile.objects.get(station=station).transaction_id == str(transaction_id)


def test_TC_059_remote_start_transaction_with_charging_profile(ocpp_server, run):
    station = station_make()
    payload = {"connectorId": 1, "idTag": "RS-1", "chargingProfile": profile(3, "TxProfile")}
    (command,) = roundtrip(ocpp_server, run, station, [("RemoteStartTransaction", payload, None)])
    assert command.status == Command.Status.ACCEPTED


def test_TC_066_get_composite_schedule(ocpp_server, run):
    station = station_make()
    schedule = {"chargingRateUnit": "W", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 11000.0}]}
    answer = {
        "status": "Accepted",
        "connectorId": 1,
        "scheduleStart": now_iso(),
        "chargingSchedule": schedule,
    }
    (command,) = roundtrip(
        ocpp_server, run, station, [("GetCompositeSchedule", {"connectorId": 1, "duration": 3600}, answer)]
    )
    assert command.status == Command.Status.ACCEPTED and command.response["chargingSchedule"] == schedule


def test_TC_067_clear_charging_profile(ocpp_server, run):
    station = station_make()
    roundtrip(
        ocpp_server,
        run,
        station,
        [
            (
                "SetChargingProfile",
                {"connectorId": 0, "csChargingProfiles": profile(4, "TxDefaultProfile")},
                None,
            ),
            (
                "SetChargingProfile",
                {"connectorId": 1, "csChargingProfiles": profile(5, "TxDefaultProfile", 1)},
                None,
            ),
            ("ClearChargingProfile", {"id": 4}, None),
            ("ClearChargingProfile", {"id": 77}, {"status": "Unknown"}),
        ],
    )
    assert list(
        ChargingProfile.objects.filter(station=station, is_active=True).values_list(
            "charging_profile_id", flat=True
        )
    ) == [5]


# --- Security (no TLS client certificates) ---------------------------------------------------------------


def test_TC_074_update_charge_point_certificate_by_request_of_central_system(ocpp_server, run):
    station = station_make()

    async def scenario():
        async with booted(ocpp_server, station) as cp:
            command, _ = await sent_to(
                cp, station, "ExtendedTriggerMessage", {"requestedMessage": "SignChargePointCertificate"}
            )
            assert command.status == Command.Status.ACCEPTED
            # text that is no CSR is refused (signing a sound one: tests/stations/certificates/)
            assert await cp.ok("SignCertificate", {"csr": "-----BEGIN CERTIFICATE REQUEST-----"}) == {
                "status": "Rejected"
            }

    run(scenario())


def test_TC_075_1_manufacturer_and_TC_075_2_central_system_root_certificate_and_TC_076_delete(
    ocpp_server, run
):
    station = station_make()
    hash_data = {
        "hashAlgorithm": "SHA256",
        "issuerNameHash": "a" * 64,
        "issuerKeyHash": "b" * 64,
        "serialNumber": "01",
    }
    installed = {"status": "Accepted", "certificateHashData": [hash_data]}
    roundtrip(
        ocpp_server,
        run,
        station,
        [
            (
                "InstallCertificate",
                {
                    "certificateType": "ManufacturerRootCertificate",
                    "certificate": "-----BEGIN CERTIFICATE-----",
                },
                None,
            ),
            (
                "InstallCertificate",
                {
                    "certificateType": "CentralSystemRootCertificate",
                    "certificate": "-----BEGIN CERTIFICATE-----",
                },
                None,
            ),
            ("GetInstalledCertificateIds", {"certificateType": "ManufacturerRootCertificate"}, installed),
        ],
    )
    assert [c["serialNumber"] for c in state(station).installed_certificates] == ["01"]
    roundtrip(ocpp_server, run, station, [("DeleteCertificate", {"certificateHashData": hash_data}, None)])
    assert state(station).installed_certificates == []


@pytest.mark.parametrize(
    ("case", "kind"),
    [("TC_077", "InvalidChargePointCertificate"), ("TC_078", "InvalidCentralSystemCertificate")],
)
def test_TC_077_and_TC_078_security_event_notifications_are_stored(ocpp_server, run, case, kind):
    station = station_make()

    async def scenario():
        async with booted(ocpp_server, station) as cp:
            assert (
                await cp.ok(
                    "SecurityEventNotification",
                    {"type": kind, "timestamp": now_iso(), "techInfo": "cert expired"},
                )
                == {}
            )

    run(scenario())
    event = SecurityEvent.objects.get(station=station)
    assert (event.source, event.type, event.tech_info) == ("station", kind, "cert expired")


def test_TC_079_get_security_log(ocpp_server, run):
    station = station_make()

    async def scenario():
        async with booted(ocpp_server, station) as cp:
            payload = {
                "logType": "SecurityLog",
                "requestId": 7,
                "log": {"remoteLocation": "https://logs.example.com/"},
            }
            command, _ = await sent_to(
                cp, station, "GetLog", payload, {"status": "Accepted", "filename": "security.log"}
            )
            assert command.status == Command.Status.ACCEPTED
            for status in ("Uploading", "Uploaded"):
                await cp.ok("LogStatusNotification", {"status": status, "requestId": 7})

    run(scenario())
    assert (state(station).log_status, state(station).log_request_id, state(station).log_file_name) == (
        "Uploaded",
        7,
        "security.log",
    )


@pytest.mark.parametrize(("case", "final"), [("TC_080", "Installed"), ("TC_081", "InvalidSignature")])
def test_TC_080_secure_firmware_update_and_TC_081_invalid_signature(ocpp_server, run, case, final):
    station = station_make()

    async def scenario():
        async with booted(ocpp_server, station) as cp:
            payload = {
                "requestId": 3,
                "firmware": {
                    "location": "https://fw.example.com/v3.bin",
                    "retrieveDateTime": now_iso(),
                    "signingCertificate": "-----BEGIN CERTIFICATE-----",
                    "signature": "c2lnbmF0dXJl",
                },
            }
            command, _ = await sent_to(cp, station, "SignedUpdateFirmware", payload)
            assert command.status == Command.Status.ACCEPTED
            for status in ("Downloading", "Downloaded", final):
                await cp.ok("SignedFirmwareStatusNotification", {"status": status, "requestId": 3})

    run(scenario())
    assert (state(station).firmware_status, state(station).firmware_request_id) == (final, 3)


def test_TC_083_upgrade_charge_point_security_profile_accepted(ocpp_server, run):
    # The reconnect over TLS needs the proxy (docs/deploy/nginx.conf); the CSMS's part is the change.
    station = station_make()
    (command,) = roundtrip(
        ocpp_server, run, station, [("ChangeConfiguration", {"key": "SecurityProfile", "value": "2"}, None)]
    )
    assert command.status == Command.Status.ACCEPTED
