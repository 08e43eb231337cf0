"""Stations, sessions and a stand-in for the protocol layer's status service for dashboard tests."""

from datetime import timedelta
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone

from chargenet.events import event_publish
from stations import services
from stations.models import Connector, Session, Station
from stations.services import station_create


def connector_status_set(*, connector: Connector, status: str, error_code: str = "") -> None:
    """Set a connector's status the way the protocol layer does, publishing connector.status_changed.

    Uses `stations.services.connector_status_set` once the OCPP layer provides it.
    """
    real = getattr(services, "connector_status_set", None)
    if real is not None:
        real(connector=connector, status=status, error_code=error_code)
        return
    with transaction.atomic():
        previous = connector.status
        connector.status, connector.error_code = status, error_code
        connector.status_updated_at = timezone.now()
        connector.save(update_fields=["status", "error_code", "status_updated_at"])
        station = connector.evse.station
        event_publish(
            "connector.status_changed",
            {
                "station_id": station.pk,
                "identity": station.identity,
                "evse_id": connector.evse.evse_id,
                "connector_id": connector.connector_id,
                "status": status,
                "previous_status": previous,
                "error_code": error_code,
            },
        )


def make_station(identity: str, *, evses: int = 2, online: bool = True, **fields: Any) -> Station:
    station = station_create(identity=identity, evses=evses, **fields)[0]
    Station.objects.filter(pk=station.pk).update(
        is_online=online, last_seen_at=timezone.now(), vendor="Alfen", model="Eve", firmware_version="4.12"
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
