"""REST API representations of locations, stations, sessions, commands and the message log."""

from django.conf import settings
from drf_spectacular.utils import OpenApiExample, extend_schema_serializer
from rest_framework import serializers

from stations.models import Command, Connector, Evse, Location, MeterSample, OcppMessage, Session, Station
from stations.network.passwords import MAX_LENGTH, MIN_LENGTH
from stations.services import StationError, tags_normalise


class LocationSerializer(serializers.ModelSerializer):
    """A site with its address, coordinates and IANA time zone."""

    class Meta:
        model = Location
        fields = [
            "id",
            "name",
            "address",
            "city",
            "postal_code",
            "country",
            "latitude",
            "longitude",
            "time_zone",
            "is_public",
            "created_at",
        ]
        read_only_fields = ["id", "created_at"]

    def validate_time_zone(self, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise serializers.ValidationError("not an IANA time zone (e.g. Europe/Amsterdam)") from None
        return value


class ConnectorSerializer(serializers.ModelSerializer):
    """A connector with its live status as the station last reported it."""

    class Meta:
        model = Connector
        fields = [
            "connector_id",
            "standard",
            "power_type",
            "max_power_w",
            "status",
            "error_code",
            "vendor_error_code",
            "info",
            "status_updated_at",
        ]


class EvseSerializer(serializers.ModelSerializer):
    connectors = ConnectorSerializer(many=True, read_only=True)

    class Meta:
        model = Evse
        fields = ["evse_id", "connectors"]


class StationSerializer(serializers.ModelSerializer):
    """A station with its settings, what it told us at boot, its presence and its connectors' state."""

    evses = EvseSerializer(many=True, read_only=True)
    tags = serializers.SlugRelatedField(many=True, read_only=True, slug_field="name")

    class Meta:
        model = Station
        fields = [
            "id",
            "identity",
            "name",
            "location",
            "tags",
            "ocpp_version",
            "security_profile",
            "registration_status",
            "is_public",
            "lenient",
            "heartbeat_interval",
            "vendor",
            "model",
            "serial_number",
            "firmware_version",
            "is_online",
            "last_seen_at",
            "last_boot_at",
            "connected_since",
            "created_at",
            "evses",
        ]
        read_only_fields = fields


class StationUpdateSerializer(serializers.ModelSerializer):
    """The settings of a station an operator may change."""

    tags = serializers.ListField(
        child=serializers.CharField(max_length=40),
        required=False,
        max_length=20,
        help_text='The station\'s tags, replacing those it has (normalised: lower case, spaces → "-")',
    )

    class Meta:
        model = Station
        fields = [
            "name",
            "tags",
            "location",
            "ocpp_version",
            "security_profile",
            "registration_status",
            "is_public",
            "lenient",
            "heartbeat_interval",
        ]
        extra_kwargs = {"heartbeat_interval": {"min_value": 10, "max_value": 86400}}

    def validate_tags(self, value: list[str]) -> list[str]:
        try:
            return tags_normalise(value)
        except StationError as exc:
            raise serializers.ValidationError(str(exc)) from None


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "A 1.6 station with two EVSEs",
            value={"identity": "CP-0042", "ocpp_version": "1.6", "name": "Car park level 2", "evses": 2},
            request_only=True,
        )
    ]
)
class StationCreateSerializer(StationUpdateSerializer):
    """Register a station; leave `password` out to have a strong one generated."""

    identity = serializers.RegexField(
        r"^[^:/\s]{1,48}$",
        max_length=48,
        help_text="The last part of the station's WebSocket URL: 1–48 characters, no ':', '/' or spaces",
    )
    password = serializers.CharField(
        required=False,
        min_length=MIN_LENGTH,
        max_length=MAX_LENGTH,
        write_only=True,
        help_text="Basic-auth password; generated when left out. Returned once, in the response.",
    )
    evses = serializers.IntegerField(min_value=1, max_value=32, default=1)
    connectors_per_evse = serializers.IntegerField(min_value=1, max_value=8, default=1)

    class Meta(StationUpdateSerializer.Meta):
        fields = [
            "identity",
            "password",
            "evses",
            "connectors_per_evse",
            *StationUpdateSerializer.Meta.fields,
        ]


class StationWithPasswordSerializer(StationSerializer):
    """A station as just registered or re-keyed: `password` is shown this once."""

    password = serializers.CharField(help_text="The station's Basic-auth password; it is not stored in clear")

    class Meta(StationSerializer.Meta):
        fields = [*StationSerializer.Meta.fields, "password"]
        read_only_fields = fields


class StationPasswordSerializer(serializers.Serializer):
    password = serializers.CharField(
        required=False,
        min_length=MIN_LENGTH,
        max_length=MAX_LENGTH,
        help_text="The new password; generated when left out",
    )


class StationPasswordResultSerializer(serializers.Serializer):
    identity = serializers.CharField()
    password = serializers.CharField(help_text="Shown once; the station must use it on its next connection")


