import pytest

from stations.models import Command, Station
from stations.services import CommandError, command_create, command_wait, station_create


@pytest.fixture
def station(db):
    return station_create(identity="CP-1")[0]


def test_a_command_for_an_offline_station_waits_in_the_queue(station, operator):
    command = command_create(station=station, action="Reset", payload={"type": "Soft"}, requested_by=operator)

    command.refresh_from_db()
    assert command.status == Command.Status.QUEUED
    assert command.expires_at is not None
    assert command.requested_by == operator


def test_it_refuses_an_action_the_stations_version_does_not_have(station):
    with pytest.raises(CommandError, match="do not support the action 'GetVariables'"):
        command_create(station=station, action="GetVariables", payload={"getVariableData": []})

    assert not Command.objects.exists()


def test_it_refuses_a_payload_that_breaks_the_schema_and_says_why(station):
    with pytest.raises(CommandError, match="Reset payload is not valid OCPP 1.6"):
        command_create(station=station, action="Reset", payload={"type": "Gentle"})

    assert not Command.objects.exists()


def test_nothing_is_sent_to_a_rejected_station(station):
    station.registration_status = Station.RegistrationStatus.REJECTED
    station.save()

    with pytest.raises(CommandError, match="Rejected"):
        command_create(station=station, action="ClearCache", payload={})


def test_a_retried_request_with_the_same_idempotency_key_creates_one_command(station, operator):
    first = command_create(
        station=station, action="ClearCache", payload={}, requested_by=operator, idempotency_key="k1"
    )
    again = command_create(
        station=station, action="ClearCache", payload={}, requested_by=operator, idempotency_key="k1"
    )

    assert again.pk == first.pk
    assert Command.objects.count() == 1


def test_waiting_returns_the_command_as_it_is_when_the_deadline_passes(station):
    command = command_create(station=station, action="ClearCache", payload={})

    assert command_wait(command=command, timeout=0.2).status == Command.Status.QUEUED
