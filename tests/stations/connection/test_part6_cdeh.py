"""OCPP 2.0.1 Part 6 CSMS test cases of blocks C (authorization), D (local authorization list),
E (transactions) and H (reservation), each over a real socket against the real server. The test
station plays the Charging Station's side of the case; what the CSMS sends goes through the durable
command queue (as the dashboard and the API send it), and the test asserts what the CSMS answers and
what the operator then sees. docs/ocpp-2.0.1-coverage.md maps every Part 6 case to its test."""

import asyncio
import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from rfid.services import id_token_create
from stations.access.local_lists import local_list_command_handle, local_list_sync_start
from stations.access.services import station_access_set
from stations.certificates.services import certificate_revoke
from stations.models import Command, Connector, IssuedCertificate, LocalListSync, Reservation, Session
from stations.services import command_wait
from tests.stations.certificates import conftest as certificates_conftest
from tests.stations.certificates.conftest import ORGANIZATION
from tests.stations.certificates.pki import chain_split, csr_make
from tests.stations.certificates.test_revocation import status_request
from tests.stations.connection.client import eventually
from tests.stations.connection.helpers import db, now_iso, sent_to, station_make
from tests.stations.devicemodel.helpers import booted201

pytestmark = pytest.mark.django_db(transaction=True)

# The certificate tests' server (a throw-away CA configured) for the ISO 15118 cases.
pki_server = certificates_conftest.pki_server
station_ca = certificates_conftest.station_ca

GROUP = "FAMILY-7"
MASTER = "POLICE-MASTER"


def tx_event(event_type: str, seq_no: int, transaction_id: str, trigger: str, evse: int = 1, **fields):
    """A TransactionEventRequest; `card` names the idToken, other keywords go in transactionInfo."""
    card = fields.pop("card", None)
    payload = {
        "eventType": event_type,
        "timestamp": now_iso(),
        "triggerReason": trigger,
        "seqNo": seq_no,
        "transactionInfo": {"transactionId": transaction_id, **fields},
        "evse": {"id": evse, "connectorId": 1},
    }
    if card:
        payload["idToken"] = {"idToken": card, "type": "ISO14443"}
    return payload


def status(evse: int, connector_status: str) -> dict:
    return {"timestamp": now_iso(), "connectorStatus": connector_status, "evseId": evse, "connectorId": 1}


def authorize(card: str) -> dict:
    return {"idToken": {"idToken": card, "type": "ISO14443"}}


def session(station, transaction_id: str) -> Session:
    return Session.objects.get(station=station, transaction_id=transaction_id)


async def local_list_synced(cp, station, reported_version: int) -> dict:
    """Run the CSMS's local-list sync against the test station (the worker's steps, in order): ask the
    version, send the list, confirm it. Returns the SendLocalList payload the station received."""
    cp.responders["GetLocalListVersion"] = {"versionNumber": reported_version}
    ask = await db(local_list_sync_start)(station=station, force=True)
    ask = await db(command_wait)(command=ask, timeout=10)
    send = await db(local_list_command_handle)(command=ask)
    received = await cp.wait_call("SendLocalList")
    send = await db(command_wait)(command=send, timeout=10)
    await db(local_list_command_handle)(command=send)
    return received


async def energy_transfer_started(cp, transaction_id: str, card: str, evse: int = 1) -> dict:
    """Reusable state EnergyTransferStarted: plugged in, authorized with `card`, charging."""
    await cp.ok("StatusNotification", status(evse, "Occupied"))
    started = await cp.ok(
        "TransactionEvent",
        tx_event("Started", 0, transaction_id, "Authorized", evse, card=card, chargingState="EVConnected"),
    )
    await cp.ok(
        "TransactionEvent",
        tx_event("Updated", 1, transaction_id, "ChargingStateChanged", evse, chargingState="Charging"),
    )
    return started


# --- C Authorization ------------------------------------------------------------------------------


