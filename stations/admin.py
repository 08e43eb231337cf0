from django.contrib import admin

from stations import models


class EvseInline(admin.TabularInline):
    model = models.Evse
    extra = 0


@admin.register(models.Location)
class LocationAdmin(admin.ModelAdmin):
    list_display = ("name", "city", "country", "time_zone", "is_public")
    search_fields = ("name", "city")


@admin.register(models.Station)
class StationAdmin(admin.ModelAdmin):
    list_display = (
        "identity",
        "location",
        "ocpp_version",
        "registration_status",
        "is_online",
        "last_seen_at",
    )
    list_filter = ("ocpp_version", "registration_status", "is_online")
    search_fields = ("identity", "name", "serial_number")
    readonly_fields = (
        "password_hash",
        "channel_name",
        "node",
        "connected_since",
        "last_seen_at",
        "last_boot_at",
    )
    inlines = [EvseInline]


@admin.register(models.Connector)
class ConnectorAdmin(admin.ModelAdmin):
    list_display = ("__str__", "standard", "max_power_w", "status", "error_code", "status_updated_at")
    list_filter = ("status",)


@admin.register(models.Session)
class SessionAdmin(admin.ModelAdmin):
    list_display = ("station", "transaction_id", "id_tag", "status", "started_at", "stopped_at", "energy_wh")
    list_filter = ("status",)
    search_fields = ("transaction_id", "id_tag", "station__identity")


@admin.register(models.Command)
class CommandAdmin(admin.ModelAdmin):
    list_display = ("action", "station", "status", "created_at", "completed_at")
    list_filter = ("status", "action")


@admin.register(models.OcppMessage)
class OcppMessageAdmin(admin.ModelAdmin):
    list_display = ("created_at", "identity", "direction", "action", "message_id")
    list_filter = ("direction", "action")
    search_fields = ("identity", "message_id")
