"""Stations, sessions and a stand-in for the protocol layer's status service for dashboard tests."""

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from stations import services
from stations.models import Connector, Session, Station
from stations.services import station_create


def connector_status_set(*, connector: Connector, status: str, error_code: str = "") -> None:
    """Report a connector status through the protocol layer's service, as a StatusNotification does."""
    services.connector_status_record(
        station_id=connector.evse.station_id,
        connector_id=connector.evse.evse_id,
        status=status,
        error_code=error_code or "NoError",
    )


def make_station(identity: str, *, evses: int = 2, online: bool = True, **fields: Any) -> Station:
    station = station_create(identity=identity, evses=evses, **fields)[0]
    Station.objects.filter(pk=station.pk).update(
        is_online=online,
        # Presence as the OCPP consumer records it; nobody listens on this channel in page tests.
        channel_name=f"specific.test!{identity}" if online else "",
        last_seen_at=timezone.now(),
        vendor="Alfen",
        model="Eve",
        firmware_version="4.12",
    )
    Connector.objects.filter(evse__station=station).update(status=Connector.Status.AVAILABLE)
    station.refresh_from_db()
    return station


def make_session(
    station: Station, *, transaction_id: str = "17", energy_wh: int = 0, active: bool = True
) -> Session:
    connector = Connector.objects.filter(evse__station=station).select_related("evse").first()
    return Session.objects.create(
        station=station,
        evse=connector.evse,
        connector=connector,
        transaction_id=transaction_id,
        id_tag="CARD1",
        started_at=timezone.now() - timedelta(minutes=30),
        status=Session.Status.ACTIVE if active else Session.Status.COMPLETED,
        stopped_at=None if active else timezone.now(),
        energy_wh=energy_wh,
    )


@pytest.fixture
def station(db):
    return make_station("CP-1")