class SessionSerializer(serializers.ModelSerializer):
    """A charging session (OCPP transaction) with its energy so far."""

    station = serializers.SlugRelatedField(slug_field="identity", read_only=True)
    evse_id = serializers.SerializerMethodField()
    connector_id = serializers.SerializerMethodField()
    id_token = serializers.PrimaryKeyRelatedField(read_only=True, help_text="The id token's API id")
    cost_url = serializers.SerializerMethodField(
        help_text="What the session costs so far (live) or its priced total (billing's cost endpoint)"
    )

    class Meta:
        model = Session
        fields = [
            "id",
            "station",
            "evse_id",
            "connector_id",
            "transaction_id",
            "id_token",
            "id_tag",
            "status",
            "started_at",
            "stopped_at",
            "meter_start_wh",
            "meter_stop_wh",
            "energy_wh",
            "stop_reason",
            "flags",
            "updated_at",
            "cost_url",
        ]
        read_only_fields = fields

    def get_cost_url(self, session: Session) -> str:
        return f"/api/v1/sessions/{session.pk}/cost/"

    def get_evse_id(self, session: Session) -> int | None:
        return session.evse.evse_id if session.evse else None

    def get_connector_id(self, session: Session) -> int | None:
        return session.connector.connector_id if session.connector else None


class MeterSampleSerializer(serializers.ModelSerializer):
    """One sampled value, normalised (energy in Wh, power in W)."""

    class Meta:
        model = MeterSample
        fields = ["id", "timestamp", "evse_id", "measurand", "phase", "location", "context", "unit", "value"]
        read_only_fields = fields


class CommandSerializer(serializers.ModelSerializer):
    """A command sent to a station: its status, and the station's response once it answered."""

    id = serializers.UUIDField(source="uuid", read_only=True)
    station = serializers.SlugRelatedField(slug_field="identity", read_only=True)
    requested_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Command
        fields = [
            "id",
            "station",
            "action",
            "payload",
            "status",
            "response",
            "error",
            "requested_by",
            "created_at",
            "sent_at",
            "completed_at",
            "expires_at",
        ]
        read_only_fields = fields


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Soft reset, wait 10 s", value={"action": "Reset", "payload": {"type": "Soft"}, "wait": 10}
        ),
        OpenApiExample(
            "Read a configuration key (1.6)",
            value={"action": "GetConfiguration", "payload": {"key": ["HeartbeatInterval"]}},
        ),
    ]
)
class CommandCreateSerializer(serializers.Serializer):
    action = serializers.CharField(max_length=50, help_text="An OCPP action the station's version supports")
    payload = serializers.DictField(
        default=dict, help_text="The action's OCPP payload; checked against the OCPP JSON schema"
    )
    wait = serializers.FloatField(
        required=False,
        min_value=0,
        max_value=60,
        help_text="Seconds to wait for the station's answer before responding (capped by API_COMMAND_MAX_WAIT)",
    )
    expires_in = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=7 * 86400,
        help_text="Seconds the command may wait for an offline station; default OCPP_COMMAND_EXPIRY",
    )

    def validate_wait(self, value: float) -> float:
        return min(value, settings.API_COMMAND_MAX_WAIT)


class RemoteStartSerializer(serializers.Serializer):
    evse_id = serializers.IntegerField(min_value=1, help_text="The EVSE (1.6: connector) to start on")
    id_token = serializers.CharField(max_length=36, help_text="The uid of the card the session is for")
    wait = serializers.FloatField(required=False, min_value=0, max_value=60, help_text="As for commands")

    def validate_wait(self, value: float) -> float:
        return min(value, settings.API_COMMAND_MAX_WAIT)


class NetworkProfileSerializer(serializers.Serializer):
    configuration_slot = serializers.IntegerField(min_value=1, help_text="The station's profile slot")
    security_profile = serializers.IntegerField(
        min_value=1, max_value=3, required=False, help_text="Default: the station's; never lower"
    )
    csms_url = serializers.CharField(
        max_length=512, required=False, allow_blank=True, help_text="Default: ChargeNet's OCPP endpoint"
    )
    message_timeout = serializers.IntegerField(min_value=1, max_value=3600, default=30)
    ocpp_interface = serializers.CharField(max_length=10, default="Wired0")
    wait = serializers.FloatField(required=False, min_value=0, max_value=60, help_text="As for commands")

    def validate_wait(self, value: float) -> float:
        return min(value, settings.API_COMMAND_MAX_WAIT)


class RemoteStopSerializer(serializers.Serializer):
    wait = serializers.FloatField(required=False, min_value=0, max_value=60, help_text="As for commands")

    def validate_wait(self, value: float) -> float:
        return min(value, settings.API_COMMAND_MAX_WAIT)


class OcppMessageSerializer(serializers.ModelSerializer):
    """One OCPP frame as it was on the wire."""

    class Meta:
        model = OcppMessage
        fields = [
            "id",
            "identity",
            "direction",
            "message_type",
            "message_id",
            "action",
            "payload",
            "created_at",
        ]
        read_only_fields = fields


class FaultSerializer(serializers.ModelSerializer):
    """A connector that reports a fault now (status Faulted or an error code other than NoError)."""

    station = serializers.CharField(source="evse.station.identity", read_only=True)
    evse_id = serializers.IntegerField(source="evse.evse_id", read_only=True)

    class Meta:
        model = Connector
        fields = [
            "station",
            "evse_id",
            "connector_id",
            "status",
            "error_code",
            "vendor_error_code",
            "info",
            "status_updated_at",
        ]
        read_only_fields = fields
