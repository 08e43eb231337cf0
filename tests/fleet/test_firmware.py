"""Firmware images, download links and campaign rules on the real database, and the API's answers
to bad input (each refused with a clear error and nothing stored)."""

import hashlib
from datetime import time, timedelta

import pytest
from django.core.files.base import ContentFile
from django.test import override_settings
from django.utils import timezone

from fleet import services
from fleet.models import Campaign, CampaignEvent, CampaignStation, FirmwareImage
from stations.models import Command, Location, Station

IMAGE = b"firmware " * 1000


def make_station(identity: str, *, vendor="Alfen", model="Eve", version="1.0", online=True, location=None):
    return Station.objects.create(
        identity=identity,
        vendor=vendor,
        model=model,
        firmware_version=version,
        is_online=online,
        channel_name="",
        location=location,
    )


@pytest.fixture
def image(db):
    return services.firmware_image_create(
        vendor="Alfen", model="Eve", version="2.0", file=ContentFile(IMAGE, name="eve-2.0.bin")
    )


def firmware_commands(station):
    return Command.objects.filter(station=station, action__in=["UpdateFirmware", "SignedUpdateFirmware"])


# ---- images ----------------------------------------------------------------------------------


def test_an_uploaded_image_gets_its_checksum_and_is_stored(image):
    assert image.sha256 == hashlib.sha256(IMAGE).hexdigest()
    assert image.size == len(IMAGE)
    assert image.file.read() == IMAGE


def test_a_corrupted_upload_is_refused_by_its_checksum_and_nothing_is_stored(operator_api):
    response = operator_api.post(
        "/api/v1/firmware-images/",
        {
            "vendor": "Alfen",
            "model": "Eve",
            "version": "3.0",
            "sha256": "0" * 64,
            "file": ContentFile(IMAGE, "x.bin"),
        },
        format="multipart",
    )
    assert response.status_code == 400
    assert "checksum mismatch" in response.json()["error"]["message"]
    assert not FirmwareImage.objects.exists()


def test_the_api_uploads_an_image_and_refuses_the_same_version_twice(operator_api):
    def upload():
        return operator_api.post(
            "/api/v1/firmware-images/",
            {"vendor": "Alfen", "model": "Eve", "version": "3.0", "file": ContentFile(IMAGE, "eve.bin")},
            format="multipart",
        )

    first = upload()
    assert first.status_code == 201, first.content
    assert first.json()["sha256"] == hashlib.sha256(IMAGE).hexdigest()
    second = upload()
    assert second.status_code == 400 and "already stored" in second.json()["error"]["message"]
    assert FirmwareImage.objects.count() == 1


def test_a_viewer_may_not_upload_images(viewer_api):
    response = viewer_api.post(
        "/api/v1/firmware-images/",
        {"vendor": "A", "model": "B", "version": "1", "file": ContentFile(b"x", "x.bin")},
        format="multipart",
    )
    assert response.status_code == 403


# ---- download links --------------------------------------------------------------------------


def test_a_station_downloads_its_image_whole_or_resumes_with_a_range(client, image):
    station = make_station("DL-1")
    url = services.firmware_download_url(image=image, station=station)
    path = url.split("://", 1)[1].split("/", 1)[1]

    whole = client.get(f"/{path}")
    assert whole.status_code == 200
    assert b"".join(whole.streaming_content) == IMAGE
    assert whole["Accept-Ranges"] == "bytes" and whole["X-Firmware-Version"] == "2.0"

    part = client.get(f"/{path}", HTTP_RANGE="bytes=100-199")
    assert part.status_code == 206
    assert part["Content-Range"] == f"bytes 100-199/{len(IMAGE)}"
    assert b"".join(part.streaming_content) == IMAGE[100:200]

    rest = client.get(f"/{path}", HTTP_RANGE="bytes=8000-")
    assert b"".join(rest.streaming_content) == IMAGE[8000:]
    tail = client.get(f"/{path}", HTTP_RANGE="bytes=-10")
    assert b"".join(tail.streaming_content) == IMAGE[-10:]

    beyond = client.get(f"/{path}", HTTP_RANGE=f"bytes={len(IMAGE)}-")
    assert beyond.status_code == 416 and beyond["Content-Range"] == f"bytes */{len(IMAGE)}"


def test_a_forged_or_expired_download_link_is_refused(client, image):
    station = make_station("DL-2")
    url = services.firmware_download_url(image=image, station=station)
    token = url.split("/fleet/firmware/", 1)[1].split("/", 1)[0]
    forged = client.get(f"/fleet/firmware/{token[:-2]}xx/eve-2.0.bin")
    assert forged.status_code == 403 and b"not valid" in forged.content
    with override_settings(FLEET_DOWNLOAD_TOKEN_SECONDS=-1):
        expired = client.get(f"/fleet/firmware/{token}/eve-2.0.bin")
    assert expired.status_code == 403 and b"expired" in expired.content


# ---- campaigns -------------------------------------------------------------------------------


