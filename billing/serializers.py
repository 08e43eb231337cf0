"""REST API representations of billing: tariffs, assignments, plans, CDRs, invoices, payments, costs.

Money is a decimal string rounded to the currency's minor unit ("4.00"), never a JSON number.
"""

from decimal import Decimal

from drf_spectacular.utils import OpenApiExample, extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from billing.models import (
    Cdr,
    Invoice,
    InvoiceLine,
    Payment,
    Refund,
    Subscription,
    SubscriptionPlan,
    Tariff,
    TariffAssignment,
)
from billing.money import money_round

EXAMPLE_ELEMENTS = [
    {"price_components": [{"type": "ENERGY", "price": "0.30", "step_size": 1}]},
    {"price_components": [{"type": "FLAT", "price": "1.00", "step_size": 1}]},
]


class MoneyField(serializers.Field):
    """An amount as a decimal string rounded to the minor unit of the object's `currency`."""

    def __init__(self, **kwargs):
        kwargs.setdefault("read_only", True)
        super().__init__(source="*", **kwargs)

    def bind(self, field_name, parent):
        self.amount_attribute = field_name
        super().bind(field_name, parent)

    def to_representation(self, obj):
        amount = getattr(obj, self.amount_attribute)
        return str(money_round(Decimal(amount), obj.currency))


extend_schema_field({"type": "string", "format": "decimal", "example": "4.00"})(MoneyField)


# --- tariffs ------------------------------------------------------------------------------------


class TariffSerializer(serializers.ModelSerializer):
    """A price list; `elements` are OCPI 2.2.1 tariff elements as on the wire."""

    class Meta:
        model = Tariff
        fields = [
            "id",
            "code",
            "name",
            "currency",
            "vat_percent",
            "elements",
            "valid_from",
            "valid_to",
            "is_default",
            "updated_at",
        ]
        read_only_fields = fields


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "0.30/kWh plus 1.00 per session, 25 % VAT",
            value={
                "code": "STD",
                "name": "Standard",
                "currency": "EUR",
                "vat_percent": "25",
                "elements": EXAMPLE_ELEMENTS,
                "is_default": True,
            },
            request_only=True,
        )
    ]
)
class TariffWriteSerializer(serializers.Serializer):
    """A tariff to create or change. Prices are decimal strings; the elements are checked against
    the OCPI rules (dimensions, restrictions, step sizes) and the first problem is named."""

    code = serializers.CharField(max_length=36, help_text="The OCPI tariff id, unique")
    name = serializers.CharField(max_length=200)
    currency = serializers.CharField(max_length=3, default="EUR", help_text="ISO 4217")
    vat_percent = serializers.DecimalField(
        max_digits=5, decimal_places=2, min_value=0, max_value=Decimal("99.99")
    )
    elements = serializers.JSONField(help_text="OCPI 2.2.1 tariff elements; prices as decimal strings")
    valid_from = serializers.DateTimeField(required=False, allow_null=True)
    valid_to = serializers.DateTimeField(required=False, allow_null=True)
    is_default = serializers.BooleanField(
        default=False, help_text="The tariff where no assignment applies (only one is)"
    )


