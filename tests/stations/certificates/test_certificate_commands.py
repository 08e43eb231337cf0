"""InstallCertificate, GetInstalledCertificateIds and DeleteCertificate as typed API endpoints for
both versions, to a real station on a real socket; the inventory the API shows follows the answers
(OCTT 1.6 TC_075/TC_076; 2.0.1 TC_M_01, TC_M_02, TC_M_05, TC_M_18 … TC_M_21)."""

import contextlib

import pytest
from asgiref.sync import sync_to_async
from rest_framework.test import APIClient

from chargenet.api.services import api_key_create
from stations.models import Command
from tests.stations.certificates.pki import chain_split
from tests.stations.connection.client import station_connection
from tests.stations.connection.helpers import PASSWORD, booted, station_make

pytestmark = pytest.mark.django_db(transaction=True)

BOOT_201 = {"chargingStation": {"vendorName": "ChargeNet Test", "model": "TS-2"}, "reason": "PowerUp"}
HASH = {
    "hashAlgorithm": "SHA256",
    "issuerNameHash": "a" * 64,
    "issuerKeyHash": "b" * 64,
    "serialNumber": "1f",
}
OTHER = {**HASH, "serialNumber": "2e"}


@pytest.fixture
def api(operator):
    _, key = api_key_create(user=operator, name="tests", role="operate")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@contextlib.asynccontextmanager
async def connected(server, station):
    if station.ocpp_version == "1.6":
        async with booted(server, station) as cp:
            yield cp
        return
    async with station_connection(server.url, station.identity, PASSWORD, subprotocols=("ocpp2.0.1",)) as cp:
        assert (await cp.ok("BootNotification", BOOT_201))["status"] == "Accepted"
        yield cp


def post(api, path: str, body: dict):
    return sync_to_async(api.post)(path, {**body, "wait": 10}, format="json")


@pytest.mark.parametrize(
    ("version", "root"), [("1.6", "CentralSystemRootCertificate"), ("2.0.1", "CSMSRootCertificate")]
)
def test_TC_M_01_TC_075_an_operator_installs_root_certificates_through_the_api(
    pki_server, run, api, station_ca, version, root
):
    station = station_make(ocpp_version=version)

    async def scenario():
        async with connected(pki_server, station) as cp:
            cp.responders["InstallCertificate"] = lambda p: {
                "status": "Rejected" if p["certificateType"] == "ManufacturerRootCertificate" else "Accepted"
            }
            # either spelling of the CSMS root works for either version
            csms = await post(
                api,
                f"/api/v1/stations/{station.identity}/certificates/install/",
                {"certificate_type": "CSMSRootCertificate", "certificate": station_ca.pem},
            )
            manufacturer = await post(
                api,
                f"/api/v1/stations/{station.identity}/certificates/install/",
                {"certificate_type": "ManufacturerRootCertificate", "certificate": station_ca.pem},
            )
            return csms, manufacturer, await cp.wait_call("InstallCertificate")

    csms, manufacturer, received = run(scenario())
    assert csms.status_code == 201
    assert (csms.json()["action"], csms.json()["status"]) == ("InstallCertificate", "accepted")
    assert received["certificateType"] == root
    assert chain_split(received["certificate"]) == [station_ca.certificate]
    # TC_M_05: the station's refusal is shown as such
    assert manufacturer.json()["status"] == "rejected"


def test_a_bad_install_request_is_refused_with_a_message_and_nothing_is_queued(api):
    station = station_make(ocpp_version="1.6")
    path = f"/api/v1/stations/{station.identity}/certificates/install/"

    not_pem = api.post(
        path, {"certificate_type": "ManufacturerRootCertificate", "certificate": "hello"}, format="json"
    )
    wrong_type = api.post(
        path,
        {"certificate_type": "V2GRootCertificate", "certificate": "-----BEGIN CERTIFICATE-----"},
        format="json",
    )

    assert not_pem.status_code == wrong_type.status_code == 409
    assert "PEM" in str(not_pem.json())
    assert "CentralSystemRootCertificate" in str(wrong_type.json())
    assert not Command.objects.filter(station=station).exists()


def test_TC_M_18_TC_M_20_TC_M_21_the_inventory_follows_the_stations_answers_2_0_1(pki_server, run, api):
    station = station_make(ocpp_version="2.0.1")
    base = f"/api/v1/stations/{station.identity}/certificates"

    async def scenario():
        async with connected(pki_server, station) as cp:
            cp.responders["GetInstalledCertificateIds"] = {
                "status": "Accepted",
                "certificateHashDataChain": [
                    {"certificateType": "CSMSRootCertificate", "certificateHashData": HASH},
                    {"certificateType": "V2GRootCertificate", "certificateHashData": OTHER},
                ],
            }
            listed = await post(api, f"{base}/installed-ids/", {})  # no types: all of them
            asked = await cp.wait_call("GetInstalledCertificateIds")
            after_list = (await sync_to_async(api.get)(f"{base}/")).json()
            cp.responders["DeleteCertificate"] = lambda p: {
                "status": "Accepted" if p["certificateHashData"]["serialNumber"] == "1f" else "Failed"
            }
            deleted = await post(api, f"{base}/delete/", {"certificate_hash_data": HASH})
            failed = await post(api, f"{base}/delete/", {"certificate_hash_data": OTHER})
            after_delete = (await sync_to_async(api.get)(f"{base}/")).json()
            return listed, asked, after_list, deleted, failed, after_delete

    listed, asked, after_list, deleted, failed, after_delete = run(scenario())
    assert listed.json()["status"] == "accepted"
    assert asked == {}
    assert [(c["certificateType"], c["serialNumber"]) for c in after_list["installed"]] == [
        ("CSMSRootCertificate", "1f"),
        ("V2GRootCertificate", "2e"),
    ]
    assert (deleted.json()["status"], failed.json()["status"]) == ("accepted", "rejected")
    # the certificate the station deleted is gone; the one it failed to delete stays
    assert [c["serialNumber"] for c in after_delete["installed"]] == ["2e"]


def test_TC_M_19_TC_076_a_1_6_station_holding_no_such_certificate_empties_that_type(pki_server, run, api):
    station = station_make(ocpp_version="1.6")
    base = f"/api/v1/stations/{station.identity}/certificates"

    async def scenario():
        async with connected(pki_server, station) as cp:
            cp.responders["GetInstalledCertificateIds"] = {
                "status": "Accepted",
                "certificateHashData": [HASH],
            }
            await post(api, f"{base}/installed-ids/", {"certificate_types": ["ManufacturerRootCertificate"]})
            before = (await sync_to_async(api.get)(f"{base}/")).json()["installed"]
            cp.responders["GetInstalledCertificateIds"] = {"status": "NotFound"}
            answer = await post(
                api, f"{base}/installed-ids/", {"certificate_types": ["ManufacturerRootCertificate"]}
            )
            after = (await sync_to_async(api.get)(f"{base}/")).json()["installed"]
            return before, answer, after

    before, answer, after = run(scenario())
    assert [c["serialNumber"] for c in before] == ["1f"]
    assert answer.json()["response"] == {"status": "NotFound"}
    assert after == []


def test_a_1_6_station_is_asked_for_exactly_one_certificate_type(api):
    station = station_make(ocpp_version="1.6")
    response = api.post(
        f"/api/v1/stations/{station.identity}/certificates/installed-ids/",
        {"certificate_types": ["ManufacturerRootCertificate", "CentralSystemRootCertificate"]},
        format="json",
    )
    assert response.status_code == 409
    assert "exactly one" in str(response.json())
    assert not Command.objects.filter(station=station).exists()
