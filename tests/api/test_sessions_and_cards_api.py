"""Sessions, meter values, id tokens and drivers: drivers see only their own, as on the account page."""

from datetime import UTC, datetime, timedelta

import pytest

from rfid.models import IdToken
from rfid.services import id_token_create
from stations.models import MeterSample, Session

pytestmark = pytest.mark.django_db

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def sessions(station, driver, other_driver):
    dana = id_token_create(uid="DANA-1", driver=driver)
    bob = id_token_create(uid="BOB-1", driver=other_driver)
    made = {}
    for n, (name, token) in enumerate([("dana", dana), ("bob", bob), ("dana2", dana)]):
        made[name] = Session.objects.create(
            station=station,
            transaction_id=str(n + 1),
            id_token=token,
            id_tag=token.uid,
            started_at=T0 + timedelta(hours=n),
            status="completed" if n < 2 else "active",
        )
    return made


def _ids(response) -> list[int]:
    assert response.status_code == 200, response.json()
    return [s["id"] for s in response.json()["results"]]


def test_a_driver_sees_only_the_sessions_of_their_own_cards(driver_api, sessions):
    assert _ids(driver_api.get("/api/v1/sessions/")) == [sessions["dana2"].pk, sessions["dana"].pk]
    assert driver_api.get(f"/api/v1/sessions/{sessions['bob'].pk}/").status_code == 404
    assert driver_api.get(f"/api/v1/sessions/{sessions['bob'].pk}/meter-values/").status_code == 404


def test_sessions_are_filtered_by_status_station_and_time(operator_api, sessions):
    after = (T0 + timedelta(minutes=30)).isoformat().replace("+00:00", "Z")

    assert _ids(operator_api.get("/api/v1/sessions/?status=active")) == [sessions["dana2"].pk]
    assert len(_ids(operator_api.get("/api/v1/sessions/?station=CP-1"))) == 3
    assert _ids(operator_api.get("/api/v1/sessions/?station=CP-2")) == []
    assert _ids(operator_api.get(f"/api/v1/sessions/?started_after={after}&status=completed")) == [
        sessions["bob"].pk
    ]
    assert operator_api.get("/api/v1/sessions/?started_after=yesterday").status_code == 400


def test_cursor_pages_walk_every_session_once(operator_api, sessions):
    seen, url = [], "/api/v1/sessions/?page_size=2"
    while url:
        page = operator_api.get(url).json()
        seen += [s["id"] for s in page["results"]]
        url = page["next"]

    assert seen == [sessions["dana2"].pk, sessions["bob"].pk, sessions["dana"].pk]
    assert operator_api.get("/api/v1/sessions/?cursor=garbage").status_code == 404


def test_meter_values_of_a_session_come_oldest_first(driver_api, sessions, station):
    for minutes, wh in ((10, "1500"), (0, "1000")):
        MeterSample.objects.create(
            station=station,
            session=sessions["dana"],
            evse_id=1,
            timestamp=T0 + timedelta(minutes=minutes),
            unit="Wh",
            value=wh,
        )

    values = driver_api.get(f"/api/v1/sessions/{sessions['dana'].pk}/meter-values/").json()["results"]

    assert [v["value"] for v in values] == ["1000.0000", "1500.0000"]


def test_an_operator_issues_and_blocks_a_card(operator_api, driver):
    created = operator_api.post(
        "/api/v1/id-tokens/", {"uid": "04AABBCC", "driver": driver.pk, "label": "Work"}, format="json"
    )
    blocked = operator_api.patch(
        f"/api/v1/id-tokens/{created.json()['id']}/", {"status": "Blocked"}, format="json"
    )

    assert created.status_code == 201
    assert blocked.status_code == 200
    assert blocked.json()["status"] == "Blocked"
    assert IdToken.objects.get(uid="04AABBCC").status == "Blocked"


def test_a_card_uid_in_use_is_refused_case_insensitively(operator_api):
    id_token_create(uid="04AABBCC")

    response = operator_api.post("/api/v1/id-tokens/", {"uid": "04aabbcc"}, format="json")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "id_token_refused"
    assert IdToken.objects.count() == 1


def test_a_driver_sees_their_own_cards_only_and_cannot_change_them(driver_api, driver, other_driver):
    mine = id_token_create(uid="MINE", driver=driver)
    theirs = id_token_create(uid="THEIRS", driver=other_driver)

    assert [t["uid"] for t in driver_api.get("/api/v1/id-tokens/").json()["results"]] == ["MINE"]
    assert driver_api.get(f"/api/v1/id-tokens/{theirs.pk}/").status_code == 404
    assert (
        driver_api.patch(f"/api/v1/id-tokens/{mine.pk}/", {"status": "Blocked"}, format="json").status_code
        == 403
    )
    assert driver_api.post("/api/v1/id-tokens/", {"uid": "NEW"}, format="json").status_code == 403
    mine.refresh_from_db()
    assert mine.status == "Accepted" and not IdToken.objects.filter(uid="NEW").exists()


def test_id_tokens_are_filtered_by_uid_and_status(operator_api):
    id_token_create(uid="A1")
    id_token_create(uid="B1", status="Blocked")

    assert [t["uid"] for t in operator_api.get("/api/v1/id-tokens/?status=Blocked").json()["results"]] == [
        "B1"
    ]
    assert [t["uid"] for t in operator_api.get("/api/v1/id-tokens/?uid=a1").json()["results"]] == ["A1"]


def test_a_driver_sees_their_own_account_and_not_another(driver_api, driver, other_driver, viewer_api):
    assert [d["id"] for d in driver_api.get("/api/v1/drivers/").json()["results"]] == [driver.pk]
    assert driver_api.get(f"/api/v1/drivers/{other_driver.pk}/").status_code == 404
    assert len(viewer_api.get("/api/v1/drivers/").json()["results"]) == 2


def test_tariffs_are_readable_by_drivers_but_not_writable(driver_api):
    from billing.models import Tariff

    Tariff.objects.create(code="STD", name="Standard")

    assert [t["code"] for t in driver_api.get("/api/v1/tariffs/").json()["results"]] == ["STD"]
    assert driver_api.post("/api/v1/tariffs/", {}, format="json").status_code == 403


def test_a_time_filter_with_any_utc_offset_is_answered(operator_api, db):
    # PostgreSQL refuses offsets beyond ±15:59; ISO 8601 lets a client send them.
    response = operator_api.get("/api/v1/sessions/", {"started_after": "2026-02-26T13:40:08-18:59"})

    assert response.status_code == 200, response.content