def test_waves_are_counts_percentages_and_the_rest():
    assert services._wave_sizes(["1", "10%", "rest"], 20) == [1, 2, 17]
    assert services._wave_sizes(["1", "25%", "rest"], 20) == [1, 5, 14]
    assert services._wave_sizes(["5"], 3) == [3]
    assert services._wave_sizes(["1", "1"], 5) == [1, 4]  # the last wave takes what is left
    for bad in (["rest", "1"], ["0"], ["150%"], ["many"]):
        with pytest.raises(services.FleetError):
            services._wave_sizes(bad, 10)


def test_a_campaign_for_stations_of_another_model_is_refused_and_nothing_is_created(operator_api, image):
    make_station("WM-1")
    make_station("WM-2", model="Pro")
    response = operator_api.post(
        "/api/v1/firmware-campaigns/",
        {"name": "x", "image": image.pk, "stations": ["WM-1", "WM-2"]},
        format="json",
    )
    assert response.status_code == 400
    assert "WM-2" in response.json()["error"]["message"]
    assert not Campaign.objects.exists() and not Command.objects.exists()


def test_a_campaign_starts_its_canary_only_and_spells_the_command_per_version(image, operator):
    a = make_station("C-1")
    b = make_station("C-2")
    c = make_station("C-3")
    Station.objects.filter(pk=c.pk).update(ocpp_version="2.0.1")
    campaign = services.campaign_create(name="r", image=image, waves=["1", "rest"], created_by=operator)

    services.campaign_advance(campaign_id=campaign.pk)

    (command,) = firmware_commands(a)
    assert command.action == "UpdateFirmware" and set(command.payload) == {"location", "retrieveDate"}
    assert "/fleet/firmware/" in command.payload["location"]
    assert not firmware_commands(b).exists() and not firmware_commands(c).exists()
    # running it again sends nothing twice
    services.campaign_advance(campaign_id=campaign.pk)
    assert firmware_commands(a).count() == 1

    # when the canary installs and boots with the new version, the second wave starts
    services.campaign_station_report(station_id=a.pk, status="Installed")
    Station.objects.filter(pk=a.pk).update(firmware_version="2.0")
    services.campaign_station_booted(station_id=a.pk)
    services.campaign_advance(campaign_id=campaign.pk)
    campaign.refresh_from_db()
    assert campaign.current_wave == 2
    (v201,) = firmware_commands(c)
    assert v201.payload["firmware"]["location"] and isinstance(v201.payload["requestId"], int)


def test_an_unknown_firmware_status_changes_nothing_but_the_timeline(image):
    station = make_station("U-1")
    campaign = services.campaign_create(name="u", image=image)
    services.campaign_advance(campaign_id=campaign.pk)
    services.campaign_station_report(station_id=station.pk, status="Downloading")

    services.campaign_station_report(station_id=station.pk, status="Teleporting")

    row = CampaignStation.objects.get(station=station)
    assert row.status == "downloading"
    assert CampaignEvent.objects.filter(message__contains="unknown firmware status 'Teleporting'").exists()


def test_a_halted_campaign_sends_nothing_more(image):
    stations = [make_station(f"H-{n}") for n in range(1, 5)]
    campaign = services.campaign_create(
        name="h", image=image, waves=["2", "rest"], max_failure_rate=0, max_retries=0
    )
    services.campaign_advance(campaign_id=campaign.pk)
    services.campaign_station_report(station_id=stations[0].pk, status="DownloadFailed")

    services.campaign_advance(campaign_id=campaign.pk)
    services.campaign_station_report(station_id=stations[1].pk, status="Installed")
    Station.objects.filter(pk=stations[1].pk).update(firmware_version="2.0")
    services.campaign_station_booted(station_id=stations[1].pk)
    services.campaign_advance(campaign_id=campaign.pk)

    campaign.refresh_from_db()
    assert campaign.status == "halted" and "wave 1: 1 of 2" in campaign.halted_reason
    assert not firmware_commands(stations[2]).exists() and not firmware_commands(stations[3]).exists()


def test_a_failure_is_retried_before_it_counts(image):
    station = make_station("R-1")
    campaign = services.campaign_create(name="r", image=image, max_retries=1, max_failure_rate=0)
    services.campaign_advance(campaign_id=campaign.pk)
    services.campaign_station_report(station_id=station.pk, status="InstallationFailed")
    services.campaign_advance(campaign_id=campaign.pk)

    campaign.refresh_from_db()
    row = CampaignStation.objects.get(station=station)
    assert campaign.status == "running" and row.status == "sent" and row.attempts == 2
    assert firmware_commands(station).count() == 2


def test_a_station_that_boots_the_old_version_after_installing_has_failed(image):
    station = make_station("B-1")
    campaign = services.campaign_create(name="b", image=image, max_retries=0, max_failure_rate=100)
    services.campaign_advance(campaign_id=campaign.pk)
    services.campaign_station_report(station_id=station.pk, status="Installed")

    services.campaign_station_booted(station_id=station.pk)

    row = CampaignStation.objects.get(station=station)
    assert row.status == "failed" and "booted with version 1.0, not 2.0" in row.failure_reason


