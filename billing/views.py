"""Billing pages: live cost partial, CDRs, invoices (PDF), payments, tariff editor, revenue report."""

import csv
import json
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    JsonResponse,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from billing import pricing, selectors, services
from billing.models import Subscription, SubscriptionPlan, Tariff, TariffAssignment
from billing.money import money_round
from billing.pdf import credit_note_pdf_render
from billing.providers import WebhookInvalid, providers_available
from chargenet.api.services import audit_record
from chargenet.permissions import UserRequest, driver_required, operate_required, staff_required
from rfid.models import Driver
from stations.models import Connector, Location, Station


@login_required
def session_cost(request: UserRequest, session_id: int) -> HttpResponse:
    """The cost of a session so far (htmx partial): drivers see only their own sessions."""
    session = selectors.session_for_user(user=request.user, session_id=session_id)
    cost = selectors.session_cost(session=session)
    return render(request, "billing/_session_cost.html", {"cost": cost, "session": session})


@login_required
def cdr_list(request: UserRequest) -> HttpResponse:
    """Priced sessions: a driver's own, or all for operators."""
    cdrs = selectors.cdr_list(user=request.user)[:200]
    return render(request, "billing/cdr_list.html", {"cdrs": cdrs})


@login_required
def invoice_list(request: UserRequest) -> HttpResponse:
    today = timezone.now().astimezone(ZoneInfo(settings.OPERATOR_TIME_ZONE)).date()
    last_month = services.invoice_period_previous(today=today, length="monthly")
    return render(
        request,
        "billing/invoice_list.html",
        {"invoices": selectors.invoice_list(user=request.user)[:200], "last_month": last_month},
    )


@driver_required
def my_data(request: UserRequest) -> HttpResponse:
    """Download everything we hold about the signed-in driver, as JSON."""
    driver = get_object_or_404(Driver, user=request.user)
    response = JsonResponse(selectors.driver_data_export(driver=driver), json_dumps_params={"indent": 2})
    response["Content-Disposition"] = 'attachment; filename="chargenet-my-data.json"'
    return response


@require_POST
@operate_required
def invoice_run(request: UserRequest) -> HttpResponse:
    """The invoice list's "Invoice now" button: invoice a period (by default last month) at once."""
    try:
        first_day = date.fromisoformat(request.POST.get("period_start", ""))
        last_day = date.fromisoformat(request.POST.get("period_end", ""))
        invoices = services.invoice_run_requested(first_day=first_day, last_day=last_day)
    except ValueError:
        messages.error(request, gettext("Not invoiced: give the period's first and last day."))
    except services.BillingError as exc:
        messages.error(request, gettext("Not invoiced: %(exc)s.") % {"exc": exc})
    else:
        if invoices:
            messages.success(
                request,
                gettext("Issued %(count)s invoice(s) for %(first_day)s – %(last_day)s.")
                % {"count": len(invoices), "first_day": first_day, "last_day": last_day},
            )
        else:
            messages.success(
                request,
                gettext("Nothing left to invoice for %(first_day)s – %(last_day)s.")
                % {"first_day": first_day, "last_day": last_day},
            )
    return redirect("billing:invoice-list")


@login_required
def invoice_detail(request: UserRequest, invoice_id: int) -> HttpResponse:
    invoice = selectors.invoice_for_user(user=request.user, invoice_id=invoice_id)
    return render(
        request,
        "billing/invoice_detail.html",
        {"invoice": invoice, "providers": providers_available() if request.user.is_driver else []},
    )


@login_required
def invoice_pdf(request: UserRequest, invoice_id: int) -> HttpResponse:
    invoice = selectors.invoice_for_user(user=request.user, invoice_id=invoice_id)
    pdf = bytes(type(invoice).objects.values_list("pdf", flat=True).get(pk=invoice.pk))
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{invoice.number}.pdf"'
    return response


