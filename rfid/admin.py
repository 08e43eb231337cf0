from django.contrib import admin

from rfid import models


@admin.register(models.Driver)
class DriverAdmin(admin.ModelAdmin):
    list_display = ("__str__", "email", "created_at")
    search_fields = ("name", "email")


@admin.register(models.IdToken)
class IdTokenAdmin(admin.ModelAdmin):
    list_display = ("uid", "printed_number", "type", "status", "expires_at", "driver", "last_used_at")
    list_filter = ("status", "type", "source")
    search_fields = ("uid", "printed_number", "label")
