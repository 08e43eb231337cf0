"""OCPP 2.0.1 Part 6, block O (display messages), each case over a real socket against the real
server: the CSMS sends SetDisplayMessage / GetDisplayMessages through the services the API and the
dashboard use, the test station keeps a screen of the messages it accepted and answers as the case
says, and the test asserts what the station received and what the operator then sees listed (the
selector behind the API's and the station page's list). docs/ocpp-2.0.1-coverage.md maps the cases."""

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.utils.dateparse import parse_datetime

from rfid.services import id_token_create
from stations.devicemodel.selectors import display_messages
from stations.devicemodel.services import display_message_set_request, display_messages_get_request
from stations.models import Command, Session
from stations.services import command_wait
from tests.stations.connection.helpers import db, now_iso, station_make
from tests.stations.devicemodel.helpers import booted201

pytestmark = pytest.mark.django_db(transaction=True)

CARD = {"idToken": "O-CARD-1", "type": "ISO14443"}


class Screen:
    """The test station's display: what SetDisplayMessage put on it, and GetDisplayMessages answered
    from it (Accepted when a message matches the request, else Unknown)."""

    def __init__(self, cp: Any, set_answer: str = "Accepted") -> None:
        self.messages: dict[int, dict] = {}
        self.set_answer = set_answer
        cp.responders["SetDisplayMessage"] = self.on_set
        cp.responders["GetDisplayMessages"] = self.on_get

    def on_set(self, payload: dict) -> dict:
        if self.set_answer == "Accepted":
            self.messages[payload["message"]["id"]] = payload["message"]
        return {"status": self.set_answer}

    def matching(self, request: dict) -> list[dict]:
        return [
            info
            for info in self.messages.values()
            if info["id"] in request.get("id", [info["id"]])
            and info["priority"] == request.get("priority", info["priority"])
            and info.get("state") == request.get("state", info.get("state"))
        ]

    def on_get(self, request: dict) -> dict:
        return {"status": "Accepted" if self.matching(request) else "Unknown"}


async def show(cp: Any, station: Any, **fields: Any) -> tuple[Command, dict]:
    """The operator sets a message (display_message_set_request); returns the command as the station's
    answer left it and the request the station received."""
    fields.setdefault("content", "Welcome")
    command = await db(display_message_set_request)(station=station, **fields)
    command = await db(command_wait)(command=command, timeout=10)
    return command, await cp.wait_call("SetDisplayMessage")


async def ask(cp: Any, screen: Screen, station: Any, **filters: Any) -> tuple[Command, dict]:
    """The operator asks for the messages shown (display_messages_get_request); the station answers
    and, when some match, reports them in one NotifyDisplayMessages."""
    command = await db(display_messages_get_request)(station=station, **filters)
    command = await db(command_wait)(command=command, timeout=10)
    request = await cp.wait_call("GetDisplayMessages")
    if reported := screen.matching(request):
        notify = {"requestId": request["requestId"], "messageInfo": reported}
        assert await cp.ok("NotifyDisplayMessages", notify) == {}
    return command, request


async def listed(station: Any) -> list[tuple]:
    """What the operator sees: (id, priority, state, content, transaction) of each listed message."""
    return await db(
        lambda: [
            (m.message_id, m.priority, m.state, m.content, m.transaction_id)
            for m in display_messages(station=station)
        ]
    )()


async def energy_transfer_started(cp: Any, transaction_id: str) -> None:
    """Authorized, then charging on EVSE 1 (Part 6 reusable state EnergyTransferStarted)."""
    assert (await cp.ok("Authorize", {"idToken": CARD}))["idTokenInfo"]["status"] == "Accepted"
    await cp.ok(
        "TransactionEvent",
        {
            "eventType": "Started",
            "timestamp": now_iso(),
            "triggerReason": "Authorized",
            "seqNo": 0,
            "transactionInfo": {"transactionId": transaction_id, "chargingState": "Charging"},
            "evse": {"id": 1, "connectorId": 1},
            "idToken": CARD,
        },
    )


async def ev_disconnected(cp: Any, transaction_id: str) -> None:
    """The EV is unplugged and the transaction ends (Part 6 reusable state EVDisconnected)."""
    await cp.ok(
        "TransactionEvent",
        {
            "eventType": "Ended",
            "timestamp": now_iso(),
            "triggerReason": "EVCommunicationLost",
            "seqNo": 1,
            "transactionInfo": {"transactionId": transaction_id, "stoppedReason": "EVDisconnected"},
        },
    )
    await cp.ok(
        "StatusNotification",
        {"timestamp": now_iso(), "connectorStatus": "Available", "evseId": 1, "connectorId": 1},
    )


def at(seconds: float) -> datetime:
    return datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=seconds)


# --- O03 / O04: get all, or specific, display messages ---------------------------------------------