@login_required
def credit_note_pdf(request: UserRequest, refund_id: int) -> HttpResponse:
    """A refund's credit note as a PDF, in the reader's language (the invoice's driver or staff)."""
    refund = selectors.refund_for_user(user=request.user, refund_id=refund_id)
    response = HttpResponse(credit_note_pdf_render(refund=refund), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{refund.credit_note_number}.pdf"'
    return response


@login_required
@require_POST
def invoice_pay(request: UserRequest, invoice_id: int) -> HttpResponse:
    """Start a payment of the driver's own invoice with the chosen provider."""
    invoice = selectors.invoice_for_user(user=request.user, invoice_id=invoice_id)
    if not request.user.is_driver:
        raise Http404("Only the driver pays an invoice.")
    detail = request.build_absolute_uri(reverse("billing:invoice-detail", args=[invoice.pk]))
    try:
        payment = services.payment_checkout_start(
            invoice=invoice,
            provider_name=request.POST.get("provider", "manual"),
            success_url=detail + "?paid=1",
            cancel_url=detail,
        )
    except services.BillingError as exc:
        messages.error(request, str(exc))
        return redirect("billing:invoice-detail", invoice_id=invoice.pk)
    if payment.provider == "manual":
        messages.info(
            request,
            gettext("Please transfer %(total_incl_vat)s %(currency)s quoting %(number)s.")
            % {
                "total_incl_vat": invoice.total_incl_vat,
                "currency": invoice.currency,
                "number": invoice.number,
            },
        )
        return redirect("billing:invoice-detail", invoice_id=invoice.pk)
    return redirect(payment.checkout_url)


@operate_required
@require_POST
def payment_record(request: UserRequest, invoice_id: int) -> HttpResponse:
    """An operator records a bank transfer against an invoice."""
    invoice = selectors.invoice_for_user(user=request.user, invoice_id=invoice_id)
    try:
        amount = Decimal(request.POST.get("amount", ""))
        services.payment_record_manual(
            invoice=invoice,
            amount=amount,
            reference=request.POST.get("reference", ""),
            recorded_by=request.user,
        )
        messages.success(request, gettext("Payment recorded."))
    except (InvalidOperation, services.BillingError) as exc:
        messages.error(request, gettext("Not recorded: %(exc)s") % {"exc": exc})
    return redirect("billing:invoice-detail", invoice_id=invoice.pk)


@operate_required
@require_POST
def refund_create(request: UserRequest, invoice_id: int) -> HttpResponse:
    """An operator refunds (part of) a payment of the invoice; a credit note is issued."""
    invoice = selectors.invoice_for_user(user=request.user, invoice_id=invoice_id)
    payment = invoice.payments.filter(pk=_int_or_none(request.POST.get("payment"))).first()  # type: ignore[misc]
    try:
        if payment is None:
            raise services.BillingError("choose a payment of this invoice")
        refund = services.payment_refund(
            payment=payment,
            amount=request.POST.get("amount", ""),
            reason=request.POST.get("reason", ""),
            requested_by=request.user,
        )
        messages.success(
            request, f"Refunded {refund.amount} {refund.currency}: credit note {refund.credit_note_number}."
        )
    except services.BillingError as exc:
        messages.error(request, f"Not refunded: {exc}.")
    return redirect("billing:invoice-detail", invoice_id=invoice.pk)


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest) -> HttpResponse:
    """Stripe's webhook endpoint: 400 unless the Stripe-Signature verifies."""
    try:
        services.payment_webhook_receive(
            provider_name="stripe", body=request.body, headers={k: v for k, v in request.headers.items()}
        )
    except WebhookInvalid as exc:
        return HttpResponse(str(exc), status=400, content_type="text/plain")
    return HttpResponse("ok", content_type="text/plain")


# --- operators: tariffs --------------------------------------------------------------------------


@staff_required
def tariff_list(request: HttpRequest) -> HttpResponse:
    return render(request, "billing/tariff_list.html", {"tariffs": Tariff.objects.order_by("code")})


