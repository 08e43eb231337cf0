"""OCPP 2.0.1 Part 6 block K (smart charging), the CSMS side, each case over a real socket against the
real server: profiles go out through the smart-charging services (as the API and the station page
send them) or the durable command queue, the test station answers as the case says, and what the
operator then sees (installed profiles, command outcomes, notices, sessions) follows the answer.
The ISO 15118 cases run against the live system, whose worker shares the site's capacity.
docs/ocpp-2.0.1-coverage.md maps every Part 6 case to its test."""

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from rfid.services import id_token_create
from smartcharging.models import AllocationDecision, ChargingNeed
from smartcharging.selectors import reported_periods, station_reported_composite
from smartcharging.services import (
    ProfileSpec,
    SmartChargingError,
    charging_profile_clear,
    charging_profile_send,
    composite_schedule_request,
    session_remote_start_limited,
    site_capacity_set,
)
from stations.models import ChargingNotice, ChargingProfile, Command, Session
from stations.services import command_wait, location_create, station_create
from tests.e2e.conftest import STATION_PASSWORD, in_thread
from tests.smartcharging.test_v201_smart import tx_profile_for
from tests.stations.connection.client import station_connection
from tests.stations.connection.helpers import db, now_iso, sent_to, station_make
from tests.stations.devicemodel.helpers import BOOT, booted201

pytestmark = pytest.mark.django_db(transaction=True)


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


async def profile_sent(station, spec: ProfileSpec):
    """Send a profile as the API does and wait for the station's answer: (command, what it got)."""
    command = await db(charging_profile_send)(station=station, spec=spec)
    return await db(command_wait)(command=command, timeout=10)


def event(transaction_id: str, event_type: str, seq_no: int, trigger: str, **info) -> dict:
    return {
        "eventType": event_type,
        "timestamp": now_iso(),
        "triggerReason": trigger,
        "seqNo": seq_no,
        "transactionInfo": {"transactionId": transaction_id, **info},
        "evse": {"id": 1, "connectorId": 1},
    }


def schedule_of(payload: dict) -> dict:
    return payload["chargingProfile"]["chargingSchedule"][0]


def installed(station) -> list[tuple[int, str, int, str]]:
    return list(
        ChargingProfile.objects.filter(station=station)
        .order_by("id")
        .values_list("charging_profile_id", "purpose", "connector_id", "status")
    )


# --- SetChargingProfile ------------------------------------------------------------------------------

START = _now()


@pytest.mark.parametrize(
    "case, spec, purpose, evse_id",
    [
        (
            "TC_K_01",
            ProfileSpec(
                purpose="TxDefault", evse_id=1, unit="A", kind="Absolute", duration=3600,
                start_schedule=START, valid_from=START, valid_to=START + timedelta(hours=1),
                periods=[{"start": 0, "limit": 6}],
            ),
            "TxDefaultProfile",
            1,
        ),
        (
            "TC_K_10",
            ProfileSpec(
                purpose="TxDefault", evse_id=0, unit="A", kind="Absolute", duration=3600,
                start_schedule=START, periods=[{"start": 0, "limit": 6}],
            ),
            "TxDefaultProfile",
            0,
        ),
        (
            "TC_K_03",
            ProfileSpec(
                purpose="StationMax", evse_id=0, unit="W", kind="Absolute", duration=3600,
                start_schedule=START, periods=[{"start": 0, "limit": 6000}],
            ),
            "ChargingStationMaxProfile",
            0,
        ),
        (
            "TC_K_19",
            ProfileSpec(
                purpose="TxDefault", evse_id=1, unit="A", kind="Recurring", recurrency="Daily",
                duration=3600, start_schedule=START, periods=[{"start": 0, "limit": 6}],
            ),
            "TxDefaultProfile",
            1,
        ),
    ],
    ids=["tc_k_01", "tc_k_10", "tc_k_03", "tc_k_19"],
)  # fmt: skip
def test_a_profile_of_the_case_reaches_the_station_as_stated_and_is_shown_installed(
    ocpp_server, run, case, spec, purpose, evse_id
):
    station = station_make(ocpp_version="2.0.1")

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            command = await profile_sent(station, spec)
            return command, await cp.wait_call("SetChargingProfile")

    command, received = run(scenario())

    # then the station got the profile in 2.0.1 terms, its first period at 0 (K01.FR.31)
    profile = received["chargingProfile"]
    assert received["evseId"] == evse_id
    assert (profile["chargingProfilePurpose"], profile["chargingProfileKind"]) == (purpose, spec.kind)
    assert profile.get("recurrencyKind") == spec.recurrency
    schedule = schedule_of(received)
    assert schedule["startSchedule"] == START.isoformat().replace("+00:00", "Z")
    assert (schedule["chargingRateUnit"], schedule["duration"]) == (spec.unit, 3600)
    assert schedule["chargingSchedulePeriod"] == [{"startPeriod": 0, "limit": spec.periods[0]["limit"]}]
    if case == "TC_K_01":
        assert profile["validFrom"] < profile["validTo"]
    # and the operator sees it installed where it was sent
    assert command.status == Command.Status.ACCEPTED
    assert installed(station) == [(profile["id"], purpose, evse_id, "installed")]


