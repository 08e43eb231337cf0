"""OCPI in the admin: read-only. Partners are created and changed on the OCPI partner pages and
through the API (ocpi.services); what partners send and what we push is never edited."""

from django.contrib import admin

from chargenet.admin import ReadOnlyAdmin
from ocpi import models


@admin.register(models.Partner)
class PartnerAdmin(ReadOnlyAdmin):
    list_display = (
        "name",
        "country_code",
        "party_id",
        "status",
        "version",
        "last_success_at",
        "last_error_at",
    )
    list_filter = ("status",)
    search_fields = ("name", "country_code", "party_id")
    exclude = ("token_a_hash", "token_c_hash", "token_b")


@admin.register(models.RequestLog)
class RequestLogAdmin(ReadOnlyAdmin):
    """Every OCPI request in and out: the first thing support looks at when a partner complains."""

    list_display = ("created_at", "partner", "direction", "method", "url", "http_status", "ocpi_status")
    list_filter = ("direction", "method", "ocpi_status")
    list_select_related = ("partner",)
    search_fields = ("url", "request_id", "correlation_id")
    show_full_result_count = False


@admin.register(models.RoamingToken)
class RoamingTokenAdmin(ReadOnlyAdmin):
    list_display = ("uid", "type", "partner", "contract_id", "whitelist", "valid", "last_updated")
    list_filter = ("valid", "whitelist", "type")
    list_select_related = ("partner",)
    search_fields = ("uid", "contract_id")


@admin.register(models.RoamingSession)
class RoamingSessionAdmin(ReadOnlyAdmin):
    list_display = ("session", "partner", "token", "auth_method", "created_at")
    list_select_related = ("session__station", "partner", "token")


@admin.register(models.Push)
class PushAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "partner", "module", "method", "status", "attempts", "response_status")
    list_filter = ("module", "status")
    list_select_related = ("partner",)


@admin.register(models.RemoteCommand)
class RemoteCommandAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "partner", "command", "result", "result_sent_at")
    list_filter = ("command", "result")
    list_select_related = ("partner",)


# --- the eMSP role --------------------------------------------------------------------------------


@admin.register(models.EmspToken)
class EmspTokenAdmin(ReadOnlyAdmin):
    list_display = ("contract_id", "id_token", "enabled", "last_updated")
    list_filter = ("enabled",)
    list_select_related = ("id_token",)
    search_fields = ("contract_id", "id_token__uid")


@admin.register(models.PartnerLocation)
class PartnerLocationAdmin(ReadOnlyAdmin):
    list_display = ("object_id", "name", "city", "partner", "publish", "last_updated")
    list_select_related = ("partner",)
    search_fields = ("object_id", "name", "city")


@admin.register(models.PartnerSession)
class PartnerSessionAdmin(ReadOnlyAdmin):
    list_display = ("object_id", "partner", "driver", "status", "kwh", "start_date_time")
    list_filter = ("status",)
    list_select_related = ("partner", "driver")


@admin.register(models.PartnerCdr)
class PartnerCdrAdmin(ReadOnlyAdmin):
    list_display = (
        "object_id",
        "partner",
        "driver",
        "kwh",
        "partner_excl_vat",
        "driver_incl_vat",
        "end_date_time",
    )
    list_select_related = ("partner", "driver")
    search_fields = ("object_id", "session_id")


@admin.register(models.EmspCommand)
class EmspCommandAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "partner", "command", "driver", "status", "response", "result")
    list_filter = ("command", "status")
    list_select_related = ("partner", "driver")
