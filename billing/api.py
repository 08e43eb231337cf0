"""REST API of the billing app (under /api/v1/): tariffs and their preview, tariff assignments,
subscription plans, CDRs, invoices (with PDF), payments and the cost of a session.

Interfaces only: parse → one service or selector call → render. Drivers see their own CDRs,
invoices, payments and session costs; another driver's is a 404, as if it did not exist.
"""

from decimal import Decimal

from django.db.models import Q
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, permissions, status
from rest_framework.exceptions import ValidationError
from rest_framework.filters import OrderingFilter
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response

from billing import pricing, selectors, services
from billing.models import (
    Cdr,
    Invoice,
    Payment,
    Refund,
    Subscription,
    SubscriptionPlan,
    Tariff,
    TariffAssignment,
)
from billing.money import money_round
from billing.pdf import credit_note_pdf_render
from billing.serializers import (
    CdrSerializer,
    InvoiceDetailSerializer,
    InvoiceRunResultSerializer,
    InvoiceRunSerializer,
    InvoiceSerializer,
    PaymentRecordSerializer,
    PaymentSerializer,
    RefundCreateSerializer,
    RefundSerializer,
    SessionCostSerializer,
    SubscriptionCreateSerializer,
    SubscriptionEndSerializer,
    SubscriptionPlanSerializer,
    SubscriptionPlanWriteSerializer,
    SubscriptionSerializer,
    TariffAssignmentCreateSerializer,
    TariffAssignmentSerializer,
    TariffPreviewResultSerializer,
    TariffPreviewSerializer,
    TariffSerializer,
    TariffWriteSerializer,
)
from chargenet.api.base import ApiMixin, ApiView
from chargenet.api.filters import IdFilter, IsoDateTimeFilter
from chargenet.api.pagination import ApiCursorPagination
from chargenet.api.permissions import IsStaffOrDriverRead, IsStaffReadOperateWrite
from rfid.models import Driver, IdToken
from stations.models import Connector, Location, Station


class IsStaffOrDriver(permissions.BasePermission):
    """Questions anyone with an account may ask, even by POST, because they change nothing (preview)."""

    message = "Operators and drivers only."

    def has_permission(self, request, view):
        user = request.user
        return bool(user and user.is_authenticated and (user.is_staff_member or user.is_driver))


def _or_400(model, field: str, **lookup):
    """The object a request body names, or a validation error on that field (not a 404 of the URL)."""
    found = model.objects.filter(**lookup).first()
    if found is None:
        raise ValidationError({field: ["No such object."]})
    return found


# --- tariffs ------------------------------------------------------------------------------------


@extend_schema(tags=["tariffs"])
class TariffListApi(ApiMixin, generics.ListAPIView):
    """Price lists; drivers may read them too (prices are public). POST creates one."""

    permission_classes = [IsStaffOrDriverRead]
    serializer_class = TariffSerializer
    queryset = Tariff.objects.all()
    filter_backends = [filters.DjangoFilterBackend, OrderingFilter]
    filterset_fields = ["code", "currency", "is_default"]
    ordering_fields = ["code", "name", "updated_at"]
    ordering = ["code"]
    audit_object_type = "tariff"

    @extend_schema(
        summary="Create a tariff",
        request=TariffWriteSerializer,
        responses={201: TariffSerializer},
        description='Prices are decimal strings (`"0.30"`); numbers are refused rather than read as '
        "binary floats. The OCPI elements are checked and the first problem is named "
        "(`409 billing_refused`). `is_default: true` makes it the one default tariff.",
    )
    def post(self, request):
        serializer = TariffWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        tariff = services.tariff_create(**serializer.validated_data)
        return Response(TariffSerializer(tariff).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["tariffs"])
