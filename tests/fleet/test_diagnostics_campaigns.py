"""Campaign targets (stations, location, vendor/model, firmware version, tags) and diagnostics
campaigns: bulk collection of diagnostics and logs in waves on the campaign machinery, with files
listed per station, failed uploads retried, a halt on the failure rate; services, API and pages."""

import pytest
from django.core.files.base import ContentFile
from django.test import override_settings

from fleet import services
from fleet.models import Campaign, CampaignStation, DiagnosticsRequest
from stations.models import Command, Location, Station
from stations.services import station_tags_set

pytestmark = pytest.mark.django_db


def make_station(identity: str, *, tags=(), version="1.0", model="Eve", ocpp="1.6", location=None):
    station = Station.objects.create(
        identity=identity,
        vendor="Alfen",
        model=model,
        firmware_version=version,
        ocpp_version=ocpp,
        is_online=True,
        location=location,
    )
    if tags:
        station_tags_set(station=station, tags=tags)
    return station


def targeted(campaign: Campaign) -> list[str]:
    return sorted(campaign.stations.values_list("station__identity", flat=True))


def upload(row: CampaignStation, content: bytes = b"log lines\n") -> DiagnosticsRequest:
    """Upload a file the way a station does: with the one-time secret in the location it was given."""
    row.refresh_from_db()
    command = Command.objects.get(pk=row.command_id)
    location = command.payload.get("location") or command.payload["log"]["remoteLocation"]
    request_uuid, secret = location.rstrip("/").split("/")[-2:]
    return services.diagnostics_upload_receive(
        request_uuid=request_uuid,
        secret=secret,
        file=ContentFile(content),
        file_name="diag.log",
        size=len(content),
    )


def rows(campaign: Campaign) -> dict[str, CampaignStation]:
    return {row.station.identity: row for row in campaign.stations.select_related("station", "diagnostics")}


# ---- targets ---------------------------------------------------------------------------------


def test_tags_target_stations_with_any_or_all_of_them_and_other_criteria_narrow_the_set():
    north = Location.objects.create(name="North")
    make_station("T-1", tags=["pilot", "north"], location=north)
    make_station("T-2", tags=["pilot"])
    make_station("T-3", tags=["north"], version="0.9", location=north)
    make_station("T-4")

    def collect(**target):
        campaign = services.diagnostics_campaign_create(name="c", target=services.CampaignTarget(**target))
        Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.CANCELLED)
        return targeted(campaign)

    assert collect(tags=["pilot", "North"]) == ["T-1", "T-2", "T-3"]
    assert collect(tags=["pilot", "north"], tags_match="all") == ["T-1"]
    assert collect(tags=["north"], firmware_version="1.0") == ["T-1"]
    assert collect(location_id=north.pk) == ["T-1", "T-3"]
    assert collect(identities=["T-2", "T-4"], tags=["pilot"]) == ["T-2"]
    assert collect() == ["T-1", "T-2", "T-3", "T-4"]


def test_a_firmware_campaign_by_tag_takes_only_the_images_model_and_records_its_target():
    make_station("F-1", tags=["pilot"])
    make_station("F-2", tags=["pilot"], model="Other")
    make_station("F-3")
    image = services.firmware_image_create(
        vendor="Alfen", model="Eve", version="2.0", file=ContentFile(b"image", name="eve.bin")
    )

    campaign = services.campaign_create(
        name="pilot", image=image, target=services.CampaignTarget(tags=["pilot"])
    )

    assert targeted(campaign) == ["F-1"]
    assert campaign.target == {"vendor": "Alfen", "model": "Eve", "tags": ["pilot"], "tags_match": "any"}


@pytest.mark.parametrize(
    "target, message",
    [
        ({"tags": ["no;such"]}, "may hold only letters"),
        ({"tags": ["nobody-has-it"]}, "no station matches"),
        ({"identities": ["GHOST"]}, "unknown stations: GHOST"),
        ({"tags": ["pilot"], "tags_match": "some"}, "tags_match"),
    ],
)
def test_a_target_that_cannot_be_met_is_refused_and_nothing_is_stored(target, message):
    make_station("B-1", tags=["pilot"])

    with pytest.raises(services.FleetError, match=message):
        services.diagnostics_campaign_create(name="c", target=services.CampaignTarget(**target))

    assert not Campaign.objects.exists() and not Command.objects.exists()