def test_tc_k_02_a_tx_profile_without_a_transaction_on_the_evse_is_refused_before_anything_is_sent(
    ocpp_server, run
):
    # ChargeNet does not send a TxProfile while no transaction runs (the case's prerequisite):
    # the operator hears why at once and the station gets nothing.
    station = station_make(ocpp_version="2.0.1")
    spec = ProfileSpec(purpose="Tx", evse_id=1, unit="A", kind="Relative", periods=[{"start": 0, "limit": 7}])

    async def scenario():
        async with booted201(ocpp_server, station):
            with pytest.raises(SmartChargingError, match="no session is running on EVSE 1"):
                await db(charging_profile_send)(station=station, spec=spec)

    run(scenario())
    assert not Command.objects.filter(station=station, action="SetChargingProfile").exists()
    assert installed(station) == []


def test_tc_k_04_a_profile_sent_again_with_its_id_replaces_the_installed_one(ocpp_server, run):
    station = station_make(ocpp_version="2.0.1")

    def spec(limit: float) -> ProfileSpec:
        return ProfileSpec(
            purpose="TxDefault", evse_id=1, unit="A", profile_id=5, periods=[{"start": 0, "limit": limit}]
        )

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            await profile_sent(station, spec(16))
            await cp.wait_call("SetChargingProfile")
            command = await profile_sent(station, spec(10))
            return command, await cp.wait_call("SetChargingProfile")

    command, received = run(scenario())

    assert received["chargingProfile"]["id"] == 5 and command.status == Command.Status.ACCEPTED
    assert installed(station) == [
        (5, "TxDefaultProfile", 1, "replaced"),
        (5, "TxDefaultProfile", 1, "installed"),
    ]
    current = ChargingProfile.objects.get(station=station, is_active=True)
    assert current.profile["chargingSchedule"][0]["chargingSchedulePeriod"][0]["limit"] == 10


def test_tc_k_05_a_profile_cleared_by_its_id_is_shown_cleared_and_the_others_stay(ocpp_server, run):
    station = station_make(ocpp_version="2.0.1")

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            for profile_id, level in ((5, 0), (6, 1)):
                await profile_sent(
                    station,
                    ProfileSpec(
                        purpose="TxDefault", evse_id=1, unit="A", stack_level=level,
                        profile_id=profile_id, periods=[{"start": 0, "limit": 16}],
                    ),
                )  # fmt: skip
            command = await db(charging_profile_clear)(station=station, profile_id=5)
            command = await db(command_wait)(command=command, timeout=10)
            return command, await cp.wait_call("ClearChargingProfile")

    command, received = run(scenario())

    assert received == {"chargingProfileId": 5} and command.status == Command.Status.ACCEPTED
    assert installed(station) == [
        (5, "TxDefaultProfile", 1, "cleared"),
        (6, "TxDefaultProfile", 1, "installed"),
    ]


