"""Guest pay-as-you-go reads: what a public connector offers, the tariff in plain words, a charge's state."""

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.utils import timezone

from billing import selectors as billing_selectors
from billing.models import GuestCharge, Tariff
from billing.money import money_round
from stations.access.services import station_is_public
from stations.connection.services.commands import REMOTE_START_REFUSED
from stations.models import Connector, Session

STATUS_WORDS: dict[str, str] = {
    Connector.Status.AVAILABLE: "Free: plug in your car and pay below",
    Connector.Status.PREPARING: "Plugged in: pay below to start",
    Connector.Status.CHARGING: "In use",
    Connector.Status.SUSPENDED_EV: "In use",
    Connector.Status.SUSPENDED_EVSE: "In use",
    Connector.Status.FINISHING: "Finishing a session",
    Connector.Status.RESERVED: "Reserved",
    Connector.Status.UNAVAILABLE: "Out of service",
    Connector.Status.FAULTED: "Out of order",
    Connector.Status.OCCUPIED: "In use",
    Connector.Status.UNKNOWN: "Status unknown",
}

_COMPONENT_WORDS = {
    "ENERGY": "{price} {currency} per kWh",
    "TIME": "{price} {currency} per hour of charging",
    "PARKING_TIME": "{price} {currency} per hour parked without charging",
    "FLAT": "{price} {currency} per session",
}


def guest_connector(*, identity: str, evse_id: int) -> Connector | None:
    """The first connector of a public station's EVSE (the QR code's target), or None."""
    connector = (
        Connector.objects.select_related("evse__station__location")
        .filter(evse__station__identity=identity, evse__evse_id=evse_id)
        .order_by("connector_id")
        .first()
    )
    if connector is None or not station_is_public(station=connector.evse.station):
        return None
    return connector


def _restriction_words(restrictions: dict[str, Any]) -> str:
    parts = []
    if restrictions.get("start_time") or restrictions.get("end_time"):
        parts.append(f"{restrictions.get('start_time', '00:00')}–{restrictions.get('end_time', '24:00')}")
    if restrictions.get("day_of_week"):
        parts.append(", ".join(day.title()[:3] for day in restrictions["day_of_week"]))
    if restrictions.get("min_duration") is not None:
        parts.append(f"after {int(restrictions['min_duration']) // 60} min")
    if restrictions.get("max_duration") is not None:
        parts.append(f"for the first {int(restrictions['max_duration']) // 60} min")
    if restrictions.get("min_kwh") is not None:
        parts.append(f"from {restrictions['min_kwh']} kWh")
    if restrictions.get("max_kwh") is not None:
        parts.append(f"up to {restrictions['max_kwh']} kWh")
    if restrictions.get("min_power") is not None or restrictions.get("max_power") is not None:
        parts.append("at some charging speeds")
    return f" ({'; '.join(parts)})" if parts else ""


def tariff_words(tariff: Tariff | None) -> list[str]:
    """The tariff as sentences a driver understands, prices incl. VAT (e.g. "0.38 EUR per kWh")."""
    if tariff is None:
        return []
    factor = 1 + Decimal(tariff.vat_percent) / 100
    words = []
    for element in tariff.elements:
        when = _restriction_words(element.get("restrictions") or {})
        for component in element.get("price_components") or []:
            template = _COMPONENT_WORDS.get(component.get("type", ""))
            if template is None:
                continue
            price = money_round(Decimal(str(component["price"])) * factor, tariff.currency)
            words.append(template.format(price=price, currency=tariff.currency) + when)
    if tariff.vat_percent:
        words.append(f"Prices include {Decimal(tariff.vat_percent).normalize():f} % VAT.")
    return words


@dataclass(frozen=True)
class GuestOffer:
    """What the QR page shows: the connector, its state, its tariff in words and the amounts."""

    connector: Connector
    station_name: str
    connector_label: str
    status_words: str
    available: bool
    reason: str
    tariff: Tariff | None
    tariff_words: list[str] = field(default_factory=list)
    currency: str = "EUR"
    amounts: list[Decimal] = field(default_factory=list)


