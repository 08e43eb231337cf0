"""Django admin: where support staff look things up.

Every admin page is read-only: writes go through the services (the dashboard, the API, the driver's
pages), so an admin edit can never skip a rule or an event. What support staff may change here is an
admin action that calls the same service as the page does (`service_action`).
"""

from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.db.models import Model, QuerySet
from django.http import HttpRequest

from chargenet.api import services as api_services
from chargenet.api.models import ApiKey, AuditLog
from chargenet.errors import DomainError
from chargenet.forms import AdminLoginForm
from chargenet.models import Event, User
from chargenet.webhooks.models import WebhookDelivery, WebhookSubscription

# The admin's login is throttled like /login/ (chargenet/signin.py).
admin.site.login_form = AdminLoginForm


class ReadOnlyAdmin(admin.ModelAdmin):
    """A model shown, never added, changed or deleted in the admin."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_operate_permission(self, request: HttpRequest) -> bool:
        """Admin actions that act (see service_action) are for admins and operators."""
        return bool(getattr(request.user, "can_operate", False))


class ReadOnlyInline(admin.TabularInline):
    """Related rows shown on their parent's admin page, read-only."""

    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def service_action(*, name: str, description: str, call: Callable[[Any], object]) -> Callable[..., None]:
    """An admin action `name` that calls one service per selected row, as the page for that row
    does; refusals (a DomainError) are shown to the user and change nothing."""

    @admin.action(description=description, permissions=["operate"])
    def action(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Model]) -> None:
        done = 0
        for obj in queryset:
            try:
                call(obj)
            except DomainError as exc:
                modeladmin.message_user(request, f"{obj}: {exc}", level=messages.ERROR)
            else:
                done += 1
        if done:
            modeladmin.message_user(request, f"{description}: {done} done.", level=messages.SUCCESS)

    action.__name__ = name
    return action


@admin.register(User)
class ChargeNetUserAdmin(UserAdmin):
    """Users are added here; their role and whether they are active are set on the users page
    (chargenet.services.user_role_set keeps at least one active admin)."""

    fieldsets = (*(UserAdmin.fieldsets or ()), ("ChargeNet", {"fields": ("role",)}))
    list_display = ("username", "email", "role", "is_active", "last_login")
    list_filter = ("role", "is_active")
    readonly_fields = ("role", "is_active")


@admin.register(ApiKey)
class ApiKeyAdmin(ReadOnlyAdmin):
    list_display = ("prefix", "name", "user", "role", "created_at", "last_used_at", "revoked_at")
    list_filter = ("role",)
    list_select_related = ("user",)
    search_fields = ("prefix", "name", "user__username")
    exclude = ("key_hash",)
    actions = [
        service_action(
            name="api_key_revoke",
            description="Revoke the selected keys",
            call=lambda key: api_services.api_key_revoke(api_key=key),
        )
    ]


@admin.register(AuditLog)
class AuditLogAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "user", "method", "path", "status_code")
    list_filter = ("method", "status_code")
    list_select_related = ("user",)
    search_fields = ("path", "object_id", "user__username")
    date_hierarchy = "created_at"


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(ReadOnlyAdmin):
    list_display = ("url", "user", "is_active", "created_at")
    list_filter = ("is_active",)
    list_select_related = ("user",)
    exclude = ("secret",)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "event_type", "subscription", "status", "attempts", "response_status")
    list_filter = ("status", "event_type")
    list_select_related = ("subscription",)
    search_fields = ("event_id", "uuid")


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    """The outbox: an event not dispatched after its retries shows its error here."""

    list_display = ("created_at", "type", "dispatched_at", "attempts", "next_attempt_at")
    list_filter = ("type", ("dispatched_at", admin.EmptyFieldListFilter))
    search_fields = ("uuid",)
    date_hierarchy = "created_at"
