"""Billing's writes: tariffs, CDRs, invoices and payments. Every business rule of billing is here."""

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet, Sum
from django.utils import dateformat, timezone, translation
from django.utils.translation import gettext, ngettext

from billing import pricing, selectors
from billing.models import (
    Cdr,
    Invoice,
    InvoiceCounter,
    InvoiceLine,
    Payment,
    PaymentEvent,
    Refund,
    Subscription,
    SubscriptionPlan,
    Tariff,
    TariffAssignment,
)
from billing.money import money_round, vat_of
from chargenet import sql
from chargenet.errors import DomainError
from chargenet.events import event_publish
from chargenet.lengths import text_too_long
from chargenet.models import User
from chargenet.services import user_language
from rfid.models import Driver
from stations.models import Session

logger = logging.getLogger(__name__)


class BillingError(DomainError):
    """A billing action was refused; the message says why in words an operator understands."""

    api_code = "billing_refused"


# --- tariffs -------------------------------------------------------------------------------------

_TARIFF_FIELDS = {
    "code",
    "name",
    "currency",
    "vat_percent",
    "elements",
    "alt_texts",
    "valid_from",
    "valid_to",
    "is_default",
}


def _money_terms_clean(fields: dict[str, Any]) -> None:
    """Normalise `currency` (ISO 4217, upper case) and `vat_percent` (0 to below 100) in place."""
    if "currency" in fields:
        currency = str(fields["currency"]).upper()
        if len(currency) != 3 or not currency.isalpha():
            raise BillingError("currency must be an ISO 4217 code such as EUR")
        fields["currency"] = currency
    if "vat_percent" in fields:
        try:
            vat = pricing.decimal_parse(fields["vat_percent"], what="VAT")
        except pricing.TariffInvalid as exc:
            raise BillingError(str(exc)) from None
        if not Decimal(0) <= vat < 100:
            raise BillingError("VAT must be a percentage from 0 to below 100")
        fields["vat_percent"] = vat


def _tariff_clean(fields: dict[str, Any]) -> dict[str, Any]:
    unknown = set(fields) - _TARIFF_FIELDS
    if unknown:
        raise BillingError(f"unknown tariff fields: {', '.join(sorted(unknown))}")
    too_long = text_too_long(Tariff, fields)
    if too_long:
        raise BillingError(too_long)
    if "elements" in fields:
        try:
            fields["elements"] = pricing.elements_normalise(fields["elements"])
        except pricing.TariffInvalid as exc:
            raise BillingError(str(exc)) from None
    _money_terms_clean(fields)
    if "alt_texts" in fields:
        fields["alt_texts"] = _alt_texts_clean(fields["alt_texts"])
    if "code" in fields and not (0 < len(fields["code"]) <= 36):
        raise BillingError("the tariff code must be 1 to 36 characters (OCPI tariff id)")
    return fields


# An RFC 5646 tag as OCPP 2.0.1 MessageContent takes it (at most 8 characters): "en", "sv-SE".
_LANGUAGE_TAG = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,4})?$")


def _alt_texts_clean(texts: Any) -> list[dict[str, str]]:
    """OCPI DisplayText list: a language tag and a text of at most 512 characters (OCPP 2.0.1
    MessageContent), one text per language. Raises BillingError naming the first problem."""
    if not isinstance(texts, list):
        raise BillingError("alt_texts must be a list of {language, text}")
    cleaned: dict[str, str] = {}
    for item in texts:
        if not isinstance(item, dict) or set(item) != {"language", "text"}:
            raise BillingError("each alt text is {language, text}")
        language, text = str(item["language"]).strip(), str(item["text"]).strip()
        if len(language) > 8 or not _LANGUAGE_TAG.match(language):
            raise BillingError(f"{language!r} is not a language code such as en or sv")
        if not 0 < len(text) <= 512:
            raise BillingError("an alt text has 1 to 512 characters")
        if language.lower() in cleaned:
            raise BillingError(f"two alt texts in {language!r}")
        cleaned[language.lower()] = text
    return [{"language": language, "text": text} for language, text in cleaned.items()]


def _tariff_check_validity(tariff: Tariff) -> None:
    if tariff.valid_from and tariff.valid_to and tariff.valid_from >= tariff.valid_to:
        raise BillingError("a tariff must start before it ends")


@transaction.atomic
def tariff_create(**fields: Any) -> Tariff:
    """Create a tariff from validated OCPI elements. Raises BillingError on any invalid field."""
    fields = _tariff_clean(fields)
    if "elements" not in fields:
        raise BillingError("a tariff needs at least one element")
    if Tariff.objects.filter(code=fields.get("code", "")).exists():
        raise BillingError(f"a tariff with code {fields.get('code')!r} exists already")
    tariff = Tariff(**fields)
    _tariff_check_validity(tariff)
    tariff.save()
    if tariff.is_default:
        Tariff.objects.exclude(pk=tariff.pk).update(is_default=False)
    event_publish("tariff.created", {"tariff_id": tariff.pk, "code": tariff.code})
    return tariff


@transaction.atomic
def tariff_update(*, tariff: Tariff, **fields: Any) -> Tariff:
    """Change a tariff. Finished sessions keep the snapshot in their CDR, so nothing is repriced."""
    fields = _tariff_clean(fields)
    if "code" in fields and Tariff.objects.filter(code=fields["code"]).exclude(pk=tariff.pk).exists():
        raise BillingError(f"a tariff with code {fields['code']!r} exists already")
    for name, value in fields.items():
        setattr(tariff, name, value)
    _tariff_check_validity(tariff)
    tariff.save()
    if tariff.is_default:
        Tariff.objects.exclude(pk=tariff.pk).update(is_default=False)
    event_publish("tariff.updated", {"tariff_id": tariff.pk, "code": tariff.code})
    return tariff


@transaction.atomic
def tariff_delete(*, tariff: Tariff) -> None:
    """Delete a tariff that nothing applies any more. CDRs keep their snapshot of it.

    Raises BillingError while an assignment or a subscription plan still names it.
    """
    if TariffAssignment.objects.filter(tariff=tariff).exists():
        raise BillingError("the tariff is assigned; remove its assignments first")
    if SubscriptionPlan.objects.filter(tariff=tariff).exists():
        raise BillingError("a subscription plan uses the tariff; give the plan another tariff first")
    event_publish("tariff.deleted", {"tariff_id": tariff.pk, "code": tariff.code})
    tariff.delete()


