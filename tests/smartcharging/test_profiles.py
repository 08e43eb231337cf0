"""Charging profiles as objects: sent as durable commands over a real socket, checked against the
station first, and the installed state kept as the station answers (1.6 and 2.0.1)."""

import pytest

from chargenet.events import events_dispatch_due
from chargenet.models import Event
from smartcharging.services import (
    ProfileSpec,
    SmartChargingError,
    charging_profile_clear,
    charging_profile_send,
)
from stations.models import ChargingProfile, Command, StationConfigurationKey
from stations.services import command_wait
from tests.stations.connection.client import station_connection
from tests.stations.connection.helpers import PASSWORD, booted, db, now_iso, station_make

pytestmark = pytest.mark.django_db(transaction=True)

BOOT201 = {"chargingStation": {"vendorName": "ChargeNet Test", "model": "TS-2"}, "reason": "PowerUp"}


def default_profile(**fields) -> ProfileSpec:
    values = {
        "purpose": "TxDefault",
        "unit": "A",
        "evse_id": 1,
        "periods": [{"start": 0, "limit": 16}],
        **fields,
    }
    return ProfileSpec(**values)


async def send_and_wait(station, spec):
    command = await db(charging_profile_send)(station=station, spec=spec)
    return await db(command_wait)(command=command, timeout=10)


def test_a_201_profile_is_stored_under_its_own_id_and_purpose(ocpp_server, run):
    station = station_make(ocpp_version="2.0.1")

    async def scenario():
        async with station_connection(
            ocpp_server.url, station.identity, PASSWORD, subprotocols=("ocpp2.0.1",)
        ) as cp:
            assert (await cp.ok("BootNotification", BOOT201))["status"] == "Accepted"
            command = await send_and_wait(station, default_profile(profile_id=7, stack_level=2))
            received = await cp.wait_call("SetChargingProfile")
            return command, received

    command, received = run(scenario())

    assert command.status == Command.Status.ACCEPTED
    assert received["evseId"] == 1
    assert received["chargingProfile"]["id"] == 7
    assert received["chargingProfile"]["chargingSchedule"][0]["chargingRateUnit"] == "A"
    stored = ChargingProfile.objects.get(station=station)
    assert (stored.charging_profile_id, stored.purpose, stored.connector_id, stored.stack_level) == (
        7,
        "TxDefaultProfile",
        1,
        2,
    )
    assert stored.status == ChargingProfile.Status.INSTALLED


def test_a_201_clear_by_id_clears_only_that_profile(ocpp_server, run):
    station = station_make(ocpp_version="2.0.1")

    async def scenario():
        async with station_connection(
            ocpp_server.url, station.identity, PASSWORD, subprotocols=("ocpp2.0.1",)
        ) as cp:
            await cp.ok("BootNotification", BOOT201)
            await send_and_wait(station, default_profile(profile_id=1, stack_level=0))
            await send_and_wait(station, default_profile(profile_id=2, stack_level=1))
            command = await db(charging_profile_clear)(station=station, profile_id=1)
            command = await db(command_wait)(command=command, timeout=10)
            await cp.wait_call("ClearChargingProfile")
            return command

    command = run(scenario())

    assert command.payload == {"chargingProfileId": 1}
    statuses = dict(
        ChargingProfile.objects.filter(station=station).values_list("charging_profile_id", "status")
    )
    assert statuses == {1: "cleared", 2: "installed"}


def test_a_16_station_that_refuses_a_profile_shows_it_rejected_and_a_new_one_replaces_the_old(
    ocpp_server, run
):
    station = station_make()

    async def scenario():
        async with booted(ocpp_server, station) as cp:
            await send_and_wait(station, default_profile(profile_id=3))
            # the same id again: the station replaces it (OCPP 1.6 §3.13.2)
            await send_and_wait(station, default_profile(profile_id=3, periods=[{"start": 0, "limit": 10}]))
            cp.responders["SetChargingProfile"] = {"status": "Rejected"}
            return await send_and_wait(station, default_profile(profile_id=5, stack_level=3))

    refused = run(scenario())

    assert refused.status == Command.Status.REJECTED
    rows = ChargingProfile.objects.filter(station=station).order_by("id")
    assert [(r.charging_profile_id, r.status) for r in rows] == [
        (3, "replaced"),
        (3, "installed"),
        (5, "rejected"),
    ]


