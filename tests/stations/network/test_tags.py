"""Station tags: set on the station page, in bulk from the station list and through the API; the
list and the API filter by them; bad tags are refused and change nothing."""

import pytest
from django.urls import reverse

from stations.models import Station, Tag
from stations.services import StationError, location_create, station_tags_change, station_tags_set
from tests.api.conftest import _client_for
from tests.stations.dashboard.conftest import make_station


@pytest.fixture
def olivia_api(operator):
    return _client_for(operator)


@pytest.fixture
def victor_api(viewer):
    return _client_for(viewer)


def tags_of(identity: str) -> list[str]:
    return sorted(Station.objects.get(identity=identity).tags.values_list("name", flat=True))


@pytest.mark.django_db
def test_tags_are_normalised_and_replace_the_old_ones():
    station = make_station("CP-1")
    station_tags_set(station=station, tags=["Pilot", "Garage North", "pilot"])

    assert tags_of("CP-1") == ["garage-north", "pilot"]

    station_tags_set(station=station, tags=["north"])
    assert tags_of("CP-1") == ["north"]
    # a tag no station carries any more is gone from the filter choices
    assert list(Tag.objects.values_list("name", flat=True)) == ["north"]


@pytest.mark.django_db
@pytest.mark.parametrize("bad", ["", "x" * 41, "semi;colon", "ünïcode"])
def test_a_malformed_tag_is_refused_and_nothing_changes(bad):
    station = make_station("CP-1")
    station_tags_set(station=station, tags=["pilot"])

    with pytest.raises(StationError):
        station_tags_set(station=station, tags=["fine", bad])

    assert tags_of("CP-1") == ["pilot"]


@pytest.mark.django_db
def test_bulk_tagging_adds_and_removes_on_every_station_given():
    one, two = make_station("CP-1"), make_station("CP-2")
    station_tags_set(station=one, tags=["old"])

    station_tags_change(stations=[one, two], add=["Pilot"])
    assert tags_of("CP-1") == ["old", "pilot"] and tags_of("CP-2") == ["pilot"]

    station_tags_change(stations=[one, two], remove=["old", "pilot"])
    assert tags_of("CP-1") == [] and tags_of("CP-2") == []


@pytest.mark.django_db
def test_bulk_tagging_past_the_limit_is_refused_as_a_whole():
    one, two = make_station("CP-1"), make_station("CP-2")
    station_tags_set(station=one, tags=[f"t{n}" for n in range(20)])

    with pytest.raises(StationError, match="at most 20 tags: CP-1"):
        station_tags_change(stations=[one, two], add=["one-more"])

    assert tags_of("CP-2") == [] and len(tags_of("CP-1")) == 20


# ---- the API ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_api_sets_tags_shows_them_and_filters_by_them(olivia_api):
    make_station("CP-1")
    make_station("CP-2")
    make_station("CP-3")

    response = olivia_api.patch("/api/v1/stations/CP-1/", {"tags": ["Pilot", "north"]}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["tags"] == ["north", "pilot"]
    olivia_api.patch("/api/v1/stations/CP-2/", {"tags": ["north"]}, format="json")

    def listed(query: str) -> list[str]:
        response = olivia_api.get(f"/api/v1/stations/?{query}")
        assert response.status_code == 200, response.content
        return [s["identity"] for s in response.json()["results"]]

    assert listed("tag=pilot") == ["CP-1"]
    assert listed("tag=north") == ["CP-1", "CP-2"]
    assert listed("tag=pilot,north") == ["CP-1", "CP-2"]  # any of them
    assert listed("tag=Pilot") == ["CP-1"]  # as normalised
    assert listed("tag=nobody") == []
    assert listed("tag=bad;tag") == []


@pytest.mark.django_db
def test_the_api_refuses_a_malformed_tag_and_changes_nothing(olivia_api):
    station = make_station("CP-1")
    station_tags_set(station=station, tags=["pilot"])

    response = olivia_api.patch(
        "/api/v1/stations/CP-1/", {"tags": ["ok", "no;no"], "name": "X"}, format="json"
    )

    assert response.status_code == 400
    assert "tags" in response.content.decode()
    assert tags_of("CP-1") == ["pilot"]
    assert Station.objects.get(identity="CP-1").name == ""


@pytest.mark.django_db
def test_a_viewer_cannot_change_tags(victor_api):
    make_station("CP-1")

    response = victor_api.patch("/api/v1/stations/CP-1/", {"tags": ["pilot"]}, format="json")

    assert response.status_code == 403
    assert tags_of("CP-1") == []


# ---- the dashboard ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_station_page_form_sets_the_tags_shown_in_its_header(client, operator):
    make_station("CP-1")
    client.force_login(operator)

    response = client.post(reverse("station-tags", args=["CP-1"]), {"tags": "Pilot, garage-north"})

    assert response.status_code == 302
    assert tags_of("CP-1") == ["garage-north", "pilot"]
    page = client.get(reverse("station-detail", args=["CP-1"])).content.decode()
    assert '?tag=garage-north">garage-north</a>' in page and 'value="garage-north pilot"' in page


@pytest.mark.django_db
def test_the_station_page_form_shows_why_a_tag_is_refused(client, operator):
    make_station("CP-1")
    client.force_login(operator)

    response = client.post(reverse("station-tags", args=["CP-1"]), {"tags": "semi;colon"}, follow=True)

    assert "may hold only letters" in response.content.decode()
    assert tags_of("CP-1") == []


@pytest.mark.django_db
def test_the_list_tags_every_station_its_filter_matches_and_filters_by_tag(client, operator):
    garage = location_create(name="Garage")
    make_station("CP-1", location=garage)
    make_station("CP-2", location=garage)
    make_station("CP-3")
    client.force_login(operator)

    # when the operator tags what the location filter shows
    response = client.post(
        reverse("station-list-tags"),
        {"location": str(garage.pk), "bulk_tag": "Garage-Night", "change": "add"},
    )

    # then those stations carry the tag, and the list filtered by it shows just them
    assert response.status_code == 302 and f"location={garage.pk}" in response["Location"]
    assert tags_of("CP-1") == tags_of("CP-2") == ["garage-night"] and tags_of("CP-3") == []
    page = client.get(reverse("station-list"), {"tag": "garage-night"}).content.decode()
    assert "CP-1" in page and "CP-2" in page and "CP-3" not in page
    assert "Tag the 2 stations this filter matches" in page

    # and removing it from the tag's own filter clears it
    client.post(
        reverse("station-list-tags"),
        {"tag_filter": "garage-night", "bulk_tag": "garage-night", "change": "remove"},
    )
    assert tags_of("CP-1") == tags_of("CP-2") == []


@pytest.mark.django_db
def test_a_viewer_cannot_tag_from_the_list(client, viewer):
    make_station("CP-1")
    client.force_login(viewer)

    response = client.post(reverse("station-list-tags"), {"bulk_tag": "pilot", "change": "add"})

    assert response.status_code == 403
    assert tags_of("CP-1") == []