def test_tc_k_06_a_clear_by_evse_purpose_and_stack_level_clears_only_the_profile_it_names(ocpp_server, run):
    station = station_make(ocpp_version="2.0.1")
    criteria = {"evseId": 1, "chargingProfilePurpose": "TxDefaultProfile", "stackLevel": 1}

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            for profile_id, level in ((5, 0), (6, 1)):
                await profile_sent(
                    station,
                    ProfileSpec(
                        purpose="TxDefault", evse_id=1, unit="A", stack_level=level,
                        profile_id=profile_id, periods=[{"start": 0, "limit": 16}],
                    ),
                )  # fmt: skip
            return await sent_to(cp, station, "ClearChargingProfile", {"chargingProfileCriteria": criteria})

    command, received = run(scenario())

    assert received == {"chargingProfileCriteria": criteria} and command.status == Command.Status.ACCEPTED
    assert installed(station) == [
        (5, "TxDefaultProfile", 1, "installed"),
        (6, "TxDefaultProfile", 1, "cleared"),
    ]


def test_tc_k_08_a_clear_the_station_answers_unknown_to_is_shown_so_and_changes_nothing(ocpp_server, run):
    station = station_make(ocpp_version="2.0.1")
    criteria = {"chargingProfileCriteria": {"evseId": 1, "chargingProfilePurpose": "TxDefaultProfile"}}

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            return await sent_to(cp, station, "ClearChargingProfile", criteria, {"status": "Unknown"})

    command, received = run(scenario())

    assert received == criteria
    assert command.status == Command.Status.REJECTED and command.response == {"status": "Unknown"}
    assert installed(station) == []


def test_tc_k_15_a_station_that_does_not_support_profiles_leaves_the_command_in_error_and_none_installed(
    ocpp_server, run
):
    station = station_make(ocpp_version="2.0.1")
    spec = ProfileSpec(
        purpose="TxDefault", evse_id=1, unit="A", duration=3600, start_schedule=_now(),
        periods=[{"start": 0, "limit": 6}],
    )  # fmt: skip

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            cp.responders["SetChargingProfile"] = ("NotSupported", "no smart charging here")
            command = await profile_sent(station, spec)
            return command, await cp.wait_call("SetChargingProfile")

    command, received = run(scenario())

    assert received["chargingProfile"]["chargingProfilePurpose"] == "TxDefaultProfile"
    assert command.status == Command.Status.ERROR and command.error.startswith("NotSupported")
    assert installed(station) == []


def test_tc_k_60_a_tx_profile_for_the_running_transaction_carries_its_id_and_is_shown_installed(
    ocpp_server, run
):
    station = station_make(ocpp_version="2.0.1")
    spec = ProfileSpec(purpose="Tx", evse_id=1, unit="A", kind="Relative", periods=[{"start": 0, "limit": 7}])

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            await cp.ok(
                "TransactionEvent", event("tx-k60", "Started", 0, "Authorized", chargingState="Charging")
            )
            command = await profile_sent(station, spec)
            return command, await cp.wait_call("SetChargingProfile")

    command, received = run(scenario())

    profile = received["chargingProfile"]
    assert received["evseId"] == 1 and profile["transactionId"] == "tx-k60"
    assert (profile["chargingProfilePurpose"], profile["chargingProfileKind"]) == ("TxProfile", "Relative")
    assert "startSchedule" not in schedule_of(received)
    assert command.status == Command.Status.ACCEPTED
    row = ChargingProfile.objects.get(station=station, is_active=True)
    assert (row.purpose, row.connector_id, row.transaction_id) == ("TxProfile", 1, "tx-k60")