def test_stations_wait_outside_the_window_while_charging_offline_or_busy_with_another_update(image):
    from stations.models import Session

    zone_location = Location.objects.create(name="Tokyo", time_zone="Asia/Tokyo")
    local_now = timezone.now().astimezone(timezone.get_fixed_timezone(9 * 60))
    start = (local_now + timedelta(hours=2)).time().replace(second=0, microsecond=0)
    end = (local_now + timedelta(hours=3)).time().replace(second=0, microsecond=0)
    outside = make_station("W-1", location=zone_location)
    charging = make_station("W-2")
    make_station("W-3", online=False)
    busy = make_station("W-4")
    Session.objects.create(
        station=charging,
        transaction_id="1",
        id_tag="x",
        status=Session.Status.ACTIVE,
        started_at=timezone.now(),
    )
    other = services.campaign_create(
        name="first", image=image, target=services.CampaignTarget(identities=["W-4"])
    )
    services.campaign_advance(campaign_id=other.pk)
    campaign = services.campaign_create(name="w", image=image, waves=["rest"])
    Campaign.objects.filter(pk=campaign.pk).update(window_start=start, window_end=end)

    # the window applies to W-1 only through its location; the others are inside any window
    services.campaign_advance(campaign_id=campaign.pk)
    reasons = dict(
        CampaignStation.objects.filter(campaign=campaign).values_list("station__identity", "waiting_reason")
    )
    assert reasons["W-1"].startswith("outside the update window")
    # everyone else is outside the Tokyo window too in UTC terms; open the window for them
    Campaign.objects.filter(pk=campaign.pk).update(window_start=None, window_end=None)
    services.campaign_advance(campaign_id=campaign.pk)
    reasons = dict(
        CampaignStation.objects.filter(campaign=campaign).values_list("station__identity", "waiting_reason")
    )
    assert reasons["W-2"].startswith("charging")
    assert reasons["W-3"].startswith("offline")
    assert reasons["W-4"] == "another campaign is busy with this station"
    assert firmware_commands(busy).count() == 1  # the first campaign's only
    assert firmware_commands(outside).count() == 1  # started once the window no longer applied


def test_a_window_past_midnight_wraps():
    campaign = Campaign(window_start=time(22, 0), window_end=time(4, 0))
    station = Station(identity="x")
    at = lambda h: timezone.now().replace(hour=h, minute=0)  # noqa: E731 - UTC station
    assert services._in_window(campaign, station, at(23)) and services._in_window(campaign, station, at(3))
    assert not services._in_window(campaign, station, at(12))


def test_pause_resume_cancel_and_retry_failed_through_the_api(operator_api, image):
    make_station("P-1")
    make_station("P-2")
    created = operator_api.post(
        "/api/v1/firmware-campaigns/", {"name": "p", "image": image.pk, "waves": ["1", "rest"]}, format="json"
    ).json()
    base = f"/api/v1/firmware-campaigns/{created['id']}"
    assert operator_api.post(f"{base}/pause/").json()["status"] == "paused"
    refused = operator_api.post(f"{base}/pause/")
    assert refused.status_code == 400 and "only a running campaign" in refused.json()["error"]["message"]
    assert operator_api.post(f"{base}/resume/").json()["status"] == "running"
    assert operator_api.post(f"{base}/retry-failed/").status_code == 400  # nothing failed
    cancelled = operator_api.post(f"{base}/cancel/").json()
    assert cancelled["status"] == "cancelled"
    assert {row["status"] for row in cancelled["stations"]} == {"cancelled"}


def test_a_boot_event_verifies_the_station_under_update_and_asks_nothing_for_the_others(image):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from chargenet.events import event_publish, events_dispatch_due
    from chargenet.models import Event
    from stations.common import _station_event

    updating = make_station("U-1")
    others = [make_station(f"O-{n}", model="Other") for n in range(3)]
    campaign = services.campaign_create(name="u", image=image, max_retries=0, max_failure_rate=100)
    services.campaign_advance(campaign_id=campaign.pk)
    services.campaign_station_report(station_id=updating.pk, status="Installed")
    events_dispatch_due()

    for station in others:
        event_publish("station.booted", _station_event(station, registration_status="Accepted"))
    with CaptureQueriesContext(connection) as queries:
        events_dispatch_due()
    # One read of the stations under update for the three boots, none per boot.
    assert len([q for q in queries if 'FROM "fleet_campaignstation"' in q["sql"]]) == 1

    Station.objects.filter(pk=updating.pk).update(firmware_version="2.0")
    updating.refresh_from_db()
    event_publish("station.booted", _station_event(updating, registration_status="Accepted"))
    events_dispatch_due()
    assert CampaignStation.objects.get(station=updating).status == "succeeded"
    assert not Event.objects.exclude(last_error="").exists()  # no subscriber failed on a boot