def test_tc_c_08_a_card_from_the_stations_cache_is_checked_and_accepted_on_its_transaction(ocpp_server, run):
    station = station_make(ocpp_version="2.0.1")
    id_token_create(uid="CACHED-OK")

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            # TxStartPoint ParkingBayOccupancy: the transaction began before any card was shown
            await cp.ok(
                "TransactionEvent", tx_event("Started", 0, "tx-c08", "EVDetected", chargingState="Idle")
            )
            await cp.ok("StatusNotification", status(1, "Occupied"))
            await cp.ok(
                "TransactionEvent",
                tx_event("Updated", 1, "tx-c08", "CablePluggedIn", chargingState="EVConnected"),
            )
            # the station let the driver in from its cache, sending no AuthorizeRequest
            return await cp.ok(
                "TransactionEvent",
                tx_event("Updated", 2, "tx-c08", "Authorized", card="CACHED-OK", chargingState="EVConnected"),
            )

    answer = run(scenario())
    assert answer["idTokenInfo"]["status"] == "Accepted"
    charged = session(station, "tx-c08")
    assert charged.id_tag == "CACHED-OK" and charged.id_token.uid == "CACHED-OK"
    assert charged.stopped_at is None and not [f for f in charged.flags if f.startswith("authorization")]


def test_tc_c_20_a_card_the_stations_cache_holds_but_the_csms_does_not_know_is_answered_invalid(
    ocpp_server, run
):
    station = station_make(ocpp_version="2.0.1")

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            await cp.ok(
                "TransactionEvent", tx_event("Started", 0, "tx-c20", "EVDetected", chargingState="Idle")
            )
            await cp.ok(
                "TransactionEvent",
                tx_event("Updated", 1, "tx-c20", "CablePluggedIn", chargingState="EVConnected"),
            )
            return await cp.ok(
                "TransactionEvent",
                tx_event(
                    "Updated", 2, "tx-c20", "Authorized", card="CACHED-BAD", chargingState="EVConnected"
                ),
            )

    answer = run(scenario())
    assert answer["idTokenInfo"]["status"] in ("Invalid", "Unknown")
    # the operator sees the session carried an unknown card
    charged = session(station, "tx-c20")
    assert charged.id_tag == "CACHED-BAD" and charged.id_token is None
    assert "authorization_invalid" in charged.flags


def test_tc_c_40_two_cards_of_one_group_in_the_local_list_start_and_stop_the_same_transaction(
    ocpp_server, run
):
    station = station_make(ocpp_version="2.0.1")
    for uid in ("FAM-A", "FAM-B"):
        id_token_create(uid=uid, parent_id_tag=GROUP)
    station_access_set(station=station, is_public=False, groups=[GROUP], local_list_enabled=True)

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            sent = await local_list_synced(cp, station, reported_version=0)
            started = await energy_transfer_started(cp, "tx-c40", "FAM-A")
            stop = await cp.ok(
                "TransactionEvent",
                tx_event("Updated", 2, "tx-c40", "StopAuthorized", card="FAM-B", chargingState="EVConnected"),
            )
            await cp.ok(
                "TransactionEvent",
                tx_event(
                    "Ended", 3, "tx-c40", "EVCommunicationLost", chargingState="Idle", stoppedReason="Local"
                ),
            )
            return sent, started, stop

    sent, started, stop = run(scenario())
    # the memory state the case needs: both cards in the station's list, with their group
    assert sent["updateType"] == "Full"
    groups = {item["idToken"]["idToken"]: item["idTokenInfo"] for item in sent["localAuthorizationList"]}
    assert {uid: info["groupIdToken"]["idToken"] for uid, info in groups.items()} == {
        "FAM-A": GROUP,
        "FAM-B": GROUP,
    }
    for answer in (started, stop):
        assert answer["idTokenInfo"]["status"] == "Accepted"
        assert answer["idTokenInfo"]["groupIdToken"]["idToken"] == GROUP
    charged = session(station, "tx-c40")
    assert charged.id_tag == "FAM-A" and charged.status == Session.Status.COMPLETED
    assert LocalListSync.objects.get(station=station).entries.keys() == {"FAM-A", "FAM-B"}