def test_tc_k_70_a_default_and_a_station_maximum_are_both_installed_under_their_own_ids(ocpp_server, run):
    station = station_make(ocpp_version="2.0.1")
    start = _now()
    specs = [
        ProfileSpec(purpose="TxDefault", evse_id=0, unit="A", start_schedule=start, periods=[{"start": 0, "limit": 16}]),
        ProfileSpec(purpose="StationMax", evse_id=0, unit="W", start_schedule=start, periods=[{"start": 0, "limit": 11000}]),
    ]  # fmt: skip

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            await cp.ok(
                "TransactionEvent", event("tx-k70", "Started", 0, "Authorized", chargingState="Charging")
            )
            commands = [await profile_sent(station, spec) for spec in specs]
            return commands, [await cp.wait_call("SetChargingProfile") for _ in specs]

    commands, received = run(scenario())

    default, maximum = (payload["chargingProfile"] for payload in received)
    assert default["id"] != maximum["id"]
    assert (default["chargingProfilePurpose"], maximum["chargingProfilePurpose"]) == (
        "TxDefaultProfile",
        "ChargingStationMaxProfile",
    )
    assert all(p["chargingSchedule"][0]["startSchedule"] for p in (default, maximum))
    assert all(c.status == Command.Status.ACCEPTED for c in commands)
    assert installed(station) == [
        (default["id"], "TxDefaultProfile", 0, "installed"),
        (maximum["id"], "ChargingStationMaxProfile", 0, "installed"),
    ]


# --- GetChargingProfiles / ReportChargingProfiles ------------------------------------------------------


