"""A driver's GDPR request to every 2.0.1 station at once (N09/N10 across the network), over real
sockets: one durable CustomerInformation per station and card through the API, the stations' answers
and data per station, the offline station served when it connects, and the operator's pages."""

import asyncio

import pytest

from rfid.services import id_token_create
from stations.models import Command, CustomerDataRequest
from tests.stations.connection.helpers import now_iso, station_make
from tests.stations.devicemodel.helpers import booted201
from tests.stations.devicemodel.test_api import api, key  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)


def test_tc_n_10_a_drivers_data_is_cleared_on_every_2_0_1_station_and_each_answer_is_shown(
    ocpp_server,
    run,
    key,  # noqa: F811
    driver,
):
    # given a driver with two cards, two 2.0.1 stations online, one offline and a 1.6 station
    for uid in ("GDPR-A", "GDPR-B"):
        id_token_create(uid=uid, driver=driver)
    online = [station_make("GD", ocpp_version="2.0.1") for _ in range(2)]
    offline = station_make("GD", ocpp_version="2.0.1")
    old = station_make("GD", ocpp_version="1.6")
    call = lambda *a: asyncio.to_thread(api, ocpp_server.base_url, key, *a)  # noqa: E731

    async def answer_all(cp, data: str | None):
        """Wait for the two CustomerInformation calls; send `data` for each when given."""
        sent = [await cp.wait_call("CustomerInformation") for _ in range(2)]
        for request in sent:
            if data is not None:
                card = request["idToken"]["idToken"]
                await cp.ok(
                    "NotifyCustomerInformation",
                    {
                        "data": f"{data} {card}",
                        "seqNo": 0,
                        "generatedAt": now_iso(),
                        "requestId": request["requestId"],
                    },
                )
        return sent

    async def scenario():
        async with booted201(ocpp_server, online[0]) as first, booted201(ocpp_server, online[1]) as second:
            second.responders["CustomerInformation"] = {"status": "Rejected"}
            # when an operator asks every station to report and erase the driver's data
            status, created = await call(
                "POST", "/customer-data-requests/", {"driver": driver.pk, "report": True}
            )
            assert status == 201, created
            sent_first = await answer_all(first, "3 sessions of")
            sent_second = await answer_all(second, None)
            await asyncio.sleep(0.5)
            _, while_offline = await call("GET", f"/customer-data-requests/{created['id']}/")
        # and the offline station connects later
        async with booted201(ocpp_server, offline) as third:
            await answer_all(third, "nothing about")
            await asyncio.sleep(0.5)
        _, finally_ = await call("GET", f"/customer-data-requests/{created['id']}/")
        refused = await call("POST", "/customer-data-requests/", {"id_tokens": [], "clear": True})
        listed = await call("GET", f"/customer-data-requests/?driver={driver.pk}")
        return created, sent_first, sent_second, while_offline, finally_, refused, listed

    created, sent_first, sent_second, while_offline, finally_, refused, listed = run(scenario())
    # then each 2.0.1 station got one CustomerInformation per card: report and clear
    assert created["id_tokens"] == ["GDPR-A", "GDPR-B"] and created["driver"] == driver.pk
    assert sorted(s["idToken"]["idToken"] for s in sent_first) == ["GDPR-A", "GDPR-B"]
    assert all(s["report"] is True and s["clear"] is True for s in sent_first + sent_second)
    assert len(created["results"]) == 6
    # and the request shows each station's answer and data; the offline one waits, then answers
    rows = {(r["station"], r["id_token"]): r for r in while_offline["results"]}
    assert rows[(online[0].identity, "GDPR-A")]["status"] == "Accepted"
    assert rows[(online[0].identity, "GDPR-A")]["data"] == "3 sessions of GDPR-A"
    assert rows[(online[1].identity, "GDPR-B")]["status"] == "Rejected"
    assert rows[(offline.identity, "GDPR-A")]["status"] == "queued"
    rows = {(r["station"], r["id_token"]): r for r in finally_["results"]}
    assert rows[(offline.identity, "GDPR-B")]["status"] == "Accepted"
    assert rows[(offline.identity, "GDPR-B")]["data"] == "nothing about GDPR-B"
    # and the 1.6 station was not asked (it has no such message)
    assert not Command.objects.filter(station=old).exists()
    # and a request naming nobody is refused and leaves nothing behind
    assert refused[0] == 400
    assert CustomerDataRequest.objects.count() == 1
    assert [r["id"] for r in listed[1]["results"]] == [created["id"]]


def test_the_operator_sends_a_gdpr_request_from_the_pages_and_sees_every_stations_answer(
    client, operator, viewer
):
    # given a 2.0.1 station (offline: its command waits) and a card
    station = station_make("GDP", ocpp_version="2.0.1")
    card = id_token_create(uid="PAGE-CARD")
    client.force_login(operator)
    # the card's page links to the form with the card filled in
    assert "/customer-data/?id_token=PAGE-CARD" in client.get(f"/cards/{card.pk}/").content.decode()
    form = client.get("/customer-data/?id_token=PAGE-CARD")
    assert form.status_code == 200 and 'value="PAGE-CARD"' in form.content.decode()

    # when the operator sends it (erase only)
    sent = client.post("/customer-data/", {"id_tokens": "PAGE-CARD", "clear": "on"})

    # then the request's page lists the station with its command waiting
    assert sent.status_code == 302
    page = client.get(sent["Location"]).content.decode()
    assert station.identity in page and "queued" in page and "PAGE-CARD" in page
    command = Command.objects.get(station=station, action="CustomerInformation")
    assert command.payload["clear"] is True and command.payload["report"] is False
    # and asking for nothing is refused with the reason, nothing sent
    nothing = client.post("/customer-data/", {"id_tokens": "PAGE-CARD"})
    assert nothing.status_code == 400 and "report" in nothing.content.decode()
    assert Command.objects.filter(action="CustomerInformation").count() == 1
    # and a viewer may look but not send
    client.force_login(viewer)
    assert client.get("/customer-data/").status_code == 200
    assert client.post("/customer-data/", {"id_tokens": "PAGE-CARD", "clear": "on"}).status_code == 403


def test_a_driver_who_closes_the_account_is_erased_on_every_2_0_1_station(driver):
    # given a driver's card and two 2.0.1 stations (offline: the commands wait for them)
    from rfid.services import driver_account_delete

    id_token_create(uid="LEAVING-1", driver=driver)
    stations = [station_make("GDX", ocpp_version="2.0.1") for _ in range(2)]

    # when the driver deletes the account
    driver_account_delete(driver=driver)

    # then each station is asked to clear what it holds about the card, and the request is on record
    commands = Command.objects.filter(action="CustomerInformation", station__in=stations)
    assert sorted(c.station_id for c in commands) == sorted(s.pk for s in stations)
    assert all(
        c.payload["clear"] is True and c.payload["idToken"]["idToken"] == "LEAVING-1" for c in commands
    )
    request = CustomerDataRequest.objects.get()
    assert request.driver_id == driver.pk and request.id_tokens == ["LEAVING-1"]


@pytest.mark.django_db
def test_the_requests_list_answers_an_out_of_range_driver_id_with_an_empty_page(settings):
    from rest_framework.test import APIClient

    from chargenet.models import User

    client = APIClient()
    client.force_authenticate(User.objects.create_superuser("gdpr-admin", "gdpr@example.com", "x" * 20))
    response = client.get(
        "/api/v1/customer-data-requests/", {"driver": "69214515619009671129626076790770506779"}
    )
    assert response.status_code == 200
    assert response.json()["results"] == []