def test_tc_c_43_a_blocked_card_of_the_same_group_in_the_local_list_does_not_stop_the_transaction(
    ocpp_server, run
):
    station = station_make(ocpp_version="2.0.1")
    id_token_create(uid="FAM-OK", parent_id_tag=GROUP)
    id_token_create(uid="FAM-LOST", parent_id_tag=GROUP, status="Blocked")
    station_access_set(station=station, is_public=False, groups=[GROUP], local_list_enabled=True)

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            sent = await local_list_synced(cp, station, reported_version=0)
            started = await energy_transfer_started(cp, "tx-c43", "FAM-OK")
            other = await cp.ok("Authorize", authorize("FAM-LOST"))
            return sent, started, other

    sent, started, other = run(scenario())
    listed = {item["idToken"]["idToken"]: item["idTokenInfo"] for item in sent["localAuthorizationList"]}
    assert listed["FAM-LOST"]["status"] == "Blocked" and listed["FAM-OK"]["status"] == "Accepted"
    assert started["idTokenInfo"]["status"] == "Accepted"
    assert started["idTokenInfo"]["groupIdToken"]["idToken"] == GROUP
    # the group does not make a blocked card good: it may not stop its group's transaction
    assert other["idTokenInfo"]["status"] == "Blocked"
    assert session(station, "tx-c43").status == Session.Status.ACTIVE


@pytest.mark.parametrize(
    "case, stopped, stop_card",
    [
        ("tc_c_47", ("tx-1", "tx-2"), {"tx-1": "MASTER-1", "tx-2": "MASTER-1"}),
        ("tc_c_48", ("tx-2",), {"tx-2": "MASTER-1"}),
        ("tc_c_49", ("tx-1", "tx-2"), {"tx-1": "DRIVER-1", "tx-2": "DRIVER-2"}),
    ],
    ids=[
        "tc_c_47_with_ui_all_transactions",
        "tc_c_48_with_ui_a_specific_transaction",
        "tc_c_49_without_ui_the_station_ends_all_with_their_own_cards",
    ],
)
def test_a_master_pass_is_accepted_with_its_group_and_ends_the_transactions_it_was_used_on(
    ocpp_server, run, case, stopped, stop_card
):
    station = station_make(ocpp_version="2.0.1", evses=2)
    id_token_create(uid="MASTER-1", parent_id_tag=MASTER)
    for uid in ("DRIVER-1", "DRIVER-2"):
        id_token_create(uid=uid)

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            await cp.ok("StatusNotification", status(2, "Available"))
            await energy_transfer_started(cp, "tx-1", "DRIVER-1", evse=1)
            await energy_transfer_started(cp, "tx-2", "DRIVER-2", evse=2)
            master = await cp.ok("Authorize", authorize("MASTER-1"))
            answers = {}
            for transaction_id in stopped:
                evse = int(transaction_id[-1])
                answers[transaction_id] = await cp.ok(
                    "TransactionEvent",
                    tx_event(
                        "Ended",
                        2,
                        transaction_id,
                        "StopAuthorized",
                        evse,
                        card=stop_card[transaction_id],
                        chargingState="EVConnected",
                        stoppedReason="MasterPass",
                    ),
                )
            return master, answers

    master, answers = run(scenario())
    assert master["idTokenInfo"]["status"] == "Accepted"
    assert master["idTokenInfo"]["groupIdToken"]["idToken"] == MASTER
    for transaction_id, answer in answers.items():
        assert answer["idTokenInfo"]["status"] == "Accepted"
        if stop_card[transaction_id] == "MASTER-1":
            assert answer["idTokenInfo"]["groupIdToken"]["idToken"] == MASTER
    for transaction_id in ("tx-1", "tx-2"):
        ended = session(station, transaction_id)
        if transaction_id in stopped:
            assert ended.status == Session.Status.COMPLETED and ended.stop_reason == "MasterPass"
        else:
            assert ended.status == Session.Status.ACTIVE and ended.stopped_at is None
        # the transaction stays its driver's: the master pass only ended it
        assert ended.id_tag == f"DRIVER-{transaction_id[-1]}"


EMAID = "NL-CNT-C12345-A"


