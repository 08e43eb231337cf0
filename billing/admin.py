"""Billing in the admin: read-only. Tariffs, plans, assignments, subscriptions and payments are
changed on the billing pages (billing.services); CDRs are corrected with credit CDRs
(billing.services.cdr_correct), never edited; invoices are never edited."""

from django.contrib import admin

from billing import models
from chargenet.admin import ReadOnlyAdmin, ReadOnlyInline


@admin.register(models.Tariff)
class TariffAdmin(ReadOnlyAdmin):
    list_display = ("code", "name", "currency", "vat_percent", "is_default", "valid_from", "valid_to")


@admin.register(models.TariffAssignment)
class TariffAssignmentAdmin(ReadOnlyAdmin):
    list_display = ("tariff", "location", "station", "connector", "plan", "id_token_group")
    list_select_related = ("tariff", "location", "station", "connector__evse__station", "plan")


@admin.register(models.SubscriptionPlan)
class SubscriptionPlanAdmin(ReadOnlyAdmin):
    list_display = ("name", "monthly_fee", "currency", "vat_percent", "tariff", "is_active")
    list_select_related = ("tariff",)


@admin.register(models.Subscription)
class SubscriptionAdmin(ReadOnlyAdmin):
    list_display = ("driver", "plan", "started_on", "ended_on")
    list_select_related = ("driver", "plan")


@admin.register(models.Cdr)
class CdrAdmin(ReadOnlyAdmin):
    list_display = (
        "cdr_id",
        "kind",
        "station_identity",
        "stopped_at",
        "energy_wh",
        "total_incl_vat",
        "currency",
    )
    list_filter = ("kind", "currency")
    search_fields = ("cdr_id", "station_identity", "id_tag")


class InvoiceLineInline(ReadOnlyInline):
    model = models.InvoiceLine
    exclude = ("cdr", "subscription")


@admin.register(models.Invoice)
class InvoiceAdmin(ReadOnlyAdmin):
    list_display = ("number", "driver", "period_start", "period_end", "total_incl_vat", "currency", "status")
    list_filter = ("status",)
    list_select_related = ("driver",)
    search_fields = ("number", "email", "billing_name")
    exclude = ("pdf",)
    inlines = [InvoiceLineInline]


@admin.register(models.Payment)
class PaymentAdmin(ReadOnlyAdmin):
    list_display = ("invoice", "provider", "amount", "currency", "status", "reference", "created_at")
    list_filter = ("provider", "status")
    list_select_related = ("invoice",)
    search_fields = ("reference", "invoice__number")


@admin.register(models.PaymentEvent)
class PaymentEventAdmin(ReadOnlyAdmin):
    """What a payment provider told us, as received."""

    list_display = ("received_at", "provider", "type", "event_id")
    list_filter = ("provider", "type")
    search_fields = ("event_id",)


@admin.register(models.GuestCharge)
class GuestChargeAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "connector", "status", "amount_held", "amount_captured", "currency", "note")
    list_filter = ("status",)
    list_select_related = ("connector__evse__station",)
    exclude = ("token",)  # the private link is the guest's secret


@admin.register(models.PaymentMethod)
class PaymentMethodAdmin(ReadOnlyAdmin):
    list_display = ("driver", "brand", "last4", "exp_month", "exp_year", "is_default", "created_at")
    list_select_related = ("driver",)


@admin.register(models.Refund)
class RefundAdmin(ReadOnlyAdmin):
    list_display = ("credit_note_number", "invoice", "payment", "amount", "currency", "status", "created_at")
    list_filter = ("status",)
    list_select_related = ("invoice", "payment")