class PreviewComponentSerializer(serializers.Serializer):
    type = serializers.CharField(help_text="ENERGY, TIME, PARKING_TIME or FLAT")
    price = serializers.CharField(help_text="Per kWh, per hour or per session, excl. VAT")
    measured = serializers.CharField(help_text="kWh or hours used (1 for FLAT)")
    billed = serializers.CharField(help_text="After rounding up to the step size")
    cost_excl_vat = serializers.CharField()
    cost_incl_vat = serializers.CharField()


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "10 kWh at 11 kW on a station, Saturday 18:00",
            value={
                "station": "CP-0042",
                "energy_kwh": "10",
                "power_kw": "11",
                "start": "2026-03-07T18:00:00+01:00",
            },
            request_only=True,
        )
    ]
)
class TariffPreviewSerializer(serializers.Serializer):
    """A hypothetical session: `energy_kwh` at a constant `power_kw` from `start`, then
    `parking_minutes` connected but idle. Priced with `tariff`, or with whatever tariff would apply on
    `station` (and `connector_id`, for the card `id_token`)."""

    tariff = serializers.IntegerField(
        required=False, min_value=1, max_value=2**63 - 1, help_text="A tariff's id"
    )
    station = serializers.CharField(required=False, max_length=48, help_text="A station identity")
    evse_id = serializers.IntegerField(required=False, min_value=1, max_value=1000)
    connector_id = serializers.IntegerField(required=False, min_value=1, max_value=1000)
    id_token = serializers.CharField(required=False, max_length=36, help_text="A card uid (members' prices)")
    energy_kwh = serializers.DecimalField(
        max_digits=9, decimal_places=3, min_value=0, max_value=Decimal(10_000)
    )
    power_kw = serializers.DecimalField(
        max_digits=9, decimal_places=3, min_value=Decimal("0.001"), max_value=Decimal(10_000)
    )
    start = serializers.DateTimeField(help_text="When the session starts (ISO 8601 with offset)")
    parking_minutes = serializers.IntegerField(required=False, default=0, min_value=0, max_value=10_080)
    time_zone = serializers.CharField(
        required=False, max_length=64, help_text="IANA zone when no station is given (default UTC)"
    )

    def validate(self, attrs):
        if "tariff" not in attrs and "station" not in attrs:
            raise serializers.ValidationError("give a tariff or a station")
        return attrs


class TariffPreviewResultSerializer(serializers.Serializer):
    """What the hypothetical session would cost."""

    tariff = serializers.IntegerField(allow_null=True, help_text="The tariff used (null: free of charge)")
    tariff_code = serializers.CharField(allow_null=True)
    time_zone = serializers.CharField()
    currency = serializers.CharField()
    total_excl_vat = serializers.CharField()
    total_incl_vat = serializers.CharField()
    components = PreviewComponentSerializer(many=True)


class TariffAssignmentSerializer(serializers.ModelSerializer):
    """Where a tariff applies (one of location, station, connector — or everywhere when none) and to
    whom (everybody, the members of `plan`, or the cards whose parentIdTag is `id_token_group`)."""

    station = serializers.SlugRelatedField(slug_field="identity", read_only=True, allow_null=True)

    class Meta:
        model = TariffAssignment
        fields = ["id", "tariff", "location", "station", "connector", "plan", "id_token_group", "created_at"]
        read_only_fields = fields


@extend_schema_serializer(
    examples=[
        OpenApiExample("At a location, for everybody", value={"tariff": 1, "location": 3}, request_only=True),
        OpenApiExample(
            "On one connector, for a plan's members",
            value={"tariff": 2, "station": "CP-0042", "evse_id": 1, "connector_id": 1, "plan": 1},
            request_only=True,
        ),
    ]
)
class TariffAssignmentCreateSerializer(serializers.Serializer):
    """Name at most one place: `location`, or `station` (with `evse_id` and `connector_id` for one
    connector); none means everywhere. A newer assignment for the same place and audience replaces
    the older one."""

    tariff = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    location = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
    station = serializers.CharField(required=False, max_length=48, help_text="Station identity")
    evse_id = serializers.IntegerField(required=False, min_value=1, max_value=1000)
    connector_id = serializers.IntegerField(required=False, min_value=1, max_value=1000)
    plan = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
    id_token_group = serializers.CharField(required=False, allow_blank=True, max_length=36, default="")

    def validate(self, attrs):
        if "connector_id" in attrs and "station" not in attrs:
            raise serializers.ValidationError({"connector_id": ["name the station too"]})
        if "location" in attrs and "station" in attrs:
            raise serializers.ValidationError("name one place: a location or a station (connector)")
        return attrs


