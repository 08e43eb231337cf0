from django.db import models
from django.utils.translation import gettext_lazy as _


class Tariff(models.Model):
    """A price list in one currency: components (energy, time, parking, flat) with restrictions.

    `elements` holds OCPI 2.2.1 tariff elements as they appear on the wire, so a tariff maps one to
    one onto OCPI; the pricing engine in `billing.pricing` interprets them.
    """

    code = models.CharField(max_length=36, unique=True)
    name = models.CharField(max_length=200)
    currency = models.CharField(max_length=3, default="EUR")
    vat_percent = models.DecimalField(max_digits=5, decimal_places=2, default=0)
    elements = models.JSONField(default=list, blank=True)
    valid_from = models.DateTimeField(null=True, blank=True)
    valid_to = models.DateTimeField(null=True, blank=True)
    is_default = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.currency})"


class SubscriptionPlan(models.Model):
    """A plan drivers subscribe to: a monthly fee and, for its members, their own tariff."""

    name = models.CharField(max_length=200, unique=True)
    monthly_fee = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    currency = models.CharField(max_length=3, default="EUR")
    vat_percent = models.DecimalField(max_digits=5, decimal_places=2, default=0)
    tariff = models.ForeignKey(
        Tariff, null=True, blank=True, on_delete=models.PROTECT, related_name="plans",
        help_text="Members' price everywhere, unless an assignment names this plan more specifically",
    )  # fmt: skip
    is_active = models.BooleanField(default=True)
    self_service = models.BooleanField(
        default=False, help_text="Drivers may choose this plan themselves on their billing page"
    )

    def __str__(self) -> str:
        return self.name


class Subscription(models.Model):
    """A driver's membership of a plan from one date until another (open-ended when blank)."""

    driver = models.ForeignKey("rfid.Driver", on_delete=models.CASCADE, related_name="subscriptions")
    plan = models.ForeignKey(SubscriptionPlan, on_delete=models.PROTECT, related_name="subscriptions")
    started_on = models.DateField()
    ended_on = models.DateField(null=True, blank=True, help_text="Last day of membership")

    class Meta:
        ordering = ["-started_on"]

    def __str__(self) -> str:
        return f"{self.driver} on {self.plan}"


