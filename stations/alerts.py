"""Faults and alerts: what needs an operator's eye, and their acknowledgements.

An alert is derived from live state, never stored as such: a connector in Faulted, a station
silent for longer than ALERT_OFFLINE_MINUTES, a station whose boot was refused (registration
Pending or Rejected), a security event the station reported. Only the acknowledgement is a row,
tied to one occurrence (kind, object, when it began), so a fault that comes back is new again.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.apps import apps
from django.db import IntegrityError, transaction

from chargenet.events import event_publish
from stations.dashboard_selectors import offline_threshold
from stations.models import AlertAcknowledgement, Connector, Station

Kind = AlertAcknowledgement.Kind


class AlertError(Exception):
    """An acknowledgement was refused (the alert is unknown or already over)."""


@dataclass
class Alert:
    """One occurrence of something an operator should look at."""

    kind: str
    object_id: int
    occurred_at: datetime | None
    station: Station
    title: str
    detail: str
    acknowledgement: AlertAcknowledgement | None = None

    @property
    def kind_label(self) -> str:
        return Kind(self.kind).label

    @property
    def occurred_key(self) -> str:
        return self.occurred_at.isoformat() if self.occurred_at else ""


def _security_event_model() -> Any:
    # The OCPP layer adds SecurityEvent; until it does there is nothing to show.
    try:
        return apps.get_model("stations", "SecurityEvent")
    except LookupError:
        return None


def alert_list(*, station: Station | None = None, include_acknowledged: bool = True) -> list[Alert]:
    """Every current alert (of one station, or of the network), newest first, with its acknowledgement."""
    alerts: list[Alert] = []
    connectors = Connector.objects.filter(status=Connector.Status.FAULTED).select_related("evse__station")
    silent = Station.objects.filter(is_online=False, last_seen_at__lt=offline_threshold())
    refused = Station.objects.filter(
        registration_status__in=(Station.RegistrationStatus.PENDING, Station.RegistrationStatus.REJECTED),
        last_boot_at__isnull=False,
    )
    if station is not None:
        connectors = connectors.filter(evse__station=station)
        silent = silent.filter(pk=station.pk)
        refused = refused.filter(pk=station.pk)
    for connector in connectors:
        code = connector.error_code or "no error code"
        vendor = f" (vendor {connector.vendor_error_code})" if connector.vendor_error_code else ""
        alerts.append(
            Alert(
                kind=Kind.CONNECTOR_FAULT,
                object_id=connector.pk,
                occurred_at=connector.status_updated_at,
                station=connector.evse.station,
                title=f"EVSE {connector.evse.evse_id} connector {connector.connector_id} faulted",
                detail=f"{code}{vendor}{' · ' + connector.info if connector.info else ''}",
            )
        )
    for row in silent.select_related("location"):
        alerts.append(
            Alert(
                kind=Kind.STATION_OFFLINE,
                object_id=row.pk,
                occurred_at=row.last_seen_at,
                station=row,
                title="Station offline",
                detail="No message since the time shown",
            )
        )
    for row in refused:
        alerts.append(
            Alert(
                kind=Kind.BOOT_REJECTED,
                object_id=row.pk,
                occurred_at=row.last_boot_at,
                station=row,
                title=f"Boot answered {row.registration_status}",
                detail="Accept the station's registration to let it operate",
            )
        )
    alerts.extend(_security_alerts(station=station))
    _attach_acknowledgements(alerts)
    if not include_acknowledged:
        alerts = [a for a in alerts if a.acknowledgement is None]
    epoch = datetime.min.replace(tzinfo=None)
    alerts.sort(key=lambda a: a.occurred_at.replace(tzinfo=None) if a.occurred_at else epoch, reverse=True)
    return alerts


def _security_alerts(*, station: Station | None, limit: int = 50) -> list[Alert]:
    model = _security_event_model()
    if model is None:
        return []
    events = model.objects.select_related("station").order_by("-pk")
    if station is not None:
        events = events.filter(station=station)
    alerts = []
    for event in events[:limit]:
        if getattr(event, "station", None) is None:
            continue
        alerts.append(
            Alert(
                kind=Kind.SECURITY_EVENT,
                object_id=event.pk,
                occurred_at=getattr(event, "timestamp", None) or getattr(event, "created_at", None),
                station=event.station,
                title=f"Security event {getattr(event, 'type', '') or getattr(event, 'event_type', '')}".strip(),
                detail=str(getattr(event, "tech_info", "") or ""),
            )
        )
    return alerts


def _attach_acknowledgements(alerts: list[Alert]) -> None:
    if not alerts:
        return
    acks = AlertAcknowledgement.objects.filter(
        kind__in={a.kind for a in alerts}, object_id__in={a.object_id for a in alerts}
    ).select_related("acknowledged_by")
    by_key = {(ack.kind, ack.object_id, ack.occurred_at): ack for ack in acks}
    for alert in alerts:
        alert.acknowledgement = by_key.get((alert.kind, alert.object_id, alert.occurred_at))


def alert_count_open() -> int:
    """How many alerts nobody has acknowledged yet (the badge in the navigation)."""
    return len(alert_list(include_acknowledged=False))


@transaction.atomic
def alert_acknowledge(
    *, kind: str, object_id: int, occurred_at: str, note: str, user: Any
) -> AlertAcknowledgement:
    """Record that `user` has seen this occurrence of an alert, with a note; acknowledging twice
    keeps the first. Raises AlertError when no such alert is current."""
    current = next(
        (
            a
            for a in alert_list(include_acknowledged=True)
            if a.kind == kind and a.object_id == object_id and a.occurred_key == occurred_at
        ),
        None,
    )
    if current is None:
        raise AlertError("This alert is no longer current; the page has been refreshed.")
    if current.acknowledgement is not None:
        return current.acknowledgement
    try:
        with transaction.atomic():
            ack = AlertAcknowledgement.objects.create(
                kind=kind,
                object_id=object_id,
                occurred_at=current.occurred_at,
                station=current.station,
                note=note.strip()[:2000],
                acknowledged_by=user,
            )
    except IntegrityError:
        # Two operators acknowledged at once: the first one wins.
        return AlertAcknowledgement.objects.get(
            kind=kind, object_id=object_id, occurred_at=current.occurred_at
        )
    event_publish(
        "alert.acknowledged",
        {"station_id": current.station.pk, "identity": current.station.identity, "kind": kind},
    )
    return ack
