"""Connector and station status: the StatusNotification history, live status and fault events."""

from typing import Any

from django.db import transaction
from django.utils import timezone

from chargenet import sql
from chargenet.events import event_publish
from stations.common import _connector_for, _protocol_state, _station_event, _timestamp_plausible
from stations.models import Connector, ConnectorStatusChange, Station

FAULT_FREE_ERROR_CODES = frozenset({"", "NoError"})

# The writer's statements of every StatusNotification, compiled once (see chargenet/sql.py).
# A station's connector (unique: EVSE per station, connector per EVSE), locked, with EVSE and station.
_connector_locked = sql.Select(
    Connector,
    where=["evse__station_id", "evse__evse_id", "connector_id"],
    related=["evse", "evse__station"],
    lock=True,
    only={"evse__station": ["identity", "created_at"]},  # what a StatusNotification reads of it
)
_status_change_insert = sql.Insert(ConnectorStatusChange)
_connector_status_update = sql.Update(
    Connector, ["status", "error_code", "info", "vendor_error_code", "status_updated_at"]
)


def _is_fault(status: str, error_code: str) -> bool:
    return status == Connector.Status.FAULTED or error_code not in FAULT_FREE_ERROR_CODES


@transaction.atomic
def connector_status_record(
    *,
    station_id: int,
    connector_id: int,
    status: str,
    error_code: str = "",
    info: str = "",
    vendor_error_code: str = "",
    timestamp: Any = None,
    connector_number: int = 1,
) -> None:
    """Handle a StatusNotification: keep a history row, update the connector's live status (unless the
    report is older than the current one), publish status/fault events. `connector_id` is the EVSE
    (1.6 connectorId, 2.0.1 evseId; 0 is the station); `connector_number` the 2.0.1 connectorId on it."""
    connector = None
    if connector_id > 0:
        # One locking query for the connector a station reports about, with its EVSE and station (it
        # exists but at the first report of a connector the station did not declare, which creates it).
        connector = _connector_locked(station_id, connector_id, connector_number or 1)
    if connector is not None:
        station = connector.evse.station
    else:
        station = Station.objects.get(pk=station_id)
        if connector_id > 0:
            connector = _connector_for(station, connector_id, connector_number)
    if timestamp is None or not _timestamp_plausible(station, timestamp):
        timestamp = timezone.now()
    if connector is not None:
        previous, previous_error = connector.status, connector.error_code
    else:
        state = _protocol_state(station.pk)
        previous, previous_error = state.station_status, state.station_error_code
    change = {
        "station_id": station.pk,
        "connector_id": connector.pk if connector is not None else None,
        "evse_id": connector_id,
        "status": status[:16],
        "previous_status": previous,
        "error_code": error_code[:50],
        "vendor_error_code": vendor_error_code[:50],
        "info": info[:50],
        "timestamp": timestamp,
    }
    _status_change_insert.later([change])
    if connector is not None:
        if connector.status_updated_at and timestamp < connector.status_updated_at:
            return  # an old report overtaken by a newer one: history only
        connector.status = status[:16]
        connector.error_code = error_code[:50]
        connector.info = info[:50]
        connector.vendor_error_code = vendor_error_code[:50]
        connector.status_updated_at = timestamp
        _connector_status_update.later(
            connector.pk,
            connector.status,
            connector.error_code,
            connector.info,
            connector.vendor_error_code,
            connector.status_updated_at,
        )
    else:
        type(state).objects.filter(pk=state.pk).update(
            station_status=status[:16], station_error_code=error_code[:50]
        )
    data = _station_event(
        station,
        evse_id=connector_id,
        connector_id=(connector_number or 1) if connector_id else 0,
        status=status,
        previous_status=previous,
        error_code=error_code,
    )
    if previous != status or previous_error != error_code:
        event_publish("connector.status_changed", data)
    was_fault, is_fault = _is_fault(previous, previous_error), _is_fault(status, error_code)
    if is_fault and not was_fault:
        event_publish("connector.fault_raised", data)
    elif was_fault and not is_fault:
        event_publish("connector.fault_cleared", data)