@transaction.atomic
def tariff_assign(
    *,
    tariff: Tariff,
    location_id: int | None = None,
    station_id: int | None = None,
    connector_id: int | None = None,
    plan: SubscriptionPlan | None = None,
    id_token_group: str = "",
) -> TariffAssignment:
    """Apply a tariff at a connector, station, location or everywhere, for everyone, a plan or a group.

    A newer assignment for the same place and audience replaces the older one. Raises BillingError
    when more than one place or more than one audience is named.
    """
    if plan is not None and id_token_group:
        raise BillingError("an assignment is for a plan or for a card group, not both")
    if sum(place is not None for place in (location_id, station_id, connector_id)) > 1:
        raise BillingError("an assignment names one place: a location, a station or a connector")
    if len(id_token_group) > 36:
        raise BillingError("a card group (parentIdTag) has at most 36 characters")
    # None means "not at this kind of place": filter(x=None) is IS NULL, which django-stubs does not model.
    same = TariffAssignment.objects.filter(  # type: ignore[misc]
        location_id=location_id,
        station_id=station_id,
        connector_id=connector_id,
        plan=plan,
        id_token_group=id_token_group,
    )
    same.delete()
    return TariffAssignment.objects.create(
        tariff=tariff,
        location_id=location_id,
        station_id=station_id,
        connector_id=connector_id,
        plan=plan,
        id_token_group=id_token_group,
    )


@transaction.atomic
def tariff_assignment_delete(*, assignment: TariffAssignment) -> None:
    """Remove an assignment; the place falls back to the next less specific tariff."""
    assignment.delete()


_PLAN_FIELDS = {"name", "monthly_fee", "currency", "vat_percent", "tariff", "is_active", "self_service"}


def _plan_clean(fields: dict[str, Any], *, plan: SubscriptionPlan | None = None) -> dict[str, Any]:
    unknown = set(fields) - _PLAN_FIELDS
    if unknown:
        raise BillingError(f"unknown plan fields: {', '.join(sorted(unknown))}")
    too_long = text_too_long(SubscriptionPlan, fields)
    if too_long:
        raise BillingError(too_long)
    if "name" in fields:
        fields["name"] = str(fields["name"]).strip()
        if not fields["name"]:
            raise BillingError("a plan needs a name")
        same = SubscriptionPlan.objects.filter(name__iexact=fields["name"])
        if plan is not None:
            same = same.exclude(pk=plan.pk)
        if same.exists():
            raise BillingError(f"a plan named {fields['name']!r} exists already")
    if "monthly_fee" in fields:
        try:
            fee = pricing.decimal_parse(fields["monthly_fee"], what="monthly fee")
        except pricing.TariffInvalid as exc:
            raise BillingError(str(exc)) from None
        if fee < 0:
            raise BillingError("the monthly fee must not be negative")
        fields["monthly_fee"] = fee
    _money_terms_clean(fields)
    return fields


@transaction.atomic
def subscription_plan_create(
    *,
    name: str,
    monthly_fee: Decimal,
    currency: str = "EUR",
    vat_percent: Decimal,
    tariff: Tariff | None,
    is_active: bool = True,
    self_service: bool = False,
) -> SubscriptionPlan:
    """Create a plan with a monthly fee and its members' tariff. Raises BillingError (name taken, …)."""
    fields = _plan_clean(
        {
            "name": name,
            "monthly_fee": monthly_fee,
            "currency": currency,
            "vat_percent": vat_percent,
            "tariff": tariff,
            "is_active": is_active,
            "self_service": self_service,
        }
    )
    return SubscriptionPlan.objects.create(**fields)


@transaction.atomic
def subscription_plan_update(*, plan: SubscriptionPlan, **fields: Any) -> SubscriptionPlan:
    """Change a plan. A fee change applies to months not invoiced yet; deactivating a plan ends its
    members' prices (they pay public prices) but not their subscriptions. Raises BillingError."""
    fields = _plan_clean(fields, plan=plan)
    for name, value in fields.items():
        setattr(plan, name, value)
    plan.save()
    return plan


def _subscription_event(subscription: Subscription) -> dict[str, Any]:
    return {
        "subscription_id": subscription.pk,
        "driver_id": subscription.driver_id,
        "plan_id": subscription.plan_id,
        "started_on": subscription.started_on.isoformat(),
        "ended_on": subscription.ended_on.isoformat() if subscription.ended_on else None,
    }


# Days a business has: the calendar's edges (years 1 and 9999) overflow as soon as a month is added or
# a time zone applied, and no charging network has records there.
FIRST_BUSINESS_DAY, LAST_BUSINESS_DAY = date(2000, 1, 1), date(2199, 12, 31)


def _check_business_day(day: date) -> None:
    if not FIRST_BUSINESS_DAY <= day <= LAST_BUSINESS_DAY:
        raise BillingError(f"choose a date between {FIRST_BUSINESS_DAY} and {LAST_BUSINESS_DAY}")


@transaction.atomic
def subscription_start(*, driver: Driver, plan: SubscriptionPlan, started_on: date) -> Subscription:
    """Subscribe a driver to a plan from a date; a current subscription ends the day before.

    Raises BillingError for a retired plan, or when the driver already has a subscription starting
    on or after that day (end or change that one first). Publishes `subscription.started`.
    """
    _check_business_day(started_on)
    if not plan.is_active:
        raise BillingError(f"plan {plan.name} is retired; choose an active plan")
    # Lock the driver's subscriptions: two starts at once must not both end the same one.
    current = list(Subscription.objects.select_for_update().filter(driver=driver))
    if any(s.started_on >= started_on for s in current):
        raise BillingError("the driver has a subscription starting on or after that day")
    for previous in current:
        if previous.ended_on is None or previous.ended_on >= started_on:
            previous.ended_on = started_on - timedelta(days=1)
            previous.save(update_fields=["ended_on"])
            event_publish("subscription.ended", _subscription_event(previous))
    subscription = Subscription.objects.create(driver=driver, plan=plan, started_on=started_on)
    event_publish("subscription.started", _subscription_event(subscription))
    return subscription


@transaction.atomic
def subscription_end(*, subscription: Subscription, ended_on: date) -> Subscription:
    """End a subscription after the day `ended_on` (its last day as a member; the day before it starts
    cancels a future one). Months already invoiced stay invoiced. Raises BillingError when it has
    already ended by then. Publishes `subscription.ended`."""
    _check_business_day(ended_on)
    subscription = Subscription.objects.select_for_update().select_related("plan").get(pk=subscription.pk)
    if subscription.ended_on is not None and subscription.ended_on <= ended_on:
        raise BillingError(f"the subscription has already ended on {subscription.ended_on:%Y-%m-%d}")
    if ended_on < subscription.started_on - timedelta(days=1):
        raise BillingError(
            f"the subscription starts on {subscription.started_on:%Y-%m-%d}; it cannot end before"
        )
    subscription.ended_on = ended_on
    subscription.save(update_fields=["ended_on"])
    event_publish("subscription.ended", _subscription_event(subscription))
    return subscription


