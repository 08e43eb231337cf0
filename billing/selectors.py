"""Reads of the billing app: which tariff applies, live costs, CDRs, invoices and revenue."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum
from django.http import Http404
from django.utils import timezone

from billing import pricing
from billing.models import Cdr, Invoice, Refund, Subscription, SubscriptionPlan, Tariff, TariffAssignment
from billing.money import money_round
from chargenet import sql
from chargenet.events import event_batch_memo
from chargenet.models import User
from rfid.models import Driver, IdToken
from stations.models import MeterSample, Session, Station

FREE_ELEMENTS = ({"price_components": [{"type": "FLAT", "price": "0.00", "step_size": 1}]},)


def tariff_terms(tariff: Tariff | None) -> pricing.TariffTerms:
    """The pricing terms of a tariff; free of charge (OCPI's one FLAT 0.00) when there is none."""
    if tariff is None:
        return pricing.TariffTerms(currency="EUR", vat_percent=Decimal(0), elements=FREE_ELEMENTS)
    return pricing.TariffTerms(
        currency=tariff.currency, vat_percent=Decimal(tariff.vat_percent), elements=tuple(tariff.elements)
    )


def tariff_to_ocpi(tariff: Tariff) -> dict[str, Any]:
    """The tariff as an OCPI 2.2.1 Tariff object (without the party fields the OCPI app adds)."""
    data = {
        "id": tariff.code,
        "currency": tariff.currency,
        "type": "REGULAR",
        "elements": tariff.elements,
        "last_updated": tariff.updated_at.isoformat().replace("+00:00", "Z") if tariff.updated_at else None,
        "vat_percent": str(tariff.vat_percent),
    }
    if tariff.valid_from:
        data["start_date_time"] = tariff.valid_from.isoformat().replace("+00:00", "Z")
    if tariff.valid_to:
        data["end_date_time"] = tariff.valid_to.isoformat().replace("+00:00", "Z")
    return data


def subscription_active(*, driver: Driver | None, on: date) -> Subscription | None:
    """The driver's subscription that covers the day `on`, if any."""
    if driver is None:
        return None
    return (
        Subscription.objects.select_related("plan__tariff")
        .filter(driver=driver, plan__is_active=True, started_on__lte=on)
        .filter(Q(ended_on__isnull=True) | Q(ended_on__gte=on))
        .first()
    )


def tariff_resolve(*, session: Session) -> Tariff | None:
    """The tariff for a session as at its start (see `tariff_resolve_at`)."""
    return tariff_resolve_at(
        at=session.started_at,
        station=session.station,
        connector_id=session.connector_id,
        id_token=session.id_token if session.id_token_id else None,
    )


def tariff_resolve_at(
    *, at: datetime, station: Station, connector_id: int | None = None, id_token: IdToken | None = None
) -> Tariff | None:
    """The tariff that applies to a session starting at `at` on a station (connector) with a card.

    Members' prices first (an assignment for the driver's plan, then the plan's own tariff, then
    one for the card's group), then public assignments; within each, connector before station
    before location before everywhere; finally the default tariff. Tariffs outside their validity
    at `at` are skipped.
    """
    driver = id_token.driver if id_token is not None and id_token.driver_id else None
    subscription = subscription_active(driver=driver, on=timezone.localdate(at))
    group = (id_token.parent_id_tag if id_token is not None else "").upper()
    # Every assignment at one of the places, for any audience, in one statement (a query per place
    # and audience cost a worker most of the pricing of every session; the ORM's building of the
    # one query, and of the default tariff's, still cost most of it), then ranked here.
    tariffs: dict[int, Tariff | None] = {}

    def valid(tariff_id: int) -> Tariff | None:
        if tariff_id not in tariffs:
            tariff = _tariff_by_id(tariff_id)
            tariffs[tariff_id] = tariff if tariff is not None and _tariff_valid(tariff, at) else None
        return tariffs[tariff_id]

    candidates = [
        _Assignment(*row)
        for row in _assignments_at(station.pk, connector_id, station.location_id)
        if valid(row[0]) is not None
    ]

    def first(audience: Callable[["_Assignment"], bool]) -> Tariff | None:
        """The newest valid assignment for `audience` at the nearest place."""
        matching = [assignment for assignment in candidates if audience(assignment)]
        return valid(min(matching, key=_Assignment.place).tariff_id) if matching else None

    if subscription is not None:
        plan = subscription.plan
        found = first(lambda a: a.plan_id == plan.pk)
        if found is None and plan.tariff is not None and _tariff_valid(plan.tariff, at):
            found = plan.tariff
        if found is not None:
            return found
    if group:
        found = first(lambda a: a.id_token_group.upper() == group)
        if found is not None:
            return found
    found = first(lambda a: a.plan_id is None and a.id_token_group == "")
    if found is not None:
        return found
    # The default tariffs are settings: read once per dispatch transaction of the worker's pricing.
    defaults = event_batch_memo("billing.default_tariffs", lambda: _default_tariffs(True))
    return next(filter(None, (valid(tariff_id) for (tariff_id,) in defaults)), None)


@dataclass(frozen=True)
class _Assignment:
    tariff_id: int
    connector_id: int | None
    station_id: int | None
    location_id: int | None
    plan_id: int | None
    id_token_group: str

    def place(self) -> int:
        """0 at the connector, 1 at the station, 2 at the location, 3 everywhere."""
        for rank, column in enumerate((self.connector_id, self.station_id, self.location_id)):
            if column is not None:
                return rank
        return 3


_tariff_by_id = sql.Select(Tariff, where=["id"])
# The assignments at a station (its own, its connector's, its location's, everywhere's), newest
# first; a connector or location given as NULL matches nothing.
_assignments_at = sql.Raw(
    TariffAssignment,
    lambda qn: (
        f"SELECT {qn('tariff_id')}, {qn('connector_id')}, {qn('station_id')}, {qn('location_id')}, "
        f"{qn('plan_id')}, {qn('id_token_group')} FROM {qn(TariffAssignment._meta.db_table)} "
        f"WHERE ({qn('station_id')} = %s AND {qn('connector_id')} IS NULL) OR {qn('connector_id')} = %s "
        f"OR ({qn('location_id')} = %s AND {qn('station_id')} IS NULL AND {qn('connector_id')} IS NULL) "
        f"OR ({qn('location_id')} IS NULL AND {qn('station_id')} IS NULL AND {qn('connector_id')} IS NULL) "
        f"ORDER BY {qn('created_at')} DESC, {qn('id')} DESC"
    ),
)
_default_tariffs = sql.Raw(
    Tariff,
    lambda qn: (
        f"SELECT {qn('id')} FROM {qn(Tariff._meta.db_table)} WHERE {qn('is_default')} = %s "
        f"ORDER BY {qn('updated_at')} DESC, {qn('id')} DESC"
    ),
)


def _tariff_valid(tariff: Tariff, at: datetime) -> bool:
    return (tariff.valid_from is None or tariff.valid_from <= at) and (
        tariff.valid_to is None or tariff.valid_to > at
    )


def tariff_text(
    *, station: Station, uid: str, language: str, at: datetime | None = None
) -> dict[str, str] | None:
    """The alt text of the tariff the card `uid` would charge at on `station` now: the one in
    `language` (or its primary subtag, "sv" for "sv-SE"), else the tariff's first; None without one."""
    id_token = IdToken.objects.select_related("driver").filter(uid__iexact=uid).first()
    tariff = tariff_resolve_at(at=at or timezone.now(), station=station, id_token=id_token)
    texts = tariff.alt_texts if tariff is not None else []
    if not texts:
        return None
    wanted = language.lower()
    for candidate in (wanted, wanted.split("-")[0]):
        for text in texts:
            if text["language"].lower() == candidate or text["language"].lower().split("-")[0] == candidate:
                return dict(text)
    return dict(texts[0])


@dataclass(frozen=True)
class TariffPreview:
    """What a hypothetical session would cost: the tariff used, the breakdown and rounded totals."""

    tariff: Tariff | None
    time_zone: str
    breakdown: pricing.CostBreakdown
    currency: str
    total_excl_vat: Decimal
    total_incl_vat: Decimal


def tariff_preview(
    *,
    start: datetime,
    energy_kwh: Decimal,
    power_kw: Decimal,
    parking_minutes: int = 0,
    tariff: Tariff | None = None,
    station: Station | None = None,
    connector_id: int | None = None,
    id_token: IdToken | None = None,
    time_zone: str | None = None,
) -> TariffPreview:
    """Price "`energy_kwh` at `power_kw` from `start`, then `parking_minutes` idle" with `tariff`, or
    with the tariff that would apply on `station` (connector, card). Read in the station's location's
    time zone (else `time_zone`, else UTC). Raises ValueError on impossible quantities."""
    if tariff is None and station is not None:
        tariff = tariff_resolve_at(at=start, station=station, connector_id=connector_id, id_token=id_token)
    if station is not None and station.location is not None:
        time_zone = station.location.time_zone
    zone = time_zone or "UTC"
    terms = tariff_terms(tariff)
    local = timezone.localtime(start, pricing.zone_get(zone)).replace(tzinfo=None)
    breakdown = pricing.session_simulate(
        tariff=terms,
        time_zone=zone,
        start_local=local,
        energy_kwh=energy_kwh,
        power_kw=power_kw,
        parking_minutes=parking_minutes,
    )
    return TariffPreview(
        tariff=tariff,
        time_zone=zone,
        breakdown=breakdown,
        currency=terms.currency,
        total_excl_vat=money_round(breakdown.total_excl_vat, terms.currency),
        total_incl_vat=money_round(breakdown.total_incl_vat, terms.currency),
    )


def tariff_assignment_list() -> QuerySet[TariffAssignment]:
    """Every assignment with its tariff, place and audience, most specific place first."""
    return TariffAssignment.objects.select_related(
        "tariff", "location", "station", "connector__evse__station", "plan"
    ).order_by("connector", "station", "location", "plan", "id_token_group", "id")


def subscription_plan_list(*, today: date) -> QuerySet[SubscriptionPlan]:
    """Plans by name with `members`: drivers whose subscription covers `today`."""
    return (
        SubscriptionPlan.objects.select_related("tariff")
        .annotate(
            members=Count(
                "subscriptions",
                filter=Q(subscriptions__started_on__lte=today)
                & (Q(subscriptions__ended_on__isnull=True) | Q(subscriptions__ended_on__gte=today)),
            )
        )
        .order_by("name")
    )


def subscription_list(
    *, driver: Driver | None = None, current_on: date | None = None
) -> QuerySet[Subscription]:
    """Subscriptions with their driver and plan, newest first; with `current_on`, only those that
    cover that day or start later (not the ended ones)."""
    subscriptions = Subscription.objects.select_related("driver", "plan__tariff").order_by(
        "-started_on", "-id"
    )
    if driver is not None:
        subscriptions = subscriptions.filter(driver=driver)
    if current_on is not None:
        subscriptions = subscriptions.filter(Q(ended_on__isnull=True) | Q(ended_on__gte=current_on))
    return subscriptions


def subscription_plans_offered() -> QuerySet[SubscriptionPlan]:
    """The plans drivers may choose themselves: active and self-service, by name."""
    return (
        SubscriptionPlan.objects.filter(is_active=True, self_service=True)
        .select_related("tariff")
        .order_by("name")
    )


def session_samples(*, session: Session) -> list[pricing.Sample]:
    """The session's energy-register and power samples (all phases summed away: no phase only)."""
    rows = _session_samples(session.pk, pricing.ENERGY_REGISTER, pricing.POWER_ACTIVE)
    return [pricing.Sample(timestamp=t, measurand=m, value=Decimal(v)) for t, m, v in rows]


# Every stopped session is priced by the worker: its samples' query written once, not by the ORM.
_session_samples = sql.Raw(
    MeterSample,
    lambda qn: (
        f"SELECT {qn('timestamp')}, {qn('measurand')}, {qn('value')} FROM {qn(MeterSample._meta.db_table)} "
        f"WHERE {qn('session_id')} = %s AND {qn('measurand')} IN (%s, %s) AND {qn('phase')} = '' "
        f"ORDER BY {qn('timestamp')}"
    ),
    columns=("timestamp", "measurand", "value"),
)


def session_periods(*, session: Session, until: datetime | None = None) -> list[pricing.ChargingPeriod]:
    """Charging and idle periods of a session, up to its stop (or `until`, e.g. now, when active)."""
    end = session.stopped_at or until or timezone.now()
    end = max(end, session.started_at)
    energy = session.energy_wh
    samples = session_samples(session=session)
    if session.stopped_at is None:
        # Live: the last register reading is the best energy figure we have.
        readings = [s.value for s in samples if s.measurand == pricing.ENERGY_REGISTER and s.timestamp <= end]
        if readings:
            energy = max(energy, int(max(readings)) - session.meter_start_wh)
    return pricing.periods_from_samples(
        started_at=session.started_at,
        stopped_at=end,
        meter_start_wh=session.meter_start_wh,
        energy_wh=energy,
        samples=samples,
    )


def session_time_zone(session: Session) -> str:
    """The time zone tariffs are read in: the location's, UTC when the station has no location."""
    location = session.station.location
    return location.time_zone if location is not None else "UTC"


@dataclass(frozen=True)
class LiveCost:
    """The cost of a session so far (or its CDR when finished), rounded for display."""

    session: Session
    tariff: Tariff | None
    breakdown: pricing.CostBreakdown | None
    cdr: Cdr | None
    total_excl_vat: Decimal
    total_incl_vat: Decimal
    currency: str


def session_for_user(*, user: User, session_id: int) -> Session:
    """The session if the user may see its cost: operators any, drivers only their own (else 404)."""
    sessions = Session.objects.select_related("station__location", "id_token__driver", "connector")
    if not user.is_staff_member:
        sessions = sessions.filter(id_token__driver__user=user)
    try:
        return sessions.get(pk=session_id)
    except Session.DoesNotExist:
        raise Http404("No such session.") from None


def session_cost(*, session: Session, now: datetime | None = None) -> LiveCost:
    """The cost of a session: its current CDR when priced, else priced live from its meter samples."""
    cdr = cdr_current_for_session(session=session)
    if cdr is not None:
        # The CDR's totals are already rounded, but its columns keep four decimals ("5.0000").
        return LiveCost(
            session,
            cdr.tariff,
            None,
            cdr,
            money_round(cdr.total_excl_vat, cdr.currency),
            money_round(cdr.total_incl_vat, cdr.currency),
            cdr.currency,
        )
    tariff = tariff_resolve(session=session)
    terms = tariff_terms(tariff)
    breakdown = pricing.price_session(
        periods=session_periods(session=session, until=now),
        tariff=terms,
        time_zone=session_time_zone(session),
        session_start=session.started_at,
    )
    return LiveCost(
        session,
        tariff,
        breakdown,
        None,
        money_round(breakdown.total_excl_vat, terms.currency),
        money_round(breakdown.total_incl_vat, terms.currency),
        terms.currency,
    )


def cdr_current_for_session(*, session: Session) -> Cdr | None:
    """The session's CDR that stands (not credited), if it was priced."""
    return (
        Cdr.objects.filter(session=session, kind=Cdr.Kind.NORMAL, credited_by__isnull=True)
        .select_related("tariff")
        .order_by("-id")
        .first()
    )


def cdr_list(
    *, user: User | None = None, start: datetime | None = None, end: datetime | None = None
) -> QuerySet[Cdr]:
    """CDRs newest first; a driver sees only their own; optionally those that ended in [start, end)."""
    cdrs = Cdr.objects.select_related("driver", "location", "session")
    if user is not None and not user.is_staff_member:
        cdrs = cdrs.filter(driver__user=user)
    if start is not None:
        cdrs = cdrs.filter(stopped_at__gte=start)
    if end is not None:
        cdrs = cdrs.filter(stopped_at__lt=end)
    return cdrs


def invoice_list(*, user: User) -> QuerySet[Invoice]:
    """Invoices newest first: operators see all, a driver only their own."""
    invoices = Invoice.objects.select_related("driver").defer("pdf")
    if not user.is_staff_member:
        invoices = invoices.filter(driver__user=user)
    return invoices


def invoice_for_user(*, user: User, invoice_id: int) -> Invoice:
    """An invoice the user may see (a driver's own only), else Http404 — never 403, to leak nothing."""
    try:
        return invoice_list(user=user).prefetch_related("lines", "payments").get(pk=invoice_id)
    except Invoice.DoesNotExist:
        raise Http404("No such invoice.") from None


def refund_for_user(*, user: User, refund_id: int) -> Refund:
    """A refund with a credit note on an invoice the user may see, else Http404 (as invoices)."""
    try:
        return (
            Refund.objects.select_related("invoice", "payment")
            .filter(invoice__in=invoice_list(user=user).values("pk"), status=Refund.Status.REFUNDED)
            .get(pk=refund_id)
        )
    except Refund.DoesNotExist:
        raise Http404("No such credit note.") from None


def revenue_by_location(*, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Revenue (net of credits) per location and currency for CDRs that ended in [start, end)."""
    rows = (
        Cdr.objects.filter(stopped_at__gte=start, stopped_at__lt=end)
        .values("location_id", "location_name", "currency")
        .annotate(
            sessions=Count("id", filter=Q(kind=Cdr.Kind.NORMAL, supersedes__isnull=True)),
            energy_wh=Sum("energy_wh"),
            excl_vat=Sum("total_excl_vat"),
            incl_vat=Sum("total_incl_vat"),
        )
        .order_by("-excl_vat", "location_name")
    )
    return [
        {
            **row,
            "excl_vat": money_round(row["excl_vat"] or Decimal(0), row["currency"]),
            "incl_vat": money_round(row["incl_vat"] or Decimal(0), row["currency"]),
        }
        for row in rows
    ]


def revenue_summary(*, now: datetime) -> dict[str, list[dict[str, Any]]]:
    """Revenue today and this month (in the operator's time zone), per currency, net of credits."""
    from zoneinfo import ZoneInfo

    from django.conf import settings

    local = now.astimezone(ZoneInfo(settings.OPERATOR_TIME_ZONE))
    day = local.replace(hour=0, minute=0, second=0, microsecond=0)
    month = day.replace(day=1)

    def per_currency(start: datetime) -> list[dict[str, Any]]:
        rows = (
            Cdr.objects.filter(stopped_at__gte=start, stopped_at__lt=now)
            .values("currency")
            .annotate(excl_vat=Sum("total_excl_vat"), incl_vat=Sum("total_incl_vat"))
            .order_by("currency")
        )
        return [
            {
                "currency": row["currency"],
                "excl_vat": money_round(row["excl_vat"] or Decimal(0), row["currency"]),
                "incl_vat": money_round(row["incl_vat"] or Decimal(0), row["currency"]),
            }
            for row in rows
        ]

    return {"today": per_currency(day), "month": per_currency(month)}


def driver_data_export(*, driver: Any) -> dict[str, Any]:
    """Everything ChargeNet holds about a driver, for them to take away (GDPR art. 15 and 20): their
    details, cards, sessions, priced sessions and invoices, as JSON-ready data."""
    from rfid.models import IdToken
    from stations.models import Session

    cards = IdToken.objects.filter(driver=driver).order_by("created_at")
    return {
        "exported_at": timezone.now().isoformat(),
        "account": {
            "username": driver.user.username,
            "email": driver.email or driver.user.email,
            "date_joined": driver.user.date_joined.isoformat(),
        },
        "details": {
            field: getattr(driver, field)
            for field in ("name", "phone", "billing_name", "billing_address", "vat_number")
        },
        "cards": list(cards.values("uid", "printed_number", "label", "status", "created_at", "last_used_at")),
        "sessions": list(
            Session.objects.filter(id_token__in=cards)
            .order_by("started_at")
            .values("station__identity", "transaction_id", "started_at", "stopped_at", "energy_wh", "status")
        ),
        "priced_sessions": list(
            Cdr.objects.filter(driver=driver)
            .order_by("started_at")
            .values(
                "cdr_id",
                "started_at",
                "stopped_at",
                "energy_wh",
                "currency",
                "total_excl_vat",
                "total_incl_vat",
            )
        ),
        "invoices": list(
            Invoice.objects.filter(driver=driver)
            .order_by("issued_at")
            .values(
                "number", "issued_at", "period_start", "period_end", "currency", "total_incl_vat", "status"
            )
        ),
    }


@dataclass(frozen=True)
class Reconciliation:
    """What does not add up between the provider and the books for a window (the daily report)."""

    start: datetime
    end: datetime
    paid_twice: list[dict[str, Any]]
    unmatched_events: list[dict[str, Any]]
    disputed: list[Any]
    failed_refunds: list[Any]
    stuck_automatic: list[Any]
    guest_unpaid: list[Any]

    @property
    def clean(self) -> bool:
        return not (
            self.paid_twice
            or self.unmatched_events
            or self.disputed
            or self.failed_refunds
            or self.stuck_automatic
            or self.guest_unpaid
        )


# Provider events that mean money moved; each must name a payment or guest hold we know.
_MONEY_EVENTS = (
    "checkout.session.completed",
    "payment_intent.succeeded",
    "charge.refunded",
    "charge.dispute.created",
)


def payments_reconciliation(*, start: datetime, end: datetime) -> Reconciliation:
    """Invoices whose paid payments exceed their total (paid twice), provider events about money
    that name no payment, invoice or guest hold of ours (a payment without an invoice), disputes,
    refunds the provider refused and automatic payments still unanswered, for [start, end)."""
    from datetime import timedelta

    from billing.models import GuestCharge, Payment, PaymentEvent, Refund

    touched = Payment.objects.filter(updated_at__gte=start, updated_at__lt=end, status="paid").values(
        "invoice_id"
    )
    paid_twice = [
        {"invoice": invoice, "paid": invoice.paid, "count": invoice.paid_count}
        for invoice in Invoice.objects.defer("pdf")
        .filter(pk__in=touched)
        .annotate(
            paid=Sum("payments__amount", filter=Q(payments__status="paid")),
            paid_count=Count("payments", filter=Q(payments__status="paid")),
        )
        .filter(paid_count__gte=2)
        if invoice.paid is not None and invoice.paid > invoice.total_incl_vat
    ]
    payment_ids = set(Payment.objects.values_list("pk", flat=True))
    guest_ids = set(GuestCharge.objects.values_list("pk", flat=True))
    references = set(Payment.objects.exclude(reference="").values_list("reference", flat=True))
    unmatched = []
    for event in PaymentEvent.objects.filter(
        received_at__gte=start, received_at__lt=end, type__in=_MONEY_EVENTS
    ):
        obj = ((event.payload or {}).get("data") or {}).get("object") or {}
        metadata = obj.get("metadata") or {}
        known = (
            str(metadata.get("payment_id", "")).isdigit()
            and int(metadata["payment_id"]) in payment_ids
            or str(metadata.get("guest_charge_id", "")).isdigit()
            and int(metadata["guest_charge_id"]) in guest_ids
            or "setup_driver_id" in metadata
            or obj.get("id") in references
            or obj.get("payment_intent") in references
        )
        if not known:
            unmatched.append(
                {
                    "event": event,
                    "object_id": obj.get("id", ""),
                    "amount": obj.get("amount_total") or obj.get("amount"),
                }
            )
    return Reconciliation(
        start=start,
        end=end,
        paid_twice=paid_twice,
        unmatched_events=unmatched,
        disputed=list(
            Payment.objects.filter(disputed_at__gte=start, disputed_at__lt=end).select_related("invoice")
        ),
        failed_refunds=list(
            Refund.objects.filter(status="failed", created_at__gte=start, created_at__lt=end)
        ),
        stuck_automatic=list(
            Payment.objects.filter(
                status="open",
                note__startswith="Automatic card payment",
                created_at__lt=end - timedelta(hours=1),
            ).select_related("invoice")
        ),
        guest_unpaid=list(
            GuestCharge.objects.filter(
                status="failed", cdr__isnull=False, updated_at__gte=start, updated_at__lt=end
            ).select_related("cdr")
        ),
    )