def test_tc_o_03_asking_a_station_without_messages_for_all_of_them_leaves_none_listed(ocpp_server, run):
    station = station_make(ocpp_version="2.0.1")

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            screen = Screen(cp)
            # given ChargeNet still lists a message the station has since dropped
            await show(cp, station, message_id=3, content="Old news")
            screen.messages.clear()
            before = await listed(station)
            # when the CSMS asks for every message and the station has none
            command, request = await ask(cp, screen, station)
            return before, command, request, await listed(station)

    before, command, request, after = run(scenario())
    assert [m[0] for m in before] == [3]
    assert set(request) == {"requestId"} and request["requestId"] > 0
    assert command.status == Command.Status.REJECTED and command.response == {"status": "Unknown"}
    assert after == []


@pytest.mark.parametrize(
    "case, filters, request_filter",
    [
        ("TC_O_07", {"ids": [7]}, {"id": [7]}),
        ("TC_O_08", {"priority": "InFront"}, {"priority": "InFront"}),
        ("TC_O_09", {"state": "Charging"}, {"state": "Charging"}),
    ],
    ids=["TC_O_07", "TC_O_08", "TC_O_09"],
)
def test_a_specific_display_message_is_asked_for_by_the_cases_criterion_and_the_list_follows_the_report(
    ocpp_server, run, case, filters, request_filter
):
    station = station_make(ocpp_version="2.0.1")

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            screen = Screen(cp)
            await show(cp, station, message_id=7, content="Happy hour", priority="InFront", state="Charging")
            await show(cp, station, message_id=8, content="Welcome", priority="NormalCycle", state="Idle")
            # the station changed message 7's text itself; the report brings the change in
            screen.messages[7] = {
                **screen.messages[7],
                "message": {"format": "UTF8", "content": "Happy hour!"},
            }
            command, request = await ask(cp, screen, station, **filters)
            return command, request, await listed(station)

    command, request, shown = run(scenario())
    # the request carries exactly the case's criterion and a fresh requestId
    assert {k: v for k, v in request.items() if k != "requestId"} == request_filter
    assert request["requestId"] > 0
    assert command.status == Command.Status.ACCEPTED and command.response == {"status": "Accepted"}
    assert shown == [
        (7, "InFront", "Charging", "Happy hour!", ""),
        (8, "NormalCycle", "Idle", "Welcome", ""),
    ]


def test_tc_o_11_asking_for_an_unknown_message_id_is_answered_unknown_and_the_listed_message_stays(
    ocpp_server, run
):
    station = station_make(ocpp_version="2.0.1")

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            screen = Screen(cp)
            await show(cp, station, message_id=7, content="Happy hour")
            command, request = await ask(cp, screen, station, ids=[99])
            return command, request, await listed(station)

    command, request, shown = run(scenario())
    assert request["id"] == [99] and 7 not in request["id"] and request["requestId"] > 0
    assert command.status == Command.Status.REJECTED and command.response == {"status": "Unknown"}
    assert shown == [(7, "NormalCycle", "", "Happy hour", "")]


def test_a_full_report_drops_the_listed_messages_the_station_no_longer_shows(ocpp_server, run):
    station = station_make(ocpp_version="2.0.1")

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            screen = Screen(cp)
            await show(cp, station, message_id=1, content="Stays")
            await show(cp, station, message_id=2, content="Gone")
            del screen.messages[2]
            await ask(cp, screen, station)
            return await listed(station)

    assert [m[0] for m in run(scenario())] == [1]


# --- O01 / O06: set (and replace) a display message ------------------------------------------------


def test_tc_o_12_a_message_set_again_with_the_same_id_replaces_the_listed_one(ocpp_server, run):
    station = station_make(ocpp_version="2.0.1")

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            Screen(cp)
            first = await show(cp, station, message_id=5, content="Closed at 22:00")
            second = await show(cp, station, message_id=5, content="Closed at 23:00", priority="AlwaysFront")
            return first, second, await listed(station)

    (first, sent_first), (second, sent_second), shown = run(scenario())
    assert sent_first["message"]["id"] == sent_second["message"]["id"] == 5
    assert first.status == second.status == Command.Status.ACCEPTED
    assert shown == [(5, "AlwaysFront", "", "Closed at 23:00", "")]


def test_tc_o_25_a_message_for_a_specific_state_is_sent_with_it_and_listed_with_it(ocpp_server, run):
    station = station_make(ocpp_version="2.0.1")

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            Screen(cp)
            command, sent = await show(
                cp, station, message_id=9, content="Charging at 11 kW", state="Charging"
            )
            return command, sent, await listed(station)

    command, sent, shown = run(scenario())
    assert sent["message"]["state"] == "Charging" and "transactionId" not in sent["message"]
    assert command.status == Command.Status.ACCEPTED
    assert shown == [(9, "NormalCycle", "Charging", "Charging at 11 kW", "")]