def self_signed_certificate() -> str:
    """A contract certificate that signed itself: no CA ChargeNet trusts vouches for it."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, EMAID)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


async def contract_certificate(cp, station):
    """A certificate ChargeNet's CA issued (through the station's SignCertificate) stands in for the
    EV's contract certificate: ChargeNet knows its revocation status first-hand, as it would learn
    an MO's through its OCSP provider. Returns (leaf, chain PEM)."""
    await cp.ok(
        "SignCertificate",
        {"csr": csr_make(station.identity, ORGANIZATION), "certificateType": "V2GCertificate"},
    )
    chain = (await cp.wait_call("CertificateSigned"))["certificateChain"]
    await asyncio.to_thread(eventually, lambda: IssuedCertificate.objects.filter(station=station).exists())
    return chain_split(chain)[0], chain


def test_tc_c_50_a_contract_certificate_the_station_validated_is_checked_for_revocation_and_accepted(
    pki_server, run, station_ca
):
    station = station_make(ocpp_version="2.0.1")
    id_token_create(uid=EMAID, type="eMAID")

    async def scenario():
        async with booted201(pki_server, station) as cp:
            leaf, _ = await contract_certificate(cp, station)
            authorized = await cp.ok(
                "Authorize",
                {
                    "idToken": {"idToken": EMAID, "type": "eMAID"},
                    "iso15118CertificateHashData": [
                        status_request(station_ca.certificate, leaf.serial_number)
                    ],
                },
            )
            started = await cp.ok(
                "TransactionEvent",
                {
                    **tx_event("Started", 0, "tx-c50", "Authorized", chargingState="EVConnected"),
                    "idToken": {"idToken": EMAID, "type": "eMAID"},
                },
            )
            return authorized, started

    authorized, started = run(scenario())
    assert authorized["idTokenInfo"]["status"] == "Accepted" and authorized["certificateStatus"] == "Accepted"
    assert started["idTokenInfo"]["status"] == "Accepted"
    assert session(station, "tx-c50").id_token.uid == EMAID


def test_tc_c_51_a_revoked_contract_certificate_is_answered_revoked_and_its_emaid_invalid(
    pki_server, run, station_ca
):
    station = station_make(ocpp_version="2.0.1")
    id_token_create(uid=EMAID, type="eMAID")  # the eMAID itself is good: the certificate is not

    async def scenario():
        async with booted201(pki_server, station) as cp:
            leaf, _ = await contract_certificate(cp, station)
            await db(
                lambda: certificate_revoke(
                    certificate=IssuedCertificate.objects.get(station=station),
                    reason="cessation_of_operation",
                )
            )()
            return await cp.ok(
                "Authorize",
                {
                    "idToken": {"idToken": EMAID, "type": "eMAID"},
                    "iso15118CertificateHashData": [
                        status_request(station_ca.certificate, leaf.serial_number)
                    ],
                },
            )

    answer = run(scenario())
    assert answer["certificateStatus"] == "CertificateRevoked"
    assert answer["idTokenInfo"]["status"] == "Invalid"
    assert not Session.objects.filter(station=station).exists()


def test_tc_c_52_a_contract_certificate_sent_whole_is_validated_by_the_csms_and_accepted(pki_server, run):
    station = station_make(ocpp_version="2.0.1")
    id_token_create(uid=EMAID, type="eMAID")

    async def scenario():
        async with booted201(pki_server, station) as cp:
            _, chain = await contract_certificate(cp, station)
            authorized = await cp.ok(
                "Authorize", {"idToken": {"idToken": EMAID, "type": "eMAID"}, "certificate": chain}
            )
            forged = await cp.ok(
                "Authorize",
                {"idToken": {"idToken": EMAID, "type": "eMAID"}, "certificate": self_signed_certificate()},
            )
            started = await cp.ok(
                "TransactionEvent",
                {
                    **tx_event("Started", 0, "tx-c52", "Authorized", chargingState="EVConnected"),
                    "idToken": {"idToken": EMAID, "type": "eMAID"},
                },
            )
            return authorized, forged, started

    authorized, forged, started = run(scenario())
    assert authorized["idTokenInfo"]["status"] == "Accepted" and authorized["certificateStatus"] == "Accepted"
    # a certificate no CA ChargeNet trusts signed is not accepted
    assert forged["certificateStatus"] == "CertChainError" and forged["idTokenInfo"]["status"] == "Invalid"
    assert started["idTokenInfo"]["status"] == "Accepted"
    assert session(station, "tx-c52").id_tag == EMAID


