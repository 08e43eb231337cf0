"""Smart charging in the admin: read-only views (every change goes through the services)."""

from django.contrib import admin

from chargenet.admin import ReadOnlyAdmin
from smartcharging.models import (
    AllocationDecision,
    ChargingNeed,
    Circuit,
    ScheduleRule,
    SiteCapacity,
    StationScheduleState,
)


@admin.register(SiteCapacity)
class SiteCapacityAdmin(ReadOnlyAdmin):
    list_display = [
        "location",
        "capacity_a",
        "min_current_a",
        "fallback_current_a",
        "enabled",
        "rebalanced_at",
    ]


@admin.register(AllocationDecision)
class AllocationDecisionAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "station", "session", "current_a", "reason", "trigger"]
    list_filter = ["site"]


@admin.register(ScheduleRule)
class ScheduleRuleAdmin(ReadOnlyAdmin):
    list_display = ["name", "kind", "location", "station", "start_time", "end_time", "limit_w", "is_active"]


@admin.register(StationScheduleState)
class StationScheduleStateAdmin(ReadOnlyAdmin):
    list_display = ["station", "limit_w", "inoperative", "reason", "applied_at"]


@admin.register(Circuit)
class CircuitAdmin(ReadOnlyAdmin):
    list_display = ["name", "site", "parent", "capacity_a"]


@admin.register(ChargingNeed)
class ChargingNeedAdmin(ReadOnlyAdmin):
    list_display = ["received_at", "station", "session", "status", "energy_wh", "departure_at", "reason"]
