"""OCPP 2.0.1 Part 6, block L (firmware) cases not played elsewhere, each over a real socket against
the real server: secure firmware updates that meet another update or a transaction (L01), and a Local
Controller asked to publish an image and to take it back (L03 PublishFirmware, L04 UnpublishFirmware).
The CSMS side goes through what operators use (a campaign, the API, the station page's buttons); the
test station plays the Charging Station of the case. docs/ocpp-2.0.1-coverage.md maps every case."""

import hashlib
import time
import urllib.request
from urllib.parse import urlsplit

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import timezone

from chargenet.events import events_dispatch_due
from chargenet.models import Event
from fleet import services
from fleet.models import CampaignStation, FirmwarePublication
from stations.models import Command, Connector, Session, Station, StationProtocolState
from stations.services import command_wait
from tests.stations.connection.helpers import db, now_iso, sent_to, station_make
from tests.stations.devicemodel.helpers import BOOT, booted201

pytestmark = pytest.mark.django_db(transaction=True)

IMAGE = b"\x7fFIRMWARE" + bytes(range(256)) * 64
SIGNED = {
    "signingCertificate": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
    "signature": "c2lnbmF0dXJl",
}


def image_make(version: str = "2.0", **fields):
    return services.firmware_image_create(
        vendor=BOOT["chargingStation"]["vendorName"],
        model=BOOT["chargingStation"]["model"],
        version=version,
        file=ContentFile(IMAGE, name=f"ts2-{version}.bin"),
        **fields,
    )


def dispatch_all() -> None:
    """Play the worker: hand every committed event to its subscribers (fleet follows reports so).

    The package's live system runs a real worker on the same database and Redis, which may have
    claimed some of the events first (on PostgreSQL a dispatcher skips the events another holds):
    wait until it has delivered them too."""
    deadline = time.monotonic() + 20
    while True:
        if events_dispatch_due():
            continue
        if not pending_events_exist() or time.monotonic() > deadline:
            return
        time.sleep(0.05)


def pending_events_exist() -> bool:
    return Event.objects.filter(dispatched_at__isnull=True, next_attempt_at__lte=timezone.now()).exists()


def firmware_status(station: Station) -> tuple[str, int | None]:
    state = StationProtocolState.objects.filter(station=station).first()
    return (state.firmware_status, state.firmware_request_id) if state else ("", None)


async def statuses_send(cp, action: str, statuses: list[str], request_id: int) -> None:
    for status in statuses:
        assert await cp.ok(action, {"status": status, "requestId": request_id}) == {}


async def reboot_with(cp, version: str) -> dict:
    """InstallRebooting → BootNotification(FirmwareUpdate) → Available, as the case's station does."""
    boot = await cp.ok(
        "BootNotification",
        {
            "chargingStation": {**BOOT["chargingStation"], "firmwareVersion": version},
            "reason": "FirmwareUpdate",
        },
    )
    await cp.ok(
        "StatusNotification",
        {"timestamp": now_iso(), "connectorStatus": "Available", "evseId": 1, "connectorId": 1},
    )
    await cp.ok(
        "NotifyEvent",
        {
            "generatedAt": now_iso(),
            "seqNo": 0,
            "eventData": [
                {
                    "eventId": 1,
                    "timestamp": now_iso(),
                    "trigger": "Delta",
                    "actualValue": "Available",
                    "eventNotificationType": "CustomMonitor",
                    "component": {"name": "Connector", "evse": {"id": 1, "connectorId": 1}},
                    "variable": {"name": "AvailabilityState"},
                }
            ],
        },
    )
    return boot


UPDATE = {"location": "https://example.invalid/ts2.bin", "retrieveDateTime": "2026-01-01T00:00:00Z", **SIGNED}
INSTALL = ["Downloaded", "SignatureVerified", "Installing", "InstallRebooting"]


# ---- L01 Secure firmware update --------------------------------------------------------------


