"""`manage.py simulate --ocpp 2.0.1` against the real server: the simulated 2.0.1 station boots,
reports its status with StatusNotification and NotifyEvent, charges with TransactionEvents in seqNo
order, and reports its device model when the CSMS asks (GetBaseReport)."""

import subprocess
import sys

import pytest

from rfid.services import id_token_create
from stations.models import DeviceVariable, Session, Station
from stations.services import command_create
from tests.stations.connection.client import eventually
from tests.stations.connection.helpers import PASSWORD
from tests.support import REPO

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_the_2_0_1_simulator_charges_and_reports_its_device_model(ocpp_server):
    from stations.services import station_create

    station, _ = station_create(identity="SIM201-001", password=PASSWORD, ocpp_version="2.0.1", evses=2)
    id_token_create(uid="SIM201-CARD")
    process = subprocess.Popen(
        [
            sys.executable, str(REPO / "manage.py"), "simulate", "--ocpp", "2.0.1",
            "--url", ocpp_server.url, "--identity-prefix", "SIM201-", "--password", PASSWORD,
            "--id-tags", "SIM201-CARD", "--session-gap", "1", "--meter-interval", "1", "--seed", "7",
            "--duration", "60",
        ],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        eventually(lambda: Station.objects.get(pk=station.pk).is_online, timeout=30)
        command_create(
            station=station, action="GetBaseReport", payload={"requestId": 5, "reportBase": "FullInventory"}
        )
        eventually(
            lambda: DeviceVariable.objects.filter(station=station, variable="HeartbeatInterval").exists(),
            timeout=30,
        )
        session = eventually(
            lambda: next((s for s in Session.objects.filter(station=station) if len(s.seq_nos) >= 3), None),
            timeout=40,
        )
    finally:
        process.terminate()
        output = process.communicate(timeout=30)[0].decode()
    assert process.returncode == 0, output
    assert session.id_tag == "SIM201-CARD" and session.seq_nos[:3] == [0, 1, 2]
    assert "seq_no_gap" not in session.flags
    model = DeviceVariable.objects.filter(station=station)
    assert model.get(component="ChargingStation", variable="Model").value == "SIM-201"
    assert model.filter(component="EVSE", variable="AvailabilityState").count() == 2