@pytest.mark.parametrize(
    "case, request_payload",
    [
        ("TC_K_29", {"requestId": 29, "evseId": 0, "chargingProfile": {"chargingProfilePurpose": "ChargingStationMaxProfile"}}),
        ("TC_K_30", {"requestId": 30, "evseId": 1, "chargingProfile": {"chargingLimitSource": ["CSO"]}}),
        ("TC_K_31", {"requestId": 31, "chargingProfile": {"chargingLimitSource": ["CSO"]}}),
        ("TC_K_32", {"requestId": 32, "chargingProfile": {"chargingProfileId": [7]}}),
        ("TC_K_33", {"requestId": 33, "evseId": 1, "chargingProfile": {"stackLevel": 0}}),
        ("TC_K_34", {"requestId": 34, "evseId": 1, "chargingProfile": {"chargingLimitSource": ["CSO"]}}),
        ("TC_K_35", {"requestId": 35, "evseId": 1, "chargingProfile": {"chargingProfilePurpose": "TxDefaultProfile"}}),
        ("TC_K_36", {"requestId": 36, "evseId": 1, "chargingProfile": {"chargingProfilePurpose": "TxDefaultProfile", "stackLevel": 0}}),
    ],
    ids=["tc_k_29", "tc_k_30", "tc_k_31", "tc_k_32", "tc_k_33", "tc_k_34", "tc_k_35", "tc_k_36"],
)  # fmt: skip
def test_get_charging_profiles_asks_as_the_case_says_and_keeps_the_stations_report(
    ocpp_server, run, case, request_payload
):
    station = station_make(ocpp_version="2.0.1")
    evse_id = request_payload.get("evseId", 1)
    reported = {
        "id": 7,
        "stackLevel": 0,
        "chargingProfilePurpose": "ChargingStationMaxProfile" if evse_id == 0 else "TxDefaultProfile",
        "chargingProfileKind": "Absolute",
        "chargingSchedule": [
            {"id": 1, "chargingRateUnit": "A", "startSchedule": now_iso(), "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16}]}
        ],
    }  # fmt: skip

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            command, received = await sent_to(cp, station, "GetChargingProfiles", request_payload)
            answer = await cp.ok(
                "ReportChargingProfiles",
                {
                    "requestId": received["requestId"],
                    "chargingLimitSource": "CSO",
                    "evseId": evse_id,
                    "chargingProfile": [reported],
                },
            )
            return command, received, answer

    command, received, answer = run(scenario())

    # the station got the criteria of the case, and its report is kept under the request's id
    assert received == request_payload and answer == {}
    assert command.status == Command.Status.ACCEPTED
    notice = ChargingNotice.objects.get(station=station, kind="profiles")
    assert (notice.request_id, notice.evse_id, notice.source) == (
        request_payload["requestId"],
        evse_id,
        "CSO",
    )
    assert notice.data["chargingProfile"] == [reported]


# --- RequestStartTransaction with a TxProfile ----------------------------------------------------------


def test_tc_k_37_a_remote_start_carries_the_sessions_tx_profile_without_a_transaction_id(ocpp_server, run):
    station = station_make(ocpp_version="2.0.1")
    id_token_create(uid="K37-CARD")
    spec = ProfileSpec(
        purpose="Tx", evse_id=1, unit="A", kind="Relative", periods=[{"start": 0, "limit": 16}]
    )

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            command = await db(session_remote_start_limited)(
                station=station, evse_id=1, id_token="K37-CARD", spec=spec
            )
            command = await db(command_wait)(command=command, timeout=10)
            received = await cp.wait_call("RequestStartTransaction")
            started = await cp.ok(
                "TransactionEvent",
                event(
                    "tx-k37", "Started", 0, "RemoteStart",
                    chargingState="Charging", remoteStartId=received["remoteStartId"],
                ),
            )  # fmt: skip
            return command, received, started

    command, received, started = run(scenario())

    # the request names the card and the EVSE and carries a TxProfile without transaction id (F01.FR.09/11)
    assert (received["evseId"], received["idToken"]["idToken"]) == (1, "K37-CARD")
    profile = received["chargingProfile"]
    assert (profile["chargingProfilePurpose"], profile["chargingProfileKind"]) == ("TxProfile", "Relative")
    assert "transactionId" not in profile and "startSchedule" not in profile["chargingSchedule"][0]
    assert command.status == Command.Status.ACCEPTED and "idTokenInfo" not in started
    # the session runs and the operator sees the profile the station took with it
    session = Session.objects.get(station=station, transaction_id="tx-k37")
    assert session.status == Session.Status.ACTIVE
    assert installed(station) == [(profile["id"], "TxProfile", 1, "installed")]


def test_a_remote_start_profile_that_is_not_the_sessions_tx_profile_is_refused_and_nothing_is_sent(
    ocpp_server, run
):
    station = station_make(ocpp_version="2.0.1")
    id_token_create(uid="K37-CARD-2")

    async def scenario():
        async with booted201(ocpp_server, station):
            for spec, message in (
                (ProfileSpec(purpose="TxDefault", evse_id=1, periods=[{"start": 0, "limit": 16}]), "Tx profile"),
                (ProfileSpec(purpose="Tx", evse_id=1, transaction_id="x", periods=[{"start": 0, "limit": 16}]), "no transaction id"),
            ):  # fmt: skip
                with pytest.raises(SmartChargingError, match=message):
                    await db(session_remote_start_limited)(
                        station=station, evse_id=1, id_token="K37-CARD-2", spec=spec
                    )

    run(scenario())
    assert not Command.objects.filter(station=station, action="RequestStartTransaction").exists()


# --- GetCompositeSchedule -----------------------------------------------------------------------------


@pytest.mark.parametrize("case, evse_id", [("TC_K_43", 1), ("TC_K_44", 0)], ids=["tc_k_43", "tc_k_44"])
def test_the_stations_composite_schedule_is_asked_for_and_shown_beside_chargenets(
    ocpp_server, run, case, evse_id
):
    station = station_make(ocpp_version="2.0.1")
    answer = {
        "status": "Accepted",
        "schedule": {
            "evseId": evse_id,
            "duration": 3600,
            "scheduleStart": now_iso(),
            "chargingRateUnit": "A",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16}, {"startPeriod": 1800, "limit": 10}],
        },
    }

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            cp.responders["GetCompositeSchedule"] = answer
            command = await db(composite_schedule_request)(
                station=station, evse_id=evse_id, duration=3600, unit="A"
            )
            command = await db(command_wait)(command=command, timeout=10)
            return command, await cp.wait_call("GetCompositeSchedule")

    command, received = run(scenario())

    assert received == {"evseId": evse_id, "duration": 3600, "chargingRateUnit": "A"}
    assert command.status == Command.Status.ACCEPTED
    shown = station_reported_composite(station=station)
    assert shown == command
    assert reported_periods(shown) == [{"start": 0, "limit": 16.0}, {"start": 1800, "limit": 10.0}]


