"""The 2.0.1 simulator's fleet operations against the real server: a firmware update with its status
steps and the reboot into the new version, a log upload, a certificate signed by ChargeNet's CA and
reported back, and transaction events queued while the network was away, replayed on reconnect."""

import asyncio
import contextlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from asgiref.sync import sync_to_async

from rfid.services import id_token_create
from stations.models import Command, IssuedCertificate, OcppMessage, Session, Station
from stations.services import command_create, command_wait
from stations.simulator.v201 import Simulated201Station
from tests.stations.certificates.conftest import ORGANIZATION
from tests.stations.connection.client import eventually
from tests.stations.connection.helpers import PASSWORD, station_make

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

IMAGE = b"SIM-201 firmware 2.1.0\n" * 100
db = sync_to_async


@contextlib.contextmanager
def file_server():
    """An HTTP server outside ChargeNet: serves the firmware image and takes uploaded files."""
    uploads: list[bytes] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("X-Firmware-Version", "2.1.0")
            self.send_header("Content-Length", str(len(IMAGE)))
            self.end_headers()
            self.wfile.write(IMAGE)

        def do_POST(self):
            uploads.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", uploads
    finally:
        server.shutdown()


def simulated(server, station: Station, **fields) -> Simulated201Station:
    sim = Simulated201Station(
        url=server.url, identity=station.identity, password=PASSWORD, evses=1, meter_interval=0.2, **fields
    )
    sim.step_delay, sim.reboot_delay = 0.05, 0.1
    return sim


async def online(sim: Simulated201Station) -> None:
    await sim.connect()
    assert (await sim.boot()).status == "Accepted"
    await sim.status_all()


async def command(station: Station, action: str, payload: dict) -> Command:
    queued = await db(command_create)(station=station, action=action, payload=payload)
    return await db(command_wait)(command=queued, timeout=10)


def received(station: Station, action: str) -> list[dict]:
    """What the station sent of `action`, as the message log (the operator's view) shows it."""
    rows = OcppMessage.objects.filter(station=station, direction="in", action=action).order_by(
        "created_at", "id"
    )
    return [json.loads(row.payload)[3] for row in rows]


def test_the_simulator_updates_its_firmware_step_by_step_and_boots_with_the_new_version(ocpp_server, run):
    station = station_make("SIMFW", ocpp_version="2.0.1")

    async def scenario(url):
        sim = simulated(ocpp_server, station)
        await online(sim)
        try:
            answer = await command(
                station,
                "UpdateFirmware",
                {
                    "requestId": 42,
                    "firmware": {
                        "location": f"{url}/sim.bin",
                        "retrieveDateTime": "2020-01-01T00:00:00Z",
                        "signature": "c2lnbmF0dXJl",
                        "signingCertificate": "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----",
                    },
                },
            )
            assert answer.status == Command.Status.ACCEPTED, answer.response
            # the station booted again, reporting the new version
            await until_stored(lambda: Station.objects.get(pk=station.pk).firmware_version == "2.1.0")
            return sim
        finally:
            await sim.close()

    with file_server() as (url, _):
        sim = run(scenario(url))
    # then the station reported each step under the request's id, and booted again on 2.1.0
    statuses = eventually(lambda: [m for m in received(station, "FirmwareStatusNotification")][-5:] or None)
    assert [m["status"] for m in statuses] == [
        "Downloading", "Downloaded", "SignatureVerified", "Installing", "Installed",
    ]  # fmt: skip
    assert {m["requestId"] for m in statuses} == {42}
    assert sim.firmware_downloads == [IMAGE]
    boots = eventually(
        lambda: len(received(station, "BootNotification")) == 2 and received(station, "BootNotification")
    )
    assert boots[-1]["reason"] == "FirmwareUpdate"
    assert Station.objects.get(pk=station.pk).firmware_version == "2.1.0"