@pytest.mark.parametrize(
    "case, second_answer, second_status, installed_request",
    [
        ("TC_L_10", "AcceptedCanceled", Command.Status.ACCEPTED, 32),
        ("TC_L_11", "Rejected", Command.Status.REJECTED, 31),
    ],
)
def test_tc_l_10_a_second_update_that_cancels_the_first_is_accepted_tc_l_11_one_refused_leaves_the_first(
    ocpp_server, run, case, second_answer, second_status, installed_request
):
    station = station_make(ocpp_version="2.0.1")

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            # given an update under way
            first, _ = await sent_to(cp, station, "UpdateFirmware", {"requestId": 31, "firmware": UPDATE})
            await statuses_send(cp, "FirmwareStatusNotification", ["Downloading"], 31)
            # when the CSMS sends another and the station cancels the first (or cannot)
            second, received = await sent_to(
                cp,
                station,
                "UpdateFirmware",
                {"requestId": 32, "firmware": UPDATE},
                {"status": second_answer},
            )
            if installed_request == 32:
                await statuses_send(cp, "FirmwareStatusNotification", ["Downloading"], 32)
            await statuses_send(cp, "FirmwareStatusNotification", INSTALL, installed_request)
            boot = await reboot_with(cp, "2.0")
            await statuses_send(cp, "FirmwareStatusNotification", ["Installed"], installed_request)
            return first, second, received, boot

    first, second, received, boot = run(scenario())
    # then the second request carried the signing certificate, and its command shows the answer
    assert received["firmware"]["signingCertificate"] == SIGNED["signingCertificate"]
    assert first.status == Command.Status.ACCEPTED
    assert second.status == second_status and second.response == {"status": second_answer}
    # the station came back on the new firmware, and the update the station carried out is shown
    assert boot["status"] == "Accepted"
    assert Station.objects.get(pk=station.pk).firmware_version == "2.0"
    assert firmware_status(station) == ("Installed", installed_request)


def test_tc_l_13_a_campaign_that_may_update_while_charging_sends_a_signed_update_and_the_session_ends_first(
    ocpp_server, run
):
    station = station_make(ocpp_version="2.0.1")
    image = image_make(
        version="2.1", signing_certificate=SIGNED["signingCertificate"], signature=SIGNED["signature"]
    )
    started = {
        "eventType": "Started",
        "timestamp": now_iso(),
        "triggerReason": "ChargingStateChanged",
        "seqNo": 0,
        "transactionInfo": {"transactionId": "tx-l13", "chargingState": "Charging"},
        "evse": {"id": 1, "connectorId": 1},
    }

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            # given a transaction under way (EnergyTransferStarted)
            await cp.ok("TransactionEvent", started)
            # when the operator's campaign may update charging stations
            campaign = await db(services.campaign_create)(
                name="TC_L_13",
                image=image,
                target=services.CampaignTarget(identities=[station.identity]),
                allow_while_charging=True,
            )
            await db(services.campaign_advance)(campaign_id=campaign.pk)
            update = await cp.wait_call("UpdateFirmware")
            request_id = update["requestId"]
            # the station schedules the download and finishes the transaction first
            await statuses_send(cp, "FirmwareStatusNotification", ["DownloadScheduled"], request_id)
            await cp.ok(
                "StatusNotification",
                {"timestamp": now_iso(), "connectorStatus": "Unavailable", "evseId": 1, "connectorId": 1},
            )
            for seq_no, (event_type, trigger, info) in enumerate(
                [
                    ("Updated", "StopAuthorized", {"chargingState": "EVConnected"}),
                    ("Ended", "EVCommunicationLost", {"stoppedReason": "EVDisconnected"}),
                ],
                start=1,
            ):
                await cp.ok(
                    "TransactionEvent",
                    {
                        **started,
                        "eventType": event_type,
                        "timestamp": now_iso(),
                        "triggerReason": trigger,
                        "seqNo": seq_no,
                        "transactionInfo": {"transactionId": "tx-l13", **info},
                    },
                )
            await statuses_send(cp, "FirmwareStatusNotification", ["Downloading", *INSTALL], request_id)
            boot = await reboot_with(cp, "2.1")
            await statuses_send(cp, "FirmwareStatusNotification", ["Installed"], request_id)
            return campaign, update, boot

    campaign, update, boot = run(scenario())
    dispatch_all()
    # then ChargeNet sent the image's signed update to the charging station
    firmware = update["firmware"]
    assert firmware["signingCertificate"] == SIGNED["signingCertificate"]
    assert firmware["signature"] == SIGNED["signature"]
    assert urlsplit(firmware["location"]).path.endswith("/ts2-2.1.bin")
    # the session ended as the station said, the station is back on the new version
    session = Session.objects.get(station=station, transaction_id="tx-l13")
    assert session.stopped_at is not None and session.stop_reason == "EVDisconnected"
    assert boot["status"] == "Accepted"
    assert Connector.objects.get(evse__station=station).status == "Available"
    assert firmware_status(station) == ("Installed", update["requestId"])
    # and the campaign verified the update
    row = CampaignStation.objects.get(campaign=campaign, station=station)
    assert row.status == CampaignStation.Status.SUCCEEDED