class TariffDetailApi(ApiMixin, generics.RetrieveAPIView):
    """One tariff. PATCH changes it (finished sessions keep the price in their CDR); DELETE removes
    one that no assignment or plan uses."""

    permission_classes = [IsStaffOrDriverRead]
    serializer_class = TariffSerializer
    queryset = Tariff.objects.all()
    audit_object_type = "tariff"
    audit_lookup = "pk"

    @extend_schema(
        summary="Change a tariff", request=TariffWriteSerializer(partial=True), responses=TariffSerializer
    )
    def patch(self, request, pk: int):
        tariff = self.get_object()
        serializer = TariffWriteSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        tariff = services.tariff_update(tariff=tariff, **serializer.validated_data)
        return Response(TariffSerializer(tariff).data)

    @extend_schema(summary="Delete an unused tariff", responses={204: None})
    def delete(self, request, pk: int):
        services.tariff_delete(tariff=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


def _preview_data(preview: selectors.TariffPreview) -> dict:
    currency = preview.currency
    return {
        "tariff": preview.tariff.pk if preview.tariff else None,
        "tariff_code": preview.tariff.code if preview.tariff else None,
        "time_zone": preview.time_zone,
        "currency": currency,
        "total_excl_vat": str(preview.total_excl_vat),
        "total_incl_vat": str(preview.total_incl_vat),
        "components": [
            {
                "type": c.type,
                "price": str(c.price),
                "measured": str(c.measured),
                "billed": str(c.billed),
                "cost_excl_vat": str(money_round(c.cost_excl_vat, currency)),
                "cost_incl_vat": str(money_round(c.cost_incl_vat, currency)),
            }
            for c in preview.breakdown.components
        ],
    }


@extend_schema(tags=["tariffs"])
class TariffPreviewApi(ApiView):
    permission_classes = [IsStaffOrDriver]

    @extend_schema(
        summary="What would a session cost?",
        request=TariffPreviewSerializer,
        responses=TariffPreviewResultSerializer,
        description="Prices a hypothetical session — `energy_kwh` at `power_kw` starting at `start`, "
        "then `parking_minutes` idle — with the given `tariff`, or with the tariff that would apply on "
        "`station` (optionally one connector, and for the card `id_token`: members' prices). Time "
        "restrictions are read in the station's location's time zone. Changes nothing; drivers may "
        "ask too (only about their own cards).",
    )
    def post(self, request):
        serializer = TariffPreviewSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        user = request.user
        tariff = _or_400(Tariff, "tariff", pk=data["tariff"]) if "tariff" in data else None
        station = connector_id = id_token = None
        if "station" in data:
            stations = Station.objects.select_related("location")
            if not user.is_staff_member:
                stations = stations.filter(is_public=True)
            station = _or_400(stations.model, "station", pk__in=stations, identity=data["station"])
            if "connector_id" in data:
                connector = _or_400(
                    Connector,
                    "connector_id",
                    evse__station=station,
                    evse__evse_id=data.get("evse_id", 1),
                    connector_id=data["connector_id"],
                )
                connector_id = connector.pk
        if "id_token" in data:
            tokens = IdToken.objects.select_related("driver")
            if not user.is_staff_member:
                tokens = tokens.filter(driver__user=user)
            id_token = _or_400(IdToken, "id_token", pk__in=tokens, uid__iexact=data["id_token"])
        try:
            preview = selectors.tariff_preview(
                start=data["start"],
                energy_kwh=data["energy_kwh"],
                power_kw=data["power_kw"],
                parking_minutes=data["parking_minutes"],
                tariff=tariff,
                station=station,
                connector_id=connector_id,
                id_token=id_token,
                time_zone=data.get("time_zone"),
            )
        except (pricing.TariffInvalid, ValueError, OverflowError) as exc:
            raise ValidationError(
                {"non_field_errors": [str(exc) or "These values cannot be priced."]}
            ) from None
        return Response(_preview_data(preview))


# --- tariff assignments -------------------------------------------------------------------------


class TariffAssignmentFilter(filters.FilterSet):
    tariff = IdFilter(field_name="tariff_id")
    location = IdFilter(field_name="location_id")
    station = filters.CharFilter(field_name="station__identity", help_text="Station identity")
    plan = IdFilter(field_name="plan_id")

    class Meta:
        model = TariffAssignment
        fields = ["tariff", "location", "station", "plan", "id_token_group"]


def _assignments():
    return TariffAssignment.objects.select_related("station").order_by("id")


@extend_schema(tags=["tariff assignments"])
class TariffAssignmentListApi(ApiMixin, generics.ListAPIView):
    """Which tariff applies where and to whom. Resolution: members' prices (plan, then card group)
    before public ones; connector before station before location before everywhere; then the
    default tariff."""

    queryset = TariffAssignment.objects.none()  # for the schema; get_queryset() decides
    permission_classes = [IsStaffReadOperateWrite]
    serializer_class = TariffAssignmentSerializer
    filter_backends = [filters.DjangoFilterBackend]
    filterset_class = TariffAssignmentFilter
    audit_object_type = "tariff_assignment"

    def get_queryset(self):
        return _assignments()

    @extend_schema(
        summary="Assign a tariff",
        request=TariffAssignmentCreateSerializer,
        responses={201: TariffAssignmentSerializer},
    )
    def post(self, request):
        serializer = TariffAssignmentCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        place: dict[str, int] = {}
        if "location" in data:
            place["location_id"] = _or_400(Location, "location", pk=data["location"]).pk
        if "station" in data:
            station = _or_400(Station, "station", identity=data["station"])
            if "connector_id" in data:
                place["connector_id"] = _or_400(
                    Connector,
                    "connector_id",
                    evse__station=station,
                    evse__evse_id=data.get("evse_id", 1),
                    connector_id=data["connector_id"],
                ).pk
            else:
                place["station_id"] = station.pk
        assignment = services.tariff_assign(
            tariff=_or_400(Tariff, "tariff", pk=data["tariff"]),
            plan=_or_400(SubscriptionPlan, "plan", pk=data["plan"]) if "plan" in data else None,
            id_token_group=data["id_token_group"],
            **place,
        )
        return Response(
            TariffAssignmentSerializer(_assignments().get(pk=assignment.pk)).data,
            status=status.HTTP_201_CREATED,
        )


@extend_schema(tags=["tariff assignments"])
class TariffAssignmentDetailApi(ApiMixin, generics.RetrieveDestroyAPIView):
    """One assignment; DELETE removes it (the place falls back to the next less specific tariff)."""

    queryset = TariffAssignment.objects.none()  # for the schema; get_queryset() decides
    permission_classes = [IsStaffReadOperateWrite]
    serializer_class = TariffAssignmentSerializer
    audit_object_type = "tariff_assignment"
    audit_lookup = "pk"

    def get_queryset(self):
        return _assignments()

    def perform_destroy(self, instance):
        services.tariff_assignment_delete(assignment=instance)


# --- subscription plans -------------------------------------------------------------------------


def _plans_for(user):
    """Operators see every plan; drivers the plans on offer (active)."""
    plans = SubscriptionPlan.objects.order_by("name")
    return plans if user.is_staff_member else plans.filter(is_active=True)


def _plan_fields(data: dict) -> dict:
    if data.get("tariff") is not None:
        data["tariff"] = _or_400(Tariff, "tariff", pk=data["tariff"])
    return data


@extend_schema(tags=["subscription plans"])
class SubscriptionPlanListApi(ApiMixin, generics.ListAPIView):
    """Subscription plans: a monthly fee and the members' tariff. Drivers see the active ones."""

    queryset = SubscriptionPlan.objects.none()  # for the schema; get_queryset() decides
    permission_classes = [IsStaffOrDriverRead]
    serializer_class = SubscriptionPlanSerializer
    filter_backends = [filters.DjangoFilterBackend]
    filterset_fields = ["is_active", "currency"]
    audit_object_type = "subscription_plan"

    def get_queryset(self):
        return _plans_for(self.request.user)

    @extend_schema(
        summary="Create a subscription plan",
        request=SubscriptionPlanWriteSerializer,
        responses={201: SubscriptionPlanSerializer},
    )
    def post(self, request):
        serializer = SubscriptionPlanWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        fields = _plan_fields(dict(serializer.validated_data))
        fields.setdefault("tariff", None)
        plan = services.subscription_plan_create(**fields)
        return Response(SubscriptionPlanSerializer(plan).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["subscription plans"])
class SubscriptionPlanDetailApi(ApiMixin, generics.RetrieveAPIView):
    """One plan. PATCH changes it; set `is_active: false` to stop offering it (plans with
    subscriptions are never deleted: invoices refer to them)."""

    queryset = SubscriptionPlan.objects.none()  # for the schema; get_queryset() decides
    permission_classes = [IsStaffOrDriverRead]
    serializer_class = SubscriptionPlanSerializer
    audit_object_type = "subscription_plan"
    audit_lookup = "pk"

    def get_queryset(self):
        return _plans_for(self.request.user)

    @extend_schema(
        summary="Change a subscription plan",
        request=SubscriptionPlanWriteSerializer(partial=True),
        responses=SubscriptionPlanSerializer,
    )
    def patch(self, request, pk: int):
        plan = self.get_object()
        serializer = SubscriptionPlanWriteSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        plan = services.subscription_plan_update(plan=plan, **_plan_fields(dict(serializer.validated_data)))
        return Response(SubscriptionPlanSerializer(plan).data)


# --- subscriptions ------------------------------------------------------------------------------


class SubscriptionFilter(filters.FilterSet):
    driver = IdFilter(field_name="driver_id")
    plan = IdFilter(field_name="plan_id")
    current = filters.BooleanFilter(method="filter_current", help_text="Only those not ended before today")

    class Meta:
        model = Subscription
        fields = ["driver", "plan", "current"]

    def filter_current(self, queryset, name, value):
        if value is None:
            return queryset
        today = timezone.localdate()
        current = queryset.filter(Q(ended_on__isnull=True) | Q(ended_on__gte=today))
        return current if value else queryset.exclude(pk__in=current.values("pk"))


def _subscriptions_for(user):
    """Operators see every subscription; a driver only their own."""
    subscriptions = selectors.subscription_list()
    return subscriptions if user.is_staff_member else subscriptions.filter(driver__user=user)


@extend_schema(tags=["subscriptions"])
class SubscriptionListApi(ApiMixin, generics.ListAPIView):
    """Who is on which plan, newest first (a driver sees their own). POST puts a driver on a plan."""

    queryset = Subscription.objects.none()  # for the schema; get_queryset() decides
    permission_classes = [IsStaffOrDriverRead]
    serializer_class = SubscriptionSerializer
    filter_backends = [filters.DjangoFilterBackend]
    filterset_class = SubscriptionFilter
    audit_object_type = "subscription"

    def get_queryset(self):
        return _subscriptions_for(self.request.user)

    @extend_schema(
        summary="Put a driver on a plan",
        request=SubscriptionCreateSerializer,
        responses={201: SubscriptionSerializer},
        description="Members charge at the plan's tariff from `started_on` and pay its monthly fee for "
        "every calendar month they are on it. The driver's current plan ends the day before. Refused "
        "(409) for a retired plan or when the driver has a subscription starting on or after that day.",
    )
    def post(self, request):
        serializer = SubscriptionCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        subscription = services.subscription_start(
            driver=_or_400(Driver, "driver", pk=data["driver"]),
            plan=_or_400(SubscriptionPlan, "plan", pk=data["plan"]),
            started_on=data.get("started_on") or timezone.localdate(),
        )
        return Response(SubscriptionSerializer(subscription).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["subscriptions"])
class SubscriptionDetailApi(ApiMixin, generics.RetrieveAPIView):
    """One subscription (a driver may read only their own)."""

    queryset = Subscription.objects.none()  # for the schema; get_queryset() decides
    permission_classes = [IsStaffOrDriverRead]
    serializer_class = SubscriptionSerializer

    def get_queryset(self):
        return _subscriptions_for(self.request.user)


@extend_schema(tags=["subscriptions"])
class SubscriptionEndApi(ApiView):
    permission_classes = [IsStaffReadOperateWrite]
    audit_object_type = "subscription"
    audit_lookup = "pk"

    @extend_schema(
        summary="End a subscription",
        request=SubscriptionEndSerializer,
        responses={200: SubscriptionSerializer},
        description="The driver is a member through `ended_on` (today when left out) and pays public "
        "prices after it; months already invoiced stay invoiced. Refused (409) when it has already "
        "ended by then.",
    )
    def post(self, request, pk: int):
        subscription = get_object_or_404(Subscription, pk=pk)
        serializer = SubscriptionEndSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        subscription = services.subscription_end(
            subscription=subscription,
            ended_on=serializer.validated_data.get("ended_on") or timezone.localdate(),
        )
        return Response(SubscriptionSerializer(subscription).data)


# --- CDRs ---------------------------------------------------------------------------------------


class CdrFilter(filters.FilterSet):
    driver = IdFilter(field_name="driver_id")
    location = IdFilter(field_name="location_id")
    session = IdFilter(field_name="session_id")
    station = filters.CharFilter(field_name="station_identity", help_text="Station identity")
    stopped_after = IsoDateTimeFilter(field_name="stopped_at", lookup_expr="gte")
    stopped_before = IsoDateTimeFilter(field_name="stopped_at", lookup_expr="lt")
    started_after = IsoDateTimeFilter(field_name="started_at", lookup_expr="gte")
    started_before = IsoDateTimeFilter(field_name="started_at", lookup_expr="lt")
    invoiced = filters.BooleanFilter(
        field_name="invoice_line", lookup_expr="isnull", exclude=True, help_text="Billed on an invoice yet"
    )

    class Meta:
        model = Cdr
        fields = [
            "kind",
            "currency",
            "driver",
            "location",
            "session",
            "station",
            "stopped_after",
            "stopped_before",
            "started_after",
            "started_before",
            "invoiced",
        ]


class _CdrPagination(ApiCursorPagination):
    ordering = ("-stopped_at", "-id")


def _cdrs_for(user):
    return selectors.cdr_list(user=user).select_related("invoice_line")


@extend_schema(tags=["cdrs"])
class CdrListApi(ApiMixin, generics.ListAPIView):
    """Charge detail records (priced sessions), latest stop first, credit CDRs included.
    Drivers see their own."""

    queryset = Cdr.objects.none()  # for the schema; get_queryset() decides
    permission_classes = [IsStaffOrDriverRead]
    serializer_class = CdrSerializer
    pagination_class = _CdrPagination
    filter_backends = [filters.DjangoFilterBackend]
    filterset_class = CdrFilter

    def get_queryset(self):
        return _cdrs_for(self.request.user)


@extend_schema(tags=["cdrs"])
class CdrDetailApi(ApiMixin, generics.RetrieveAPIView):
    """One CDR (a driver may read only their own)."""

    queryset = Cdr.objects.none()  # for the schema; get_queryset() decides
    permission_classes = [IsStaffOrDriverRead]
    serializer_class = CdrSerializer

    def get_queryset(self):
        return _cdrs_for(self.request.user)


@extend_schema(tags=["sessions"])
class SessionCostApi(ApiView):
    permission_classes = [IsStaffOrDriverRead]

    @extend_schema(
        summary="What a session costs",
        responses=SessionCostSerializer,
        description="While the session runs: its cost so far, priced live from its meter values with "
        "the tariff that applies to it. Once priced (`final`): the totals and breakdown of its CDR. "
        "A driver may ask only about the sessions of their own cards.",
    )
    def get(self, request, pk: int):
        session = selectors.session_for_user(user=request.user, session_id=pk)
        cost = selectors.session_cost(session=session)
        if cost.cdr is not None:
            components = cost.cdr.breakdown
        else:
            components = [
                {
                    "type": c.type,
                    "element": c.element,
                    "price": str(c.price),
                    "step_size": c.step_size,
                    "measured": str(c.measured),
                    "billed": str(c.billed),
                    "cost_excl_vat": str(money_round(c.cost_excl_vat, cost.currency)),
                    "cost_incl_vat": str(money_round(c.cost_incl_vat, cost.currency)),
                }
                for c in cost.breakdown.components  # type: ignore[union-attr]
            ]
        return Response(
            {
                "session": session.pk,
                "final": cost.cdr is not None,
                "cdr": cost.cdr.pk if cost.cdr else None,
                "tariff": cost.tariff.pk if cost.tariff else None,
                "currency": cost.currency,
                "total_excl_vat": str(money_round(cost.total_excl_vat, cost.currency)),
                "total_incl_vat": str(money_round(cost.total_incl_vat, cost.currency)),
                "components": components,
            }
        )


# --- invoices -----------------------------------------------------------------------------------


class InvoiceFilter(filters.FilterSet):
    driver = IdFilter(field_name="driver_id")
    number = filters.CharFilter(lookup_expr="iexact")
    issued_after = IsoDateTimeFilter(field_name="issued_at", lookup_expr="gte")
    issued_before = IsoDateTimeFilter(field_name="issued_at", lookup_expr="lt")
    period_start = filters.DateFilter(help_text="First day of the period")

    class Meta:
        model = Invoice
        fields = ["status", "currency", "driver", "number", "issued_after", "issued_before", "period_start"]


class _InvoicePagination(ApiCursorPagination):
    ordering = ("-issued_at", "-id")


@extend_schema(tags=["invoices"])
class InvoiceListApi(ApiMixin, generics.ListAPIView):
    """Issued invoices, newest first. Drivers see their own."""

    queryset = Invoice.objects.none()  # for the schema; get_queryset() decides
    permission_classes = [IsStaffOrDriverRead]
    serializer_class = InvoiceSerializer
    pagination_class = _InvoicePagination
    filter_backends = [filters.DjangoFilterBackend]
    filterset_class = InvoiceFilter

    def get_queryset(self):
        return selectors.invoice_list(user=self.request.user)


@extend_schema(tags=["invoices"])
class InvoiceDetailApi(ApiView):
    permission_classes = [IsStaffOrDriverRead]

    @extend_schema(summary="An invoice with its lines", responses=InvoiceDetailSerializer)
    def get(self, request, pk: int):
        invoice = selectors.invoice_for_user(user=request.user, invoice_id=pk)
        return Response(InvoiceDetailSerializer(invoice).data)


@extend_schema(tags=["invoices"])
class InvoiceRunApi(ApiView):
    permission_classes = [IsStaffReadOperateWrite]
    audit_object_type = "invoice_run"

    @extend_schema(
        summary="Invoice a period now",
        request=InvoiceRunSerializer,
        responses={201: InvoiceRunResultSerializer},
        description="Issues an invoice to every driver with uninvoiced sessions or subscription fees "
        "in the period, as the scheduled run does; what is already invoiced is never invoiced again "
        '(a second call returns `{"invoices": []}`). Refused (409) for a period that ends before it starts, '
        "after today, or spans more than a year.",
    )
    def post(self, request):
        serializer = InvoiceRunSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        invoices = services.invoice_run_requested(
            first_day=serializer.validated_data["period_start"],
            last_day=serializer.validated_data["period_end"],
        )
        return Response(InvoiceRunResultSerializer({"invoices": invoices}).data, status=201)


class PdfRenderer(BaseRenderer):
    """Lets a client ask for `Accept: application/pdf`; the view answers with the bytes itself."""

    media_type = "application/pdf"
    format = "pdf"
    charset = None
    render_style = "binary"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return JSONRenderer().render(data) if not isinstance(data, bytes) else data


class _PdfApi(ApiView):
    """A document as PDF (or a JSON error, whatever the client accepted)."""

    permission_classes = [IsStaffOrDriverRead]
    renderer_classes = [JSONRenderer, PdfRenderer]

    @staticmethod
    def pdf_response(pdf: bytes, *, name: str) -> HttpResponse:
        response = HttpResponse(pdf, content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="{name}.pdf"'
        return response

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if isinstance(response, Response) and response.status_code >= 400:
            # Errors are JSON whatever the client accepted.
            response.accepted_renderer = JSONRenderer()
            response.accepted_media_type = "application/json"
        return response


@extend_schema(tags=["invoices"])
class InvoicePdfApi(_PdfApi):
    @extend_schema(
        summary="The invoice as PDF",
        responses={(200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY, description="The PDF")},
    )
    def get(self, request, pk: int):
        invoice = selectors.invoice_for_user(user=request.user, invoice_id=pk)
        return self.pdf_response(
            bytes(Invoice.objects.values_list("pdf", flat=True).get(pk=invoice.pk)), name=invoice.number
        )


@extend_schema(tags=["invoices"])
class CreditNotePdfApi(_PdfApi):
    @extend_schema(
        summary="A refund's credit note as PDF",
        description="In the language the request asks for (`Accept-Language`). 404 for a refund that "
        "has no credit note yet or whose invoice the caller may not see.",
        responses={(200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY, description="The PDF")},
    )
    def get(self, request, pk: int):
        refund = selectors.refund_for_user(user=request.user, refund_id=pk)
        return self.pdf_response(credit_note_pdf_render(refund=refund), name=refund.credit_note_number)


# --- payments -----------------------------------------------------------------------------------


@extend_schema(tags=["invoices"])
class InvoicePaymentListApi(ApiMixin, generics.ListAPIView):
    """The payments (attempts) of an invoice, newest first. Operators record a bank transfer by POST."""

    queryset = Payment.objects.none()  # for the schema; get_queryset() decides
    permission_classes = [IsStaffOrDriverRead]
    serializer_class = PaymentSerializer
    audit_object_type = "payment"

    def get_queryset(self):
        invoice = selectors.invoice_for_user(user=self.request.user, invoice_id=self.kwargs["pk"])
        return Payment.objects.filter(invoice=invoice).select_related("recorded_by")

    @extend_schema(
        summary="Record a manual payment",
        request=PaymentRecordSerializer,
        responses={201: PaymentSerializer},
        description="Records a payment received outside a provider (a bank transfer) as paid; the "
        "invoice's status follows (`paid` once paid payments cover its total). A reference can be "
        "recorded once.",
    )
    def post(self, request, pk: int):
        invoice = get_object_or_404(Invoice.objects.defer("pdf"), pk=pk)
        serializer = PaymentRecordSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        payment = services.payment_record_manual(
            invoice=invoice,
            amount=Decimal(serializer.validated_data["amount"]),
            reference=serializer.validated_data["reference"],
            recorded_by=request.user,
        )
        return Response(PaymentSerializer(payment).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["invoices"])
class InvoiceRefundListApi(ApiMixin, generics.ListAPIView):
    """The refunds and credit notes of an invoice. Operators refund (part of) a payment by POST."""

    queryset = Refund.objects.none()  # for the schema; get_queryset() decides
    permission_classes = [IsStaffOrDriverRead]
    serializer_class = RefundSerializer
    audit_object_type = "refund"

    def get_queryset(self):
        invoice = selectors.invoice_for_user(user=self.request.user, invoice_id=self.kwargs["pk"])
        return Refund.objects.filter(invoice=invoice).select_related("requested_by")

    @extend_schema(
        summary="Refund all or part of a payment",
        request=RefundCreateSerializer,
        responses={201: RefundSerializer},
        description="Refunds the amount through the payment's provider (a bank transfer is recorded as "
        "refunded by hand) and issues a numbered credit note. 409 `billing_refused` when the payment is "
        "not paid, the amount is more than what is left to refund, or the provider refuses.",
    )
    def post(self, request, pk: int):
        invoice = get_object_or_404(Invoice.objects.defer("pdf"), pk=pk)
        serializer = RefundCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        payment = get_object_or_404(Payment, pk=serializer.validated_data["payment"], invoice=invoice)
        refund = services.payment_refund(
            payment=payment,
            amount=serializer.validated_data["amount"],
            reason=serializer.validated_data["reason"],
            requested_by=request.user,
        )
        return Response(RefundSerializer(refund).data, status=status.HTTP_201_CREATED)
