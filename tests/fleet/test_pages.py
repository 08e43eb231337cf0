"""The fleet pages of the operator dashboard: upload an image, start a campaign, steer it, see a
station's firmware history and diagnostics; viewers look but do not touch."""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from fleet.models import Campaign, DiagnosticsRequest, FirmwareImage, FirmwarePublication
from stations.models import Command, Station

pytestmark = pytest.mark.django_db


@pytest.fixture
def olivia(client, operator):
    client.force_login(operator)
    return client


def test_an_operator_uploads_an_image_starts_a_campaign_and_pauses_it_from_the_pages(olivia):
    Station.objects.create(
        identity="PG-1", vendor="Alfen", model="Eve", firmware_version="1.0", is_online=True
    )
    Station.objects.create(identity="PG-2", vendor="Alfen", model="Eve", firmware_version="1.0")

    response = olivia.post(
        "/fleet/images/new/",
        {
            "vendor": "Alfen",
            "model": "Eve",
            "version": "2.0",
            "file": SimpleUploadedFile("eve.bin", b"image"),
        },
    )
    assert response.status_code == 302
    image = FirmwareImage.objects.get()
    home = olivia.get("/fleet/").content.decode()
    assert "Alfen" in home and "2.0" in home

    response = olivia.post(
        "/fleet/campaigns/new/",
        {
            "name": "Eve 2.0",
            "image": image.pk,
            "waves": "1, rest",
            "max_failure_rate": "10",
            "max_retries": "1",
        },
    )
    campaign = Campaign.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/fleet/campaigns/{campaign.pk}/"
    page = olivia.get(f"/fleet/campaigns/{campaign.pk}/").content.decode()
    assert "Wave 1" in page and "Wave 2" in page and "PG-1" in page and "PG-2" in page
    assert re.search(r'data-campaign-status="running"', page)

    olivia.post(f"/fleet/campaigns/{campaign.pk}/pause/")
    campaign.refresh_from_db()
    assert campaign.status == "paused"
    fragment = olivia.get(f"/fleet/campaigns/{campaign.pk}/?fragment=body").content.decode()
    assert ">Resume</button>" in fragment and ">Pause</button>" not in fragment


def test_a_campaign_form_with_a_station_of_another_model_shows_why_and_creates_nothing(olivia):
    image = FirmwareImage.objects.create(
        vendor="Alfen", model="Eve", version="2.0", file_name="e.bin", size=1, sha256="0" * 64
    )
    Station.objects.create(identity="OM-1", vendor="ABB", model="Terra")
    response = olivia.post(
        "/fleet/campaigns/new/",
        {"name": "x", "image": image.pk, "stations": "OM-1", "max_failure_rate": "10"},
    )
    assert response.status_code == 200
    assert "another vendor or model: OM-1" in response.content.decode()
    assert not Campaign.objects.exists()


def test_the_station_page_loads_its_firmware_and_diagnostics_part(olivia):
    Station.objects.create(identity="SP-1", vendor="Alfen", model="Eve", firmware_version="1.0")
    page = olivia.get("/stations/SP-1/").content.decode()
    assert 'hx-get="/fleet/stations/SP-1/"' in page

    part = olivia.get("/fleet/stations/SP-1/").content.decode()
    assert "Version 1.0" in part and "Collect diagnostics" in part

    response = olivia.post("/fleet/stations/SP-1/diagnostics/", {"transport": "http"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert DiagnosticsRequest.objects.count() == 1
    assert Command.objects.get().action == "GetDiagnostics"
    assert 'data-status="requested"' in response.content.decode()


def test_a_viewer_sees_the_pages_but_has_no_buttons_and_cannot_collect(client, viewer):
    Station.objects.create(identity="V-1")
    client.force_login(viewer)
    assert client.get("/fleet/").status_code == 200
    assert "Collect diagnostics" not in client.get("/fleet/stations/V-1/").content.decode()
    assert client.post("/fleet/stations/V-1/diagnostics/").status_code == 403
    assert not DiagnosticsRequest.objects.exists()


def _image() -> FirmwareImage:
    from django.core.files.base import ContentFile

    from fleet import services

    return services.firmware_image_create(
        vendor="Alfen", model="Eve", version="3.0", file=ContentFile(b"image-bytes", name="eve.bin")
    )


def test_a_2_0_1_stations_part_offers_publishing_and_a_1_6_stations_does_not(olivia):
    _image()
    Station.objects.create(identity="LC-1", ocpp_version="2.0.1")
    Station.objects.create(identity="CP16-1", ocpp_version="1.6")

    controller = olivia.get("/fleet/stations/LC-1/").content.decode()
    assert "Published firmware" in controller and "Publish firmware" in controller
    assert "Alfen Eve 3.0" in controller
    assert "Published firmware" not in olivia.get("/fleet/stations/CP16-1/").content.decode()


def test_the_publish_form_without_an_image_shows_why_and_sends_nothing(olivia):
    _image()
    Station.objects.create(identity="LC-2", ocpp_version="2.0.1")

    response = olivia.post("/fleet/stations/LC-2/firmware/publish/", {"image": ""}, HTTP_HX_REQUEST="true")

    assert response.status_code == 200 and "choose a firmware image" in response.content.decode()
    assert not FirmwarePublication.objects.exists() and not Command.objects.exists()


def test_a_viewer_sees_publications_but_cannot_publish_or_unpublish(client, viewer, operator):
    from fleet import services

    image = _image()
    station = Station.objects.create(identity="LC-3", ocpp_version="2.0.1")
    publication = services.firmware_publish(station=station, image=image, requested_by=operator)
    client.force_login(viewer)

    part = client.get("/fleet/stations/LC-3/").content.decode()
    assert publication.checksum in part
    assert "Publish firmware" not in part and "Unpublish</button>" not in part
    assert client.post("/fleet/stations/LC-3/firmware/publish/", {"image": image.pk}).status_code == 403
    unpublish = f"/fleet/stations/LC-3/firmware/publications/{publication.uuid}/unpublish/"
    assert client.post(unpublish).status_code == 403
    assert FirmwarePublication.objects.count() == 1
    assert list(Command.objects.values_list("action", flat=True)) == ["PublishFirmware"]