# --- external charging limits -------------------------------------------------------------------------

EMS_SCHEDULE = {"id": 1, "chargingRateUnit": "A", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16}]}


def test_tc_k_48_an_external_limit_the_station_reports_is_kept_with_its_source_and_evse(ocpp_server, run):
    station = station_make(ocpp_version="2.0.1")
    limit = {
        "evseId": 1,
        "chargingLimit": {"chargingLimitSource": "EMS", "isGridCritical": False},
        "chargingSchedule": [EMS_SCHEDULE],
    }

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            return await cp.ok("NotifyChargingLimit", limit)

    assert run(scenario()) == {}
    notice = ChargingNotice.objects.get(station=station)
    assert (notice.kind, notice.source, notice.evse_id, notice.data) == ("charging_limit", "EMS", 1, limit)


def test_tc_k_50_a_released_external_limit_without_a_transaction_is_kept(ocpp_server, run):
    station = station_make(ocpp_version="2.0.1")

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            return await cp.ok("ClearedChargingLimit", {"chargingLimitSource": "EMS", "evseId": 1})

    assert run(scenario()) == {}
    notice = ChargingNotice.objects.get(station=station)
    assert (notice.kind, notice.source, notice.evse_id) == ("limit_cleared", "EMS", 1)


def test_tc_k_51_a_released_external_limit_during_a_transaction_leaves_the_session_charging(ocpp_server, run):
    station = station_make(ocpp_version="2.0.1")

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            await cp.ok(
                "TransactionEvent", event("tx-k51", "Started", 0, "Authorized", chargingState="Charging")
            )
            cleared = await cp.ok("ClearedChargingLimit", {"chargingLimitSource": "EMS"})
            updated = await cp.ok(
                "TransactionEvent",
                event("tx-k51", "Updated", 1, "ChargingRateChanged", chargingState="Charging"),
            )
            return cleared, updated

    cleared, updated = run(scenario())

    assert cleared == {} and "idTokenInfo" not in updated
    notice = ChargingNotice.objects.get(station=station)
    assert (notice.kind, notice.source, notice.evse_id) == ("limit_cleared", "EMS", None)
    assert Session.objects.get(station=station, transaction_id="tx-k51").status == Session.Status.ACTIVE


def test_tc_k_52_external_constraints_the_station_reports_on_request_are_kept(ocpp_server, run):
    station = station_make(ocpp_version="2.0.1")
    external = {
        "id": 900,
        "stackLevel": 0,
        "chargingProfilePurpose": "ChargingStationExternalConstraints",
        "chargingProfileKind": "Absolute",
        "chargingSchedule": [{**EMS_SCHEDULE, "startSchedule": now_iso()}],
    }

    async def scenario():
        async with booted201(ocpp_server, station) as cp:
            await cp.ok("NotifyChargingLimit", {"chargingLimit": {"chargingLimitSource": "EMS"}})
            command, received = await sent_to(
                cp,
                station,
                "GetChargingProfiles",
                {"requestId": 52, "chargingProfile": {"chargingLimitSource": ["EMS"]}},
            )
            await cp.ok(
                "ReportChargingProfiles",
                {"requestId": 52, "chargingLimitSource": "EMS", "evseId": 0, "chargingProfile": [external]},
            )
            return command

    command = run(scenario())

    assert command.status == Command.Status.ACCEPTED
    report = ChargingNotice.objects.get(station=station, kind="profiles")
    assert (report.request_id, report.source, report.evse_id) == (52, "EMS", 0)
    assert report.data["chargingProfile"][0]["chargingProfilePurpose"] == "ChargingStationExternalConstraints"


# --- ISO 15118 load leveling (the live system: its worker shares the site) --------------------------

NEEDS = {"evseId": 1, "maxScheduleTuples": 10, "chargingNeeds": {"requestedEnergyTransfer": "AC_three_phase"}}


def iso15118_station(identity: str):
    """A 2.0.1 station on a 22 kW site whose load ChargeNet manages."""
    site = in_thread(location_create, name=f"Site {identity}", time_zone="Europe/Amsterdam")
    in_thread(
        station_create, identity=identity, password=STATION_PASSWORD, ocpp_version="2.0.1", location=site
    )
    return site