# ---- L03 Publish firmware ---------------------------------------------------------------------


def publish_via_api(operator_api, station: Station, image) -> dict:
    response = operator_api.post(
        f"/api/v1/stations/{station.identity}/firmware-publications/", {"image": image.pk}, format="json"
    )
    assert response.status_code == 201, response.content
    return response.json()


def publications_via_api(operator_api, station: Station) -> list[dict]:
    response = operator_api.get(f"/api/v1/stations/{station.identity}/firmware-publications/")
    assert response.status_code == 200, response.content
    body = response.json()
    return body["results"] if isinstance(body, dict) else body


PUBLISHED_AT = "https://lc.local/firmware/ts2-2.0.bin"


@pytest.mark.parametrize(
    "case, statuses, outcome, error",
    [
        ("TC_L_17", ["Downloading", "Downloaded", "ChecksumVerified", "Published"], "published", ""),
        ("TC_L_19", ["Downloading", "Downloaded", "InvalidChecksum"], "failed", "InvalidChecksum"),
        ("TC_L_20", ["Downloading", "Downloaded", "ChecksumVerified", "PublishFailed"], "failed", "PublishFailed"),
        ("TC_L_24", ["Downloading", "DownloadFailed"], "failed", "DownloadFailed"),
    ],
)  # fmt: skip
def test_tc_l_17_a_local_controller_publishes_an_image_by_its_md5_and_tc_l_19_20_24_failures_show(
    ocpp_server, run, operator_api, case, statuses, outcome, error
):
    station = station_make(ocpp_version="2.0.1")
    image = image_make()

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            # when the operator publishes the image on the Local Controller through the API
            created = await db(publish_via_api)(operator_api, station, image)
            request = await cp.wait_call("PublishFirmware")
            for status in statuses:
                payload = {"status": status, "requestId": request["requestId"]}
                if status == "Published":
                    payload["location"] = [PUBLISHED_AT]
                assert await cp.ok("PublishFirmwareStatusNotification", payload) == {}
            return created, request

    created, request = run(scenario())
    dispatch_all()
    # then the station was told where to fetch the image and its MD5 (L03), and the link works
    assert request["checksum"] == hashlib.md5(IMAGE).hexdigest() == created["checksum"]
    assert request["requestId"] == created["request_id"] and request["location"] == created["location"]
    link = urlsplit(request["location"])
    with urllib.request.urlopen(f"{ocpp_server.base_url}{link.path}", timeout=10) as response:
        assert response.read() == IMAGE
    # the operator sees the publication's outcome as the station reported it
    (shown,) = publications_via_api(operator_api, station)
    assert (shown["status"], shown["station_status"]) == (outcome, statuses[-1])
    assert shown["locations"] == ([PUBLISHED_AT] if outcome == "published" else [])
    assert error in shown["error"]
    # a publication is about other stations' firmware: the controller's own firmware status is untouched
    assert firmware_status(station) == ("", None)


