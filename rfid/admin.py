"""Cards and drivers in the admin: read-only; blocking and unblocking a card call the same services
as the card page, so the stations holding it in a local list or cache are told."""

from django.contrib import admin

from chargenet.admin import ReadOnlyAdmin, service_action
from rfid import models, services


@admin.register(models.Driver)
class DriverAdmin(ReadOnlyAdmin):
    list_display = ("__str__", "email", "created_at")
    list_select_related = ("user",)
    search_fields = ("name", "email")


@admin.register(models.IdToken)
class IdTokenAdmin(ReadOnlyAdmin):
    list_display = ("uid", "printed_number", "type", "status", "expires_at", "driver", "last_used_at")
    list_filter = ("status", "type", "source")
    list_select_related = ("driver",)
    search_fields = ("uid", "printed_number", "label")
    actions = [
        service_action(
            name="id_token_block",
            description="Block the selected cards",
            call=lambda id_token: services.id_token_block(id_token=id_token),
        ),
        service_action(
            name="id_token_unblock",
            description="Unblock the selected cards",
            call=lambda id_token: services.id_token_unblock(id_token=id_token),
        ),
    ]


@admin.register(models.AuthorizationLog)
class AuthorizationLogAdmin(ReadOnlyAdmin):
    """Why a card was accepted or refused, where and when: the first thing support looks at."""

    list_display = ("created_at", "uid", "station_identity", "status", "reason", "source")
    list_filter = ("status", "source")
    search_fields = ("uid", "station_identity")
    date_hierarchy = "created_at"
