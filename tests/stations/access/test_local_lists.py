"""Local authorization lists: the pure diff, and the commands a sync queues for a station."""

from datetime import timedelta

import pytest
from django.utils import timezone
from kombu.exceptions import OperationalError

from rfid.models import IdToken
from rfid.services import AuthorizationContext, id_token_authorize, id_token_block, id_token_create
from stations.access.local_lists import (
    local_list_command_handle,
    local_list_diff,
    local_list_payload,
    local_list_sync_request,
    local_list_sync_start,
    local_list_sync_task,
    local_list_syncs_due_task,
    local_lists_id_token_changed,
)
from stations.access.services import station_access_set
from stations.connection.services.commands import command_complete
from stations.models import Command, LocalListSync
from stations.services import station_create

OK = {"status": "Accepted", "expiry": "", "group": "", "type": "ISO14443"}
BLOCKED = {**OK, "status": "Blocked"}


def test_the_diff_names_added_changed_and_removed_cards():
    old = {"A": OK, "B": OK, "C": OK}
    new = {"A": OK, "B": BLOCKED, "D": OK}

    upserts, removals = local_list_diff(old=old, new=new)

    assert upserts == {"B": BLOCKED, "D": OK}
    assert removals == ["C"]


def test_an_unchanged_list_has_an_empty_diff():
    assert local_list_diff(old={"A": OK}, new={"A": OK}) == ({}, [])


def test_the_payload_follows_each_ocpp_version():
    upserts = {"A": {**OK, "group": "FLEET", "expiry": "2030-01-01T00:00:00+00:00"}}

    v16 = local_list_payload(
        ocpp_version="1.6", version=3, update_type="Differential", upserts=upserts, removals=["B"]
    )
    v201 = local_list_payload(
        ocpp_version="2.0.1",
        version=3,
        update_type="Differential",
        upserts=upserts,
        removals=["B"],
        removal_types={"B": "KeyCode"},
    )

    assert v16 == {
        "listVersion": 3,
        "updateType": "Differential",
        "localAuthorizationList": [
            {
                "idTag": "A",
                "idTagInfo": {
                    "status": "Accepted",
                    "expiryDate": "2030-01-01T00:00:00+00:00",
                    "parentIdTag": "FLEET",
                },
            },
            {"idTag": "B"},
        ],
    }
    assert v201["versionNumber"] == 3
    assert v201["localAuthorizationList"] == [
        {
            "idToken": {"idToken": "A", "type": "ISO14443"},
            "idTokenInfo": {
                "status": "Accepted",
                "cacheExpiryDateTime": "2030-01-01T00:00:00+00:00",
                "groupIdToken": {"idToken": "FLEET", "type": "Central"},
            },
        },
        {"idToken": {"idToken": "B", "type": "KeyCode"}},
    ]


@pytest.fixture
def station(db):
    station, _ = station_create(identity="CP-1")
    station.local_list_enabled = True
    station.save()
    return station


def _answer(command, status, response):
    """What the OCPP consumer does when the station answers."""
    command.status = status
    command.response = response
    command.save()
    return command


def _sync_now(station):
    local_list_sync_request(station_ids=[station.pk], delay=0)
    return local_list_sync_start(station=station)


@pytest.mark.django_db
def test_a_station_without_a_matching_version_gets_the_full_list(station):
    # given two cards and a station that reports version 5, which we never sent
    id_token_create(uid="A")
    id_token_create(uid="B", status=IdToken.Status.BLOCKED)

    # when
    ask = _sync_now(station)
    send = local_list_command_handle(command=_answer(ask, Command.Status.ACCEPTED, {"listVersion": 5}))

    # then
    assert ask.action == "GetLocalListVersion"
    assert send.action == "SendLocalList"
    assert send.payload["updateType"] == "Full"
    assert send.payload["listVersion"] == 6
    assert {
        item["idTag"]: item["idTagInfo"]["status"] for item in send.payload["localAuthorizationList"]
    } == {
        "A": "Accepted",
        "B": "Blocked",
    }
    local_list_command_handle(command=_answer(send, Command.Status.ACCEPTED, {"status": "Accepted"}))
    sync = LocalListSync.objects.get(station=station)
    assert (sync.version, sync.confirmed, sorted(sync.entries)) == (6, True, ["A", "B"])
    assert sync.last_result.startswith("in sync (version 6")


@pytest.mark.django_db
def test_a_card_change_sends_only_the_difference_to_a_station_in_sync(station):
    # given a station that confirmed version 6 with card A
    card = id_token_create(uid="A")
    ask = _sync_now(station)
    send = local_list_command_handle(command=_answer(ask, Command.Status.ACCEPTED, {"listVersion": 0}))
    local_list_command_handle(command=_answer(send, Command.Status.ACCEPTED, {"status": "Accepted"}))

    # when card A is blocked and card C is issued
    id_token_block(id_token=card)
    id_token_create(uid="C")
    ask = _sync_now(station)
    diff = local_list_command_handle(command=_answer(ask, Command.Status.ACCEPTED, {"listVersion": 1}))

    # then
    assert diff.payload == {
        "listVersion": 2,
        "updateType": "Differential",
        "localAuthorizationList": [
            {"idTag": "A", "idTagInfo": {"status": "Blocked"}},
            {"idTag": "C", "idTagInfo": {"status": "Accepted"}},
        ],
    }