def guest_offer(*, connector: Connector) -> GuestOffer:
    """Whether a guest can pay and start on this connector now, and on what terms."""
    station = connector.evse.station
    tariff = billing_selectors.tariff_resolve_at(
        at=timezone.now(), station=station, connector_id=connector.pk, id_token=None
    )
    reason = ""
    if tariff is None:
        reason = "this charger has no public price; pay-as-you-go is not offered here"
    elif not settings.STRIPE_SECRET_KEY:
        reason = "card payment is not available at the moment"
    elif not station.is_online:
        reason = "the charger is offline at the moment"
    elif connector.status in REMOTE_START_REFUSED:
        reason = f"you cannot start now: {REMOTE_START_REFUSED[connector.status]}"
    elif Session.objects.filter(connector=connector, status=Session.Status.ACTIVE).exists():
        reason = "you cannot start now: the connector is in use"
    location = station.location
    return GuestOffer(
        connector=connector,
        station_name=(location.name if location is not None and location.name else station.identity),
        connector_label=f"{station.identity} · {connector.evse.evse_id} ({connector.get_standard_display()})",
        status_words=STATUS_WORDS.get(connector.status, connector.status) if station.is_online else "Offline",
        available=not reason,
        reason=reason,
        tariff=tariff,
        tariff_words=tariff_words(tariff),
        currency=tariff.currency if tariff is not None else "EUR",
        amounts=sorted(Decimal(a) for a in settings.GUEST_HOLD_AMOUNTS),
    )


def guest_charge_by_token(*, token: str) -> GuestCharge | None:
    """The charge behind a private link, or None."""
    if not token or len(token) > 64:
        return None
    return (
        GuestCharge.objects.select_related("connector__evse__station__location", "cdr", "session")
        .filter(token=token)
        .first()
    )


def guest_charge_session(*, charge: GuestCharge) -> Session | None:
    """The charge's session: linked, or found by its id token before the link event has run."""
    if charge.session_id:
        return Session.objects.select_related("station__location").get(pk=charge.session_id)
    if charge.id_token_id:
        return (
            Session.objects.select_related("station__location")
            .filter(id_token_id=charge.id_token_id)
            .order_by("started_at")
            .first()
        )
    return None


@dataclass(frozen=True)
class GuestChargeView:
    """A charge as its private page shows it: state, energy and cost so far, what was charged."""

    charge: GuestCharge
    session: Session | None
    headline: str
    running: bool
    finished: bool
    energy_kwh: Decimal | None
    cost: Decimal | None
    released: Decimal | None


def guest_charge_view(*, charge: GuestCharge) -> GuestChargeView:
    session = guest_charge_session(charge=charge)
    status = charge.status
    running = session is not None and session.status == Session.Status.ACTIVE
    cost = None
    energy = None
    if session is not None:
        energy = Decimal(session.energy_wh) / 1000
        cost = billing_selectors.session_cost(session=session).total_incl_vat
    finished = status in (GuestCharge.Status.CAPTURED, GuestCharge.Status.RELEASED, GuestCharge.Status.FAILED)
    if status == GuestCharge.Status.PENDING:
        headline = "Waiting for your payment"
    elif status == GuestCharge.Status.AUTHORIZED:
        headline = "Payment reserved: starting the charger"
    elif status in (GuestCharge.Status.STARTING, GuestCharge.Status.CHARGING) and running:
        headline = "Charging"
    elif status == GuestCharge.Status.STARTING:
        headline = "Starting: plug in your car if you have not yet"
    elif status == GuestCharge.Status.CHARGING:
        headline = "Finished: working out the price"
    elif status == GuestCharge.Status.CAPTURED:
        headline = f"Paid {charge.amount_captured} {charge.currency}"
    elif status == GuestCharge.Status.RELEASED:
        headline = "Nothing charged: your reservation was released"
    else:
        headline = "The payment did not go through"
    released = None
    if status in (GuestCharge.Status.CAPTURED, GuestCharge.Status.RELEASED):
        released = charge.amount_held - (charge.amount_captured or Decimal(0))
    return GuestChargeView(
        charge=charge,
        session=session,
        headline=headline,
        running=running,
        finished=finished,
        energy_kwh=energy,
        cost=cost,
        released=released,
    )
