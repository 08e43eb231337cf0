"""OCPP 2.0.1 Basic-auth password rotation with SetVariables SecurityCtrlr.BasicAuthPassword
(TC_A_09 accepted, TC_A_10 rejected), as 1.6's AuthorizationKey rotation."""

import pytest

from stations.models import Command, OcppMessage
from stations.services import CommandError, command_create
from tests.stations.connection.client import eventually, station_connection
from tests.stations.connection.helpers import PASSWORD, command_send, station_make

pytestmark = pytest.mark.django_db(transaction=True)

BOOT_201 = {"chargingStation": {"vendorName": "ChargeNet Test", "model": "TS-2"}, "reason": "PowerUp"}
NEW_PASSWORD = "a-brand-new-password-0042"


def set_password(value: str) -> dict:
    return {
        "setVariableData": [
            {
                "attributeValue": value,
                "component": {"name": "SecurityCtrlr"},
                "variable": {"name": "BasicAuthPassword"},
            }
        ]
    }


def answer(status: str):
    return lambda payload: {
        "setVariableResult": [
            {
                "attributeStatus": status,
                "component": {"name": "SecurityCtrlr"},
                "variable": {"name": "BasicAuthPassword"},
            }
        ]
    }


async def heartbeat_with(server, station, password) -> int:
    """101-style check: 3 when the station got in and its Heartbeat was answered."""
    async with station_connection(server.url, station.identity, password, subprotocols=("ocpp2.0.1",)) as cp:
        return (await cp.call("Heartbeat", {}))[0]


def test_TC_A_09_an_accepted_basic_auth_password_replaces_the_old_one_at_once(ocpp_server, run):
    station = station_make(ocpp_version="2.0.1")

    async def scenario():
        async with station_connection(
            ocpp_server.url,
            station.identity,
            PASSWORD,
            subprotocols=("ocpp2.0.1",),
            responders={"SetVariables": answer("Accepted")},
        ) as cp:
            assert (await cp.ok("BootNotification", BOOT_201))["status"] == "Accepted"
            command = await command_send(station, "SetVariables", set_password(NEW_PASSWORD))
            received = await cp.wait_call("SetVariables")
        with pytest.raises(Exception, match="401"):
            await heartbeat_with(ocpp_server, station, PASSWORD)
        return command, received, await heartbeat_with(ocpp_server, station, NEW_PASSWORD)

    command, received, with_new = run(scenario())
    assert received == set_password(NEW_PASSWORD)  # the station got the password in clear text
    assert command.status == Command.Status.ACCEPTED
    assert with_new == 3
    # the secret is kept neither in the command nor in the message log
    command.refresh_from_db()
    assert command.payload["setVariableData"][0]["attributeValue"] == "********"
    logged = eventually(
        lambda: OcppMessage.objects.filter(station=station, action="SetVariables", direction="out").first()
    )
    assert "********" in logged.payload
    assert not OcppMessage.objects.filter(station=station, payload__contains=NEW_PASSWORD).exists()


def test_TC_A_10_a_rejected_basic_auth_password_keeps_the_old_one(ocpp_server, run):
    station = station_make(ocpp_version="2.0.1")

    async def scenario():
        async with station_connection(
            ocpp_server.url,
            station.identity,
            PASSWORD,
            subprotocols=("ocpp2.0.1",),
            responders={"SetVariables": answer("Rejected")},
        ) as cp:
            assert (await cp.ok("BootNotification", BOOT_201))["status"] == "Accepted"
            await command_send(station, "SetVariables", set_password(NEW_PASSWORD))
        with pytest.raises(Exception, match="401"):
            await heartbeat_with(ocpp_server, station, NEW_PASSWORD)
        return await heartbeat_with(ocpp_server, station, PASSWORD)

    assert run(scenario()) == 3


@pytest.mark.parametrize("password", ["too-short", "x" * 41])
def test_a_basic_auth_password_of_the_wrong_length_is_refused_before_it_is_sent(password):
    station = station_make(ocpp_version="2.0.1")
    with pytest.raises(CommandError, match="16 to 40"):
        command_create(station=station, action="SetVariables", payload=set_password(password))
    assert not Command.objects.filter(station=station).exists()
