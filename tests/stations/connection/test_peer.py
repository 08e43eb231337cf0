"""An independent peer: the npm package ocpp-rpc (strict schema validation, written by others) runs
a scripted OCPP 1.6 station (`tests/peer/station.js`) against the real server."""

import json
import shutil
import subprocess

import pytest

from rfid.services import id_token_create
from stations.models import Command, Session, Station
from stations.services import command_create
from tests.stations.connection.helpers import PASSWORD, station_make
from tests.support import REPO

pytestmark = pytest.mark.django_db(transaction=True)

PEER = REPO / "tests" / "peer"


def peer_node() -> str:
    node = shutil.which("node")
    if node is None or shutil.which("npm") is None:
        pytest.skip("node/npm are not installed; the ocpp-rpc peer needs them")
    if not (PEER / "node_modules" / "ocpp-rpc").is_dir():
        pytest.skip("tests/peer/node_modules is missing: run `npm ci --prefix tests/peer`")
    return node


def test_an_independent_strict_ocpp_rpc_station_completes_a_whole_conversation(ocpp_server):
    node = peer_node()
    # given a registered station, a valid card and commands queued for the station before it connects
    station = station_make("PEER")
    id_token_create(uid="PEER-CARD-1")
    queued = {
        action: command_create(station=station, action=action, payload=payload)
        for action, payload in [
            ("RemoteStartTransaction", {"connectorId": 1, "idTag": "PEER-CARD-1"}),
            ("GetConfiguration", {"key": ["HeartbeatInterval", "NumberOfConnectors"]}),
            ("ChangeConfiguration", {"key": "HeartbeatInterval", "value": "300"}),
            ("Reset", {"type": "Soft"}),
        ]
    }

    # when the ocpp-rpc station runs its script
    done = subprocess.run(
        [
            node,
            str(PEER / "station.js"),
            "--url",
            ocpp_server.url,
            "--identity",
            station.identity,
            "--password",
            PASSWORD,
            "--id-tag",
            "PEER-CARD-1",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])

    # then every frame either side sent passed ocpp-rpc's strict 1.6 schema validation
    assert report["errors"] == []
    assert report["protocol"] == "ocpp1.6"
    assert report["strictValidationFailures"] == []
    assert report["badMessages"] == []
    results = report["results"]
    assert results["BootNotification"]["status"] == "Accepted"
    assert results["BootNotification"]["interval"] > 0
    assert results["Authorize.unknown"]["idTagInfo"]["status"] == "Invalid"
    assert results["Authorize"]["idTagInfo"]["status"] == "Accepted"
    assert results["StartTransaction"]["idTagInfo"]["status"] == "Accepted"
    assert results["StopTransaction"]["idTagInfo"]["status"] == "Accepted"
    assert results["DataTransfer"]["status"] == "UnknownVendorId"
    assert "currentTime" in results["Heartbeat.after"]
    # the malformed frames got the 1.6 CALLERROR codes and the connection stayed up
    assert report["malformed"] == {
        "notJson": "FormationViolation",
        "unknownField": "FormationViolation",
        "missingField": "OccurenceConstraintViolation",
        "unknownAction": "NotImplemented",
    }
    # the commands arrived exactly as queued, and their answers are stored
    assert report["commandsReceived"]["RemoteStartTransaction"] == {"connectorId": 1, "idTag": "PEER-CARD-1"}
    for action, command in queued.items():
        command.refresh_from_db()
        assert command.status == Command.Status.ACCEPTED, (action, command.error)
    # the session is recorded as the station reported it
    session = Session.objects.get(station=station)
    assert session.transaction_id == str(results["StartTransaction"]["transactionId"])
    assert session.energy_wh == 1500
    assert Station.objects.get(pk=station.pk).serial_number == "PEER-0001"