def test_tc_o_13_a_message_with_a_start_time_is_sent_with_it_and_listed_with_that_start(ocpp_server, run):
    station = station_make(ocpp_version="2.0.1")
    start = at(3600)

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            Screen(cp)
            command, sent = await show(
                cp, station, message_id=10, content="Maintenance tonight", start_at=start
            )
            rows = await db(
                lambda: list(display_messages(station=station).values("message_id", "start_at"))
            )()
            return command, sent, rows

    command, sent, rows = run(scenario())
    assert sent["message"]["id"] == 10 and parse_datetime(sent["message"]["startDateTime"]) == start
    assert command.status == Command.Status.ACCEPTED
    assert rows == [{"message_id": 10, "start_at": start}]


def test_tc_o_14_a_message_with_an_end_time_is_sent_with_it_and_no_longer_listed_after_it(ocpp_server, run):
    station = station_make(ocpp_version="2.0.1")
    end = at(2)

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            Screen(cp)
            command, sent = await show(cp, station, message_id=11, content="Free parking", end_at=end)
            await show(cp, station, message_id=12, content="Open 24/7")
            await asyncio.sleep(max(0.0, (end - datetime.now(UTC)).total_seconds()) + 0.2)
            return command, sent, await listed(station)

    command, sent, shown = run(scenario())
    assert sent["message"]["id"] == 11 and parse_datetime(sent["message"]["endDateTime"]) == end
    assert command.status == Command.Status.ACCEPTED
    assert [m[0] for m in shown] == [12]


@pytest.mark.parametrize(
    "case, fields, answer",
    [
        ("TC_O_17", {"priority": "AlwaysFront"}, "NotSupportedPriority"),
        ("TC_O_18", {"state": "Unavailable"}, "NotSupportedState"),
        ("TC_O_19", {"message_format": "HTML", "content": "<b>Welcome</b>"}, "NotSupportedMessageFormat"),
    ],
    ids=["TC_O_17", "TC_O_18", "TC_O_19"],
)
def test_a_message_the_station_does_not_support_is_shown_refused_and_not_listed(
    ocpp_server, run, case, fields, answer
):
    station = station_make(ocpp_version="2.0.1")

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            Screen(cp, set_answer=answer)
            command, sent = await show(cp, station, message_id=13, **fields)
            return command, sent, await listed(station)

    command, sent, shown = run(scenario())
    expected = {
        "priority": fields.get("priority", "NormalCycle"),
        "format": fields.get("message_format", "UTF8"),
    }
    assert {
        "priority": sent["message"]["priority"],
        "format": sent["message"]["message"]["format"],
    } == expected
    assert sent["message"].get("state") == fields.get("state")
    assert command.status == Command.Status.REJECTED and command.response == {"status": answer}
    assert shown == []


# --- O02: a display message for a specific transaction ---------------------------------------------


@pytest.mark.parametrize(
    "case, timing",
    [
        ("TC_O_06", {}),
        ("TC_O_27", {"start_at": 600}),
        ("TC_O_28", {"end_at": 3600}),
    ],
    ids=["TC_O_06", "TC_O_27", "TC_O_28"],
)
def test_a_message_for_the_ongoing_transaction_is_listed_with_it_until_the_transaction_ends(
    ocpp_server, run, case, timing
):
    station = station_make(ocpp_version="2.0.1")
    id_token_create(uid=CARD["idToken"])
    transaction_id = f"tx-{case}"
    times = {field: at(seconds) for field, seconds in timing.items()}

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            Screen(cp)
            await energy_transfer_started(cp, transaction_id)
            session = await db(Session.objects.get)(station=station, transaction_id=transaction_id)
            command, sent = await show(
                cp,
                station,
                message_id=20,
                content="Your session is free today",
                priority="InFront",
                transaction_id=session.transaction_id,
                **times,
            )
            during = await listed(station)
            await ev_disconnected(cp, transaction_id)
            return command, sent, during, await listed(station)

    command, sent, during, after = run(scenario())
    message = sent["message"]
    assert message["transactionId"] == transaction_id and message["priority"] == "InFront"
    assert "state" not in message
    for field, key in (("start_at", "startDateTime"), ("end_at", "endDateTime")):
        if field in times:
            assert parse_datetime(message[key]) == times[field]
        else:
            assert key not in message
    assert command.status == Command.Status.ACCEPTED
    assert during == [(20, "InFront", "", "Your session is free today", transaction_id)]
    assert after == []


def test_tc_o_10_a_message_for_a_transaction_the_station_does_not_know_is_refused_and_not_listed(
    ocpp_server, run
):
    station = station_make(ocpp_version="2.0.1")
    id_token_create(uid=CARD["idToken"])

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            Screen(cp, set_answer="UnknownTransaction")
            await energy_transfer_started(cp, "tx-running")
            command, sent = await show(
                cp, station, message_id=21, content="Your session", transaction_id="tx-not-at-this-station"
            )
            return command, sent, await listed(station)

    command, sent, shown = run(scenario())
    assert sent["message"]["transactionId"] == "tx-not-at-this-station"
    assert command.status == Command.Status.REJECTED and command.response == {"status": "UnknownTransaction"}
    assert shown == []