async def boot(cp) -> None:
    assert (await cp.ok("BootNotification", BOOT))["status"] == "Accepted"
    await cp.ok(
        "StatusNotification",
        {"timestamp": now_iso(), "connectorStatus": "Available", "evseId": 1, "connectorId": 1},
    )


def limit_of(payload: dict) -> float:
    return schedule_of(payload)["chargingSchedulePeriod"][0]["limit"]


async def ev_schedule(cp, payload: dict, factor: float = 1) -> dict:
    """The EV's schedule as the station tells it: the CSMS's, its limits × factor."""
    schedule = schedule_of(payload)
    periods = [{**p, "limit": p["limit"] * factor} for p in schedule["chargingSchedulePeriod"]]
    return await cp.ok(
        "NotifyEVChargingSchedule",
        {
            "timeBase": now_iso(),
            "evseId": 1,
            "chargingSchedule": {**schedule, "chargingSchedulePeriod": periods},
        },
    )


@pytest.mark.slow
def test_tc_k_53_tc_k_57_an_ev_that_tells_its_needs_gets_a_tx_profile_and_again_when_it_renegotiates(
    live_system, station_loop
):
    site = iso15118_station("K53-1")

    async def scenario():
        async with station_connection(
            live_system.ocpp_url, "K53-1", STATION_PASSWORD, subprotocols=("ocpp2.0.1",)
        ) as cp:
            await boot(cp)
            await asyncio.to_thread(in_thread, site_capacity_set, location=site, capacity_kw=22)
            await cp.wait_call("SetChargingProfile")  # the site's safe default
            await cp.ok(
                "TransactionEvent", event("tx-k53", "Started", 0, "EVDetected", chargingState="EVConnected")
            )
            await tx_profile_for(cp, "tx-k53")  # the first share
            # TC_K_53: the EV's needs, a schedule for them, the EV's schedule within it
            needs = await cp.ok("NotifyEVChargingNeeds", NEEDS)
            first = await tx_profile_for(cp, "tx-k53")
            first_answer = await ev_schedule(cp, first)
            await cp.ok(
                "TransactionEvent",
                event("tx-k53", "Updated", 1, "ChargingStateChanged", chargingState="Charging"),
            )
            # TC_K_57: the EV renegotiates with a maximum of 10 A
            again = await cp.ok(
                "NotifyEVChargingNeeds",
                {**NEEDS, "chargingNeeds": {"requestedEnergyTransfer": "AC_three_phase", "acChargingParameters": {
                    "energyAmount": 20000, "evMinCurrent": 6, "evMaxCurrent": 10, "evMaxVoltage": 400}}},
            )  # fmt: skip
            second = await tx_profile_for(cp, "tx-k53")
            second_answer = await ev_schedule(cp, second)
            return needs, first, first_answer, again, second, second_answer

    needs, first, first_answer, again, second, second_answer = station_loop.run(scenario(), timeout=90)

    assert needs == {"status": "Accepted"} and again == {"status": "Accepted"}
    for payload in (first, second):
        assert payload["evseId"] == 1 and payload["chargingProfile"]["chargingProfilePurpose"] == "TxProfile"
    # (a TxProfile sent without cause after the Charging event would have come before `second`)
    assert limit_of(first) == 31.9 and limit_of(second) == 10
    assert first_answer == {"status": "Accepted"} and second_answer == {"status": "Accepted"}
    # the operator sees both needs accepted, the second with the EV's maximum, and why it got 10 A
    needs_kept = ChargingNeed.objects.filter(session__transaction_id="tx-k53").order_by("id")
    assert [(n.status, n.max_current_a) for n in needs_kept] == [("Accepted", None), ("Accepted", 10)]
    decision = AllocationDecision.objects.filter(session__transaction_id="tx-k53").first()
    assert decision.current_a == 10 and "the EV's maximum of 10 A" in decision.reason