def test_a_publication_the_station_refuses_shows_refused(ocpp_server, run, operator_api):
    station = station_make(ocpp_version="2.0.1")
    image = image_make()

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            cp.responders["PublishFirmware"] = {"status": "Rejected"}
            created = await db(publish_via_api)(operator_api, station, image)
            await cp.wait_call("PublishFirmware")
            publication = await db(FirmwarePublication.objects.select_related("command").get)(
                uuid=created["id"]
            )
            return await db(command_wait)(command=publication.command, timeout=10)

    command = run(scenario())
    dispatch_all()
    assert command.status == Command.Status.REJECTED
    (shown,) = publications_via_api(operator_api, station)
    assert shown["status"] == "refused" and "Rejected" in shown["error"]


def test_only_a_2_0_1_station_publishes_firmware_and_nothing_is_stored_otherwise(operator_api):
    station = station_make(ocpp_version="1.6")
    image = image_make()
    response = operator_api.post(
        f"/api/v1/stations/{station.identity}/firmware-publications/", {"image": image.pk}, format="json"
    )
    assert response.status_code == 400 and "2.0.1" in response.json()["error"]["message"]
    assert not FirmwarePublication.objects.exists() and not Command.objects.exists()


# ---- L04 Unpublish firmware -------------------------------------------------------------------


@pytest.mark.parametrize(
    "case, answer, command_status, outcome, locations",
    [
        ("TC_L_21", "Unpublished", Command.Status.ACCEPTED, "unpublished", []),
        ("TC_L_22", "NoFirmware", Command.Status.REJECTED, "published", [PUBLISHED_AT]),
        ("TC_L_23", "DownloadOngoing", Command.Status.REJECTED, "published", [PUBLISHED_AT]),
    ],
)
def test_tc_l_21_the_station_pages_unpublish_button_takes_the_image_back_tc_l_22_23_refusals_show(
    ocpp_server, run, client, operator, case, answer, command_status, outcome, locations
):
    station = station_make(ocpp_version="2.0.1")
    image = image_make()
    client.force_login(operator)

    def press(url: str) -> int:
        return client.post(url, {"image": image.pk}, HTTP_HX_REQUEST="true").status_code

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            # given the image published through the station page's form
            assert await db(press)(reverse("fleet:firmware-publish", args=[station.identity])) == 200
            request = await cp.wait_call("PublishFirmware")
            await cp.ok(
                "PublishFirmwareStatusNotification",
                {"status": "Published", "requestId": request["requestId"], "location": [PUBLISHED_AT]},
            )
            await db(dispatch_all)()
            publication = await db(FirmwarePublication.objects.get)(station=station)
            # when the operator presses Unpublish and the station answers as the case says
            cp.responders["UnpublishFirmware"] = {"status": answer}
            url = reverse("fleet:firmware-unpublish", args=[station.identity, publication.uuid])
            assert await db(press)(url) == 200
            unpublish = await cp.wait_call("UnpublishFirmware")
            publication = await db(FirmwarePublication.objects.select_related("unpublish_command").get)(
                pk=publication.pk
            )
            command = await db(command_wait)(command=publication.unpublish_command, timeout=10)
            return request, unpublish, command

    request, unpublish, command = run(scenario())
    dispatch_all()
    # then UnpublishFirmware named the image by the MD5 it was published with
    assert unpublish == {"checksum": request["checksum"]} == {"checksum": hashlib.md5(IMAGE).hexdigest()}
    assert command.status == command_status and command.response == {"status": answer}
    publication = FirmwarePublication.objects.get(station=station)
    assert (publication.status, publication.unpublish_status, publication.locations) == (
        outcome,
        answer,
        locations,
    )
    # and the station page shows the answer
    page = client.get(reverse("fleet:station", args=[station.identity])).content.decode()
    assert answer in page and request["checksum"] in page