def test_the_simulator_uploads_its_log_and_reports_it(ocpp_server, run):
    station = station_make("SIMLOG", ocpp_version="2.0.1")

    async def scenario(url):
        sim = simulated(ocpp_server, station)
        await online(sim)
        try:
            answer = await command(
                station,
                "GetLog",
                {"logType": "DiagnosticsLog", "requestId": 7, "log": {"remoteLocation": f"{url}/upload"}},
            )
            await until_stored(lambda: len(received(station, "LogStatusNotification")) == 2)
            return answer
        finally:
            await sim.close()

    with file_server() as (url, uploads):
        answer = run(scenario(url))
        assert answer.response == {
            "status": "Accepted",
            "filename": f"diagnosticslog-{station.identity}-7.log",
        }
        assert station.identity.encode() in uploads[0] and b"firmware 1.0.0" in uploads[0]
    statuses = eventually(
        lambda: len(received(station, "LogStatusNotification")) == 2
        and received(station, "LogStatusNotification")
    )
    assert [(m["status"], m["requestId"]) for m in statuses] == [("Uploading", 7), ("Uploaded", 7)]


def test_the_simulator_gets_its_csr_signed_and_reports_the_installed_certificates(
    pki_server, run, station_ca
):
    ca_pem = station_ca.pem
    station = station_make("SIMCERT", ocpp_version="2.0.1")

    async def scenario():
        sim = simulated(pki_server, station, organization=ORGANIZATION)
        await online(sim)
        try:
            # the CSMS asks for a certificate (A02), the station sends its CSR
            triggered = await command(
                station, "TriggerMessage", {"requestedMessage": "SignChargingStationCertificate"}
            )
            assert triggered.status == Command.Status.ACCEPTED
            await until_stored(
                lambda: IssuedCertificate.objects.filter(station=station, station_answer="Accepted").exists()
            )
            # and installs the CSMS's root, which it lists with the ChargingStationCertificate left out
            installed = await command(
                station,
                "InstallCertificate",
                {"certificateType": "CSMSRootCertificate", "certificate": ca_pem},
            )
            assert installed.status == Command.Status.ACCEPTED, installed.response
            inventory = await command(station, "GetInstalledCertificateIds", {})
            return sim, inventory
        finally:
            await sim.close()

    sim, inventory = run(scenario())
    assert sim.certificates[0]["type"] == "ChargingStationCertificate"
    assert "BEGIN CERTIFICATE" in sim.certificates[0]["pem"]
    issued = eventually(
        lambda: IssuedCertificate.objects.filter(station=station, station_answer="Accepted").first()
    )
    assert issued.certificate_type == "ChargingStationCertificate"
    assert inventory.response["status"] == "Accepted"
    listed = inventory.response["certificateHashDataChain"]
    assert [c["certificateType"] for c in listed] == ["CSMSRootCertificate"]


def test_transaction_events_of_an_outage_are_replayed_offline_in_order_after_the_reconnect(ocpp_server, run):
    station = station_make("SIMOFF", ocpp_version="2.0.1")
    id_token_create(uid="OFFLINE-CARD")

    async def scenario():
        sim = simulated(ocpp_server, station)
        await online(sim)
        try:
            transaction_id = await sim.session_start(1, "OFFLINE-CARD", power_w=11000, duration=30)
            # when the network goes while the car charges, and the driver stops before it is back
            await sim.network_down()
            await asyncio.sleep(1.0)
            await sim.session_stop(1, "Local", "StopAuthorized")
            queued = len(sim.offline_queue)
            # then the station comes back, boots and sends what it queued
            await online(sim)
            return transaction_id, queued, sim.offline_queue
        finally:
            await sim.close()

    transaction_id, queued, left = run(scenario())
    assert queued >= 3 and left == []
    session = eventually(
        lambda: Session.objects.filter(transaction_id=transaction_id, stopped_at__isnull=False).first()
    )
    assert session.seq_nos == list(range(len(session.seq_nos))) and len(session.seq_nos) >= queued + 1
    assert "seq_no_gap" not in session.flags and session.energy_wh > 0
    events = eventually(
        lambda: len(received(station, "TransactionEvent")) >= queued + 1
        and received(station, "TransactionEvent")
    )
    offline = [e for e in events if e.get("offline")]
    assert len(offline) == queued
    assert [e["seqNo"] for e in offline] == sorted(e["seqNo"] for e in offline)
    assert offline[-1]["eventType"] == "Ended"


