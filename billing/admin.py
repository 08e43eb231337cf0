from django.contrib import admin

from billing import models


@admin.register(models.Tariff)
class TariffAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "currency", "vat_percent", "is_default", "valid_from", "valid_to")


@admin.register(models.TariffAssignment)
class TariffAssignmentAdmin(admin.ModelAdmin):
    list_display = ("tariff", "location", "station", "connector", "plan", "id_token_group")


@admin.register(models.SubscriptionPlan)
class SubscriptionPlanAdmin(admin.ModelAdmin):
    list_display = ("name", "monthly_fee", "currency", "vat_percent", "tariff", "is_active")


@admin.register(models.Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    list_display = ("driver", "plan", "started_on", "ended_on")


@admin.register(models.Cdr)
class CdrAdmin(admin.ModelAdmin):
    """Read-only: CDRs are corrected with credit CDRs (billing.services.cdr_correct), never edited."""

    list_display = (
        "cdr_id",
        "kind",
        "station_identity",
        "stopped_at",
        "energy_wh",
        "total_incl_vat",
        "currency",
    )

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(models.Invoice)
class InvoiceAdmin(admin.ModelAdmin):
    list_display = ("number", "driver", "period_start", "period_end", "total_incl_vat", "currency", "status")
    exclude = ("pdf",)

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(models.Payment)
class PaymentAdmin(admin.ModelAdmin):
    list_display = ("invoice", "provider", "amount", "currency", "status", "reference", "created_at")
