"""REST API of the device model room (under /api/v1/stations/<identity>/): the stored device model,
typed GetVariables / SetVariables / GetBaseReport, and display messages. Each POST queues one durable
command (as POST …/commands/ does) and, with `wait`, answers with the station's response."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from chargenet.api.base import ApiView
from chargenet.api.permissions import IsStaffReadOperateWrite
from stations.api.views import _command_created, _station
from stations.devicemodel import selectors, services
from stations.models import DeviceVariable, DisplayMessage


class DeviceVariableSerializer(serializers.ModelSerializer):
    """One attribute of a component's variable as the station last reported or confirmed it."""

    class Meta:
        model = DeviceVariable
        fields = [
            "component",
            "component_instance",
            "evse_id",
            "connector_id",
            "variable",
            "variable_instance",
            "attribute_type",
            "value",
            "mutability",
            "persistent",
            "constant",
            "characteristics",
            "last_status",
            "last_status_info",
            "last_status_at",
            "updated_at",
        ]


class VariableRefSerializer(serializers.Serializer):
    component = serializers.CharField(max_length=50)
    component_instance = serializers.CharField(max_length=50, required=False, allow_blank=True)
    evse_id = serializers.IntegerField(min_value=0, required=False, allow_null=True)
    connector_id = serializers.IntegerField(min_value=0, required=False, allow_null=True)
    variable = serializers.CharField(max_length=50)
    variable_instance = serializers.CharField(max_length=50, required=False, allow_blank=True)
    attribute_type = serializers.ChoiceField(
        choices=["Actual", "Target", "MinSet", "MaxSet"], required=False, help_text="Default Actual"
    )


class VariableSetSerializer(VariableRefSerializer):
    value = serializers.CharField(max_length=1000, allow_blank=True)


class _Wait(serializers.Serializer):
    wait = serializers.FloatField(required=False, min_value=0, max_value=60, help_text="As for commands")


class VariablesGetRequestSerializer(_Wait):
    variables = VariableRefSerializer(many=True, allow_empty=False)


class VariablesSetRequestSerializer(_Wait):
    variables = VariableSetSerializer(many=True, allow_empty=False)


class BaseReportRequestSerializer(_Wait):
    report_base = serializers.ChoiceField(
        choices=["ConfigurationInventory", "FullInventory", "SummaryInventory"], default="FullInventory"
    )


class DisplayMessageSerializer(serializers.ModelSerializer):
    class Meta:
        model = DisplayMessage
        fields = [
            "message_id",
            "priority",
            "state",
            "content",
            "format",
            "language",
            "start_at",
            "end_at",
            "transaction_id",
            "updated_at",
        ]


class DisplayMessageSetSerializer(_Wait):
    message_id = serializers.IntegerField(min_value=0)
    content = serializers.CharField(max_length=512)
    priority = serializers.ChoiceField(
        choices=["AlwaysFront", "InFront", "NormalCycle"], default="NormalCycle"
    )
    format = serializers.ChoiceField(choices=["ASCII", "HTML", "URI", "UTF8"], default="UTF8")
    language = serializers.CharField(max_length=8, required=False, allow_blank=True)
    state = serializers.ChoiceField(choices=["Charging", "Faulted", "Idle", "Unavailable"], required=False)
    start_at = serializers.DateTimeField(required=False)
    end_at = serializers.DateTimeField(required=False)
    transaction_id = serializers.CharField(max_length=36, required=False, allow_blank=True)


def _command_response():
    from stations.api.serializers import CommandSerializer

    return {201: CommandSerializer}


@extend_schema(tags=["device model"])
class DeviceModelApi(ApiView):
    permission_classes = [IsStaffReadOperateWrite]

    @extend_schema(summary="A 2.0.1 station's device model", responses=DeviceVariableSerializer(many=True))
    def get(self, request, identity: str):
        station = _station(request, identity)
        rows = [row for group in selectors.device_model_components(station=station).values() for row in group]
        return Response(DeviceVariableSerializer(rows, many=True).data)


@extend_schema(tags=["device model"])
class VariablesGetApi(ApiView):
    permission_classes = [IsStaffReadOperateWrite]
    audit_object_type = "station"
    audit_lookup = "identity"

    @extend_schema(
        summary="Read variables (GetVariables)",
        request=VariablesGetRequestSerializer,
        responses=_command_response(),
        description="Sends GetVariables; each attribute's result and value are stored in the device model.",
    )
    def post(self, request, identity: str):
        station = _station(request, identity)
        serializer = VariablesGetRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        command = services.variables_get_request(
            station=station, variables=data["variables"], requested_by=request.user
        )
        return _command_created(command, data.get("wait"))


