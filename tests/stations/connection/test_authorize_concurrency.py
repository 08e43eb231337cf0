"""Authorize and ConcurrentTx (found by an independent 1.6 conformance suite): in 1.6 only
StartTransaction may answer ConcurrentTx; a 2.0.1 Authorize names no EVSE, so the card's own session at
this station (the driver presenting the card to stop) is not concurrent, one at another station is."""

import pytest

from rfid.services import id_token_create
from tests.stations.connection.client import station_connection
from tests.stations.connection.helpers import PASSWORD, booted, now_iso, station_make
from tests.stations.devicemodel.helpers import BOOT

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_1_6_authorize_never_answers_concurrent_tx_but_start_transaction_does(ocpp_server, run):
    first, second = station_make(), station_make()
    id_token_create(uid="CONC-16")

    async def scenario():
        async with booted(ocpp_server, first) as cp1, booted(ocpp_server, second) as cp2:
            start = {"connectorId": 1, "idTag": "CONC-16", "meterStart": 0, "timestamp": now_iso()}
            assert (await cp1.ok("StartTransaction", start))["idTagInfo"]["status"] == "Accepted"
            authorize = await cp2.ok("Authorize", {"idTag": "CONC-16"})
            start_elsewhere = await cp2.ok("StartTransaction", start)
            return authorize, start_elsewhere

    authorize, start_elsewhere = run(scenario())
    assert authorize["idTagInfo"]["status"] == "Accepted"
    assert start_elsewhere["idTagInfo"]["status"] == "ConcurrentTx"


def test_a_2_0_1_authorize_counts_sessions_at_other_stations_only(ocpp_server, run):
    here, there = station_make(ocpp_version="2.0.1"), station_make(ocpp_version="2.0.1")
    id_token_create(uid="CONC-201")
    token = {"idToken": "CONC-201", "type": "ISO14443"}

    async def scenario():
        async with (
            station_connection(ocpp_server.url, here.identity, PASSWORD, subprotocols=("ocpp2.0.1",)) as cp1,
            station_connection(ocpp_server.url, there.identity, PASSWORD, subprotocols=("ocpp2.0.1",)) as cp2,
        ):
            for cp in (cp1, cp2):
                assert (await cp.ok("BootNotification", BOOT))["status"] == "Accepted"
            started = {
                "eventType": "Started",
                "timestamp": now_iso(),
                "triggerReason": "Authorized",
                "seqNo": 0,
                "transactionInfo": {"transactionId": "tx-conc"},
                "idToken": token,
                "evse": {"id": 1, "connectorId": 1},
            }
            await cp1.ok("TransactionEvent", started)
            own = await cp1.ok("Authorize", {"idToken": token})
            elsewhere = await cp2.ok("Authorize", {"idToken": token})
            return own, elsewhere

    own, elsewhere = run(scenario())
    assert own["idTokenInfo"]["status"] == "Accepted"
    assert elsewhere["idTokenInfo"]["status"] == "ConcurrentTx"


def test_a_card_charging_under_one_case_of_its_uid_is_concurrent_under_another(ocpp_server, run):
    """Id tags are case-insensitive (CiString): the card started as "ci-card" is the same card as
    "CI-CARD"; a retried StartTransaction in another case is the same session, not a new one."""
    first, second = station_make(), station_make()
    id_token_create(uid="CI-Card-7")

    async def scenario():
        async with booted(ocpp_server, first) as cp1, booted(ocpp_server, second) as cp2:
            start = {"connectorId": 1, "idTag": "ci-card-7", "meterStart": 10, "timestamp": now_iso()}
            started = await cp1.ok("StartTransaction", start)
            retried = await cp1.ok("StartTransaction", {**start, "idTag": "CI-CARD-7"})
            elsewhere = await cp2.ok("StartTransaction", {**start, "idTag": "CI-CARD-7"})
            return started, retried, elsewhere

    started, retried, elsewhere = run(scenario())
    assert started["idTagInfo"]["status"] == "Accepted"
    assert retried["transactionId"] == started["transactionId"]
    assert elsewhere["idTagInfo"]["status"] == "ConcurrentTx"
