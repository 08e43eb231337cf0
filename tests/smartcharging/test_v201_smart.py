"""The same smart charging for OCPP 2.0.1 stations, over real sockets to the live system: the
site's TxDefault and the sessions' TxProfiles spelled in 2.0.1, schedule limits as
ChargingStationMaxProfile and availability as ChangeAvailability operationalStatus."""

import asyncio
from datetime import UTC, datetime, time

import pytest

from smartcharging.services import schedule_rule_create, schedules_apply, site_capacity_set
from stations.services import location_create, station_create
from tests.e2e.conftest import STATION_PASSWORD, in_thread
from tests.stations.connection.client import station_connection
from tests.stations.connection.helpers import now_iso

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

BOOT = {"chargingStation": {"vendorName": "ChargeNet Test", "model": "TS-2"}, "reason": "PowerUp"}


def started(tx: str) -> dict:
    return {
        "eventType": "Started",
        "timestamp": now_iso(),
        "triggerReason": "Authorized",
        "seqNo": 0,
        "transactionInfo": {"transactionId": tx, "chargingState": "Charging"},
        "evse": {"id": 1, "connectorId": 1},
    }


async def tx_profile_for(cp, tx: str, timeout: float = 10) -> dict:
    """The next TxProfile the CSMS sent for transaction `tx`."""
    while True:
        payload = await cp.wait_call("SetChargingProfile", timeout=timeout)
        if payload["chargingProfile"].get("transactionId") == tx:
            return payload


def test_two_201_stations_share_a_site_and_take_schedule_limits_in_their_own_terms(live_system, station_loop):
    # given a 22 kW site with two 2.0.1 stations
    site = in_thread(location_create, name="Hub 201", time_zone="Europe/Amsterdam")
    for n in (1, 2):
        in_thread(
            station_create, identity=f"V2-{n}", password=STATION_PASSWORD, ocpp_version="2.0.1", location=site
        )
    in_thread(
        schedule_rule_create,
        name="Evening",
        kind="power_limit",
        location=site,
        weekdays=[0, 1, 2, 3, 4],
        start_time=time(17),
        end_time=time(21),
        limit_w=11000,
    )

    async def scenario():
        async with (
            station_connection(
                live_system.ocpp_url, "V2-1", STATION_PASSWORD, subprotocols=("ocpp2.0.1",)
            ) as a,
            station_connection(
                live_system.ocpp_url, "V2-2", STATION_PASSWORD, subprotocols=("ocpp2.0.1",)
            ) as b,
        ):
            for cp in (a, b):
                assert (await cp.ok("BootNotification", BOOT))["status"] == "Accepted"
            await asyncio.to_thread(in_thread, site_capacity_set, location=site, capacity_kw=22)
            defaults = [await cp.wait_call("SetChargingProfile") for cp in (a, b)]

            await a.ok("TransactionEvent", started("v2-tx-a"))
            first = await tx_profile_for(a, "v2-tx-a")
            await b.ok("TransactionEvent", started("v2-tx-b"))
            shared_b = await tx_profile_for(b, "v2-tx-b")
            shared_a = await tx_profile_for(a, "v2-tx-a")

            # Friday 27 March 2026 17:00 in Amsterdam
            await asyncio.to_thread(in_thread, schedules_apply, now=datetime(2026, 3, 27, 16, 0, tzinfo=UTC))
            limit = await a.wait_call("SetChargingProfile")
            # Friday 22:00 UTC: no shop hours rule here, only the lifted limit
            await asyncio.to_thread(in_thread, schedules_apply, now=datetime(2026, 3, 27, 21, 0, tzinfo=UTC))
            cleared = await a.wait_call("ClearChargingProfile")
            return defaults, first, shared_a, shared_b, limit, cleared

    defaults, first, shared_a, shared_b, limit, cleared = station_loop.run(scenario(), timeout=90)

    # then the safe default is a 2.0.1 TxDefaultProfile for every EVSE (evseId 0)
    assert defaults[0]["evseId"] == 0
    assert defaults[0]["chargingProfile"]["chargingProfilePurpose"] == "TxDefaultProfile"
    assert defaults[0]["chargingProfile"]["chargingSchedule"][0]["chargingSchedulePeriod"] == [
        {"startPeriod": 0, "limit": 6}
    ]

    def amps(payload):
        return payload["chargingProfile"]["chargingSchedule"][0]["chargingSchedulePeriod"][0]["limit"]

    # the first car gets what is left after the idle connector's reserve, then both share equally
    assert first["evseId"] == 1 and first["chargingProfile"]["chargingProfilePurpose"] == "TxProfile"
    assert amps(first) == 25.9
    assert amps(shared_a) == amps(shared_b) == 15.9
    # the evening limit is a ChargingStationMaxProfile in W, lifted by its id
    assert limit["chargingProfile"]["chargingProfilePurpose"] == "ChargingStationMaxProfile"
    assert limit["chargingProfile"]["chargingSchedule"][0]["chargingSchedulePeriod"][0]["limit"] == 11000
    assert cleared == {"chargingProfileId": limit["chargingProfile"]["id"]}