class TariffAssignment(models.Model):
    """Which tariff applies where (connector, station, location or everywhere) and to whom.

    The audience is everyone, the members of a plan, or cards of one id-token group (OCPP
    parentIdTag). The most specific place wins, members' prices before public ones.
    """

    tariff = models.ForeignKey(Tariff, on_delete=models.PROTECT, related_name="assignments")
    location = models.ForeignKey(
        "stations.Location", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    station = models.ForeignKey(
        "stations.Station", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    connector = models.ForeignKey(
        "stations.Connector", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    plan = models.ForeignKey(
        SubscriptionPlan, null=True, blank=True, on_delete=models.CASCADE, related_name="assignments"
    )
    id_token_group = models.CharField(max_length=36, blank=True, help_text="parentIdTag of the cards")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=~(models.Q(plan__isnull=False) & ~models.Q(id_token_group="")),
                name="tariff_assignment_one_audience",
            ),
        ]

    def __str__(self) -> str:
        place = self.connector or self.station or self.location or "everywhere"
        return f"{self.tariff.code} at {place}"


class Cdr(models.Model):
    """A charge detail record: the immutable, priced account of one finished session.

    It keeps a snapshot of the tariff it was priced with, so a later tariff change never reprices
    it. A correction is a credit CDR (negated totals) that references it, then a new CDR.
    """

    class Kind(models.TextChoices):
        NORMAL = "normal", _("Normal")
        CREDIT = "credit", _("Credit")

    cdr_id = models.CharField(max_length=39, unique=True)
    kind = models.CharField(max_length=6, choices=Kind.choices, default=Kind.NORMAL)
    session = models.ForeignKey("stations.Session", on_delete=models.PROTECT, related_name="cdrs")
    credit_reference = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="credited_by"
    )
    supersedes = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="superseded_by"
    )
    driver = models.ForeignKey(
        "rfid.Driver", null=True, blank=True, on_delete=models.SET_NULL, related_name="cdrs"
    )
    location = models.ForeignKey(
        "stations.Location", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    location_name = models.CharField(max_length=200, blank=True)
    station_identity = models.CharField(max_length=48)
    id_tag = models.CharField(max_length=36, blank=True)
    time_zone = models.CharField(max_length=64, default="UTC")
    started_at = models.DateTimeField()
    stopped_at = models.DateTimeField(db_index=True)
    energy_wh = models.BigIntegerField()
    charging_seconds = models.BigIntegerField(default=0)
    parking_seconds = models.BigIntegerField(default=0)
    tariff = models.ForeignKey(Tariff, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    tariff_snapshot = models.JSONField(help_text="The tariff as it was when the session was priced")
    charging_periods = models.JSONField(default=list)
    breakdown = models.JSONField(default=list, help_text="Cost per price component")
    currency = models.CharField(max_length=3)
    vat_percent = models.DecimalField(max_digits=5, decimal_places=2)
    total_excl_vat = models.DecimalField(max_digits=12, decimal_places=4)
    total_vat = models.DecimalField(max_digits=12, decimal_places=4)
    total_incl_vat = models.DecimalField(max_digits=12, decimal_places=4)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-stopped_at", "-id"]
        constraints = [
            # One original CDR per session; corrections go through credit + superseding CDRs.
            models.UniqueConstraint(
                "session",
                condition=models.Q(kind="normal", supersedes__isnull=True),
                name="cdr_one_original_per_session",
            ),
        ]

    def __str__(self) -> str:
        return self.cdr_id

    def save(self, *args, **kwargs):
        # CDRs are immutable (OCPI 2.2.1 §10): corrections are new rows, never edits.
        if self.pk is not None and not kwargs.get("force_insert"):
            raise ValueError("a CDR is immutable; correct it with a credit CDR")
        super().save(*args, **kwargs)


class InvoiceCounter(models.Model):
    """The last number issued in an invoice series; locked while a number is taken (gapless)."""

    series = models.CharField(max_length=40, unique=True)
    last_number = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.series}: {self.last_number}"


class Invoice(models.Model):
    """An issued invoice to a driver for a period: numbered, with lines, VAT summary and its PDF."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        PAID = "paid", _("Paid")
        FAILED = "failed", _("Payment failed")
        REFUNDED = "refunded", _("Refunded")

    number = models.CharField(max_length=60, unique=True)
    series = models.CharField(max_length=40)
    sequence = models.PositiveIntegerField()
    driver = models.ForeignKey("rfid.Driver", on_delete=models.PROTECT, related_name="invoices")
    period_start = models.DateField()
    period_end = models.DateField(help_text="Last day of the period")
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    # The seller and the buyer as they were when the invoice was issued (an invoice never changes).
    seller_name = models.CharField(max_length=200, blank=True)
    seller_address = models.TextField(blank=True)
    seller_vat_id = models.CharField(max_length=40, blank=True)
    billing_name = models.CharField(max_length=200, blank=True)
    billing_address = models.TextField(blank=True)
    buyer_vat_id = models.CharField(max_length=40, blank=True)
    email = models.EmailField(blank=True)
    due_on = models.DateField(null=True, blank=True, help_text="Payment due by this day")
    payment_terms = models.CharField(max_length=200, blank=True)
    total_excl_vat = models.DecimalField(max_digits=12, decimal_places=2)
    total_vat = models.DecimalField(max_digits=12, decimal_places=2)
    total_incl_vat = models.DecimalField(max_digits=12, decimal_places=2)
    vat_summary = models.JSONField(default=list)
    pdf = models.BinaryField()
    issued_at = models.DateTimeField()
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-issued_at", "-id"]
        constraints = [models.UniqueConstraint("series", "sequence", name="invoice_sequence_unique")]

    def __str__(self) -> str:
        return self.number


class InvoiceLine(models.Model):
    """One line of an invoice: a CDR (a session) or one month of a subscription fee."""

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveIntegerField()
    description = models.CharField(max_length=300)
    cdr = models.OneToOneField(
        Cdr, null=True, blank=True, on_delete=models.PROTECT, related_name="invoice_line"
    )
    subscription = models.ForeignKey(
        Subscription, null=True, blank=True, on_delete=models.PROTECT, related_name="invoice_lines"
    )
    fee_month = models.DateField(null=True, blank=True, help_text="First day of the month the fee is for")
    vat_percent = models.DecimalField(max_digits=5, decimal_places=2)
    amount_excl_vat = models.DecimalField(max_digits=12, decimal_places=2)
    amount_vat = models.DecimalField(max_digits=12, decimal_places=2)
    amount_incl_vat = models.DecimalField(max_digits=12, decimal_places=2)

    class Meta:
        ordering = ["invoice", "position"]
        constraints = [
            # A month of a subscription is invoiced once, however often invoicing runs.
            models.UniqueConstraint(
                "subscription",
                "fee_month",
                condition=models.Q(subscription__isnull=False),
                name="invoice_line_fee_once",
            ),
        ]

    def __str__(self) -> str:
        return self.description


class Payment(models.Model):
    """A payment (attempt) against an invoice through a provider; the invoice's status follows it."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        PAID = "paid", _("Paid")
        FAILED = "failed", _("Failed")
        REFUNDED = "refunded", _("Refunded")

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="payments")
    provider = models.CharField(max_length=20)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3)
    reference = models.CharField(max_length=255, blank=True, help_text="The provider's id for it")
    checkout_url = models.URLField(max_length=1000, blank=True)
    note = models.CharField(max_length=300, blank=True)
    amount_refunded = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    disputed_at = models.DateTimeField(null=True, blank=True, help_text="The payer disputed it")
    payment_method = models.ForeignKey(
        "PaymentMethod", null=True, blank=True, on_delete=models.SET_NULL, related_name="payments",
        help_text="The saved card charged off-session (automatic payment)",
    )  # fmt: skip
    recorded_by = models.ForeignKey(
        "chargenet.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                "provider", "reference", condition=~models.Q(reference=""), name="payment_reference_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.amount} {self.currency} ({self.status})"


