"""The charging network in the admin: read-only. Stations, locations, commands and access lists are
changed on the dashboard and through the API (stations.services); what the stations themselves
report (sessions, status, meter values, messages, security events) is never edited."""

from django.contrib import admin

from chargenet.admin import ReadOnlyAdmin, ReadOnlyInline
from stations import models


class EvseInline(ReadOnlyInline):
    model = models.Evse


class ConnectorInline(ReadOnlyInline):
    model = models.Connector


class ConfigurationKeyInline(ReadOnlyInline):
    model = models.StationConfigurationKey


@admin.register(models.Location)
class LocationAdmin(ReadOnlyAdmin):
    list_display = ("name", "city", "country", "time_zone", "is_public")
    search_fields = ("name", "city")


@admin.register(models.Station)
class StationAdmin(ReadOnlyAdmin):
    list_display = (
        "identity",
        "location",
        "ocpp_version",
        "registration_status",
        "is_online",
        "last_seen_at",
    )
    list_filter = ("ocpp_version", "registration_status", "is_online")
    list_select_related = ("location",)
    search_fields = ("identity", "name", "serial_number")
    exclude = ("password_hash",)
    inlines = [EvseInline, ConfigurationKeyInline]


@admin.register(models.Evse)
class EvseAdmin(ReadOnlyAdmin):
    list_display = ("station", "evse_id")
    list_select_related = ("station",)
    search_fields = ("station__identity",)
    inlines = [ConnectorInline]


@admin.register(models.Connector)
class ConnectorAdmin(ReadOnlyAdmin):
    list_display = ("__str__", "standard", "max_power_w", "status", "error_code", "status_updated_at")
    list_filter = ("status",)
    list_select_related = ("evse__station",)
    search_fields = ("evse__station__identity",)


@admin.register(models.Session)
class SessionAdmin(ReadOnlyAdmin):
    list_display = ("station", "transaction_id", "id_tag", "status", "started_at", "stopped_at", "energy_wh")
    list_filter = ("status",)
    list_select_related = ("station",)
    search_fields = ("transaction_id", "id_tag", "station__identity")
    date_hierarchy = "started_at"


@admin.register(models.MeterSample)
class MeterSampleAdmin(ReadOnlyAdmin):
    list_display = ("timestamp", "station", "session", "evse_id", "measurand", "phase", "value", "unit")
    list_filter = ("measurand",)
    list_select_related = ("station",)
    search_fields = ("station__identity", "session__transaction_id")
    show_full_result_count = False


@admin.register(models.Command)
class CommandAdmin(ReadOnlyAdmin):
    list_display = ("action", "station", "status", "requested_by", "created_at", "completed_at")
    list_filter = ("status", "action")
    list_select_related = ("station", "requested_by")
    search_fields = ("station__identity", "message_id", "uuid")


@admin.register(models.OcppMessage)
class OcppMessageAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "identity", "direction", "action", "message_id")
    list_filter = ("direction", "action")
    search_fields = ("identity", "message_id")
    show_full_result_count = False


@admin.register(models.StationProtocolState)
class StationProtocolStateAdmin(ReadOnlyAdmin):
    list_display = (
        "station",
        "station_status",
        "firmware_status",
        "diagnostics_status",
        "local_list_version",
    )
    list_select_related = ("station",)
    search_fields = ("station__identity",)
    exclude = ("pending_password_hash",)


@admin.register(models.ConnectorStatusChange)
class ConnectorStatusChangeAdmin(ReadOnlyAdmin):
    list_display = ("timestamp", "station", "evse_id", "previous_status", "status", "error_code")
    list_filter = ("status",)
    list_select_related = ("station",)
    search_fields = ("station__identity", "error_code")


@admin.register(models.SecurityEvent)
class SecurityEventAdmin(ReadOnlyAdmin):
    list_display = ("timestamp", "identity", "source", "type", "remote_address")
    list_filter = ("source", "type")
    search_fields = ("identity", "remote_address")


@admin.register(models.ProtocolViolation)
class ProtocolViolationAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "station", "action", "message_id")
    list_filter = ("action",)
    list_select_related = ("station",)
    search_fields = ("station__identity", "message_id")


@admin.register(models.Reservation)
class ReservationAdmin(ReadOnlyAdmin):
    list_display = ("reservation_id", "station", "connector_id", "id_tag", "status", "expires_at")
    list_filter = ("status",)
    list_select_related = ("station",)
    search_fields = ("station__identity", "id_tag")


@admin.register(models.ChargingProfile)
class ChargingProfileAdmin(ReadOnlyAdmin):
    list_display = ("charging_profile_id", "station", "connector_id", "purpose", "stack_level", "is_active")
    list_filter = ("purpose", "is_active")
    list_select_related = ("station",)
    search_fields = ("station__identity",)


@admin.register(models.LocalListSync)
class LocalListSyncAdmin(ReadOnlyAdmin):
    list_display = ("station", "version", "stage", "last_result", "last_synced_at", "due_at")
    list_select_related = ("station",)
    search_fields = ("station__identity",)


@admin.register(models.AlertAcknowledgement)
class AlertAcknowledgementAdmin(ReadOnlyAdmin):
    list_display = ("acknowledged_at", "kind", "station", "acknowledged_by", "note")
    list_filter = ("kind",)
    list_select_related = ("station", "acknowledged_by")


@admin.register(models.AlertNotification)
class AlertNotificationAdmin(ReadOnlyAdmin):
    list_display = ("mailed_at", "kind", "station", "recipients")
    list_filter = ("kind",)
    list_select_related = ("station",)