# --- D Local authorization list -------------------------------------------------------------------


def test_tc_d_04_a_station_whose_list_is_emptied_gets_a_full_update_without_entries(ocpp_server, run):
    station = station_make(ocpp_version="2.0.1")
    id_token_create(uid="NOT-HERE")  # a card of the network, allowed at no private station
    station_access_set(station=station, is_public=False, local_list_enabled=True)

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            return await local_list_synced(cp, station, reported_version=4)

    sent = run(scenario())
    assert sent["updateType"] == "Full" and sent["versionNumber"] == 5
    assert not sent.get("localAuthorizationList")
    sync = LocalListSync.objects.get(station=station)
    assert (sync.version, sync.entries, sync.confirmed) == (5, {}, True)
    assert Command.objects.get(station=station, action="SendLocalList").status == Command.Status.ACCEPTED


# --- E Transactions -------------------------------------------------------------------------------


def test_tc_e_26_a_transaction_suspended_by_an_ev_side_unplug_goes_on_when_the_ev_is_plugged_back(
    ocpp_server, run
):
    station = station_make(ocpp_version="2.0.1")
    id_token_create(uid="E26-CARD")

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            await energy_transfer_started(cp, "tx-e26", "E26-CARD")
            await cp.ok(
                "TransactionEvent",
                tx_event("Updated", 2, "tx-e26", "ChargingStateChanged", chargingState="SuspendedEV"),
            )
            # StopTxOnEVSideDisconnect false: the cable is pulled at the EV, the transaction stays
            lost = await cp.ok(
                "TransactionEvent",
                tx_event("Updated", 3, "tx-e26", "EVCommunicationLost", chargingState="Idle"),
            )
            await cp.ok("StatusNotification", status(1, "Available"))
            unplugged = await db(
                lambda: (
                    session(station, "tx-e26").status,
                    Connector.objects.get(evse__station=station).status,
                )
            )()
            await cp.ok("StatusNotification", status(1, "Occupied"))
            await cp.ok(
                "TransactionEvent",
                tx_event("Updated", 4, "tx-e26", "CablePluggedIn", chargingState="EVConnected"),
            )
            await cp.ok(
                "TransactionEvent",
                tx_event("Updated", 5, "tx-e26", "ChargingStateChanged", chargingState="Charging"),
            )
            return lost, unplugged

    lost, unplugged = run(scenario())
    assert "idTokenInfo" not in lost
    assert unplugged == (Session.Status.ACTIVE, "Available")
    resumed = session(station, "tx-e26")
    assert resumed.status == Session.Status.ACTIVE and resumed.stopped_at is None
    assert resumed.id_tag == "E26-CARD" and resumed.seq_nos == [0, 1, 2, 3, 4, 5]
    assert Connector.objects.get(evse__station=station).status == "Occupied"


def test_tc_e_38_a_transaction_authorized_first_whose_ev_is_not_ready_stays_open(ocpp_server, run):
    station = station_make(ocpp_version="2.0.1")
    id_token_create(uid="E38-CARD")

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            authorized = await cp.ok(
                "TransactionEvent",
                tx_event("Started", 0, "tx-e38", "Authorized", card="E38-CARD", chargingState="Idle"),
            )
            await cp.ok("StatusNotification", status(1, "Occupied"))
            await cp.ok(
                "TransactionEvent",
                tx_event("Updated", 1, "tx-e38", "CablePluggedIn", chargingState="EVConnected"),
            )
            not_ready = await cp.ok(
                "TransactionEvent",
                tx_event("Updated", 2, "tx-e38", "ChargingStateChanged", chargingState="SuspendedEV"),
            )
            return authorized, not_ready

    authorized, not_ready = run(scenario())
    assert authorized["idTokenInfo"]["status"] == "Accepted" and not_ready == {}
    waiting = session(station, "tx-e38")
    assert waiting.status == Session.Status.ACTIVE and waiting.id_tag == "E38-CARD"
    assert waiting.connector == Connector.objects.get(evse__station=station)
    assert Connector.objects.get(evse__station=station).status == "Occupied"