# The tariff form: one row per price component with its restrictions; durations in minutes.
ROW_TEXT_RESTRICTIONS = ("start_time", "end_time", "min_kwh", "max_kwh", "min_power", "max_power")
ROW_MINUTE_RESTRICTIONS = ("min_duration", "max_duration")
MAX_ROWS = 40
EXTRA_ROWS = 2


def _elements_from_rows(post) -> list[dict[str, Any]]:
    """OCPI elements from the form's rows (a row without a price is left out)."""
    try:
        count = min(int(post.get("rows", "0")), MAX_ROWS)
    except ValueError:
        raise services.BillingError("the form is incomplete; reload the page") from None
    elements: list[dict[str, Any]] = []
    for index in range(count):
        key = f"el-{index}-"
        price = post.get(key + "price", "").strip()
        if not price:
            continue
        number = len(elements) + 1
        try:
            step = int(post.get(key + "step_size", "1").strip() or "1")
        except ValueError:
            raise services.BillingError(f"row {number}: the step size must be a whole number") from None
        restrictions: dict[str, Any] = {}
        for name in ROW_TEXT_RESTRICTIONS:
            value = post.get(key + name, "").strip()
            if value:
                restrictions[name] = value
        for name in ROW_MINUTE_RESTRICTIONS:
            value = post.get(key + name, "").strip()
            if value:
                try:
                    restrictions[name] = int(Decimal(value) * 60)
                except InvalidOperation:
                    raise services.BillingError(f"row {number}: minutes must be a number") from None
        days = post.getlist(key + "day_of_week") if hasattr(post, "getlist") else []
        if days:
            restrictions["day_of_week"] = days
        element: dict[str, Any] = {
            "price_components": [{"type": post.get(key + "type", ""), "price": price, "step_size": step}]
        }
        if restrictions:
            element["restrictions"] = restrictions
        elements.append(element)
    return elements