@extend_schema(tags=["device model"])
class VariablesSetApi(ApiView):
    permission_classes = [IsStaffReadOperateWrite]
    audit_object_type = "station"
    audit_lookup = "identity"

    @extend_schema(
        summary="Change variables (SetVariables)",
        request=VariablesSetRequestSerializer,
        responses=_command_response(),
        description="Sends SetVariables; the station's result per attribute (Accepted, Rejected, "
        "RebootRequired, UnknownComponent, UnknownVariable, NotSupportedAttributeType) is in the "
        "command's response and stored on the variable.",
    )
    def post(self, request, identity: str):
        station = _station(request, identity)
        serializer = VariablesSetRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        command = services.variables_set_request(
            station=station, variables=data["variables"], requested_by=request.user
        )
        return _command_created(command, data.get("wait"))


@extend_schema(tags=["device model"])
class BaseReportApi(ApiView):
    permission_classes = [IsStaffReadOperateWrite]
    audit_object_type = "station"
    audit_lookup = "identity"

    @extend_schema(
        summary="Ask for the device model (GetBaseReport)",
        request=BaseReportRequestSerializer,
        responses=_command_response(),
        description="Sends GetBaseReport; the NotifyReport parts the station then sends are stored as its "
        "device model (GET …/device-model/).",
    )
    def post(self, request, identity: str):
        station = _station(request, identity)
        serializer = BaseReportRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        command = services.base_report_request(
            station=station, report_base=data["report_base"], requested_by=request.user
        )
        return _command_created(command, data.get("wait"))


@extend_schema(tags=["device model"])
class DisplayMessageListApi(ApiView):
    permission_classes = [IsStaffReadOperateWrite]
    audit_object_type = "station"
    audit_lookup = "identity"

    @extend_schema(summary="Messages the station shows", responses=DisplayMessageSerializer(many=True))
    def get(self, request, identity: str):
        station = _station(request, identity)
        return Response(DisplayMessageSerializer(selectors.display_messages(station=station), many=True).data)

    @extend_schema(
        summary="Show a message (SetDisplayMessage)",
        request=DisplayMessageSetSerializer,
        responses=_command_response(),
        description="Sends SetDisplayMessage; the message is listed once the station accepts it.",
    )
    def post(self, request, identity: str):
        station = _station(request, identity)
        serializer = DisplayMessageSetSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        command = services.display_message_set_request(
            station=station,
            message_id=data["message_id"],
            content=data["content"],
            priority=data["priority"],
            message_format=data["format"],
            language=data.get("language", ""),
            state=data.get("state", ""),
            start_at=data.get("start_at"),
            end_at=data.get("end_at"),
            transaction_id=data.get("transaction_id", ""),
            requested_by=request.user,
        )
        return _command_created(command, data.get("wait"))


class DisplayMessagesRequestSerializer(_Wait):
    pass


@extend_schema(tags=["device model"])
class DisplayMessagesRequestApi(ApiView):
    permission_classes = [IsStaffReadOperateWrite]
    audit_object_type = "station"
    audit_lookup = "identity"

    @extend_schema(
        summary="Ask for the messages shown (GetDisplayMessages)",
        request=DisplayMessagesRequestSerializer,
        responses=_command_response(),
        description="Sends GetDisplayMessages; the NotifyDisplayMessages that follow are stored.",
    )
    def post(self, request, identity: str):
        station = _station(request, identity)
        serializer = DisplayMessagesRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        command = services.display_messages_get_request(station=station, requested_by=request.user)
        return _command_created(command, serializer.validated_data.get("wait"))


@extend_schema(tags=["device model"])
class DisplayMessageClearApi(ApiView):
    permission_classes = [IsStaffReadOperateWrite]
    audit_object_type = "station"
    audit_lookup = "identity"

    @extend_schema(
        summary="Remove a message (ClearDisplayMessage)",
        request=_Wait,
        responses=_command_response(),
        description="Sends ClearDisplayMessage; the message is no longer listed once the station accepts.",
    )
    def post(self, request, identity: str, message_id: int):
        station = _station(request, identity)
        serializer = _Wait(data=request.data)
        serializer.is_valid(raise_exception=True)
        command = services.display_message_clear_request(
            station=station, message_id=message_id, requested_by=request.user
        )
        return _command_created(command, serializer.validated_data.get("wait"))