class SubscriptionPlanSerializer(serializers.ModelSerializer):
    """A plan drivers subscribe to: a monthly fee (invoiced per month) and its members' tariff."""

    class Meta:
        model = SubscriptionPlan
        fields = [
            "id",
            "name",
            "monthly_fee",
            "currency",
            "vat_percent",
            "tariff",
            "is_active",
            "self_service",
        ]
        read_only_fields = fields


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Frequent driver",
            value={
                "name": "Frequent",
                "monthly_fee": "9.99",
                "currency": "EUR",
                "vat_percent": "21",
                "tariff": 2,
            },
            request_only=True,
        )
    ]
)
class SubscriptionPlanWriteSerializer(serializers.Serializer):
    """A plan to create or change."""

    name = serializers.CharField(max_length=200)
    monthly_fee = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0)
    currency = serializers.CharField(max_length=3, default="EUR")
    vat_percent = serializers.DecimalField(
        max_digits=5, decimal_places=2, min_value=0, max_value=Decimal("99.99")
    )
    tariff = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=2**63 - 1, help_text="Members' tariff"
    )
    is_active = serializers.BooleanField(default=True)
    self_service = serializers.BooleanField(default=False, help_text="Drivers may choose it themselves")


class SubscriptionSerializer(serializers.ModelSerializer):
    """A driver's membership of a plan, from `started_on` through `ended_on` (open-ended when null)."""

    plan_name = serializers.CharField(source="plan.name", read_only=True)

    class Meta:
        model = Subscription
        fields = ["id", "driver", "plan", "plan_name", "started_on", "ended_on"]
        read_only_fields = fields


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Put a driver on a plan",
            value={"driver": 7, "plan": 2, "started_on": "2026-11-01"},
            request_only=True,
        )
    ]
)
class SubscriptionCreateSerializer(serializers.Serializer):
    """Put a driver on a plan; the driver's current plan ends the day before."""

    driver = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    plan = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    started_on = serializers.DateField(required=False, help_text="First day; today when left out")


class SubscriptionEndSerializer(serializers.Serializer):
    """When a subscription ends."""

    ended_on = serializers.DateField(
        required=False,
        help_text="Last day of membership; today when left out (the day before it starts cancels it)",
    )


# --- CDRs ---------------------------------------------------------------------------------------


class CdrComponentSerializer(serializers.Serializer):
    type = serializers.CharField(help_text="ENERGY, TIME, PARKING_TIME or FLAT")
    element = serializers.IntegerField(help_text="Index of the tariff element that priced it")
    price = serializers.CharField(help_text="Per kWh, per hour or per session, excl. VAT")
    step_size = serializers.IntegerField()
    measured = serializers.CharField()
    billed = serializers.CharField()
    cost_excl_vat = serializers.CharField()
    cost_incl_vat = serializers.CharField()


class CdrSerializer(serializers.ModelSerializer):
    """A priced session (charge detail record). Immutable: a correction is a `credit` CDR with negated
    totals (`credit_reference` names the CDR it cancels) and a new CDR that `supersedes` it."""

    session = serializers.PrimaryKeyRelatedField(read_only=True)
    breakdown = CdrComponentSerializer(many=True, read_only=True)
    total_excl_vat = MoneyField()
    total_vat = MoneyField()
    total_incl_vat = MoneyField()
    invoice = serializers.SerializerMethodField(help_text="The invoice it is billed on, once invoiced")

    class Meta:
        model = Cdr
        fields = [
            "id",
            "cdr_id",
            "kind",
            "session",
            "credit_reference",
            "supersedes",
            "driver",
            "location",
            "location_name",
            "station_identity",
            "id_tag",
            "time_zone",
            "started_at",
            "stopped_at",
            "energy_wh",
            "charging_seconds",
            "parking_seconds",
            "tariff",
            "tariff_snapshot",
            "charging_periods",
            "breakdown",
            "currency",
            "vat_percent",
            "total_excl_vat",
            "total_vat",
            "total_incl_vat",
            "invoice",
            "created_at",
        ]
        read_only_fields = fields

    def get_invoice(self, cdr: Cdr) -> int | None:
        line = getattr(cdr, "invoice_line", None)
        return line.invoice_id if line is not None else None


class SessionCostSerializer(serializers.Serializer):
    """The cost of a session: live while it runs, its CDR's totals once priced."""

    session = serializers.IntegerField()
    final = serializers.BooleanField(help_text="True once the session is priced into a CDR")
    cdr = serializers.IntegerField(allow_null=True)
    tariff = serializers.IntegerField(allow_null=True)
    currency = serializers.CharField()
    total_excl_vat = serializers.CharField()
    total_incl_vat = serializers.CharField()
    components = CdrComponentSerializer(many=True)


# --- invoices and payments ----------------------------------------------------------------------