async def until_stored(check, timeout: float = 20) -> None:
    """Wait, with the simulated station running, until a database check holds."""
    check = db(check)
    for _ in range(int(timeout * 10)):
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("condition not met in time")


def test_the_simulator_reports_its_monitors_and_the_customer_data_it_holds_for_a_card(ocpp_server, run):
    from stations.devicemodel.selectors import customer_information_requests, device_monitors
    from stations.devicemodel.services import (
        customer_information_request,
        monitoring_report_request,
        variable_monitoring_set_request,
    )
    from stations.models import DeviceMonitor, StationReport

    station = station_make("SIMMON", ocpp_version="2.0.1")
    id_token_create(uid="SIM-GDPR-1")
    power = {"component": "EVSE", "evse_id": 1, "variable": "Power"}

    async def ask(service, **kwargs) -> Command:
        return await db(command_wait)(command=await db(service)(station=station, **kwargs), timeout=10)

    def report_of(command: Command, kind: str) -> StationReport | None:
        return StationReport.objects.filter(
            station=station, kind=kind, request_id=command.payload["requestId"], complete=True
        ).first()

    async def scenario():
        sim = simulated(ocpp_server, station)
        await online(sim)
        try:
            # given two monitors the simulator accepted, and a session it ran for the card
            await ask(
                variable_monitoring_set_request,
                monitors=[
                    {**power, "type": "UpperThreshold", "value": 11000, "severity": 4},
                    {**power, "type": "Delta", "value": 500, "severity": 7},
                ],
            )
            transaction_id = await sim.session_start(1, "SIM-GDPR-1", duration=0.3)
            await until_stored(
                lambda: Session.objects.filter(
                    station=station, transaction_id=transaction_id, stopped_at__isnull=False
                ).exists()
            )
            # ChargeNet forgets what it listed; the simulator's report brings it back
            await db(lambda: DeviceMonitor.objects.filter(station=station).delete())()
            everything = await ask(monitoring_report_request)
            await until_stored(lambda: report_of(everything, StationReport.Kind.MONITORING))
            listed = await db(
                lambda: [(m.type, m.value, m.evse_id) for m in device_monitors(station=station)]
            )()
            # only its threshold monitors; none of its periodic ones (it has none)
            thresholds = await ask(monitoring_report_request, criteria=["ThresholdMonitoring"])
            periodic = await ask(monitoring_report_request, criteria=["PeriodicMonitoring"])
            # the card's data, reported and erased; asked again, there is none
            cleared = await ask(customer_information_request, id_token="SIM-GDPR-1", clear=True)
            await until_stored(lambda: report_of(cleared, StationReport.Kind.CUSTOMER_INFORMATION))
            again = await ask(customer_information_request, id_token="SIM-GDPR-1")
            await until_stored(lambda: report_of(again, StationReport.Kind.CUSTOMER_INFORMATION))
            return transaction_id, listed, thresholds, periodic
        finally:
            await sim.close()

    transaction_id, listed, thresholds, periodic = run(scenario())
    assert sorted(listed) == [("Delta", 500.0, 1), ("UpperThreshold", 11000.0, 1)]
    threshold_report = eventually(lambda: report_of(thresholds, StationReport.Kind.MONITORING))
    assert thresholds.status == Command.Status.ACCEPTED and threshold_report.complete
    # (the message log is written once a second: wait for it)
    sent = eventually(
        lambda: [
            m
            for m in received(station, "NotifyMonitoringReport")
            if m["requestId"] == thresholds.payload["requestId"]
        ]
        or None
    )
    assert [v["type"] for m in sent for item in m["monitor"] for v in item["variableMonitoring"]] == [
        "UpperThreshold"
    ]
    assert periodic.response == {"status": "EmptyResultSet"}
    # the periodic request covered no monitor of another kind: both stay listed
    assert DeviceMonitor.objects.filter(station=station).count() == 2
    rows = customer_information_requests(station=station, id_token="SIM-GDPR-1")
    later, first = rows
    assert first["status"] == "Accepted" and first["complete"] and first["clear"]
    assert f"transaction {transaction_id} started on EVSE 1" in first["data"]
    assert f"transaction {transaction_id} ended" in first["data"]
    assert later["complete"] and later["data"] == ""
