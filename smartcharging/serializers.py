"""The smart-charging API's input and output shapes."""

from django.conf import settings
from rest_framework import serializers

from smartcharging.models import AllocationDecision, Circuit, ScheduleRule, SiteCapacity
from stations.models import ChargingProfile

# The OCPP names are accepted too, in either version's spelling.
PURPOSES = {
    "TxDefault": "TxDefault",
    "TxDefaultProfile": "TxDefault",
    "Tx": "Tx",
    "TxProfile": "Tx",
    "StationMax": "StationMax",
    "ChargePointMaxProfile": "StationMax",
    "ChargingStationMaxProfile": "StationMax",
}


class PeriodSerializer(serializers.Serializer):
    start = serializers.IntegerField(min_value=0, help_text="Seconds after the schedule's start")
    limit = serializers.DecimalField(
        max_digits=9, decimal_places=1, min_value=0, help_text="In the profile's unit"
    )
    phases = serializers.IntegerField(min_value=1, max_value=3, required=False)


class ChargingProfileCreateSerializer(serializers.Serializer):
    purpose = serializers.ChoiceField(choices=sorted(PURPOSES), help_text="TxDefault, Tx or StationMax")
    evse_id = serializers.IntegerField(
        min_value=0, default=0, help_text="1.6 connector / 2.0.1 EVSE; 0 = station"
    )
    stack_level = serializers.IntegerField(min_value=0, default=0)
    kind = serializers.ChoiceField(choices=["Absolute", "Recurring", "Relative"], default="Absolute")
    recurrency = serializers.ChoiceField(choices=["Daily", "Weekly"], required=False)
    unit = serializers.ChoiceField(choices=["W", "A"], default="W")
    periods = PeriodSerializer(many=True)
    start_schedule = serializers.DateTimeField(required=False)
    duration = serializers.IntegerField(min_value=1, required=False)
    valid_from = serializers.DateTimeField(required=False)
    valid_to = serializers.DateTimeField(required=False)
    profile_id = serializers.IntegerField(
        min_value=1, required=False, help_text="Reuse an id to replace that profile"
    )
    wait = serializers.FloatField(
        required=False, min_value=0, help_text="Seconds to wait for the station's answer"
    )

    def validate_periods(self, value):
        if not value:
            raise serializers.ValidationError("At least one period.")
        if len(value) > 1000:
            raise serializers.ValidationError("Too many periods.")
        return value

    def validate_wait(self, value: float) -> float:
        return min(value, settings.API_COMMAND_MAX_WAIT)


class ChargingProfileSerializer(serializers.ModelSerializer):
    """A profile sent to a station and what became of it."""

    profile_id = serializers.IntegerField(source="charging_profile_id")
    evse_id = serializers.IntegerField(source="connector_id")

    class Meta:
        model = ChargingProfile
        fields = [
            "id",
            "profile_id",
            "evse_id",
            "purpose",
            "stack_level",
            "kind",
            "transaction_id",
            "status",
            "profile",
            "created_at",
            "cleared_at",
        ]


class CompositeQuerySerializer(serializers.Serializer):
    evse_id = serializers.IntegerField(min_value=0, default=0)
    duration = serializers.IntegerField(min_value=1, max_value=7 * 86400, default=86400)
    unit = serializers.ChoiceField(choices=["W", "A"], default="W")
    wait = serializers.FloatField(required=False, min_value=0)

    def validate_wait(self, value: float) -> float:
        return min(value, settings.API_COMMAND_MAX_WAIT)


class SiteCapacitySerializer(serializers.ModelSerializer):
    """A location's capacity (A per phase; kW at 230 V on three phases) and its rules."""

    capacity_kw = serializers.FloatField(read_only=True)

    class Meta:
        model = SiteCapacity
        fields = [
            "capacity_a",
            "capacity_kw",
            "min_current_a",
            "fallback_current_a",
            "priorities",
            "plan_priorities",
            "capacity_windows",
            "capacity_in_force_a",
            "enabled",
            "rebalanced_at",
            "updated_at",
        ]


