"""Guest pay-as-you-go reads: what a public connector offers, the tariff in plain words, a charge's state."""

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.utils import formats, timezone
from django.utils.dates import WEEKDAYS_ABBR
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from billing import selectors as billing_selectors
from billing.models import GuestCharge, Tariff
from billing.money import money_round
from stations.access.services import station_is_public
from stations.connection.services.commands import REMOTE_START_REFUSED
from stations.models import Connector, Session

# Lazy: the words are looked up in the guest's language when a page is drawn.
STATUS_WORDS: dict[str, Any] = {
    Connector.Status.AVAILABLE: gettext_lazy("Free: plug in your car and pay below"),
    Connector.Status.PREPARING: gettext_lazy("Plugged in: pay below to start"),
    Connector.Status.CHARGING: gettext_lazy("In use"),
    Connector.Status.SUSPENDED_EV: gettext_lazy("In use"),
    Connector.Status.SUSPENDED_EVSE: gettext_lazy("In use"),
    Connector.Status.FINISHING: gettext_lazy("Finishing a session"),
    Connector.Status.RESERVED: gettext_lazy("Reserved"),
    Connector.Status.UNAVAILABLE: gettext_lazy("Out of service"),
    Connector.Status.FAULTED: gettext_lazy("Out of order"),
    Connector.Status.OCCUPIED: gettext_lazy("In use"),
    Connector.Status.UNKNOWN: gettext_lazy("Status unknown"),
}

_COMPONENT_WORDS: dict[str, Any] = {
    "ENERGY": gettext_lazy("%(price)s %(currency)s per kWh"),
    "TIME": gettext_lazy("%(price)s %(currency)s per hour of charging"),
    "PARKING_TIME": gettext_lazy("%(price)s %(currency)s per hour parked without charging"),
    "FLAT": gettext_lazy("%(price)s %(currency)s per session"),
}

# Why a connector refuses a remote start, keyed like REMOTE_START_REFUSED (whose English words
# are the station's error messages).
_REFUSED_WORDS: dict[str, Any] = {
    Connector.Status.CHARGING: gettext_lazy("you cannot start now: the connector is charging"),
    Connector.Status.SUSPENDED_EV: gettext_lazy("you cannot start now: the connector is in use"),
    Connector.Status.SUSPENDED_EVSE: gettext_lazy("you cannot start now: the connector is in use"),
    Connector.Status.FINISHING: gettext_lazy("you cannot start now: the connector is finishing a session"),
    Connector.Status.FAULTED: gettext_lazy("you cannot start now: the connector is faulted"),
    Connector.Status.UNAVAILABLE: gettext_lazy("you cannot start now: the connector is unavailable"),
    Connector.Status.OCCUPIED: gettext_lazy("you cannot start now: the connector is occupied"),
    Connector.Status.RESERVED: gettext_lazy("you cannot start now: the connector is reserved"),
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


def _weekday_abbr(day: str) -> Any:
    """OCPI's MONDAY… as the guest's language abbreviates it (Django's own translations)."""
    names = ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"]
    return WEEKDAYS_ABBR[names.index(day)] if day in names else day.title()[:3]


def _restriction_words(restrictions: dict[str, Any]) -> str:
    parts = []
    if restrictions.get("start_time") or restrictions.get("end_time"):
        parts.append(f"{restrictions.get('start_time', '00:00')}–{restrictions.get('end_time', '24:00')}")
    if restrictions.get("day_of_week"):
        parts.append(", ".join(str(_weekday_abbr(day)) for day in restrictions["day_of_week"]))
    if restrictions.get("min_duration") is not None:
        parts.append(_("after %(minutes)s min") % {"minutes": int(restrictions["min_duration"]) // 60})
    if restrictions.get("max_duration") is not None:
        parts.append(
            _("for the first %(minutes)s min") % {"minutes": int(restrictions["max_duration"]) // 60}
        )
    if restrictions.get("min_kwh") is not None:
        parts.append(_("from %(kwh)s kWh") % {"kwh": restrictions["min_kwh"]})
    if restrictions.get("max_kwh") is not None:
        parts.append(_("up to %(kwh)s kWh") % {"kwh": restrictions["max_kwh"]})
    if restrictions.get("min_power") is not None or restrictions.get("max_power") is not None:
        parts.append(_("at some charging speeds"))
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
            words.append(template % {"price": formats.localize(price), "currency": tariff.currency} + when)
    if tariff.vat_percent:
        vat = formats.localize(Decimal(tariff.vat_percent).normalize())
        words.append(_("Prices include %(vat)s %% VAT.") % {"vat": vat})
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
        reason = _("this charger has no public price; pay-as-you-go is not offered here")
    elif not settings.STRIPE_SECRET_KEY:
        reason = _("card payment is not available at the moment")
    elif not station.is_online:
        reason = _("the charger is offline at the moment")
    elif connector.status in REMOTE_START_REFUSED:
        reason = str(_REFUSED_WORDS.get(connector.status, REMOTE_START_REFUSED[connector.status]))
    elif Session.objects.filter(connector=connector, status=Session.Status.ACTIVE).exists():
        reason = _("you cannot start now: the connector is in use")
    location = station.location
    return GuestOffer(
        connector=connector,
        station_name=(location.name if location is not None and location.name else station.identity),
        connector_label=f"{station.identity} · {connector.evse.evse_id} ({connector.get_standard_display()})",
        status_words=str(STATUS_WORDS.get(connector.status, connector.status))
        if station.is_online
        else _("Offline"),
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
    note: str = ""


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
        headline = _("Waiting for your payment")
    elif status == GuestCharge.Status.AUTHORIZED:
        headline = _("Payment reserved: starting the charger")
    elif status in (GuestCharge.Status.STARTING, GuestCharge.Status.CHARGING) and running:
        headline = _("Charging")
    elif status == GuestCharge.Status.STARTING:
        headline = _("Starting: plug in your car if you have not yet")
    elif status == GuestCharge.Status.CHARGING:
        headline = _("Finished: working out the price")
    elif status == GuestCharge.Status.CAPTURED:
        headline = _("Paid %(amount)s %(currency)s") % {
            "amount": formats.localize(charge.amount_captured),
            "currency": charge.currency,
        }
    elif status == GuestCharge.Status.RELEASED:
        headline = _("Nothing charged: your reservation was released")
    else:
        headline = _("The payment did not go through")
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
        # The fixed notes are marked in the services (gettext_noop); a provider's words stay as said.
        note=_(charge.note) if charge.note else "",
    )