def test_a_boot_heard_late_does_not_send_again_the_profiles_the_station_took_since(ocpp_server, run):
    # given a station that booted while no worker dispatched its boot event, then took a profile
    station = station_make()

    async def scenario():
        async with booted(ocpp_server, station):
            await send_and_wait(station, default_profile(profile_id=3))
            # when the boot event reaches its subscribers only now (a busy worker, the beat sweep)
            await db(events_dispatch_due)()

    run(scenario())

    # then the profile the station took after its boot is not sent to it again
    assert Event.objects.get(type="station.booted", data__station_id=station.pk).dispatched_at is not None
    assert Command.objects.filter(station=station, action="SetChargingProfile").count() == 1
    rows = ChargingProfile.objects.filter(station=station)
    assert [(r.charging_profile_id, r.status) for r in rows] == [(3, "installed")]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (default_profile(evse_id=9), "has no connector/EVSE 9"),
        (
            ProfileSpec(purpose="Tx", evse_id=1, periods=[{"start": 0, "limit": 10}]),
            "no session is running on EVSE 1",
        ),
        (default_profile(stack_level=99), "stack level must be between 0 and 10"),
        (
            ProfileSpec(
                purpose="TxDefault", evse_id=1, periods=[{"start": i * 60, "limit": 10} for i in range(30)]
            ),
            "more than the station takes .24",
        ),
        (default_profile(unit="W"), "does not allow limits in W"),
        (
            ProfileSpec(purpose="StationMax", evse_id=1, periods=[{"start": 0, "limit": 10}]),
            "evse_id must be 0",
        ),
        (
            ProfileSpec(purpose="TxDefault", unit="A", periods=[{"start": 5, "limit": 10}]),
            "periods must start at 0",
        ),
        (default_profile(kind="Recurring", recurrency="Daily"), "needs start_schedule"),
    ],
)
def test_a_profile_the_station_cannot_take_is_refused_and_nothing_is_queued(spec, message):
    # given a 1.6 station that reported its smart-charging limits
    station = station_make()
    for key, value in {
        "ChargeProfileMaxStackLevel": "10",
        "ChargingScheduleMaxPeriods": "24",
        "ChargingScheduleAllowedChargingRateUnit": "Current",
    }.items():
        StationConfigurationKey.objects.create(station=station, key=key, value=value)

    # when / then
    with pytest.raises(SmartChargingError, match=message):
        charging_profile_send(station=station, spec=spec)
    assert not Command.objects.filter(station=station).exists()


def test_a_stack_level_held_by_another_profile_is_refused():
    station = station_make()
    ChargingProfile.objects.create(
        station=station,
        connector_id=1,
        charging_profile_id=3,
        stack_level=0,
        purpose="TxDefaultProfile",
        profile={},
    )

    with pytest.raises(SmartChargingError, match="profile 3 already holds stack level 0"):
        charging_profile_send(station=station, spec=default_profile(profile_id=8))
    assert not Command.objects.filter(station=station).exists()


def test_a_16_tx_profile_carries_the_running_transaction(ocpp_server, run):
    station = station_make()

    async def scenario():
        async with booted(ocpp_server, station) as cp:
            start = await cp.ok(
                "StartTransaction",
                {"connectorId": 1, "idTag": "SC-1", "meterStart": 0, "timestamp": now_iso()},
            )
            spec = ProfileSpec(
                purpose="Tx", evse_id=1, kind="Relative", unit="W", periods=[{"start": 0, "limit": 7400}]
            )
            await send_and_wait(station, spec)
            return start["transactionId"], await cp.wait_call("SetChargingProfile")

    transaction_id, received = run(scenario())

    profile = received["csChargingProfiles"]
    assert profile["transactionId"] == transaction_id
    assert profile["chargingProfilePurpose"] == "TxProfile"
    assert profile["chargingSchedule"]["chargingSchedulePeriod"] == [{"startPeriod": 0, "limit": 7400}]
