"""Shared steps of the OCPP end-to-end tests."""

import contextlib
import itertools
from typing import Any

from asgiref.sync import sync_to_async

from stations.models import Command, Station
from stations.services import command_create, command_wait, station_create
from tests.stations.connection.client import TestStation, station_connection

db = sync_to_async
_numbers = itertools.count(1)
PASSWORD = "test-station-password-1"


def station_make(prefix: str = "CP", **fields: Any) -> Station:
    """A registered station with the test password and one EVSE."""
    station, _ = station_create(identity=f"{prefix}-{next(_numbers)}", password=PASSWORD, **fields)
    return station


@contextlib.asynccontextmanager
async def booted(server: Any, station: Station, **kwargs: Any):
    """A connected, booted (Accepted) test station with its connector Available."""
    async with station_connection(server.url, station.identity, PASSWORD, **kwargs) as cp:
        boot = await cp.boot()
        assert boot["status"] == "Accepted", boot
        await cp.ok("StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Available"})
        yield cp


async def command_send(station: Station, action: str, payload: dict, timeout: float = 10) -> Command:
    """Queue a command the normal way (command_create) and wait for its final status."""
    command = await db(command_create)(station=station, action=action, payload=payload)
    return await db(command_wait)(command=command, timeout=timeout)


async def sent_to(cp: TestStation, station: Station, action: str, payload: dict, answer: Any = None):
    """Send `action` through the command queue; the test station answers `answer`. Returns
    (command as finally stored, payload the station received)."""
    if answer is not None:
        cp.responders[action] = answer
    command = await command_send(station, action, payload)
    received = await cp.wait_call(action)
    return command, received


def now_iso(offset_seconds: float = 0) -> str:
    from datetime import UTC, datetime, timedelta

    return (datetime.now(UTC) + timedelta(seconds=offset_seconds)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