@transaction.atomic
def subscription_choose(*, driver: Driver, plan: SubscriptionPlan, today: date) -> Subscription:
    """A driver's own choice of a self-service plan, from today (members' prices at once; the fee of
    this month is invoiced, fees are not prorated). Raises BillingError for a plan that is not offered
    to drivers or is already theirs, and for a second change on the same day."""
    if not (plan.is_active and plan.self_service):
        raise BillingError(f"plan {plan.name} is not offered for self-service; ask us to change your plan")
    current = selectors.subscription_active(driver=driver, on=today)
    if current is not None and current.plan_id == plan.pk:
        raise BillingError(f"you are on {plan.name} already")
    if Subscription.objects.filter(driver=driver, started_on__gte=today).exists():
        raise BillingError("you changed your plan today already; you can change it again tomorrow")
    return subscription_start(driver=driver, plan=plan, started_on=today)


@transaction.atomic
def subscription_cancel_by_driver(*, driver: Driver, today: date) -> Subscription:
    """A driver ends their current plan today (they keep members' prices until the end of the day).
    Raises BillingError when they have none."""
    current = selectors.subscription_active(driver=driver, on=today)
    if current is None:
        raise BillingError("you have no plan to end")
    return subscription_end(subscription=current, ended_on=today)


# --- CDRs ----------------------------------------------------------------------------------------


def _iso(instant: datetime) -> str:
    return instant.astimezone(ZoneInfo("UTC")).isoformat().replace("+00:00", "Z")


def _breakdown_json(breakdown: pricing.CostBreakdown, currency: str) -> list[dict[str, Any]]:
    return [
        {
            "type": c.type,
            "element": c.element,
            "price": str(c.price),
            "step_size": c.step_size,
            "measured": str(c.measured),
            "billed": str(c.billed),
            "cost_excl_vat": str(money_round(c.cost_excl_vat, currency)),
            "cost_incl_vat": str(money_round(c.cost_incl_vat, currency)),
        }
        for c in breakdown.components
    ]


