"""Faults and alerts: what needs an operator's eye, and their acknowledgements.

An alert is derived from live state, never stored as such: a connector in Faulted, a station
silent for longer than ALERT_OFFLINE_MINUTES, a station whose boot was refused (registration
Pending or Rejected), a security event the station reported. Only the acknowledgement is a row,
tied to one occurrence (kind, object, when it began), so a fault that comes back is new again.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage, get_connection
from django.db import IntegrityError, transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone, translation
from django.utils.translation import gettext

from chargenet.events import event_publish
from chargenet.services import user_language
from stations.dashboard.selectors import offline_threshold
from stations.models import (
    AlertAcknowledgement,
    AlertMailPreference,
    AlertNotification,
    Connector,
    ConnectorStatusChange,
    Station,
)

logger = logging.getLogger(__name__)

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
        return str(Kind(self.kind).label)

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
    for connector in connectors.annotate(fault_began=_fault_began()):
        code = connector.error_code or gettext("no error code")
        vendor = f" (vendor {connector.vendor_error_code})" if connector.vendor_error_code else ""
        alerts.append(
            Alert(
                kind=Kind.CONNECTOR_FAULT,
                object_id=connector.pk,
                occurred_at=connector.fault_began or connector.status_updated_at,
                station=connector.evse.station,
                title=gettext("EVSE %(evse)s connector %(connector)s faulted")
                % {"evse": connector.evse.evse_id, "connector": connector.connector_id},
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
                title=gettext("Station offline"),
                detail=gettext("No message since the time shown"),
            )
        )
    for row in refused:
        alerts.append(
            Alert(
                kind=Kind.BOOT_REJECTED,
                object_id=row.pk,
                occurred_at=row.last_boot_at,
                station=row,
                title=gettext("Boot answered %(status)s") % {"status": row.registration_status},
                detail=gettext("Accept the station's registration to let it operate"),
            )
        )
    alerts.extend(_security_alerts(station=station))
    alerts.extend(_device_problem_alerts(station=station))
    _attach_acknowledgements(alerts)
    if not include_acknowledged:
        alerts = [a for a in alerts if a.acknowledgement is None]
    epoch = datetime.min.replace(tzinfo=None)
    alerts.sort(key=lambda a: a.occurred_at.replace(tzinfo=None) if a.occurred_at else epoch, reverse=True)
    return alerts


def _fault_began() -> Subquery:
    """When a connector's current fault began: its latest change into Faulted from another status.
    A station repeats Faulted (after a reconnect, a TriggerMessage, a new error code); each repeat
    moves `status_updated_at` but is the same occurrence (the same acknowledgement, one e-mail)."""
    return Subquery(
        ConnectorStatusChange.objects.filter(connector=OuterRef("pk"), status=Connector.Status.FAULTED)
        .exclude(previous_status=Connector.Status.FAULTED)
        .order_by("-timestamp")
        .values("timestamp")[:1]
    )


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
                title=(
                    gettext("Security event %(type)s")
                    % {"type": getattr(event, "type", "") or getattr(event, "event_type", "")}
                ).strip(),
                detail=str(getattr(event, "tech_info", "") or ""),
            )
        )
    return alerts


def _device_problem_alerts(*, station: Station | None, limit: int = 200) -> list[Alert]:
    """A 2.0.1 station's problem events (NotifyEvent) that no later event has cleared."""
    from stations.devicemodel.selectors import device_problems_open

    alerts = []
    for event in device_problems_open(station=station)[:limit]:
        where = f" · EVSE {event.evse_id}" if event.evse_id is not None else ""
        detail = " · ".join(x for x in (event.actual_value, event.tech_code, event.tech_info) if x)
        alerts.append(
            Alert(
                kind=Kind.DEVICE_PROBLEM,
                object_id=event.pk,
                occurred_at=event.timestamp,
                station=event.station,
                title=f"{event.component} {event.variable}{where}",
                detail=detail or event.trigger,
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


# --- e-mail alerts -------------------------------------------------------------------------------

# Occurrences that began longer ago are not mailed (the first run after opting in, or after an
# outage of the worker, must not mail a backlog of old alerts).
ALERT_MAIL_MAX_AGE = timedelta(hours=24)


@transaction.atomic
def alert_mail_set(*, user: Any, enabled: bool) -> AlertMailPreference:
    """Turn e-mail alerts on or off for an operator (any operator role). Raises AlertError for a
    driver, or when turning them on for a user without an e-mail address."""
    if not getattr(user, "is_staff_member", False):
        raise AlertError("Only operators get alert e-mails.")
    if enabled and not user.email:
        raise AlertError("Add an e-mail address to your account first.")
    preference, _ = AlertMailPreference.objects.update_or_create(user=user, defaults={"enabled": enabled})
    return preference


def alert_mail_enabled(*, user: Any) -> bool:
    """Whether the user has chosen to be e-mailed about new alerts."""
    return AlertMailPreference.objects.filter(user=user, enabled=True).exists()


def alert_mail_recipients() -> dict[str, str]:
    """The active operators who opted in to alert mail: their e-mail address and the language to
    write to them in (their stored one, else the site's)."""
    User = get_user_model()
    users = (
        User.objects.filter(
            alert_mail__enabled=True,
            is_active=True,
            role__in=(User.Role.ADMIN, User.Role.OPERATOR, User.Role.VIEWER),
        )
        .exclude(email="")
        .order_by("email", "pk")
    )
    return {user.email: user_language(user) for user in users}


def alert_mail_new() -> int:
    """E-mail the opted-in operators about every open, unacknowledged alert occurrence that began in
    the last 24 h and was not mailed before: one mail per recipient and run, listing the new ones.

    Each occurrence is claimed by inserting an AlertNotification row (unique per occurrence), so two
    workers never mail the same one; a mail that fails to send releases its claims for the next run.
    Returns how many occurrences were mailed.
    """
    recipients = alert_mail_recipients()
    if not recipients:
        return 0
    since = timezone.now() - ALERT_MAIL_MAX_AGE
    claimed: list[tuple[Alert, AlertNotification]] = []
    for alert in alert_list(include_acknowledged=False):
        if alert.occurred_at is not None and alert.occurred_at < since:
            continue
        try:
            with transaction.atomic():
                claim = AlertNotification.objects.create(
                    kind=alert.kind,
                    object_id=alert.object_id,
                    occurred_key=alert.occurred_key,
                    station=alert.station,
                    recipients=len(recipients),
                )
        except IntegrityError:
            continue  # mailed already (or by another worker right now)
        claimed.append((alert, claim))
    if not claimed:
        return 0
    alerts = [alert for alert, _ in claimed]
    letters = {}
    for language in set(recipients.values()):
        # In each recipient's language, whichever thread happens to send it.
        with translation.override(language):
            subject = (
                f"[ChargeNet] {alerts[0].station.identity}: {alerts[0].title}"
                if len(alerts) == 1
                else "[ChargeNet] " + gettext("%(count)s new alerts") % {"count": len(alerts)}
            )
            letters[language] = (subject, _alert_mail_body(alerts))
    try:
        with get_connection() as connection:
            for address, language in recipients.items():  # one message each: nobody sees another's address
                EmailMessage(*letters[language], to=[address], connection=connection).send()
    except Exception:
        logger.exception("could not send alert mail; retrying on the next run")
        AlertNotification.objects.filter(pk__in=[claim.pk for _, claim in claimed]).delete()
        return 0
    return len(claimed)


def _alert_mail_body(alerts: list[Alert]) -> str:
    lines = [gettext("New alerts in ChargeNet:"), ""]
    for alert in alerts:
        when = f"{alert.occurred_at:%Y-%m-%d %H:%M} UTC" if alert.occurred_at else gettext("time unknown")
        since = gettext("since %(when)s") % {"when": when}
        lines.append(f"- {alert.station.identity}: {alert.title} ({alert.kind_label}, {since})")
        if alert.detail:
            lines.append(f"  {alert.detail}")
    lines += ["", gettext("Acknowledge them at %(url)s") % {"url": f"{settings.SITE_URL}/alerts/"}, "",
              gettext("You get this mail because you turned on alert e-mails on the Alerts page.")]  # fmt: skip
    return "\n".join(lines)


def _on_alert_event(event_type: str, data: dict[str, Any]) -> None:
    """Something that may be a new alert occurred: let a worker mail it (subscribers must be quick)."""
    if (
        event_type == "station.booted"
        and data.get("registration_status") == Station.RegistrationStatus.ACCEPTED
    ):
        return
    from stations.tasks import alert_mail_task

    # After the outbox dispatcher commits (no Redis round trip while the database is locked). A lost
    # enqueue is harmless: the beat schedule runs the same task every minute; the mail is late.
    transaction.on_commit(alert_mail_task.delay, robust=True)


def subscribe() -> None:
    """Mail operators when a connector faults, a boot is refused or a security event is recorded; a
    station going silent past ALERT_OFFLINE_MINUTES is found by the periodic run of the same task."""
    from chargenet.events import event_subscribe

    for event_type in ("connector.fault_raised", "station.booted", "security_event.recorded"):
        event_subscribe(event_type, _on_alert_event)