@pytest.mark.slow
def test_tc_k_55_an_ev_schedule_beyond_the_tx_profile_is_rejected_and_the_profile_renegotiated(
    live_system, station_loop
):
    site = iso15118_station("K55-1")

    async def scenario():
        async with station_connection(
            live_system.ocpp_url, "K55-1", STATION_PASSWORD, subprotocols=("ocpp2.0.1",)
        ) as cp:
            await boot(cp)
            await asyncio.to_thread(in_thread, site_capacity_set, location=site, capacity_a=16)
            await cp.wait_call("SetChargingProfile")
            await cp.ok(
                "TransactionEvent", event("tx-k55", "Started", 0, "EVDetected", chargingState="EVConnected")
            )
            await tx_profile_for(cp, "tx-k55")
            await cp.ok("NotifyEVChargingNeeds", NEEDS)
            given = await tx_profile_for(cp, "tx-k55")
            too_much = await ev_schedule(cp, given, factor=2)
            await cp.ok(
                "TransactionEvent",
                event("tx-k55", "Updated", 1, "ChargingStateChanged", chargingState="Charging"),
            )
            renegotiated = await tx_profile_for(cp, "tx-k55")
            within = await ev_schedule(cp, renegotiated)
            await cp.ok(
                "TransactionEvent",
                event("tx-k55", "Updated", 2, "ChargingRateChanged", chargingState="Charging"),
            )
            return given, too_much, renegotiated, within

    given, too_much, renegotiated, within = station_loop.run(scenario(), timeout=90)

    assert limit_of(given) == 16 and too_much == {"status": "Rejected"}
    assert renegotiated["chargingProfile"]["transactionId"] == "tx-k55" and limit_of(renegotiated) == 16
    assert within == {"status": "Accepted"}
    # both schedules the EV told are kept as the station sent them
    told = ChargingNotice.objects.filter(station__identity="K55-1", kind="ev_schedule").order_by("id")
    assert [n.data["chargingSchedule"]["chargingSchedulePeriod"][0]["limit"] for n in told] == [32, 16]


@pytest.mark.slow
def test_tc_k_58_tc_k_59_chargenet_renegotiates_when_the_site_changes_and_again_when_the_ev_tells_its_needs(
    live_system, station_loop
):
    site = iso15118_station("K58-1")

    async def scenario():
        async with station_connection(
            live_system.ocpp_url, "K58-1", STATION_PASSWORD, subprotocols=("ocpp2.0.1",)
        ) as cp:
            await boot(cp)
            await asyncio.to_thread(in_thread, site_capacity_set, location=site, capacity_kw=22)
            await cp.wait_call("SetChargingProfile")
            await cp.ok(
                "TransactionEvent", event("tx-k58", "Started", 0, "EVDetected", chargingState="EVConnected")
            )
            await tx_profile_for(cp, "tx-k58")
            await cp.ok("NotifyEVChargingNeeds", NEEDS)
            await ev_schedule(cp, await tx_profile_for(cp, "tx-k58"))
            # TC_K_58: the operator lowers the site's capacity; ChargeNet renegotiates
            await asyncio.to_thread(in_thread, site_capacity_set, location=site, capacity_a=16)
            lowered = await tx_profile_for(cp, "tx-k58")
            lowered_answer = await ev_schedule(cp, lowered)
            # TC_K_59: the station answers that with the EV's needs; a schedule follows again
            needs = await cp.ok("NotifyEVChargingNeeds", NEEDS)
            again = await tx_profile_for(cp, "tx-k58")
            again_answer = await ev_schedule(cp, again)
            return lowered, lowered_answer, needs, again, again_answer

    lowered, lowered_answer, needs, again, again_answer = station_loop.run(scenario(), timeout=90)

    assert lowered["evseId"] == 1 and lowered["chargingProfile"]["transactionId"] == "tx-k58"
    assert limit_of(lowered) == 16 and lowered_answer == {"status": "Accepted"}
    assert needs == {"status": "Accepted"}
    assert again["chargingProfile"]["transactionId"] == "tx-k58" and limit_of(again) == 16
    assert again_answer == {"status": "Accepted"}