def charging_periods_ocpi(breakdown: pricing.CostBreakdown, tariff_code: str) -> list[dict[str, Any]]:
    """OCPI 2.2.1 ChargingPeriods: a new one at every moment relevant for the price."""
    out = []
    for period in breakdown.periods:
        seconds = Decimal((period.end - period.start) // timedelta(microseconds=1)) / 1_000_000
        hours = seconds / 3600
        dimensions = [{"type": "ENERGY", "volume": str(period.energy_wh / 1000)}]
        dimensions.append({"type": "TIME" if period.charging else "PARKING_TIME", "volume": str(hours)})
        out.append(
            {"start_date_time": _iso(period.start), "dimensions": dimensions, "tariff_id": tariff_code}
        )
    return out


# The dispatcher prices every stopped session (session.stopped): these two reads were a third of it
# through the ORM, which builds the joined session's SQL anew each time.
_session_to_price = sql.Select(
    Session,
    where=["id"],
    related=["station", "station__location", "id_token", "id_token__driver", "connector"],
)
# How many CDRs the session has, and its standing normal one (none but credits and replacements).
_session_cdrs = sql.Raw(
    Cdr,
    lambda qn: (
        f"SELECT COUNT(*), MAX(CASE WHEN {qn('kind')} = %s AND {qn('supersedes_id')} IS NULL "
        f"THEN {qn('id')} END) FROM {qn(Cdr._meta.db_table)} WHERE {qn('session_id')} = %s"
    ),
)


@transaction.atomic
def cdr_create_for_session(*, session_id: int) -> Cdr:
    """Price a finished session and store its CDR with a snapshot of the tariff, once.

    Idempotent: a session that has a CDR gets the existing one back. Raises BillingError while the
    session is still running.
    """
    session = _session_to_price(session_id)
    if session is None:
        raise Session.DoesNotExist(f"no session {session_id}")
    [(count, existing_id)] = _session_cdrs(Cdr.Kind.NORMAL, session_id)
    if existing_id is not None:
        return Cdr.objects.get(pk=existing_id)
    if session.stopped_at is None:
        raise BillingError("the session is still running")
    tariff = selectors.tariff_resolve(session=session)
    try:
        with transaction.atomic():
            return _cdr_price_and_store(session=session, tariff=tariff, supersedes=None, sequence=count)
    except IntegrityError:
        # Another worker priced the same session at the same moment: theirs stands.
        [(_, existing_id)] = _session_cdrs(Cdr.Kind.NORMAL, session_id)
        return Cdr.objects.get(pk=existing_id)


def cdrs_create_missing(*, stopped_before: datetime, stopped_after: datetime) -> list[Cdr]:
    """Price every session that stopped in the window and has no CDR yet (the sweep behind the
    session.stopped subscriber). Idempotent; a session that cannot be priced is logged and skipped."""
    missing = (
        Session.objects.filter(stopped_at__gte=stopped_after, stopped_at__lt=stopped_before)
        .exclude(cdrs__isnull=False)
        .order_by("stopped_at")
        .values_list("pk", flat=True)
    )
    created = []
    for session_id in missing:
        try:
            created.append(cdr_create_for_session(session_id=session_id))
        except BillingError:
            logger.warning("session %s stopped but cannot be priced yet", session_id, exc_info=True)
    return created


def _cdr_price_and_store(
    *,
    session: Session,
    tariff: Tariff | None,
    supersedes: Cdr | None,
    snapshot: dict[str, Any] | None = None,
    sequence: int | None = None,
) -> Cdr:
    """Price `session` and store its CDR; `sequence` is how many CDRs it has already, when known."""
    stopped_at = session.stopped_at
    if stopped_at is None:  # callers check first; this tells mypy the CDR has an end
        raise BillingError("the session is still running")
    if snapshot is None:
        snapshot = selectors.tariff_to_ocpi(tariff) if tariff else {"id": "FREE", "currency": "EUR",
                                                                    "vat_percent": "0",
                                                                    "elements": list(selectors.FREE_ELEMENTS)}  # fmt: skip
    terms = pricing.TariffTerms(
        currency=snapshot["currency"],
        vat_percent=Decimal(snapshot.get("vat_percent", "0")),
        elements=tuple(snapshot["elements"]),
    )
    time_zone = selectors.session_time_zone(session)
    breakdown = pricing.price_session(
        periods=selectors.session_periods(session=session),
        tariff=terms,
        time_zone=time_zone,
        session_start=session.started_at,
    )
    currency = terms.currency
    # Round once: each total from the exact sum, VAT as their difference so the three always agree.
    excl = money_round(breakdown.total_excl_vat, currency)
    incl = money_round(breakdown.total_incl_vat, currency)
    location = session.station.location
    driver = session.id_token.driver if session.id_token is not None else None
    if sequence is None:
        sequence = Cdr.objects.filter(session=session).count()
    cdr = Cdr(
        cdr_id=f"CN-{session.pk:08d}" + (f"-{sequence}" if sequence else ""),
        session=session,
        supersedes=supersedes,
        driver=driver,
        location=location,
        location_name=location.name if location else "",
        station_identity=session.station.identity,
        id_tag=session.id_tag,
        time_zone=time_zone,
        started_at=session.started_at,
        stopped_at=stopped_at,
        energy_wh=session.energy_wh,
        charging_seconds=int(breakdown.charging_seconds),
        parking_seconds=int(breakdown.parking_seconds),
        tariff=tariff,
        tariff_snapshot=snapshot,
        charging_periods=charging_periods_ocpi(breakdown, snapshot["id"]),
        breakdown=_breakdown_json(breakdown, currency),
        currency=currency,
        vat_percent=terms.vat_percent,
        total_excl_vat=excl,
        total_vat=incl - excl,
        total_incl_vat=incl,
    )
    _cdr_insert.objects([cdr])  # the worker stores one per stopped session: no ORM building
    _cdr_published(cdr)
    return cdr


_cdr_insert = sql.Insert(Cdr, returning_pks=True)


def _cdr_published(cdr: Cdr) -> None:
    event_publish(
        "cdr.created",
        {
            "cdr_id": cdr.pk,
            "ocpi_id": cdr.cdr_id,
            "session_id": cdr.session_id,
            "driver_id": cdr.driver_id,
            "id_tag": cdr.id_tag,
            "kind": cdr.kind,
            "currency": cdr.currency,
            "total_excl_vat": str(cdr.total_excl_vat),
            "total_incl_vat": str(cdr.total_incl_vat),
        },
    )


@transaction.atomic
def cdr_correct(*, cdr: Cdr, tariff: Tariff | None = None) -> tuple[Cdr, Cdr]:
    """Correct a CDR: a credit CDR that cancels it, then a new CDR priced with `tariff` (or the
    same snapshot). The original is never changed. Raises BillingError if it was credited already."""
    cdr = Cdr.objects.select_for_update().get(pk=cdr.pk)
    if cdr.kind != Cdr.Kind.NORMAL or Cdr.objects.filter(credit_reference=cdr).exists():
        raise BillingError("only a standing, normal CDR can be corrected")
    credit = Cdr.objects.create(
        cdr_id=f"{cdr.cdr_id}-C",
        kind=Cdr.Kind.CREDIT,
        session=cdr.session,
        credit_reference=cdr,
        driver=cdr.driver,
        location=cdr.location,
        location_name=cdr.location_name,
        station_identity=cdr.station_identity,
        id_tag=cdr.id_tag,
        time_zone=cdr.time_zone,
        started_at=cdr.started_at,
        stopped_at=cdr.stopped_at,
        energy_wh=-cdr.energy_wh,
        charging_seconds=-cdr.charging_seconds,
        parking_seconds=-cdr.parking_seconds,
        tariff=cdr.tariff,
        tariff_snapshot=cdr.tariff_snapshot,
        charging_periods=cdr.charging_periods,
        breakdown=cdr.breakdown,
        currency=cdr.currency,
        vat_percent=cdr.vat_percent,
        total_excl_vat=-cdr.total_excl_vat,
        total_vat=-cdr.total_vat,
        total_incl_vat=-cdr.total_incl_vat,
    )
    _cdr_published(credit)
    session = Session.objects.select_related("station__location", "id_token__driver").get(pk=cdr.session_id)
    replacement = _cdr_price_and_store(
        session=session,
        tariff=tariff if tariff is not None else cdr.tariff,
        supersedes=cdr,
        snapshot=None if tariff is not None else cdr.tariff_snapshot,
    )
    return credit, replacement


# --- invoicing -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class InvoicePeriod:
    """A billing period of whole local days, first to last inclusive."""

    first_day: date
    last_day: date

    def bounds(self) -> tuple[datetime, datetime]:
        zone = ZoneInfo(settings.OPERATOR_TIME_ZONE)
        start = datetime.combine(self.first_day, time(0), tzinfo=zone)
        end = datetime.combine(self.last_day + timedelta(days=1), time(0), tzinfo=zone)
        return start, end

    def fee_months(self) -> list[date]:
        """First days of the months whose fee falls in this period (the 1st lies inside it)."""
        months = []
        month = self.first_day.replace(day=1)
        while month <= self.last_day:
            if month >= self.first_day:
                months.append(month)
            month = (month + timedelta(days=32)).replace(day=1)
        return months


def invoice_period_previous(*, today: date, length: str) -> InvoicePeriod:
    """The last complete period before `today`: "monthly" (calendar month), "weekly" (Mon–Sun) or "daily"."""
    if length == "daily":
        day = today - timedelta(days=1)
        return InvoicePeriod(day, day)
    if length == "weekly":
        monday = today - timedelta(days=today.weekday())
        return InvoicePeriod(monday - timedelta(days=7), monday - timedelta(days=1))
    last_day = today.replace(day=1) - timedelta(days=1)
    return InvoicePeriod(last_day.replace(day=1), last_day)


@dataclass(frozen=True)
class InvoiceLineSource:
    """Charges another app bills through our invoices (ocpi: CDRs of partner networks), without
    billing importing it: `drivers(start=, end=)` names the drivers with uninvoiced charges in the
    period; `lines(driver_id=, start=, end=)` gives line dicts (description, currency, vat_percent,
    amounts rounded to the currency, and `attach(InvoiceLine)` that marks the charge invoiced)."""

    drivers: Callable[..., set[int]]
    lines: Callable[..., list[dict[str, Any]]]


_invoice_line_sources: list[InvoiceLineSource] = []


def invoice_line_source_register(source: InvoiceLineSource) -> None:
    """Let another app add lines to drivers' invoices (see InvoiceLineSource); once per source."""
    if source not in _invoice_line_sources:
        _invoice_line_sources.append(source)


def invoice_run(*, period: InvoicePeriod) -> list[Invoice]:
    """Issue an invoice to every driver with uninvoiced CDRs or subscription fees in the period.

    Each invoice is issued in its own transaction: a worker killed half way leaves whole invoices
    behind, never half a one, and a second run only picks up what is still uninvoiced (so running the
    same period twice creates nothing new).
    """
    start, end = period.bounds()
    driver_ids = set(
        Cdr.objects.filter(
            driver__isnull=False, invoice_line__isnull=True, stopped_at__gte=start, stopped_at__lt=end
        ).values_list("driver_id", flat=True)
    )
    for month in period.fee_months():
        driver_ids |= set(_subscriptions_due(month).values_list("driver_id", flat=True))
    for source in _invoice_line_sources:
        driver_ids |= source.drivers(start=start, end=end)
    issued = []
    for driver_id in sorted(driver_ids):
        issued.extend(invoice_issue_for_driver(driver_id=driver_id, period=period))
    return issued


def invoice_run_requested(*, first_day: date, last_day: date, today: date | None = None) -> list[Invoice]:
    """Invoice a period now, on an operator's request (the dashboard's button, the API), as the
    monthly job does: whatever is uninvoiced in it, once. Raises BillingError for a period that
    ends before it starts, ends after `today` (the operator's) or is longer than a year."""
    today = today or timezone.now().astimezone(ZoneInfo(settings.OPERATOR_TIME_ZONE)).date()
    if last_day < first_day:
        raise BillingError("the period ends before it starts")
    if last_day > today:
        raise BillingError("the period may not end after today")
    if (last_day - first_day).days > 366:
        raise BillingError("invoice at most a year at a time")
    return invoice_run(period=InvoicePeriod(first_day, last_day))


def _subscriptions_due(month: date) -> QuerySet[Subscription]:
    month_end = (month + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    return (
        Subscription.objects.filter(started_on__lte=month_end)
        .filter(Q(ended_on__isnull=True) | Q(ended_on__gte=month))
        .filter(plan__monthly_fee__gt=0)
        .exclude(invoice_lines__fee_month=month)
        .select_related("plan")
    )


@transaction.atomic
def invoice_issue_for_driver(*, driver_id: int, period: InvoicePeriod) -> list[Invoice]:
    """Issue the driver's invoice(s) for the period, one per currency, with gapless numbers, written
    (lines, terms, PDF) in the driver's language."""
    # Lock the driver so two workers cannot invoice the same CDRs; the loser finds nothing left.
    driver = Driver.objects.select_for_update().select_related("user").get(pk=driver_id)
    start, end = period.bounds()
    cdrs = list(
        Cdr.objects.filter(
            driver=driver, invoice_line__isnull=True, stopped_at__gte=start, stopped_at__lt=end
        ).order_by("stopped_at", "id")
    )
    fees = [
        (subscription, month)
        for month in period.fee_months()
        for subscription in _subscriptions_due(month).filter(driver=driver)
    ]
    extra = [
        line
        for source in _invoice_line_sources
        for line in source.lines(driver_id=driver.pk, start=start, end=end)
    ]
    currencies = sorted(
        {c.currency for c in cdrs} | {s.plan.currency for s, _ in fees} | {x["currency"] for x in extra}
    )
    invoices = []
    with translation.override(user_language(driver.user)):
        for currency in currencies:
            lines: list[dict[str, Any]] = []
            for subscription, month in fees:
                if subscription.plan.currency != currency:
                    continue
                net = money_round(subscription.plan.monthly_fee, currency)
                vat = money_round(vat_of(net, subscription.plan.vat_percent), currency)
                lines.append(
                    {
                        "description": gettext("Subscription %(plan)s, %(month)s")
                        % {"plan": subscription.plan.name, "month": dateformat.format(month, "F Y")},
                        "subscription": subscription,
                        "fee_month": month,
                        "vat_percent": subscription.plan.vat_percent,
                        "amount_excl_vat": net,
                        "amount_vat": vat,
                        "amount_incl_vat": net + vat,
                    }
                )
            lines += [_cdr_line(cdr) for cdr in cdrs if cdr.currency == currency]
            lines.extend(
                {k: v for k, v in x.items() if k != "currency"} for x in extra if x["currency"] == currency
            )
            invoices.append(_invoice_create(driver=driver, period=period, currency=currency, lines=lines))
    return invoices


@transaction.atomic
def invoice_issue_for_cdr(*, cdr_id: int) -> Invoice | None:
    """Issue an invoice of one CDR on its own, at once (BILLING_CHARGE_PER_CDR), in the driver's
    language; its period is the day the session ended. Idempotent: None when the CDR has no driver or
    is invoiced already (the driver is locked, so the invoice run and this cannot both take it)."""
    cdr = Cdr.objects.get(pk=cdr_id)
    if cdr.driver_id is None:
        return None
    driver = Driver.objects.select_for_update().select_related("user").get(pk=cdr.driver_id)
    if InvoiceLine.objects.filter(cdr=cdr).exists():
        return None
    day = timezone.localtime(cdr.stopped_at, ZoneInfo(cdr.time_zone)).date()
    with translation.override(user_language(driver.user)):
        return _invoice_create(
            driver=driver, period=InvoicePeriod(day, day), currency=cdr.currency, lines=[_cdr_line(cdr)]
        )


def _cdr_line(cdr: Cdr) -> dict[str, Any]:
    """A CDR as an invoice line, in the active language, times in the location's zone."""
    local = timezone.localtime(cdr.started_at, ZoneInfo(cdr.time_zone))
    words = {
        "when": f"{local:%Y-%m-%d %H:%M %Z}",
        "where": cdr.location_name or cdr.station_identity,
        "kwh": f"{Decimal(cdr.energy_wh) / 1000:.3f}",
        "cdr": cdr.cdr_id,
    }
    description = (
        gettext("Credit for charging %(when)s at %(where)s, %(kwh)s kWh (%(cdr)s)")
        if cdr.kind == Cdr.Kind.CREDIT
        else gettext("Charging %(when)s at %(where)s, %(kwh)s kWh (%(cdr)s)")
    ) % words
    return {
        "description": description,
        "cdr": cdr,
        "vat_percent": cdr.vat_percent,
        "amount_excl_vat": money_round(cdr.total_excl_vat, cdr.currency),
        "amount_vat": money_round(cdr.total_vat, cdr.currency),
        "amount_incl_vat": money_round(cdr.total_incl_vat, cdr.currency),
    }


def _invoice_number_take(*, series: str) -> int:
    """The next number of the series. The counter row is locked until the transaction ends, so two
    workers queue here, and a rolled-back invoice gives its number back: no gaps, no duplicates."""
    InvoiceCounter.objects.get_or_create(series=series)
    counter = InvoiceCounter.objects.select_for_update().get(series=series)
    counter.last_number += 1
    counter.save(update_fields=["last_number"])
    return counter.last_number


def _invoice_create(
    *, driver: Driver, period: InvoicePeriod, currency: str, lines: list[dict[str, Any]]
) -> Invoice:
    from billing.pdf import invoice_pdf_render

    attach = {number: line.pop("attach") for number, line in enumerate(lines, start=1) if "attach" in line}
    now = timezone.now()
    series = f"{settings.BILLING_INVOICE_PREFIX}{now:%Y}"
    sequence = _invoice_number_take(series=series)
    summary: dict[Decimal, dict[str, Decimal]] = {}
    for line in lines:
        rate = summary.setdefault(
            Decimal(line["vat_percent"]), {"net": Decimal(0), "vat": Decimal(0), "gross": Decimal(0)}
        )
        rate["net"] += line["amount_excl_vat"]
        rate["vat"] += line["amount_vat"]
        rate["gross"] += line["amount_incl_vat"]
    invoice = Invoice.objects.create(
        number=f"{series}-{sequence:06d}",
        series=series,
        sequence=sequence,
        driver=driver,
        period_start=period.first_day,
        period_end=period.last_day,
        currency=currency,
        billing_name=driver.billing_name
        or driver.name
        or driver.user.get_full_name()
        or driver.user.username,
        billing_address=driver.billing_address,
        buyer_vat_id=driver.vat_number,
        seller_name=settings.BILLING_SELLER_NAME,
        seller_address=settings.BILLING_SELLER_ADDRESS,
        seller_vat_id=settings.BILLING_SELLER_VAT_ID,
        email=driver.email or driver.user.email,
        due_on=now.astimezone(ZoneInfo(settings.OPERATOR_TIME_ZONE)).date()
        + timedelta(days=settings.BILLING_PAYMENT_TERMS_DAYS),
        payment_terms=_payment_terms(settings.BILLING_PAYMENT_TERMS_DAYS),
        total_excl_vat=sum((line["amount_excl_vat"] for line in lines), Decimal(0)),
        total_vat=sum((line["amount_vat"] for line in lines), Decimal(0)),
        total_incl_vat=sum((line["amount_incl_vat"] for line in lines), Decimal(0)),
        vat_summary=[
            {"vat_percent": str(rate), **{k: str(v) for k, v in amounts.items()}}
            for rate, amounts in sorted(summary.items())
        ],
        pdf=b"",
        issued_at=now,
    )
    InvoiceLine.objects.bulk_create(
        InvoiceLine(invoice=invoice, position=number, **line) for number, line in enumerate(lines, start=1)
    )
    for made in invoice.lines.filter(position__in=attach):
        attach[made.position](made)
    invoice.pdf = invoice_pdf_render(invoice=invoice, lines=list(invoice.lines.order_by("position")))
    invoice.save(update_fields=["pdf"])
    event_publish(
        "invoice.issued",
        {
            "invoice_id": invoice.pk,
            "number": invoice.number,
            "driver_id": driver.pk,
            "currency": currency,
            "total_excl_vat": str(invoice.total_excl_vat),
            "total_incl_vat": str(invoice.total_incl_vat),
        },
    )
    # The invoice.issued subscriber mails it (billing.apps); invoice_emails_resend catches the rest.
    return invoice


def _payment_terms(days: int) -> str:
    if days == 0:
        return gettext("Payable on receipt.")
    return ngettext(
        "Payable within %(days)s day of the invoice date.",
        "Payable within %(days)s days of the invoice date.",
        days,
    ) % {"days": days}


def invoice_email_request(*, invoice_id: int) -> None:
    """Queue the e-mail of an issued invoice once the current transaction commits. A broker outage
    does not fail the caller: invoice_emails_resend queues it again later."""
    from billing.tasks import invoice_email_task

    def enqueue() -> None:
        try:
            invoice_email_task.delay(invoice_id)
        except Exception:
            logger.exception("could not enqueue the e-mail for invoice %s; the sweep will", invoice_id)

    transaction.on_commit(enqueue)


def invoice_emails_resend(*, issued_before: datetime, issued_after: datetime) -> int:
    """Queue the e-mail of every invoice issued in the window that has an address and was not sent
    (a lost enqueue, a worker that died, a mail server that was down). Returns how many."""
    pending = list(
        Invoice.objects.filter(
            emailed_at__isnull=True, issued_at__gte=issued_after, issued_at__lt=issued_before
        )
        .exclude(email="")
        .values_list("pk", flat=True)
    )
    for invoice_id in pending:
        invoice_email_request(invoice_id=invoice_id)
    return len(pending)


def invoice_email_send(*, invoice_id: int) -> bool:
    """E-mail an issued invoice with its PDF to the driver, once. Returns whether it was sent now."""
    invoice = Invoice.objects.select_related("driver__user").get(pk=invoice_id)
    if invoice.emailed_at is not None or not invoice.email:
        return False
    # In the driver's language, whichever thread happens to send it.
    with translation.override(user_language(invoice.driver.user)):
        message = EmailMessage(
            subject=gettext("Your ChargeNet invoice %(number)s") % {"number": invoice.number},
            body=gettext(
                "Hello %(name)s,\n\nyour invoice %(number)s for %(start)s – %(end)s is attached.\n"
                "Total: %(total)s %(currency)s incl. VAT.\n\n"
                "You can also find it at %(url)s\n"
            )
            % {
                "name": invoice.billing_name,
                "number": invoice.number,
                "start": dateformat.format(invoice.period_start, "j M Y"),
                "end": dateformat.format(invoice.period_end, "j M Y"),
                "total": invoice.total_incl_vat,
                "currency": invoice.currency,
                "url": f"{settings.SITE_URL}/billing/invoices/{invoice.pk}/",
            },
            to=[invoice.email],
        )
    message.attach(f"{invoice.number}.pdf", bytes(invoice.pdf), "application/pdf")
    message.send()
    # Conditional update: a concurrent resend cannot mark it twice.
    Invoice.objects.filter(pk=invoice.pk, emailed_at__isnull=True).update(emailed_at=timezone.now())
    return True


def credit_note_email_send(*, refund_id: int) -> bool:
    """E-mail a refund's credit note with its PDF to the invoice's driver, in their language, once.
    Returns whether it was sent now."""
    from billing.pdf import credit_note_pdf_render

    refund = Refund.objects.select_related("invoice__driver__user", "payment").get(pk=refund_id)
    invoice = refund.invoice
    if refund.emailed_at is not None or not refund.credit_note_number or not invoice.email:
        return False
    with translation.override(user_language(invoice.driver.user)):
        message = EmailMessage(
            subject=gettext("Your ChargeNet credit note %(number)s") % {"number": refund.credit_note_number},
            body=gettext(
                "Hello %(name)s,\n\nwe refunded %(amount)s %(currency)s of invoice %(invoice)s: %(reason)s\n"
                "The credit note %(number)s is attached.\n\nYou can also find it at %(url)s\n"
            )
            % {
                "name": invoice.billing_name,
                "amount": refund.amount,
                "currency": refund.currency,
                "invoice": invoice.number,
                "reason": refund.reason,
                "number": refund.credit_note_number,
                "url": f"{settings.SITE_URL}/billing/invoices/{invoice.pk}/",
            },
            to=[invoice.email],
        )
        message.attach(
            f"{refund.credit_note_number}.pdf", credit_note_pdf_render(refund=refund), "application/pdf"
        )
    message.send()
    # Conditional update: a task retried after a lost answer cannot mark (or mail) it twice.
    Refund.objects.filter(pk=refund.pk, emailed_at__isnull=True).update(emailed_at=timezone.now())
    return True


# --- payments ------------------------------------------------------------------------------------


def _invoice_status_follow(invoice: Invoice) -> None:
    """The invoice's status from its payments: paid when paid payments cover it, refunded when a
    refund undid them, failed when the latest attempt failed, open otherwise."""
    payments = Payment.objects.filter(invoice=invoice)
    paid = payments.filter(status=Payment.Status.PAID).aggregate(s=Sum("amount"))["s"] or Decimal(0)
    latest = payments.order_by("-updated_at", "-id").first()
    if invoice.total_incl_vat <= 0 or (paid > 0 and paid >= invoice.total_incl_vat):
        status = Invoice.Status.PAID if paid > 0 or invoice.total_incl_vat <= 0 else Invoice.Status.OPEN
    elif payments.filter(status=Payment.Status.REFUNDED).exists() and paid == 0:
        status = Invoice.Status.REFUNDED
    elif latest is not None and latest.status == Payment.Status.FAILED:
        status = Invoice.Status.FAILED
    else:
        status = Invoice.Status.OPEN
    if status != invoice.status:
        Invoice.objects.filter(pk=invoice.pk).update(status=status)
        invoice.status = status
        event_publish("invoice.status_changed", {"invoice_id": invoice.pk, "status": status})


@transaction.atomic
def payment_status_set(*, payment: Payment, status: str) -> Payment:
    """Move a payment to open/paid/failed/refunded; the invoice's status follows."""
    if status not in Payment.Status.values:
        raise BillingError(f"unknown payment status {status!r}")
    payment = Payment.objects.select_for_update().get(pk=payment.pk)
    if payment.status == Payment.Status.REFUNDED and status != Payment.Status.REFUNDED:
        raise BillingError("a refunded payment cannot change any more")
    if payment.status != status:
        payment.status = status
        payment.save(update_fields=["status", "updated_at"])
    _invoice_status_follow(payment.invoice)
    return payment


@transaction.atomic
def payment_record_manual(
    *, invoice: Invoice, amount: Decimal, reference: str = "", recorded_by: User | None = None
) -> Payment:
    """Record a bank transfer (or any payment outside a provider) as paid against an invoice."""
    if amount <= 0:
        raise BillingError("the amount must be positive")
    too_long = text_too_long(Payment, {"reference": reference})
    if too_long:
        raise BillingError(too_long)
    if reference and Payment.objects.filter(provider="manual", reference=reference).exists():
        raise BillingError(f"a payment with the reference {reference!r} is recorded already")
    payment = Payment.objects.create(
        invoice=invoice,
        provider="manual",
        status=Payment.Status.PAID,
        amount=money_round(amount, invoice.currency),
        currency=invoice.currency,
        reference=reference,
        recorded_by=recorded_by,
        note="Recorded by hand",
    )
    _invoice_status_follow(invoice)
    return payment


def payment_checkout_start(
    *, invoice: Invoice, provider_name: str, success_url: str, cancel_url: str
) -> Payment:
    """Start paying an open invoice with a provider: a Payment row, then the provider's checkout.

    Raises BillingError when the invoice is settled or the provider refuses or cannot be reached;
    the open payment row then records the failure.
    """
    from billing.providers import ProviderError, provider_get

    if invoice.status in (Invoice.Status.PAID, Invoice.Status.REFUNDED):
        raise BillingError("this invoice is settled")
    provider = provider_get(provider_name)
    with transaction.atomic():
        payment = Payment.objects.create(
            invoice=invoice,
            provider=provider.name,
            amount=invoice.total_incl_vat,
            currency=invoice.currency,
        )
    try:
        checkout = provider.checkout_create(
            payment=payment, invoice=invoice, success_url=success_url, cancel_url=cancel_url
        )
    except ProviderError as exc:
        Payment.objects.filter(pk=payment.pk).update(note=str(exc)[:300])
        payment_status_set(payment=payment, status=Payment.Status.FAILED)
        raise BillingError(f"the payment could not be started: {exc}") from None
    Payment.objects.filter(pk=payment.pk).update(reference=checkout.reference, checkout_url=checkout.url)
    payment.refresh_from_db()
    return payment


@transaction.atomic
def payment_webhook_receive(
    *, provider_name: str, body: bytes, headers: dict[str, str]
) -> PaymentEvent | None:
    """Verify and apply a provider webhook. Raises providers.WebhookInvalid on a bad signature.

    Each event is applied once (redeliveries return None); events about unknown payments are stored
    and otherwise ignored.
    """
    from billing.providers import provider_get

    provider = provider_get(provider_name)
    update = provider.webhook_parse(body=body, headers=headers)
    try:
        with transaction.atomic():
            event = PaymentEvent.objects.create(
                provider=provider.name,
                event_id=update.event_id,
                type=update.event_type,
                payload=update.payload,
            )
    except IntegrityError:
        return None
    if update.setup_driver_id is not None:
        event_publish("checkout.setup_completed", {"checkout_reference": update.reference})
        return event
    if update.guest_charge_id is not None:
        # A guest's hold: the guest service asks the provider itself, from the outbox (retried).
        event_publish("guest_charge.provider_event", {"guest_charge_id": update.guest_charge_id})
        return event
    if update.status is None and update.refunded_amount is None and not update.disputed:
        return event
    payments = Payment.objects.filter(provider=provider.name)
    payment = None
    if update.payment_id is not None:
        payment = payments.filter(pk=update.payment_id).first()
    if payment is None and update.reference:
        payment = payments.filter(reference=update.reference).first()
    if payment is None:
        logger.warning("%s event %s names no payment we know", provider.name, update.event_id)
        event_publish("payment.unmatched", {"provider": provider.name, "event_id": update.event_id})
        return event
    if update.disputed:
        Payment.objects.filter(pk=payment.pk, disputed_at__isnull=True).update(disputed_at=timezone.now())
        event_publish("payment.disputed", {"payment_id": payment.pk, "invoice_id": payment.invoice_id})
    if update.refunded_amount is not None:
        _refund_reconcile(payment=payment, refunded=update.refunded_amount)
    elif update.status == Payment.Status.REFUNDED:
        _refund_reconcile(payment=payment, refunded=payment.amount)
    elif update.status is not None:
        current = Payment.objects.get(pk=payment.pk).status
        if not (
            current == Payment.Status.REFUNDED
            or (current == Payment.Status.PAID and update.status == Payment.Status.FAILED)
        ):
            payment_status_set(payment=payment, status=update.status)
    return event


def _refund_reconcile(*, payment: Payment, refunded: Decimal) -> None:
    """The provider says `refunded` has been refunded on the payment in all: a refund made outside
    ChargeNet (the provider's dashboard) gets its refund row and credit note here, once."""
    payment = Payment.objects.select_for_update().select_related("invoice").get(pk=payment.pk)
    pending = Refund.objects.filter(payment=payment, status=Refund.Status.PENDING).aggregate(s=Sum("amount"))
    missing = money_round(refunded, payment.currency) - payment.amount_refunded - (pending["s"] or Decimal(0))
    if missing <= 0:
        return
    invoice = payment.invoice
    net = (
        money_round(missing * invoice.total_excl_vat / invoice.total_incl_vat, payment.currency)
        if invoice.total_incl_vat
        else missing
    )
    refund = Refund.objects.create(
        payment=payment,
        invoice=invoice,
        amount=missing,
        amount_excl_vat=net,
        amount_vat=missing - net,
        currency=payment.currency,
        reason="Refunded at the payment provider",
    )
    _refund_done(refund_id=refund.pk, reference="")


# --- refunds and credit notes --------------------------------------------------------------------


def payment_refund(
    *, payment: Payment, amount: Decimal | str, reason: str, requested_by: User | None = None
) -> Refund:
    """Refund all or part of a paid payment through its provider and issue the credit note for it.

    Raises BillingError for a payment that is not paid, an amount that is not positive or exceeds
    what is left to refund (concurrent refunds are serialised on the payment), a missing reason, or
    a provider that refuses (the refund is then recorded as failed, no credit note is issued). The
    provider is asked with an idempotency key per refund, so a retry never refunds twice.
    """
    from billing.providers import ProviderError, provider_get

    try:
        wanted = money_round(pricing.decimal_parse(amount, what="refund amount"), payment.currency)
    except pricing.TariffInvalid as exc:
        raise BillingError(str(exc)) from None
    reason = (reason or "").strip()
    if not reason:
        raise BillingError("say why the money is refunded (it is printed on the credit note)")
    if len(reason) > 300:
        raise BillingError("the reason has at most 300 characters")
    with transaction.atomic():
        payment = Payment.objects.select_for_update().select_related("invoice").get(pk=payment.pk)
        if payment.status not in (Payment.Status.PAID, Payment.Status.REFUNDED):
            raise BillingError("only a paid payment can be refunded")
        pending = Refund.objects.filter(payment=payment, status=Refund.Status.PENDING).aggregate(
            s=Sum("amount")
        )
        left = payment.amount - payment.amount_refunded - (pending["s"] or Decimal(0))
        if wanted <= 0:
            raise BillingError("the refund must be more than zero")
        if wanted > left:
            raise BillingError(
                f"a refund of {wanted} {payment.currency} is more than the {left} {payment.currency} left to refund"
            )
        invoice = payment.invoice
        net = (
            money_round(wanted * invoice.total_excl_vat / invoice.total_incl_vat, payment.currency)
            if invoice.total_incl_vat
            else wanted
        )
        refund = Refund.objects.create(
            payment=payment,
            invoice=invoice,
            amount=wanted,
            amount_excl_vat=net,
            amount_vat=wanted - net,
            currency=payment.currency,
            reason=reason,
            requested_by=requested_by,
        )
    # The refund row is committed before the provider is asked; its id is the idempotency key.
    try:
        reference = provider_get(payment.provider).refund_create(
            payment=payment, amount=wanted, key=f"chargenet-refund-{refund.pk}"
        )
    except ProviderError as exc:
        Refund.objects.filter(pk=refund.pk).update(status=Refund.Status.FAILED, note=str(exc)[:300])
        raise BillingError(f"the refund was not made: {exc}") from None
    return _refund_done(refund_id=refund.pk, reference=reference)


@transaction.atomic
def _refund_done(*, refund_id: int, reference: str) -> Refund:
    """The provider refunded: number the credit note (gapless series), count it on the payment."""
    refund = Refund.objects.select_for_update().select_related("payment", "invoice").get(pk=refund_id)
    if refund.status == Refund.Status.REFUNDED:
        return refund
    payment = Payment.objects.select_for_update().get(pk=refund.payment_id)
    series = f"{settings.BILLING_INVOICE_PREFIX}C{timezone.now():%Y}"
    sequence = _invoice_number_take(series=series)
    refund.status = Refund.Status.REFUNDED
    refund.reference = reference
    refund.credit_note_series = series
    refund.credit_note_sequence = sequence
    refund.credit_note_number = f"{series}-{sequence:06d}"
    refund.refunded_at = timezone.now()
    refund.save()
    payment.amount_refunded += refund.amount
    payment.save(update_fields=["amount_refunded", "updated_at"])
    if payment.amount_refunded >= payment.amount:
        payment_status_set(payment=payment, status=Payment.Status.REFUNDED)
    event_publish(
        "credit_note.issued",
        {
            "refund_id": refund.pk,
            "number": refund.credit_note_number,
            "invoice_id": refund.invoice_id,
            "payment_id": payment.pk,
            "currency": refund.currency,
            "amount": str(refund.amount),
        },
    )
    return refund