@pytest.mark.django_db
def test_a_station_in_sync_gets_no_update_when_nothing_changed(station):
    id_token_create(uid="A")
    ask = _sync_now(station)
    send = local_list_command_handle(command=_answer(ask, Command.Status.ACCEPTED, {"listVersion": 0}))
    local_list_command_handle(command=_answer(send, Command.Status.ACCEPTED, {"status": "Accepted"}))

    ask = _sync_now(station)
    nothing = local_list_command_handle(command=_answer(ask, Command.Status.ACCEPTED, {"listVersion": 1}))

    assert nothing is None
    assert Command.objects.filter(action="SendLocalList").count() == 1


@pytest.mark.django_db
def test_a_failed_update_is_visible_and_the_next_sync_is_full(station):
    id_token_create(uid="A")
    ask = _sync_now(station)
    send = local_list_command_handle(command=_answer(ask, Command.Status.ACCEPTED, {"listVersion": 0}))

    local_list_command_handle(command=_answer(send, Command.Status.REJECTED, {"status": "Failed"}))

    sync = LocalListSync.objects.get(station=station)
    assert (sync.version, sync.confirmed, sync.last_result) == (0, False, "SendLocalList Failed")
    ask = _sync_now(station)
    again = local_list_command_handle(command=_answer(ask, Command.Status.ACCEPTED, {"listVersion": 0}))
    assert again.payload["updateType"] == "Full"


@pytest.mark.django_db
def test_a_sync_waits_for_its_debounce_time(station):
    local_list_sync_request(station_ids=[station.pk], delay=60)

    assert local_list_sync_start(station=station) is None
    assert not Command.objects.exists()


@pytest.mark.django_db
def test_a_private_station_holds_only_the_cards_allowed_there(station, driver):
    id_token_create(uid="DANA", driver=driver)
    id_token_create(uid="OTHER")
    station_access_set(station=station, is_public=False, drivers=[driver])

    ask = _sync_now(station)
    send = local_list_command_handle(command=_answer(ask, Command.Status.ACCEPTED, {"listVersion": 0}))

    assert [item["idTag"] for item in send.payload["localAuthorizationList"]] == ["DANA"]


@pytest.mark.django_db
def test_blocking_a_card_clears_the_cache_of_stations_where_it_was_accepted(station):
    # given a card accepted at CP-1 but never seen at CP-2
    station_create(identity="CP-2")
    card = id_token_create(uid="A")
    id_token_authorize(uid="A", context=AuthorizationContext(station_identity="CP-1"))

    # when
    id_token_block(id_token=card)
    commands = local_lists_id_token_changed(id_token_id=card.pk)

    # then
    assert [(c.station.identity, c.action, c.payload) for c in commands] == [("CP-1", "ClearCache", {})]
    assert LocalListSync.objects.get(station=station).due_at is not None


@pytest.mark.django_db
def test_a_valid_card_change_clears_no_cache(station):
    card = id_token_create(uid="A", expires_at=timezone.now() + timedelta(days=30))
    id_token_authorize(uid="A", context=AuthorizationContext(station_identity="CP-1"))

    assert local_lists_id_token_changed(id_token_id=card.pk) == []
    assert not Command.objects.filter(action="ClearCache").exists()


@pytest.mark.django_db
def test_a_station_that_does_not_support_local_lists_is_recorded(station):
    ask = _sync_now(station)

    local_list_command_handle(command=_answer(ask, Command.Status.ACCEPTED, {"listVersion": -1}))

    assert (
        LocalListSync.objects.get(station=station).last_result == "the station does not support local lists"
    )
    assert not Command.objects.filter(action="SendLocalList").exists()


@pytest.mark.django_db
def test_a_card_blocked_while_the_broker_is_down_still_reaches_the_stations(
    station, monkeypatch, django_capture_on_commit_callbacks
):
    # given card A, accepted at CP-1 and held in its confirmed list, and a broker that refuses tasks
    card = id_token_create(uid="A")
    id_token_authorize(uid="A", context=AuthorizationContext(station_identity="CP-1"))
    ask = _sync_now(station)
    send = local_list_command_handle(command=_answer(ask, Command.Status.ACCEPTED, {"listVersion": 0}))
    local_list_command_handle(command=_answer(send, Command.Status.ACCEPTED, {"status": "Accepted"}))

    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(local_list_sync_task, "apply_async", broker_down)

    # when the card is blocked: the block commits and its event is dispatched
    with django_capture_on_commit_callbacks(execute=True):
        id_token_block(id_token=card)

    # then CP-1's cache is cleared at once, and its list is due after the debounce time
    assert Command.objects.filter(station=station, action="ClearCache").count() == 1
    sync = LocalListSync.objects.get(station=station)
    assert sync.due_at is not None
    assert local_list_syncs_due_task() == 0
    # when the debounce time is over, the beat sweep starts the sync the lost task would have started
    LocalListSync.objects.filter(pk=sync.pk).update(due_at=timezone.now() - timedelta(seconds=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert local_list_syncs_due_task() == 1
    ask = Command.objects.get(station=station, action="GetLocalListVersion", status=Command.Status.QUEUED)
    # and the station's answer moves the sync on, with no broker either
    Command.objects.filter(pk=ask.pk).update(status=Command.Status.SENT)
    with django_capture_on_commit_callbacks(execute=True):
        command_complete(command_id=ask.pk, response={"listVersion": 1})
    diff = Command.objects.get(station=station, action="SendLocalList", status=Command.Status.QUEUED)
    assert diff.payload["localAuthorizationList"] == [{"idTag": "A", "idTagInfo": {"status": "Blocked"}}]