class SiteCapacitySetSerializer(serializers.Serializer):
    capacity_a = serializers.DecimalField(max_digits=8, decimal_places=1, required=False, min_value=0)
    capacity_kw = serializers.DecimalField(max_digits=8, decimal_places=1, required=False, min_value=0)
    min_current_a = serializers.DecimalField(max_digits=5, decimal_places=1, default=6, min_value=0)
    fallback_current_a = serializers.DecimalField(max_digits=5, decimal_places=1, default=6, min_value=0)
    priorities = serializers.DictField(
        child=serializers.IntegerField(min_value=-100, max_value=100), required=False
    )
    plan_priorities = serializers.DictField(
        child=serializers.IntegerField(min_value=-100, max_value=100),
        required=False,
        help_text="Subscription plan name → priority of its members' sessions; a card in priorities overrides it",
    )
    capacity_windows = serializers.ListField(
        child=serializers.DictField(),
        required=False,
        help_text='Other capacities by time of day, local time: [{"weekdays": [0-6], "start": "HH:MM", '
        '"end": "HH:MM", "capacity_a" or "capacity_kw": n}]; the lowest in force wins',
    )
    enabled = serializers.BooleanField(default=True)


class CircuitSerializer(serializers.ModelSerializer):
    """A circuit within a site: its limit, the circuit it hangs from and the stations it feeds."""

    capacity_kw = serializers.SerializerMethodField()
    stations = serializers.SerializerMethodField()

    class Meta:
        model = Circuit
        fields = ["id", "name", "capacity_a", "capacity_kw", "parent", "stations", "created_at"]

    def get_capacity_kw(self, circuit: Circuit) -> float:
        return round(float(circuit.capacity_a) * 230 * 3 / 1000, 1)

    def get_stations(self, circuit: Circuit) -> list[str]:
        return sorted(m.station.identity for m in circuit.memberships.all())


class CircuitSetSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    capacity_a = serializers.DecimalField(max_digits=8, decimal_places=1, required=False, min_value=0)
    capacity_kw = serializers.DecimalField(max_digits=8, decimal_places=1, required=False, min_value=0)
    parent = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        max_value=2**63 - 1,
        help_text="Circuit id; none: the site",
    )
    stations = serializers.ListField(child=serializers.CharField(), required=False, default=list)


class AllocationDecisionSerializer(serializers.ModelSerializer):
    """Why a session got the current it got."""

    station = serializers.SlugRelatedField(slug_field="identity", read_only=True)
    power_kw = serializers.FloatField(read_only=True)

    class Meta:
        model = AllocationDecision
        fields = ["id", "session", "station", "current_a", "power_kw", "reason", "trigger", "created_at"]


class ScheduleRuleSerializer(serializers.ModelSerializer):
    """A schedule rule, in the location's time zone."""

    station = serializers.SlugRelatedField(slug_field="identity", read_only=True)
    tag = serializers.SlugRelatedField(slug_field="name", read_only=True)

    class Meta:
        model = ScheduleRule
        fields = [
            "id",
            "name",
            "kind",
            "location",
            "station",
            "tag",
            "weekdays",
            "start_time",
            "end_time",
            "starts_at",
            "ends_at",
            "limit_w",
            "stop_sessions",
            "notice",
            "created_at",
        ]


class ScheduleRuleCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    kind = serializers.ChoiceField(choices=ScheduleRule.Kind.choices)
    location = serializers.IntegerField(required=False, help_text="Location id (or give station or tag)")
    station = serializers.CharField(required=False, help_text="Station identity (or give location or tag)")
    tag = serializers.CharField(
        required=False,
        max_length=40,
        help_text="Station tag: every station with it (or give location or station)",
    )
    weekdays = serializers.ListField(child=serializers.IntegerField(min_value=0, max_value=6), required=False)
    start_time = serializers.TimeField(required=False)
    end_time = serializers.TimeField(required=False)
    starts_at = serializers.DateTimeField(required=False)
    ends_at = serializers.DateTimeField(required=False)
    limit_w = serializers.IntegerField(min_value=0, required=False)
    stop_sessions = serializers.BooleanField(default=False)
    notice = serializers.CharField(max_length=200, required=False, default="")