def _rows_from_elements(elements: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The form's rows for stored elements: one per price component, then blank rows to add."""
    rows = []
    for element in elements:
        restrictions = element.get("restrictions") or {}
        for component in element.get("price_components", []):
            row = {name: restrictions.get(name, "") for name in ROW_TEXT_RESTRICTIONS}
            for name in ROW_MINUTE_RESTRICTIONS:
                row[name] = Decimal(restrictions[name]) / 60 if name in restrictions else ""
            row.update(
                type=component.get("type", ""),
                price=component.get("price", ""),
                step_size=component.get("step_size", 1),
                day_of_week=restrictions.get("day_of_week", []),
            )
            rows.append(row)
    return rows + [{"type": "ENERGY", "step_size": 1, "day_of_week": []} for _ in range(EXTRA_ROWS)]


def _rows_from_post(post) -> list[dict[str, Any]]:
    """The rows as the user sent them, to show again next to an error."""
    try:
        count = min(int(post.get("rows", "0")), MAX_ROWS)
    except ValueError:
        count = 0
    names = ("type", "price", "step_size", *ROW_TEXT_RESTRICTIONS, *ROW_MINUTE_RESTRICTIONS)
    return [
        {
            **{name: post.get(f"el-{i}-{name}", "") for name in names},
            "day_of_week": post.getlist(f"el-{i}-day_of_week"),
        }
        for i in range(count)
    ]


def _tariff_form_fields(post) -> dict:
    if "rows" in post and post.get("use_json") != "on":
        elements: Any = _elements_from_rows(post)
    else:
        try:
            elements = json.loads(post.get("elements", ""), parse_float=Decimal)
        except ValueError as exc:
            raise services.BillingError(f"the elements are not valid JSON: {exc}") from None
        elements = json.loads(json.dumps(elements, default=str))  # decimals as strings, never floats
    return {
        "code": post.get("code", "").strip(),
        "name": post.get("name", "").strip(),
        "currency": post.get("currency", "EUR").strip(),
        "vat_percent": post.get("vat_percent", "0").strip(),
        "is_default": post.get("is_default") == "on",
        "elements": elements,
    }


@staff_required
def tariff_edit(request: UserRequest, tariff_id: int | None = None) -> HttpResponse:
    """Create or edit a tariff with the form (price components and their restrictions, or the OCPI
    elements as JSON under "Advanced") and a preview of what a sample session would cost."""
    tariff = get_object_or_404(Tariff, pk=tariff_id) if tariff_id else None
    error = ""
    if request.method == "POST":
        if not request.user.can_operate:
            raise Http404("Viewers cannot edit tariffs.")
        try:
            fields = _tariff_form_fields(request.POST)
            if tariff is None:
                tariff = services.tariff_create(**fields)
            else:
                tariff = services.tariff_update(tariff=tariff, **fields)
            messages.success(request, gettext("Tariff %(code)s saved.") % {"code": tariff.code})
            return redirect("billing:tariff-edit", tariff_id=tariff.pk)
        except services.BillingError as exc:
            error = str(exc)
        form: Mapping[str, Any] = request.POST
        rows = _rows_from_post(request.POST)
    else:
        form = {
            "code": tariff.code if tariff else "",
            "name": tariff.name if tariff else "",
            "currency": tariff.currency if tariff else "EUR",
            "vat_percent": tariff.vat_percent if tariff else "21",
            "is_default": tariff.is_default if tariff else False,
            "elements": json.dumps(
                tariff.elements
                if tariff
                else [{"price_components": [{"type": "ENERGY", "price": "0.30", "step_size": 1}]}],
                indent=2,
            ),
        }
        rows = _rows_from_elements(tariff.elements if tariff else [])
    return render(
        request,
        "billing/tariff_edit.html",
        {
            "tariff": tariff,
            "form": form,
            "rows": rows,
            "error": error,
            "days": pricing.DAYS,
            "component_types": (
                ("ENERGY", "per kWh"),
                ("TIME", "per hour charging"),
                ("PARKING_TIME", "per hour parked"),
                ("FLAT", "per session"),
            ),  # fmt: skip
        },
        status=400 if error else 200,
    )


@staff_required
def tariff_preview(request: HttpRequest) -> HttpResponse:
    """Partial: what a hypothetical session would cost under the elements in the editor."""
    data = request.POST if request.method == "POST" else request.GET
    context: dict = {}
    try:
        fields = _tariff_form_fields(data)
        vat = pricing.decimal_parse(fields["vat_percent"] or "0", what="VAT")
        terms = pricing.TariffTerms(
            currency=fields["currency"].upper() or "EUR",
            vat_percent=vat,
            elements=tuple(pricing.elements_normalise(fields["elements"])),
        )
        day = int(data.get("weekday", "5"))  # 0 Monday … 6 Sunday
        start_time = time.fromisoformat(data.get("start_time", "18:00"))
        base = date(2026, 1, 5)  # a Monday
        start_local = datetime.combine(base + timedelta(days=day), start_time)
        cost = pricing.session_simulate(
            tariff=terms,
            time_zone=data.get("time_zone") or "Europe/Amsterdam",
            start_local=start_local,
            energy_kwh=Decimal(data.get("energy_kwh", "30")),
            power_kw=Decimal(data.get("power_kw", "22")),
            parking_minutes=int(data.get("parking_minutes", "0") or 0),
        )
        context = {
            "cost": cost,
            "excl": money_round(cost.total_excl_vat, terms.currency),
            "incl": money_round(cost.total_incl_vat, terms.currency),
            "lines": [
                {
                    "type": c.type,
                    "billed": c.billed,
                    "price": c.price,
                    "excl": money_round(c.cost_excl_vat, terms.currency),
                }
                for c in cost.components
            ],
            "currency": terms.currency,
        }
    except (services.BillingError, pricing.TariffInvalid, ValueError, InvalidOperation) as exc:
        context = {"error": str(exc) or "Check the preview values."}
    return render(request, "billing/_tariff_preview.html", context)


# --- operators: reports --------------------------------------------------------------------------


# Report periods are for days a business has (see billing.services.FIRST_BUSINESS_DAY).
REPORT_FIRST_DAY, REPORT_LAST_DAY = services.FIRST_BUSINESS_DAY, services.LAST_BUSINESS_DAY


class PeriodError(ValueError):
    """A report period that cannot be shown; the message says why."""


def _period_bounds(request: HttpRequest) -> tuple[date, date, datetime, datetime]:
    """(first day, last day, start, end) of the period in ?from=&to= (default: this month so far),
    in the operator's time zone. Raises PeriodError for a date out of range or an inverted period."""
    today = date.today()
    try:
        first = date.fromisoformat(request.GET.get("from", ""))
    except ValueError:
        first = today.replace(day=1)
    try:
        last = date.fromisoformat(request.GET.get("to", ""))
    except ValueError:
        last = today
    if not (REPORT_FIRST_DAY <= first <= REPORT_LAST_DAY and REPORT_FIRST_DAY <= last <= REPORT_LAST_DAY):
        raise PeriodError(f"Choose dates between {REPORT_FIRST_DAY} and {REPORT_LAST_DAY}.")
    if first > last:
        raise PeriodError("The period must not end before it starts.")
    zone = ZoneInfo(settings.OPERATOR_TIME_ZONE)
    return (
        first,
        last,
        datetime.combine(first, time(0), tzinfo=zone),
        datetime.combine(last + timedelta(days=1), time(0), tzinfo=zone),
    )


@staff_required
def revenue_tiles(request: HttpRequest) -> HttpResponse:
    """Revenue today and this month (htmx partial for the dashboard overview)."""
    return render(request, "billing/_revenue_tiles.html", selectors.revenue_summary(now=timezone.now()))


@staff_required
def revenue_report(request: HttpRequest) -> HttpResponse:
    """Revenue per location for a period, as a table and an inline SVG bar chart."""
    try:
        first, last, start, end = _period_bounds(request)
    except PeriodError as exc:
        today = date.today()
        context = {"rows": [], "first": today.replace(day=1), "last": today, "error": str(exc)}
        return render(request, "billing/revenue_report.html", context, status=400)
    rows = selectors.revenue_by_location(start=start, end=end)
    top = max((row["excl_vat"] for row in rows), default=Decimal(0))
    for index, row in enumerate(rows):
        row["bar"] = int(row["excl_vat"] * 400 / top) if top > 0 else 0
        row["y"] = index * 28
    return render(
        request,
        "billing/revenue_report.html",
        {"rows": rows, "first": first, "last": last, "chart_height": len(rows) * 28},
    )


class _Echo:
    def write(self, value):
        return value


@staff_required
def cdr_export(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    """All CDRs of a period as CSV (UTF-8, one row per CDR, amounts as decimal strings)."""
    try:
        _, _, start, end = _period_bounds(request)
    except PeriodError as exc:
        return HttpResponseBadRequest(str(exc), content_type="text/plain; charset=utf-8")
    writer = csv.writer(_Echo())
    header = [
        "cdr_id", "kind", "credit_reference", "session_id", "driver", "location", "station", "id_tag",
        "start_utc", "end_utc", "energy_kwh", "charging_seconds", "parking_seconds", "tariff", "currency",
        "vat_percent", "total_excl_vat", "total_vat", "total_incl_vat",
    ]  # fmt: skip

    def rows():
        yield writer.writerow(header)
        for cdr in selectors.cdr_list(start=start, end=end).select_related("credit_reference").iterator():
            yield writer.writerow(
                [
                    cdr.cdr_id, cdr.kind, cdr.credit_reference.cdr_id if cdr.credit_reference else "",
                    cdr.session_id, cdr.driver_id or "", cdr.location_name, cdr.station_identity, cdr.id_tag,
                    cdr.started_at.isoformat(), cdr.stopped_at.isoformat(), str(Decimal(cdr.energy_wh) / 1000),
                    cdr.charging_seconds, cdr.parking_seconds, cdr.tariff_snapshot.get("id", ""), cdr.currency,
                    cdr.vat_percent, cdr.total_excl_vat, cdr.total_vat, cdr.total_incl_vat,
                ]
            )  # fmt: skip

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="cdrs.csv"'
    return response


# --- operators: tariff assignments and subscription plans ----------------------------------------


def _int_or_none(value: str | None) -> int | None:
    value = (value or "").strip()
    return int(value) if value.isdigit() and len(value) <= 18 else None


def _assignment_place(post) -> dict[str, int]:
    """The place a form names: a location, a station, or one connector ("station, EVSE, connector")."""
    identity = post.get("station", "").strip()
    location_id = _int_or_none(post.get("location"))
    if identity and location_id:
        raise services.BillingError("choose a location or a station, not both")
    if location_id:
        return {"location_id": get_object_or_404(Location, pk=location_id).pk}
    if not identity:
        return {}
    station = Station.objects.filter(identity=identity).first()
    if station is None:
        raise services.BillingError(f"no station {identity!r}")
    connector_id = _int_or_none(post.get("connector_id"))
    if connector_id is None:
        return {"station_id": station.pk}
    connector = Connector.objects.filter(
        evse__station=station, evse__evse_id=_int_or_none(post.get("evse_id")) or 1, connector_id=connector_id
    ).first()
    if connector is None:
        raise services.BillingError(f"{identity} has no such EVSE/connector")
    return {"connector_id": connector.pk}


@staff_required
def tariff_assignment_list(request: UserRequest) -> HttpResponse:
    """Which tariff applies where and to whom; operators add and remove assignments."""
    if request.method == "POST":
        if not request.user.can_operate:
            raise PermissionDenied("Viewers cannot change assignments.")
        try:
            tariff = Tariff.objects.filter(pk=_int_or_none(request.POST.get("tariff"))).first()  # type: ignore[misc]  # pk=None finds nothing, as wanted
            if tariff is None:
                raise services.BillingError("choose a tariff")
            plan_id = _int_or_none(request.POST.get("plan"))
            services.tariff_assign(
                tariff=tariff,
                plan=get_object_or_404(SubscriptionPlan, pk=plan_id) if plan_id else None,
                id_token_group=request.POST.get("id_token_group", "").strip(),
                **_assignment_place(request.POST),
            )
            messages.success(request, gettext("Tariff %(code)s assigned.") % {"code": tariff.code})
        except services.BillingError as exc:
            messages.error(request, gettext("Not assigned: %(exc)s") % {"exc": exc})
        return redirect("billing:assignment-list")
    return render(
        request,
        "billing/assignment_list.html",
        {
            "assignments": selectors.tariff_assignment_list(),
            "tariffs": Tariff.objects.order_by("code"),
            "plans": SubscriptionPlan.objects.order_by("name"),
            "locations": Location.objects.order_by("name"),
            "default": Tariff.objects.filter(is_default=True).first(),
        },
    )


@operate_required
@require_POST
def tariff_assignment_delete(request: HttpRequest, assignment_id: int) -> HttpResponse:
    assignment = get_object_or_404(TariffAssignment, pk=assignment_id)
    services.tariff_assignment_delete(assignment=assignment)
    messages.success(request, gettext("Assignment removed."))
    return redirect("billing:assignment-list")


def _plan_form_fields(post) -> dict:
    tariff_id = _int_or_none(post.get("tariff"))
    return {
        "name": post.get("name", ""),
        "monthly_fee": post.get("monthly_fee", "").strip(),
        "currency": post.get("currency", "EUR").strip(),
        "vat_percent": post.get("vat_percent", "0").strip() or "0",
        "tariff": Tariff.objects.filter(pk=tariff_id).first() if tariff_id else None,
        "is_active": post.get("is_active") == "on",
        "self_service": post.get("self_service") == "on",
    }


@staff_required
def subscription_plan_list(request: UserRequest) -> HttpResponse:
    """Subscription plans with their members' tariff and how many drivers are subscribed now."""
    error = ""
    form: dict = {"currency": "EUR", "vat_percent": "21", "monthly_fee": "0", "is_active": True}
    if request.method == "POST":
        if not request.user.can_operate:
            raise PermissionDenied("Viewers cannot create plans.")
        try:
            plan = services.subscription_plan_create(**_plan_form_fields(request.POST))
            messages.success(request, gettext("Plan %(name)s created.") % {"name": plan.name})
            return redirect("billing:plan-list")
        except services.BillingError as exc:
            error, form = str(exc), request.POST
    return render(
        request,
        "billing/plan_list.html",
        {
            "plans": selectors.subscription_plan_list(today=timezone.localdate()),
            "tariffs": Tariff.objects.order_by("code"),
            "form": form,
            "error": error,
        },
    )


@staff_required
def subscription_plan_edit(request: UserRequest, plan_id: int) -> HttpResponse:
    """Change a plan (fee, VAT, members' tariff) or stop offering it."""
    plan = get_object_or_404(SubscriptionPlan, pk=plan_id)
    error = ""
    if request.method == "POST":
        if not request.user.can_operate:
            raise PermissionDenied("Viewers cannot change plans.")
        try:
            services.subscription_plan_update(plan=plan, **_plan_form_fields(request.POST))
            messages.success(request, gettext("Plan %(name)s saved.") % {"name": plan.name})
            return redirect("billing:plan-list")
        except services.BillingError as exc:
            error = str(exc)
            plan.refresh_from_db()
    return render(
        request,
        "billing/plan_edit.html",
        {"plan": plan, "tariffs": Tariff.objects.order_by("code"), "error": error},
    )


# --- subscriptions: operators put drivers on plans; drivers see (and may choose) their plan -------


def _date_or_today(value: str | None) -> date:
    value = (value or "").strip()
    if not value:
        return timezone.localdate()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise services.BillingError(f"{value!r} is not a date (YYYY-MM-DD)") from None


def _audit(request: HttpRequest, *, subscription: Subscription | None, ok: bool) -> None:
    """Page actions on subscriptions land in the same audit log as the API's writes."""
    audit_record(
        user=request.user,
        api_key=None,
        method=request.method or "POST",
        path=request.get_full_path(),
        status_code=200 if ok else 409,
        object_type="subscription",
        object_id=str(subscription.pk) if subscription else "",
    )


@staff_required
def subscription_list(request: UserRequest) -> HttpResponse:
    """Drivers on plans now or from a later date; operators put a driver on a plan (by e-mail)."""
    show_ended = request.GET.get("ended") == "1"
    if request.method == "POST":
        if not request.user.can_operate:
            raise PermissionDenied("Viewers cannot change subscriptions.")
        subscription = None
        try:
            email = request.POST.get("driver_email", "").strip()
            driver = Driver.objects.filter(email__iexact=email).first() if email else None
            if driver is None:
                raise services.BillingError(f"no driver with the e-mail address {email!r}")
            plan = SubscriptionPlan.objects.filter(pk=_int_or_none(request.POST.get("plan"))).first()  # type: ignore[misc]  # pk=None finds nothing, as wanted
            if plan is None:
                raise services.BillingError("choose a plan")
            subscription = services.subscription_start(
                driver=driver, plan=plan, started_on=_date_or_today(request.POST.get("started_on"))
            )
            messages.success(
                request,
                gettext("%(driver)s is on %(name)s from %(started_on)s.")
                % {
                    "driver": driver,
                    "name": plan.name,
                    "started_on": format(subscription.started_on, "%Y-%m-%d"),
                },
            )
        except services.BillingError as exc:
            messages.error(request, gettext("Not subscribed: %(exc)s") % {"exc": exc})
        _audit(request, subscription=subscription, ok=subscription is not None)
        return redirect("billing:subscription-list")
    today = timezone.localdate()
    return render(
        request,
        "billing/subscription_list.html",
        {
            "subscriptions": selectors.subscription_list(current_on=None if show_ended else today)[:500],
            "plans": SubscriptionPlan.objects.filter(is_active=True).order_by("name"),
            "today": today,
            "show_ended": show_ended,
        },
    )


@operate_required
@require_POST
def subscription_end(request: HttpRequest, subscription_id: int) -> HttpResponse:
    """End a driver's subscription after the given day (today when blank)."""
    subscription = get_object_or_404(
        Subscription.objects.select_related("driver", "plan"), pk=subscription_id
    )
    try:
        subscription = services.subscription_end(
            subscription=subscription, ended_on=_date_or_today(request.POST.get("ended_on"))
        )
        messages.success(
            request,
            gettext("%(driver)s's %(name)s plan ends after %(ended_on)s.")
            % {
                "driver": subscription.driver,
                "name": subscription.plan.name,
                "ended_on": format(subscription.ended_on, "%Y-%m-%d"),
            },
        )
        ok = True
    except services.BillingError as exc:
        messages.error(request, gettext("Not ended: %(exc)s") % {"exc": exc})
        ok = False
    _audit(request, subscription=subscription, ok=ok)
    return redirect("billing:subscription-list")


@driver_required
def my_plan(request: UserRequest) -> HttpResponse:
    """The driver's plan: the current one, later ones, and the self-service plans they may choose.
    POST `plan=<id>` chooses one (from today); POST `end=1` ends the current plan today."""
    driver = Driver.objects.filter(user=request.user).first()
    if driver is None:
        raise Http404("no driver account")
    today = timezone.localdate()
    if request.method == "POST":
        try:
            if request.POST.get("end"):
                services.subscription_cancel_by_driver(driver=driver, today=today)
                messages.success(
                    request, gettext("Your plan ends today; from tomorrow you pay public prices.")
                )
            else:
                plan = (
                    selectors.subscription_plans_offered()
                    .filter(pk=_int_or_none(request.POST.get("plan")))  # type: ignore[misc]  # pk=None finds nothing, as wanted
                    .first()
                )
                if plan is None:
                    raise services.BillingError("that plan is not offered; choose one of the plans below")
                services.subscription_choose(driver=driver, plan=plan, today=today)
                messages.success(request, gettext("You are on %(name)s from today.") % {"name": plan.name})
        except services.BillingError as exc:
            messages.error(request, gettext("Not changed: %(exc)s.") % {"exc": exc})
        return redirect("billing:my-plan")
    return render(
        request,
        "billing/my_plan.html",
        {
            "current": selectors.subscription_active(driver=driver, on=today),
            "upcoming": selectors.subscription_list(driver=driver).filter(started_on__gt=today),
            "offered": selectors.subscription_plans_offered(),
        },
    )


@staff_required
def reconciliation_report(request: UserRequest) -> HttpResponse:
    """The payment reconciliation report for a day (`?day=YYYY-MM-DD`, default yesterday)."""
    from billing.reconciliation import reconciliation_for_day, reconciliation_text

    try:
        day = date.fromisoformat(request.GET.get("day", "")) if request.GET.get("day") else None
    except ValueError:
        return HttpResponseBadRequest("day must be a date such as 2026-10-31")
    day = day or timezone.localdate() - timedelta(days=1)
    report = reconciliation_for_day(day=day)
    return HttpResponse(reconciliation_text(report), content_type="text/plain; charset=utf-8")