# ---- diagnostics campaigns --------------------------------------------------------------------


def test_a_diagnostics_campaign_asks_each_wave_for_its_file_and_lists_what_arrives():
    # given three 1.6 stations and a 2.0.1 one
    for n in range(1, 4):
        make_station(f"D-{n}")
    make_station("D-4", ocpp="2.0.1")

    # when a campaign collects from all of them: one, then the rest
    campaign = services.diagnostics_campaign_create(name="collect", waves=["1", "rest"], max_retries=0)
    services.campaign_advance(campaign_id=campaign.pk)

    # then only the first wave is asked, with a one-time upload location
    assert list(Command.objects.values_list("station__identity", "action")) == [("D-1", "GetDiagnostics")]
    assert rows(campaign)["D-1"].status == "sent"

    # when its file arrives, the wave is done and the next one is asked (GetLog for the 2.0.1 station)
    received = upload(rows(campaign)["D-1"])
    services.campaign_advance(campaign_id=campaign.pk)
    assert rows(campaign)["D-1"].status == "succeeded"
    assert rows(campaign)["D-1"].diagnostics == received and received.file_name == "diag.log"
    actions = dict(Command.objects.values_list("station__identity", "action"))
    assert actions == {
        "D-1": "GetDiagnostics",
        "D-2": "GetDiagnostics",
        "D-3": "GetDiagnostics",
        "D-4": "GetLog",
    }

    # and once every file is in, the campaign completes
    for identity in ("D-2", "D-3", "D-4"):
        upload(rows(campaign)[identity])
    services.campaign_advance(campaign_id=campaign.pk)
    campaign.refresh_from_db()
    assert campaign.status == "completed"
    assert all(row.diagnostics.file for row in rows(campaign).values())


def test_a_failed_upload_is_retried_with_a_new_request_and_then_counts_towards_a_halt():
    make_station("R-1")
    make_station("R-2")
    campaign = services.diagnostics_campaign_create(
        name="retry", waves=["1", "rest"], max_retries=1, max_failure_rate=0
    )
    services.campaign_advance(campaign_id=campaign.pk)
    first = rows(campaign)["R-1"].diagnostics

    # when the station reports the upload failed
    services.diagnostics_station_report(
        station_id=first.station_id, kind="diagnostics", status="UploadFailed", request_id=None
    )

    # then it is asked again with a new request; the old location is used up
    services.campaign_advance(campaign_id=campaign.pk)
    row = rows(campaign)["R-1"]
    assert row.status == "sent" and row.attempts == 2 and row.diagnostics != first
    first.refresh_from_db()
    assert first.status == "failed" and first.secret_hash == ""

    # when the retry fails too, the station has failed and the campaign halts before wave 2
    services.diagnostics_station_report(
        station_id=first.station_id, kind="diagnostics", status="UploadFailed", request_id=None
    )
    services.campaign_advance(campaign_id=campaign.pk)
    campaign.refresh_from_db()
    assert campaign.status == "halted" and "wave 1: 1 of 1" in campaign.halted_reason
    assert not Command.objects.filter(station__identity="R-2").exists()


def test_a_station_that_refuses_the_request_fails_the_attempt():
    station = make_station("X-1")
    campaign = services.diagnostics_campaign_create(name="refused", max_retries=0, max_failure_rate=100)
    services.campaign_advance(campaign_id=campaign.pk)
    command = Command.objects.get(station=station)
    Command.objects.filter(pk=command.pk).update(status="error", error="NotSupported")

    services.campaign_command_finished(command_uuid=str(command.uuid), status="error")

    row = rows(campaign)["X-1"]
    assert row.status == "failed" and "NotSupported" in row.failure_reason


def test_a_firmware_report_does_not_touch_a_diagnostics_step():
    station = make_station("M-1")
    campaign = services.diagnostics_campaign_create(name="mixed")
    services.campaign_advance(campaign_id=campaign.pk)

    services.campaign_station_report(station_id=station.pk, status="InstallationFailed")
    services.campaign_station_booted(station_id=station.pk)

    assert rows(campaign)["M-1"].status == "sent"


