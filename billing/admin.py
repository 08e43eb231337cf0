from django.contrib import admin

from billing import models


@admin.register(models.Tariff)
class TariffAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "currency", "vat_percent", "is_default", "valid_from", "valid_to")
