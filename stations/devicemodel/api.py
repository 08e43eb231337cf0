"""REST API of the device model room (under /api/v1/stations/<identity>/): the stored device model,
typed GetVariables / SetVariables / GetBaseReport, and display messages. Each POST queues one durable
command (as POST …/commands/ does) and, with `wait`, answers with the station's response."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from chargenet.api.base import ApiView
from chargenet.api.permissions import IsStaffReadOperateWrite
from stations.api.views import _command_created, _station
from stations.devicemodel import selectors, services
from stations.models import DeviceMonitor, DeviceVariable, DisplayMessage
from stations.services import command_wait


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


class ComponentVariableSerializer(serializers.Serializer):
    component = serializers.CharField(max_length=50)
    component_instance = serializers.CharField(max_length=50, required=False, allow_blank=True)
    evse_id = serializers.IntegerField(min_value=0, required=False, allow_null=True)
    connector_id = serializers.IntegerField(min_value=0, required=False, allow_null=True)
    variable = serializers.CharField(
        max_length=50, required=False, allow_blank=True, help_text="None: every variable of the component"
    )
    variable_instance = serializers.CharField(max_length=50, required=False, allow_blank=True)


class CustomReportRequestSerializer(_Wait):
    component_criteria = serializers.ListField(
        child=serializers.ChoiceField(choices=list(services.COMPONENT_CRITERIA)), required=False
    )
    variables = ComponentVariableSerializer(many=True, required=False)


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


def _commands_created(commands: list, wait: float | None):
    """As _command_created for the first command; with `wait`, every command waited for in turn."""
    if wait:
        for command in commands[1:]:
            command_wait(command=command, timeout=wait)
    return _command_created(commands[0], wait)


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
        description="Sends GetVariables; each attribute's result and value are stored in the device model. "
        "A station that takes fewer items per message (DeviceDataCtrlr.ItemsPerMessage[GetVariables]) gets "
        "several requests: the answer is the first command, the others follow it in …/commands/.",
    )
    def post(self, request, identity: str):
        station = _station(request, identity)
        serializer = VariablesGetRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        commands = services.variables_get_request(
            station=station, variables=data["variables"], requested_by=request.user
        )
        return _commands_created(commands, data.get("wait"))


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
        "command's response and stored on the variable. Split as GetVariables is "
        "(ItemsPerMessage[SetVariables]).",
    )
    def post(self, request, identity: str):
        station = _station(request, identity)
        serializer = VariablesSetRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        commands = services.variables_set_request(
            station=station, variables=data["variables"], requested_by=request.user
        )
        return _commands_created(commands, data.get("wait"))


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
class CustomReportApi(ApiView):
    permission_classes = [IsStaffReadOperateWrite]
    audit_object_type = "station"
    audit_lookup = "identity"

    @extend_schema(
        summary="Ask for part of the device model (GetReport)",
        request=CustomReportRequestSerializer,
        responses=_command_response(),
        description="Sends GetReport for the components that match the criteria (Active, Available, "
        "Enabled, Problem) and/or the listed components and variables; the NotifyReport parts are stored "
        "as the device model. EmptyResultSet (nothing matched) ends the command accepted.",
    )
    def post(self, request, identity: str):
        station = _station(request, identity)
        serializer = CustomReportRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        command = services.custom_report_request(
            station=station,
            component_criteria=data.get("component_criteria"),
            variables=data.get("variables"),
            requested_by=request.user,
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
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=0),
        required=False,
        help_text="Only the messages with these ids (none: every message)",
    )
    priority = serializers.ChoiceField(
        choices=["AlwaysFront", "InFront", "NormalCycle"], required=False, help_text="Only this priority"
    )
    state = serializers.ChoiceField(
        choices=["Charging", "Faulted", "Idle", "Unavailable"], required=False, help_text="Only this state"
    )


@extend_schema(tags=["device model"])
class DisplayMessagesRequestApi(ApiView):
    permission_classes = [IsStaffReadOperateWrite]
    audit_object_type = "station"
    audit_lookup = "identity"

    @extend_schema(
        summary="Ask for the messages shown (GetDisplayMessages)",
        request=DisplayMessagesRequestSerializer,
        responses=_command_response(),
        description="Sends GetDisplayMessages, for every message or only those matching `ids`, "
        "`priority` and `state`; the NotifyDisplayMessages that follow are stored, and the stored "
        "messages that match but were not reported (or all that match, when the station answers "
        "Unknown) are no longer listed.",
    )
    def post(self, request, identity: str):
        station = _station(request, identity)
        serializer = DisplayMessagesRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        command = services.display_messages_get_request(
            station=station,
            ids=data.get("ids"),
            priority=data.get("priority", ""),
            state=data.get("state", ""),
            requested_by=request.user,
        )
        return _command_created(command, data.get("wait"))


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


# --- N Monitoring and customer information ---------------------------------------------------------


class DeviceMonitorSerializer(serializers.ModelSerializer):
    class Meta:
        model = DeviceMonitor
        fields = [
            "monitor_id",
            "component",
            "component_instance",
            "evse_id",
            "connector_id",
            "variable",
            "variable_instance",
            "type",
            "severity",
            "value",
            "transaction",
            "updated_at",
        ]


MONITOR_TYPES = ["UpperThreshold", "LowerThreshold", "Delta", "Periodic", "PeriodicClockAligned"]


class MonitorSetSerializer(serializers.Serializer):
    component = serializers.CharField(max_length=50)
    component_instance = serializers.CharField(max_length=50, required=False, allow_blank=True)
    evse_id = serializers.IntegerField(min_value=0, required=False, allow_null=True)
    connector_id = serializers.IntegerField(min_value=0, required=False, allow_null=True)
    variable = serializers.CharField(max_length=50)
    variable_instance = serializers.CharField(max_length=50, required=False, allow_blank=True)
    type = serializers.ChoiceField(choices=MONITOR_TYPES)
    value = serializers.FloatField()
    severity = serializers.IntegerField(min_value=0, max_value=9)
    transaction = serializers.BooleanField(required=False, default=False)
    monitor_id = serializers.IntegerField(
        min_value=0, required=False, allow_null=True, help_text="Replace this monitor"
    )


class MonitorsSetRequestSerializer(_Wait):
    monitors = MonitorSetSerializer(many=True, allow_empty=False)


class MonitorsClearRequestSerializer(_Wait):
    monitor_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=0), allow_empty=False, max_length=100
    )


class MonitoringReportRequestSerializer(_Wait):
    criteria = serializers.ListField(
        child=serializers.ChoiceField(
            choices=["ThresholdMonitoring", "DeltaMonitoring", "PeriodicMonitoring"]
        ),
        required=False,
        max_length=3,
    )
    component_variables = ComponentVariableSerializer(
        many=True, required=False, help_text="Only the monitors on these components (and variables)"
    )


class MonitoringBaseRequestSerializer(_Wait):
    monitoring_base = serializers.ChoiceField(choices=["All", "FactoryDefault", "HardWiredOnly"])


class MonitoringLevelRequestSerializer(_Wait):
    severity = serializers.IntegerField(min_value=0, max_value=9)


class CustomerCertificateHashSerializer(serializers.Serializer):
    hash_algorithm = serializers.ChoiceField(choices=["SHA256", "SHA384", "SHA512"])
    issuer_name_hash = serializers.CharField(max_length=128)
    issuer_key_hash = serializers.CharField(max_length=128)
    serial_number = serializers.CharField(max_length=40)


class CustomerInformationRequestSerializer(_Wait):
    id_token = serializers.CharField(max_length=36, required=False, allow_blank=True)
    id_token_type = serializers.ChoiceField(
        choices=[
            "Central",
            "eMAID",
            "ISO14443",
            "ISO15693",
            "KeyCode",
            "Local",
            "MacAddress",
            "NoAuthorization",
        ],
        default="ISO14443",
    )
    customer_identifier = serializers.CharField(max_length=64, required=False, allow_blank=True)
    customer_certificate = CustomerCertificateHashSerializer(
        required=False, help_text="The customer's (ISO 15118 contract) certificate, by its hash data"
    )
    report = serializers.BooleanField(default=True, help_text="Ask for the data the station holds")
    clear = serializers.BooleanField(default=False, help_text="Erase it on the station (GDPR)")

    def validate(self, attrs):
        if not (
            attrs.get("id_token") or attrs.get("customer_identifier") or attrs.get("customer_certificate")
        ):
            raise serializers.ValidationError(
                "name the customer: id_token, customer_identifier or customer_certificate"
            )
        if not attrs["report"] and not attrs["clear"]:
            raise serializers.ValidationError("ask for a report, a clear, or both")
        return attrs


class CustomerInformationSerializer(serializers.Serializer):
    command = serializers.UUIDField()
    request_id = serializers.IntegerField()
    id_token = serializers.CharField()
    customer_identifier = serializers.CharField()
    report = serializers.BooleanField()
    clear = serializers.BooleanField()
    requested_at = serializers.DateTimeField()
    status = serializers.CharField(
        help_text="The station's answer (Accepted, Rejected, Invalid) or the command's"
    )
    complete = serializers.BooleanField(help_text="All parts of the data arrived")
    data = serializers.CharField(help_text="What the station holds about the customer")


def _certificate_hash_data(data: dict | None) -> dict[str, str] | None:
    """CertificateHashDataType as OCPP spells it."""
    if not data:
        return None
    return {
        "hashAlgorithm": data["hash_algorithm"],
        "issuerNameHash": data["issuer_name_hash"],
        "issuerKeyHash": data["issuer_key_hash"],
        "serialNumber": data["serial_number"],
    }


def _post(request, identity: str, serializer_class, send):
    station = _station(request, identity)
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    data = serializer.validated_data
    command = send(station, data)
    return _command_created(command, data.get("wait"))


@extend_schema(tags=["device model"])
class MonitorListApi(ApiView):
    permission_classes = [IsStaffReadOperateWrite]
    audit_object_type = "station"
    audit_lookup = "identity"

    @extend_schema(summary="The station's variable monitors", responses=DeviceMonitorSerializer(many=True))
    def get(self, request, identity: str):
        station = _station(request, identity)
        return Response(DeviceMonitorSerializer(selectors.device_monitors(station=station), many=True).data)

    @extend_schema(
        summary="Set monitors (SetVariableMonitoring)",
        request=MonitorsSetRequestSerializer,
        responses=_command_response(),
        description="Sends SetVariableMonitoring; each monitor the station accepts is listed under the id "
        "the station gave it; the per-monitor result is in the command's response.",
    )
    def post(self, request, identity: str):
        return _post(
            request,
            identity,
            MonitorsSetRequestSerializer,
            lambda station, data: services.variable_monitoring_set_request(
                station=station, monitors=data["monitors"], requested_by=request.user
            ),
        )


@extend_schema(tags=["device model"])
class MonitorsClearApi(ApiView):
    permission_classes = [IsStaffReadOperateWrite]
    audit_object_type = "station"
    audit_lookup = "identity"

    @extend_schema(
        summary="Remove monitors (ClearVariableMonitoring)",
        request=MonitorsClearRequestSerializer,
        responses=_command_response(),
        description="Sends ClearVariableMonitoring; monitors the station clears (or does not know) are no "
        "longer listed. When the station takes fewer ids per message (MonitoringCtrlr ItemsPerMessage / "
        "BytesPerMessage of ClearVariableMonitoring in its device model), the ids go in several commands, "
        "sent in order; the answer is the last of them.",
    )
    def post(self, request, identity: str):
        return _post(
            request,
            identity,
            MonitorsClearRequestSerializer,
            lambda station, data: services.variable_monitoring_clear_request(
                station=station, monitor_ids=data["monitor_ids"], requested_by=request.user
            )[-1],
        )


@extend_schema(tags=["device model"])
class MonitoringReportApi(ApiView):
    permission_classes = [IsStaffReadOperateWrite]
    audit_object_type = "station"
    audit_lookup = "identity"

    @extend_schema(
        summary="Ask for the monitors (GetMonitoringReport)",
        request=MonitoringReportRequestSerializer,
        responses=_command_response(),
        description="Sends GetMonitoringReport, optionally only for some monitoring criteria and "
        "components; the NotifyMonitoringReport parts that follow are stored (GET …/monitors/), and the "
        "listed monitors the request covered that the station no longer has (EmptyResultSet, or not in "
        "its complete report) are dropped.",
    )
    def post(self, request, identity: str):
        return _post(
            request,
            identity,
            MonitoringReportRequestSerializer,
            lambda station, data: services.monitoring_report_request(
                station=station,
                criteria=data.get("criteria"),
                component_variables=data.get("component_variables"),
                requested_by=request.user,
            ),
        )


@extend_schema(tags=["device model"])
class MonitoringBaseApi(ApiView):
    permission_classes = [IsStaffReadOperateWrite]
    audit_object_type = "station"
    audit_lookup = "identity"

    @extend_schema(
        summary="Choose the monitoring base (SetMonitoringBase)",
        request=MonitoringBaseRequestSerializer,
        responses=_command_response(),
    )
    def post(self, request, identity: str):
        return _post(
            request,
            identity,
            MonitoringBaseRequestSerializer,
            lambda station, data: services.monitoring_base_set_request(
                station=station, monitoring_base=data["monitoring_base"], requested_by=request.user
            ),
        )


@extend_schema(tags=["device model"])
class MonitoringLevelApi(ApiView):
    permission_classes = [IsStaffReadOperateWrite]
    audit_object_type = "station"
    audit_lookup = "identity"

    @extend_schema(
        summary="Choose the severity reported (SetMonitoringLevel)",
        request=MonitoringLevelRequestSerializer,
        responses=_command_response(),
    )
    def post(self, request, identity: str):
        return _post(
            request,
            identity,
            MonitoringLevelRequestSerializer,
            lambda station, data: services.monitoring_level_set_request(
                station=station, severity=data["severity"], requested_by=request.user
            ),
        )


@extend_schema(tags=["device model"])
class CustomerInformationApi(ApiView):
    permission_classes = [IsStaffReadOperateWrite]
    audit_object_type = "station"
    audit_lookup = "identity"

    @extend_schema(
        summary="Customer information requests and the data returned",
        parameters=[OpenApiParameter("id_token", str, description="Only the requests about this card")],
        responses=CustomerInformationSerializer(many=True),
    )
    def get(self, request, identity: str):
        station = _station(request, identity)
        rows = selectors.customer_information_requests(
            station=station, id_token=str(request.query_params.get("id_token", ""))[:36]
        )
        return Response(CustomerInformationSerializer(rows, many=True).data)

    @extend_schema(
        summary="Ask for / erase a customer's data (CustomerInformation)",
        request=CustomerInformationRequestSerializer,
        responses=_command_response(),
        description="Sends CustomerInformation for a card, customer identifier or customer certificate "
        "(a GDPR request): "
        "`report` asks for the data the station holds, `clear` erases it there. The data the station "
        "sends (NotifyCustomerInformation) is listed by GET.",
    )
    def post(self, request, identity: str):
        return _post(
            request,
            identity,
            CustomerInformationRequestSerializer,
            lambda station, data: services.customer_information_request(
                station=station,
                id_token=data.get("id_token", ""),
                id_token_type=data["id_token_type"],
                customer_identifier=data.get("customer_identifier", ""),
                certificate=_certificate_hash_data(data.get("customer_certificate")),
                report=data["report"],
                clear=data["clear"],
                requested_by=request.user,
            ),
        )


# --- A driver's GDPR request to every 2.0.1 station -------------------------------------------------


class CustomerDataRequestWriteSerializer(serializers.Serializer):
    driver = serializers.IntegerField(required=False, help_text="The driver whose cards it is about")
    id_tokens = serializers.ListField(
        child=serializers.CharField(max_length=36),
        required=False,
        max_length=20,
        help_text="Card uids (instead of, or besides, the driver's cards)",
    )
    report = serializers.BooleanField(default=False, help_text="Ask every station for the data it holds")
    clear = serializers.BooleanField(default=True, help_text="Erase the data on every station")

    def validate(self, attrs):
        from rfid.models import Driver, IdToken

        uids = list(attrs.get("id_tokens") or [])
        attrs["driver_object"] = None
        if attrs.get("driver") is not None:
            driver = Driver.objects.filter(pk=attrs["driver"]).first()
            if driver is None:
                raise serializers.ValidationError({"driver": "no such driver"})
            attrs["driver_object"] = driver
            uids += IdToken.objects.filter(driver=driver).values_list("uid", flat=True)
        if not uids:
            raise serializers.ValidationError("name the customer: a driver with cards, or id_tokens")
        attrs["uids"] = uids
        return attrs


class CustomerDataResultSerializer(CustomerInformationSerializer):
    station = serializers.CharField()


class CustomerDataRequestSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    driver = serializers.IntegerField(source="driver_id", allow_null=True)
    id_tokens = serializers.ListField(child=serializers.CharField())
    report = serializers.BooleanField()
    clear = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    results = serializers.SerializerMethodField(help_text="Per station and card: its answer and data")

    def get_results(self, request) -> list[dict]:
        rows = selectors.customer_data_request_results(request=request)
        return CustomerDataResultSerializer(rows, many=True).data


@extend_schema(tags=["device model"])
class CustomerDataRequestListApi(ApiView):
    permission_classes = [IsStaffReadOperateWrite]

    @extend_schema(
        summary="Network-wide GDPR requests",
        parameters=[OpenApiParameter("driver", int, description="Only the requests about this driver")],
        responses=CustomerDataRequestSerializer(many=True),
    )
    def get(self, request):
        driver = request.query_params.get("driver")
        requests = selectors.customer_data_requests()
        if driver:
            # An id beyond the column's range names no driver (and must not reach the database).
            wanted = int(driver) if driver.isdigit() and len(driver) <= 18 else 0
            requests = requests.filter(driver_id=wanted)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(requests, request, view=self)
        return paginator.get_paginated_response(CustomerDataRequestSerializer(page, many=True).data)

    @extend_schema(
        summary="Ask every 2.0.1 station for / erase a driver's data (CustomerInformation)",
        request=CustomerDataRequestWriteSerializer,
        responses={201: CustomerDataRequestSerializer},
        description="One durable CustomerInformation command per 2.0.1 station and card (`report`, "
        "`clear`); offline stations get it when they connect (within a month). GET …/<id>/ shows "
        "each station's answer and the data it returned.",
    )
    def post(self, request):
        serializer = CustomerDataRequestWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        created = services.customer_data_request_all_stations(
            id_tokens=data["uids"],
            driver=data["driver_object"],
            report=data["report"],
            clear=data["clear"],
            requested_by=request.user,
        )
        return Response(CustomerDataRequestSerializer(created).data, status=201)


@extend_schema(tags=["device model"])
class CustomerDataRequestDetailApi(ApiView):
    permission_classes = [IsStaffReadOperateWrite]

    @extend_schema(
        summary="One network-wide GDPR request with every station's answer",
        responses=CustomerDataRequestSerializer,
    )
    def get(self, request, pk: int):
        from django.http import Http404

        found = selectors.customer_data_requests().filter(pk=pk).first()
        if found is None:
            raise Http404
        return Response(CustomerDataRequestSerializer(found).data)