@override_settings(FLEET_FTP_ENABLED=False)
def test_ftp_while_the_ftp_server_is_off_is_refused():
    make_station("P-1")
    with pytest.raises(services.FleetError, match="FTP server is turned off"):
        services.diagnostics_campaign_create(name="ftp", transport="ftp")
    assert not Campaign.objects.exists()


# ---- the API and the pages ---------------------------------------------------------------------


def test_the_api_starts_a_diagnostics_campaign_by_tag_and_shows_each_stations_file(operator_api):
    make_station("A-1", tags=["north"])
    make_station("A-2")

    response = operator_api.post(
        "/api/v1/diagnostics-campaigns/",
        {"name": "north logs", "tags": ["north"], "since": "2026-01-01T00:00:00Z", "waves": ["rest"]},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["kind"] == "diagnostics" and body["image"] is None
    assert [s["identity"] for s in body["stations"]] == ["A-1"]

    campaign = Campaign.objects.get()
    services.campaign_advance(campaign_id=campaign.pk)
    assert Command.objects.get().payload["startTime"] == "2026-01-01T00:00:00Z"
    upload(rows(campaign)["A-1"], b"the file")

    detail = operator_api.get(f"/api/v1/diagnostics-campaigns/{campaign.pk}/").json()
    station = detail["stations"][0]
    assert station["status"] == "succeeded" and station["diagnostics"]["file_name"] == "diag.log"
    assert operator_api.get(station["diagnostics"]["download_url"]).getvalue() == b"the file"
    # the firmware endpoints do not serve it
    assert operator_api.get(f"/api/v1/firmware-campaigns/{campaign.pk}/").status_code == 404
    listed = operator_api.get("/api/v1/diagnostics-campaigns/").json()
    assert [c["name"] for c in listed["results"]] == ["north logs"]

    services.campaign_advance(campaign_id=campaign.pk)
    response = operator_api.post(f"/api/v1/diagnostics-campaigns/{campaign.pk}/cancel/")
    assert response.status_code == 400 and "already completed" in response.json()["error"]["message"]


def test_the_api_refuses_a_bad_diagnostics_campaign_and_stores_nothing(operator_api):
    make_station("A-1")

    bad_tag = operator_api.post(
        "/api/v1/diagnostics-campaigns/", {"name": "x", "tags": ["a b;"]}, format="json"
    )
    bad_window = operator_api.post(
        "/api/v1/diagnostics-campaigns/",
        {"name": "x", "since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"},
        format="json",
    )

    assert bad_tag.status_code == 400 and "may hold only letters" in bad_tag.json()["error"]["message"]
    assert bad_window.status_code == 400 and "end after it starts" in bad_window.json()["error"]["message"]
    assert not Campaign.objects.exists()


def test_an_operator_starts_a_diagnostics_campaign_from_the_page_and_downloads_a_file(client, operator):
    make_station("W-1", tags=["pilot"])
    make_station("W-2")
    client.force_login(operator)

    form = client.get("/fleet/campaigns/new/?kind=diagnostics").content.decode()
    assert "New diagnostics campaign" in form and 'name="image"' not in form
    response = client.post(
        "/fleet/campaigns/new/?kind=diagnostics",
        {"name": "pilot logs", "tags": "pilot", "tags_match": "any", "waves": "rest", "transport": "http"},
    )
    assert response.status_code == 302, response.content.decode()
    campaign = Campaign.objects.get()
    assert campaign.kind == "diagnostics" and targeted(campaign) == ["W-1"]

    services.campaign_advance(campaign_id=campaign.pk)
    received = upload(rows(campaign)["W-1"])
    page = client.get(response["Location"]).content.decode()
    link = f"/fleet/diagnostics/{received.uuid}/file/"
    assert link in page and "diagnostics_campaign." in page
    assert client.get(link).getvalue() == b"log lines\n"
    assert "pilot logs" in client.get("/fleet/").content.decode()


def test_a_viewer_cannot_start_a_diagnostics_campaign(client, viewer):
    make_station("V-1")
    client.force_login(viewer)

    response = client.post("/fleet/campaigns/new/?kind=diagnostics", {"name": "no", "waves": "rest"})

    assert response.status_code == 403
    assert not Campaign.objects.exists()
