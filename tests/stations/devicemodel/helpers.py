"""A booted OCPP 2.0.1 test station over a real socket."""

import contextlib
from typing import Any

from tests.stations.connection.client import station_connection
from tests.stations.connection.helpers import PASSWORD, now_iso

BOOT = {"chargingStation": {"vendorName": "ChargeNet Test", "model": "TS-2"}, "reason": "PowerUp"}


@contextlib.asynccontextmanager
async def connected201(server: Any, station: Any, **kwargs: Any):
    async with station_connection(
        server.url, station.identity, PASSWORD, subprotocols=("ocpp2.0.1",), **kwargs
    ) as cp:
        yield cp


@contextlib.asynccontextmanager
async def booted201(server: Any, station: Any, **kwargs: Any):
    """A connected 2.0.1 test station, booted Accepted, its EVSE 1 connector 1 Available."""
    async with connected201(server, station, **kwargs) as cp:
        assert (await cp.ok("BootNotification", BOOT))["status"] == "Accepted"
        await cp.ok(
            "StatusNotification",
            {"timestamp": now_iso(), "connectorStatus": "Available", "evseId": 1, "connectorId": 1},
        )
        yield cp


def report_item(name: str, variable: str, value: str, **extra: Any) -> dict:
    """One ReportDataType with an Actual attribute."""
    item: dict[str, Any] = {
        "component": {"name": name, **extra.pop("component", {})},
        "variable": {"name": variable},
        "variableAttribute": [
            {"type": "Actual", "value": value, "mutability": extra.pop("mutability", "ReadWrite")}
        ],
    }
    item.update(extra)
    return item