# --- H Reservation --------------------------------------------------------------------------------


def reserve_now(reservation_id: int, card: str = "RES-CARD", **fields) -> dict:
    return {
        "id": reservation_id,
        "expiryDateTime": now_iso(900),
        "idToken": {"idToken": card, "type": "ISO14443"},
        **fields,
    }


def reservation(station, reservation_id: int) -> Reservation:
    return Reservation.objects.get(station=station, reservation_id=reservation_id)


def test_tc_h_08_a_reservation_of_an_unspecified_evse_is_sent_without_evse_and_kept_active(ocpp_server, run):
    station = station_make(ocpp_version="2.0.1")
    id_token_create(uid="RES-CARD")

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            command, received = await sent_to(cp, station, "ReserveNow", reserve_now(81))
            await cp.ok("StatusNotification", status(1, "Reserved"))
            return command, received

    command, received = run(scenario())
    assert "evseId" not in received and "connectorType" not in received
    assert received["idToken"] == {"idToken": "RES-CARD", "type": "ISO14443"}
    assert command.status == Command.Status.ACCEPTED
    kept = reservation(station, 81)
    assert (kept.status, kept.connector_id, kept.id_tag) == (Reservation.Status.ACTIVE, 0, "RES-CARD")
    assert Connector.objects.get(evse__station=station).status == "Reserved"


def test_tc_h_14_as_many_unspecified_reservations_as_evses_leave_every_evse_reserved(ocpp_server, run):
    station = station_make(ocpp_version="2.0.1", evses=2)
    id_token_create(uid="RES-CARD")

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            await cp.ok("StatusNotification", status(2, "Available"))
            commands = []
            for reservation_id in (141, 142):
                command, received = await sent_to(cp, station, "ReserveNow", reserve_now(reservation_id))
                assert "evseId" not in received and "connectorType" not in received
                commands.append(command)
            # after the last one the station has no EVSE left for anyone else
            for evse in (1, 2):
                await cp.ok("StatusNotification", status(evse, "Reserved"))
            return commands

    commands = run(scenario())
    assert [c.status for c in commands] == [Command.Status.ACCEPTED] * 2
    assert [
        (r.reservation_id, r.status, r.connector_id)
        for r in Reservation.objects.filter(station=station).order_by("reservation_id")
    ] == [
        (141, Reservation.Status.ACTIVE, 0),
        (142, Reservation.Status.ACTIVE, 0),
    ]
    assert sorted(Connector.objects.filter(evse__station=station).values_list("status", flat=True)) == [
        "Reserved",
        "Reserved",
    ]


def test_tc_h_15_a_reservation_of_a_connector_type_is_sent_with_that_type_and_kept_active(ocpp_server, run):
    station = station_make(ocpp_version="2.0.1")
    id_token_create(uid="RES-CARD")

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            command, received = await sent_to(
                cp, station, "ReserveNow", reserve_now(151, connectorType="cType2")
            )
            await cp.ok("StatusNotification", status(1, "Reserved"))
            return command, received

    command, received = run(scenario())
    assert received["connectorType"] == "cType2" and "evseId" not in received
    assert command.status == Command.Status.ACCEPTED and command.payload["connectorType"] == "cType2"
    kept = reservation(station, 151)
    assert (kept.status, kept.connector_id) == (Reservation.Status.ACTIVE, 0)
    assert Connector.objects.get(evse__station=station).status == "Reserved"