class InvoiceLineSerializer(serializers.ModelSerializer):
    class Meta:
        model = InvoiceLine
        fields = [
            "position",
            "description",
            "cdr",
            "fee_month",
            "vat_percent",
            "amount_excl_vat",
            "amount_vat",
            "amount_incl_vat",
        ]
        read_only_fields = fields


class VatRateSerializer(serializers.Serializer):
    vat_percent = serializers.CharField()
    net = serializers.CharField()
    vat = serializers.CharField()
    gross = serializers.CharField()


class InvoiceSerializer(serializers.ModelSerializer):
    """An issued invoice (numbered, gapless per series) with its VAT summary; the PDF is at `pdf_url`."""

    vat_summary = VatRateSerializer(many=True, read_only=True)
    pdf_url = serializers.SerializerMethodField()

    class Meta:
        model = Invoice
        fields = [
            "id",
            "number",
            "driver",
            "period_start",
            "period_end",
            "currency",
            "status",
            "seller_name",
            "seller_address",
            "seller_vat_id",
            "billing_name",
            "billing_address",
            "buyer_vat_id",
            "email",
            "due_on",
            "payment_terms",
            "total_excl_vat",
            "total_vat",
            "total_incl_vat",
            "vat_summary",
            "issued_at",
            "emailed_at",
            "pdf_url",
        ]
        read_only_fields = fields

    def get_pdf_url(self, invoice: Invoice) -> str:
        return f"/api/v1/invoices/{invoice.pk}/pdf/"


class InvoiceRunSerializer(serializers.Serializer):
    """A period to invoice now: the first and the last day (both included)."""

    period_start = serializers.DateField()
    period_end = serializers.DateField()


class InvoiceRunResultSerializer(serializers.Serializer):
    """What an invoicing run issued (an empty list when nothing was left to invoice)."""

    invoices = InvoiceSerializer(many=True)


class InvoiceDetailSerializer(InvoiceSerializer):
    """An invoice with its lines."""

    lines = InvoiceLineSerializer(many=True, read_only=True)

    class Meta(InvoiceSerializer.Meta):
        fields = [*InvoiceSerializer.Meta.fields, "lines"]
        read_only_fields = fields


class PaymentSerializer(serializers.ModelSerializer):
    """A payment (attempt) against an invoice; the invoice's status follows its payments."""

    recorded_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    checkout_url = serializers.CharField(
        read_only=True, help_text="Where the driver pays (a provider's checkout page); empty for manual"
    )

    class Meta:
        model = Payment
        fields = [
            "id",
            "invoice",
            "provider",
            "status",
            "amount",
            "currency",
            "reference",
            "checkout_url",
            "note",
            "recorded_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "A bank transfer", value={"amount": "5.00", "reference": "NL12BANK 2026-11-03"}, request_only=True
        )
    ]
)
class PaymentRecordSerializer(serializers.Serializer):
    """A payment received outside a provider (a bank transfer), recorded as paid."""

    amount = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=Decimal("0.01"))
    reference = serializers.CharField(required=False, allow_blank=True, max_length=255, default="")


class RefundSerializer(serializers.ModelSerializer):
    """A refund of (part of) a payment and the credit note issued for it once the provider refunded."""

    requested_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    credit_note_pdf_url = serializers.SerializerMethodField()

    class Meta:
        model = Refund
        fields = [
            "id",
            "invoice",
            "payment",
            "status",
            "amount",
            "amount_excl_vat",
            "amount_vat",
            "currency",
            "reason",
            "reference",
            "credit_note_number",
            "credit_note_pdf_url",
            "note",
            "requested_by",
            "created_at",
            "refunded_at",
        ]
        read_only_fields = fields

    def get_credit_note_pdf_url(self, refund: Refund) -> str | None:
        return f"/api/v1/credit-notes/{refund.pk}/pdf/" if refund.credit_note_number else None


class RefundCreateSerializer(serializers.Serializer):
    payment = serializers.IntegerField(help_text="The id of a paid payment of this invoice")
    amount = serializers.DecimalField(
        max_digits=12, decimal_places=2, help_text="Incl. VAT; at most what is left"
    )
    reason = serializers.CharField(max_length=300, help_text="Printed on the credit note")