class PaymentEvent(models.Model):
    """A provider webhook event, stored once: a redelivered event changes nothing."""

    provider = models.CharField(max_length=20)
    event_id = models.CharField(max_length=255)
    type = models.CharField(max_length=100)
    payload = models.JSONField()
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint("provider", "event_id", name="payment_event_once")]

    def __str__(self) -> str:
        return f"{self.provider} {self.type} {self.event_id}"


class GuestCharge(models.Model):
    """A pay-as-you-go session without an account (AFIR ad-hoc payment): a card hold through the
    provider, a remote start with a one-off id token, and a capture of exactly the CDR's total.

    The guest follows it through a private link (`token`); the hold is captured or released once.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for payment")
        AUTHORIZED = "authorized", _("Payment reserved")
        STARTING = "starting", _("Starting")
        CHARGING = "charging", _("Charging")
        CAPTURED = "captured", _("Paid")
        RELEASED = "released", _("Released")
        FAILED = "failed", _("Failed")

    token = models.CharField(max_length=64, unique=True, help_text="The secret of the private link")
    connector = models.ForeignKey("stations.Connector", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    provider = models.CharField(max_length=20)
    currency = models.CharField(max_length=3)
    amount_held = models.DecimalField(max_digits=12, decimal_places=2)
    amount_captured = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    checkout_reference = models.CharField(max_length=255, blank=True, help_text="The provider's checkout id")
    checkout_url = models.URLField(max_length=1000, blank=True)
    intent_reference = models.CharField(max_length=255, blank=True, help_text="The provider's hold id")
    email = models.EmailField(blank=True, help_text="Where the receipt goes (optional)")
    id_token = models.OneToOneField(
        "rfid.IdToken", null=True, blank=True, on_delete=models.SET_NULL, related_name="guest_charge"
    )
    session = models.OneToOneField(
        "stations.Session", null=True, blank=True, on_delete=models.SET_NULL, related_name="guest_charge"
    )
    cdr = models.OneToOneField(
        Cdr, null=True, blank=True, on_delete=models.PROTECT, related_name="guest_charge"
    )
    limit_stop_requested_at = models.DateTimeField(null=True, blank=True)
    receipt_sent_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(amount_captured__isnull=True)
                | models.Q(amount_captured__lte=models.F("amount_held")),
                name="guest_charge_capture_within_hold",
            ),
        ]

    def __str__(self) -> str:
        return f"guest {self.amount_held} {self.currency} ({self.status})"


class PaymentMethod(models.Model):
    """A driver's saved card at a provider (added through a SetupIntent), charged off-session for
    their invoices. Only the provider's ids and the masked card are kept, never the card number."""

    driver = models.ForeignKey("rfid.Driver", on_delete=models.CASCADE, related_name="payment_methods")
    provider = models.CharField(max_length=20)
    reference = models.CharField(max_length=255, help_text="The provider's id (Stripe: pm_…)")
    customer_reference = models.CharField(max_length=255, help_text="The provider's customer (cus_…)")
    brand = models.CharField(max_length=30, blank=True)
    last4 = models.CharField(max_length=4, blank=True)
    exp_month = models.PositiveSmallIntegerField(null=True, blank=True)
    exp_year = models.PositiveSmallIntegerField(null=True, blank=True)
    is_default = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-is_default", "-created_at", "-id"]
        constraints = [
            models.UniqueConstraint("provider", "reference", name="payment_method_once"),
            models.UniqueConstraint(
                "driver", condition=models.Q(is_default=True), name="payment_method_one_default"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.brand or 'card'} •••• {self.last4}"

    @property
    def masked(self) -> str:
        expiry = f", expires {self.exp_month:02d}/{self.exp_year}" if self.exp_month and self.exp_year else ""
        return f"{(self.brand or 'card').title()} •••• {self.last4}{expiry}"


class Refund(models.Model):
    """Money given back on a payment (all or part) through its provider; when the provider has
    done it, a numbered credit note is issued for it (`credit_note_number`)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        REFUNDED = "refunded", _("Refunded")
        FAILED = "failed", _("Failed")

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds")
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="refunds")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    amount = models.DecimalField(max_digits=12, decimal_places=2, help_text="Incl. VAT")
    amount_excl_vat = models.DecimalField(max_digits=12, decimal_places=2)
    amount_vat = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3)
    reason = models.CharField(max_length=300)
    reference = models.CharField(max_length=255, blank=True, help_text="The provider's refund id")
    note = models.CharField(max_length=300, blank=True)
    credit_note_series = models.CharField(max_length=40, blank=True)
    credit_note_sequence = models.PositiveIntegerField(null=True, blank=True)
    credit_note_number = models.CharField(max_length=60, blank=True)
    requested_by = models.ForeignKey(
        "chargenet.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    refunded_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True, help_text="The credit note was mailed")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                "credit_note_series",
                "credit_note_sequence",
                condition=models.Q(credit_note_sequence__isnull=False),
                name="credit_note_sequence_unique",
            ),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="refund_amount_positive"),
        ]

    def __str__(self) -> str:
        return self.credit_note_number or f"refund {self.amount} {self.currency} ({self.status})"


class PaymentBlock(models.Model):
    """A card billing blocked because its driver's payments kept failing
    (BILLING_BLOCK_AFTER_FAILED_PAYMENTS); lifted, and the card unblocked, once they are paid."""

    driver = models.ForeignKey("rfid.Driver", on_delete=models.CASCADE, related_name="payment_blocks")
    id_token = models.ForeignKey("rfid.IdToken", on_delete=models.CASCADE, related_name="payment_blocks")
    failed_invoices = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
    lifted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                "id_token", condition=models.Q(lifted_at__isnull=True), name="payment_block_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.id_token} blocked for {self.failed_invoices} unpaid invoices"