def test_tc_h_17_a_reservation_cancelled_by_the_csms_ends_and_its_evse_is_available_again(ocpp_server, run):
    station = station_make(ocpp_version="2.0.1")
    id_token_create(uid="RES-CARD")

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            reserve, received = await sent_to(cp, station, "ReserveNow", reserve_now(171, evseId=1))
            await cp.ok("StatusNotification", status(1, "Reserved"))
            reserved = await db(lambda: Connector.objects.get(evse__station=station).status)()
            cancel, cancelled = await sent_to(
                cp, station, "CancelReservation", {"reservationId": received["id"]}
            )
            await cp.ok("StatusNotification", status(1, "Available"))
            return reserve, received, reserved, cancel, cancelled

    reserve, received, reserved, cancel, cancelled = run(scenario())
    assert received["evseId"] == 1 and "connectorType" not in received and reserved == "Reserved"
    assert cancelled == {"reservationId": 171}
    assert reserve.status == cancel.status == Command.Status.ACCEPTED
    assert reservation(station, 171).status == Reservation.Status.CANCELLED
    assert Connector.objects.get(evse__station=station).status == "Available"


def test_tc_h_19_a_card_of_the_reservations_group_may_use_the_reserved_evse(ocpp_server, run):
    station = station_make(ocpp_version="2.0.1")
    id_token_create(uid="RES-CARD", parent_id_tag=GROUP)
    id_token_create(uid="RES-PARTNER", parent_id_tag=GROUP)

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            command, received = await sent_to(
                cp,
                station,
                "ReserveNow",
                reserve_now(191, evseId=1, groupIdToken={"idToken": GROUP, "type": "Central"}),
            )
            await cp.ok("StatusNotification", status(1, "Reserved"))
            # another card of the group arrives: the station accepts it on the reserved EVSE
            partner = await cp.ok("Authorize", authorize("RES-PARTNER"))
            await cp.ok("StatusNotification", status(1, "Occupied"))
            started = await cp.ok(
                "TransactionEvent",
                {
                    **tx_event(
                        "Started", 0, "tx-h19", "Authorized", card="RES-PARTNER", chargingState="EVConnected"
                    ),
                    "reservationId": 191,
                },
            )
            return command, received, partner, started

    command, received, partner, started = run(scenario())
    assert received["groupIdToken"] == {"idToken": GROUP, "type": "Central"} and received["evseId"] == 1
    assert command.status == Command.Status.ACCEPTED
    assert partner["idTokenInfo"]["status"] == "Accepted"
    assert partner["idTokenInfo"]["groupIdToken"]["idToken"] == GROUP
    assert started["idTokenInfo"]["status"] == "Accepted"
    used = reservation(station, 191)
    assert (used.parent_id_tag, used.status) == (GROUP, Reservation.Status.USED)
    assert session(station, "tx-h19").reservation_id == 191


def test_tc_h_20_a_reservation_the_station_removes_when_its_evse_faults_ends(ocpp_server, run):
    station = station_make(ocpp_version="2.0.1")
    id_token_create(uid="RES-CARD")

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            command, received = await sent_to(cp, station, "ReserveNow", reserve_now(201, evseId=1))
            await cp.ok("StatusNotification", status(1, "Reserved"))
            await cp.ok("StatusNotification", status(1, "Faulted"))
            removed = await cp.ok(
                "ReservationStatusUpdate",
                {"reservationId": received["id"], "reservationUpdateStatus": "Removed"},
            )
            return command, removed

    command, removed = run(scenario())
    assert command.status == Command.Status.ACCEPTED and removed == {}
    ended = reservation(station, 201)
    assert (ended.status, ended.response_status) == (Reservation.Status.CANCELLED, "Removed")
    assert Connector.objects.get(evse__station=station).status == "Faulted"


def test_tc_h_22_a_station_configured_to_reject_reservations_leaves_the_reservation_refused(ocpp_server, run):
    station = station_make(ocpp_version="2.0.1")
    id_token_create(uid="RES-CARD")

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            return await sent_to(
                cp, station, "ReserveNow", reserve_now(221, evseId=1), {"status": "Rejected"}
            )

    command, received = run(scenario())
    assert received["evseId"] == 1
    assert command.status == Command.Status.REJECTED and command.response == {"status": "Rejected"}
    refused = reservation(station, 221)
    assert (refused.status, refused.response_status) == (Reservation.Status.REFUSED, "Rejected")
    assert Connector.objects.get(evse__station=station).status == "Available"
