"""REST API of the stations app (under /api/v1/): parse → one service or selector call → render."""

from django.db.models import Q
from django.shortcuts import get_object_or_404
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.filters import OrderingFilter
from rest_framework.response import Response

from chargenet.api.base import ApiMixin, ApiView
from chargenet.api.filters import IdFilter, IsoDateTimeFilter
from chargenet.api.pagination import ApiCursorPagination
from chargenet.api.permissions import IsStaffOrDriverRead, IsStaffReadOperateWrite
from stations import services
from stations.api.serializers import (
    CommandCreateSerializer,
    CommandSerializer,
    FaultSerializer,
    LocationSerializer,
    MeterSampleSerializer,
    NetworkProfileSerializer,
    OcppMessageSerializer,
    RemoteStartSerializer,
    RemoteStopSerializer,
    SessionSerializer,
    StationCreateSerializer,
    StationPasswordResultSerializer,
    StationPasswordSerializer,
    StationSerializer,
    StationUpdateSerializer,
    StationWithPasswordSerializer,
)
from stations.models import Command, Connector, Location, MeterSample, OcppMessage, Session, Station
from stations.network import selectors

IDEMPOTENCY_PARAMETER = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    description="A unique key per intended action: a retried request with the same key (same user) gets "
    "the first response and never acts twice.",
)


def _visible_to(user, queryset, *, public_field: str = "is_public"):
    """Drivers see the public part of the network; operators see all of it."""
    if user.is_staff_member:
        return queryset
    return queryset.filter(**{public_field: True})


# --- locations --------------------------------------------------------------------------------
class LocationFilter(filters.FilterSet):
    name = filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = Location
        fields = ["name", "city", "country", "is_public"]


@extend_schema(tags=["locations"])
class LocationListApi(ApiMixin, generics.ListCreateAPIView):
    """Sites with stations. Drivers see public locations only."""

    queryset = Location.objects.none()  # for the schema; get_queryset() decides
    permission_classes = [IsStaffOrDriverRead]
    serializer_class = LocationSerializer
    filter_backends = [filters.DjangoFilterBackend, OrderingFilter]
    filterset_class = LocationFilter
    ordering_fields = ["name", "created_at"]
    ordering = ["name"]
    audit_object_type = "location"

    def get_queryset(self):
        return _visible_to(self.request.user, Location.objects.all())

    def perform_create(self, serializer):
        serializer.instance = services.location_create(**serializer.validated_data)


@extend_schema(tags=["locations"])
class LocationDetailApi(ApiMixin, generics.RetrieveUpdateAPIView):
    """One location; PATCH changes it (operators with an operate key)."""

    queryset = Location.objects.none()  # for the schema; get_queryset() decides
    permission_classes = [IsStaffOrDriverRead]
    serializer_class = LocationSerializer
    http_method_names = ["get", "patch", "head", "options"]
    audit_object_type = "location"
    audit_lookup = "pk"

    def get_queryset(self):
        return _visible_to(self.request.user, Location.objects.all())

    def perform_update(self, serializer):
        services.location_update(location=serializer.instance, **serializer.validated_data)


# --- stations ---------------------------------------------------------------------------------
class StationFilter(filters.FilterSet):
    status = filters.ChoiceFilter(
        choices=[("online", "online"), ("offline", "offline")],
        method="filter_status",
        help_text="online or offline",
    )
    connector_status = filters.ChoiceFilter(
        choices=Connector.Status.choices,
        field_name="evses__connectors__status",
        distinct=True,
        help_text="Stations with at least one connector in this status",
    )
    location = IdFilter(field_name="location_id")
    search = filters.CharFilter(method="filter_search", help_text="Part of the identity, name or location")
    tag = filters.CharFilter(
        method="filter_tag", help_text="Stations with this tag; several, comma-separated: with any of them"
    )

    class Meta:
        model = Station
        fields = [
            "status",
            "connector_status",
            "location",
            "ocpp_version",
            "registration_status",
            "search",
            "tag",
        ]

    def filter_status(self, queryset, name, value):
        return queryset.filter(is_online=value == "online")

    def filter_search(self, queryset, name, value):
        return queryset.filter(
            Q(identity__icontains=value) | Q(name__icontains=value) | Q(location__name__icontains=value)
        )

    def filter_tag(self, queryset, name, value):
        try:
            tags = services.tags_normalise(t for t in value.split(",") if t.strip())
        except services.StationError:
            return queryset.none()  # no station carries a tag that cannot exist
        return selectors.station_filter_tags(queryset, tags=tags)


@extend_schema(tags=["stations"])
class StationListApi(ApiMixin, generics.ListAPIView):
    """Stations with their EVSEs, connectors and live state. Drivers see public stations only."""

    queryset = Station.objects.none()  # for the schema; get_queryset() decides
    permission_classes = [IsStaffOrDriverRead]
    serializer_class = StationSerializer
    filter_backends = [filters.DjangoFilterBackend, OrderingFilter]
    filterset_class = StationFilter
    ordering_fields = ["identity", "created_at", "last_seen_at"]
    ordering = ["identity"]
    audit_object_type = "station"

    def get_queryset(self):
        return _visible_to(self.request.user, selectors.station_list())

    @extend_schema(
        summary="Register a station",
        request=StationCreateSerializer,
        responses={201: StationWithPasswordSerializer},
        description="Creates the station with its EVSEs and connectors. The Basic-auth password "
        "(given or generated) is in the response and never shown again.",
    )
    def post(self, request):
        serializer = StationCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        station, password = services.station_create(**serializer.validated_data)
        station = selectors.station_list().get(pk=station.pk)
        # The serialized station plus its password (StationWithPasswordSerializer documents the shape;
        # re-serializing the rendered dict would choke on the location's id).
        data = {**StationSerializer(station).data, "password": password}
        return Response(data, status=status.HTTP_201_CREATED)


def _station(request, identity: str) -> Station:
    return get_object_or_404(_visible_to(request.user, selectors.station_list()), identity=identity)


@extend_schema(tags=["stations"])
class StationDetailApi(ApiView):
    permission_classes = [IsStaffOrDriverRead]
    audit_object_type = "station"
    audit_lookup = "identity"

    @extend_schema(summary="A station with its live state", responses=StationSerializer)
    def get(self, request, identity: str):
        return Response(StationSerializer(_station(request, identity)).data)

    @extend_schema(
        summary="Change a station's settings", request=StationUpdateSerializer, responses=StationSerializer
    )
    def patch(self, request, identity: str):
        station = _station(request, identity)
        serializer = StationUpdateSerializer(station, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        services.station_update(station=station, **serializer.validated_data)
        return Response(StationSerializer(_station(request, identity)).data)

    @extend_schema(summary="Delete a station without sessions", responses={204: None})
    def delete(self, request, identity: str):
        services.station_delete(station=_station(request, identity))
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=["stations"])
class StationPasswordSetApi(ApiView):
    permission_classes = [IsStaffReadOperateWrite]
    audit_object_type = "station"
    audit_lookup = "identity"

    @extend_schema(
        summary="Set or generate a station's password",
        request=StationPasswordSerializer,
        responses=StationPasswordResultSerializer,
    )
    def post(self, request, identity: str):
        station = _station(request, identity)
        serializer = StationPasswordSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        password = services.station_password_set(station=station, **serializer.validated_data)
        return Response({"identity": station.identity, "password": password})


# --- commands ---------------------------------------------------------------------------------
class CommandFilter(filters.FilterSet):
    created_after = IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    station = filters.CharFilter(field_name="station__identity", help_text="Station identity")

    class Meta:
        model = Command
        fields = ["status", "action", "station", "created_after", "created_before"]


class _CommandPagination(ApiCursorPagination):
    ordering = "-created_at"


@extend_schema(tags=["commands"])
class CommandListApi(ApiMixin, generics.ListAPIView):
    """Commands sent to any station, newest first."""

    queryset = Command.objects.none()  # for the schema; get_queryset() decides
    permission_classes = [IsStaffReadOperateWrite]
    serializer_class = CommandSerializer
    pagination_class = _CommandPagination
    filter_backends = [filters.DjangoFilterBackend]
    filterset_class = CommandFilter

    def get_queryset(self):
        return Command.objects.select_related("station", "requested_by")


def _command_created(command: Command, wait: float | None) -> Response:
    """201 with the queued command; with `wait`, as it stands once answered or the time ran out."""
    if wait:
        command = services.command_wait(command=command, timeout=wait)
    return Response(CommandSerializer(command).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["commands"])
class StationCommandListApi(ApiMixin, generics.ListAPIView):
    """The commands of one station, newest first; POST sends a new one."""

    queryset = Command.objects.none()  # for the schema; get_queryset() decides
    permission_classes = [IsStaffReadOperateWrite]
    serializer_class = CommandSerializer
    pagination_class = _CommandPagination
    filter_backends = [filters.DjangoFilterBackend]
    filterset_class = CommandFilter
    audit_object_type = "command"

    def get_queryset(self):
        station = _station(self.request, self.kwargs["identity"])
        return Command.objects.filter(station=station).select_related("station", "requested_by")

    @extend_schema(
        summary="Send an OCPP command",
        request=CommandCreateSerializer,
        responses={201: CommandSerializer},
        parameters=[IDEMPOTENCY_PARAMETER],
        description="Queues any OCPP action the station's version supports (the payload is checked "
        "against the OCPP JSON schema). With `wait`, answers once the station responded or the time "
        "ran out; the command's `status` tells which. A command for an offline station waits in the "
        "queue until it reconnects or the command expires. A retry with the same Idempotency-Key gets "
        "the first response again (header `Idempotent-Replayed: true`).",
    )
    def post(self, request, identity: str):
        return self.idempotent(request, lambda: self._create(request, identity))

    def _create(self, request, identity: str) -> Response:
        station = _station(request, identity)
        serializer = CommandCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        command = services.command_create(
            station=station,
            action=data["action"],
            payload=data["payload"],
            requested_by=request.user,
            expires_in=data.get("expires_in"),
        )
        return _command_created(command, data.get("wait"))


@extend_schema(tags=["commands"])
class StationCommandDetailApi(ApiView):
    permission_classes = [IsStaffReadOperateWrite]

    @extend_schema(summary="A command with its status and response", responses=CommandSerializer)
    def get(self, request, identity: str, command_id):
        command = get_object_or_404(
            Command.objects.select_related("station", "requested_by"),
            station=_station(request, identity),
            uuid=command_id,
        )
        return Response(CommandSerializer(command).data)


@extend_schema(tags=["sessions"])
class StationRemoteStartApi(ApiView):
    permission_classes = [IsStaffReadOperateWrite]
    audit_object_type = "station"
    audit_lookup = "identity"

    @extend_schema(
        summary="Start a session remotely",
        request=RemoteStartSerializer,
        responses={201: CommandSerializer},
        parameters=[IDEMPOTENCY_PARAMETER],
        description="Asks the station to start charging on `evse_id` for the card `id_token`. Returns "
        "the RemoteStart command; send an Idempotency-Key so that a retry never starts a second session.",
    )
    def post(self, request, identity: str):
        return self.idempotent(request, lambda: self._start(request, identity))

    def _start(self, request, identity: str) -> Response:
        station = _station(request, identity)
        serializer = RemoteStartSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        command = services.session_remote_start(
            station=station,
            evse_id=data["evse_id"],
            id_token=data["id_token"],
            requested_by=request.user,
            idempotency_key=request.headers.get("Idempotency-Key", "")[:100],
        )
        return _command_created(command, data.get("wait"))


@extend_schema(tags=["commands"])
class StationNetworkProfileApi(ApiView):
    permission_classes = [IsStaffReadOperateWrite]
    audit_object_type = "station"
    audit_lookup = "identity"

    @extend_schema(
        summary="Give a 2.0.1 station a new connection profile (SetNetworkProfile)",
        request=NetworkProfileSerializer,
        responses={201: CommandSerializer},
        description="Sends SetNetworkProfile for a configuration slot: OCPP 2.0.1 over JSON to ChargeNet "
        "(or `csms_url`) with the station's security profile or a higher one. A station that accepted "
        "profile 3 is held to it once it connects with its client certificate.",
    )
    def post(self, request, identity: str):
        station = _station(request, identity)
        serializer = NetworkProfileSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        command = services.network_profile_set_request(
            station=station,
            configuration_slot=data["configuration_slot"],
            security_profile=data.get("security_profile"),
            csms_url=data.get("csms_url") or "",
            message_timeout=data["message_timeout"],
            ocpp_interface=data["ocpp_interface"],
            requested_by=request.user,
        )
        return _command_created(command, data.get("wait"))


# --- sessions ---------------------------------------------------------------------------------
class SessionFilter(filters.FilterSet):
    station = filters.CharFilter(field_name="station__identity", help_text="Station identity")
    location = IdFilter(field_name="station__location_id")
    id_tag = filters.CharFilter(lookup_expr="iexact")
    started_after = IsoDateTimeFilter(field_name="started_at", lookup_expr="gte")
    started_before = IsoDateTimeFilter(field_name="started_at", lookup_expr="lt")

    class Meta:
        model = Session
        fields = ["status", "station", "location", "id_tag", "started_after", "started_before"]


class _SessionPagination(ApiCursorPagination):
    ordering = "-started_at"


def _sessions_for(user):
    """Operators see every session; a driver only those of their own cards (as on the account page)."""
    sessions = Session.objects.select_related("station", "evse", "connector")
    if user.is_staff_member:
        return sessions
    return sessions.filter(id_token__driver__user=user)


@extend_schema(tags=["sessions"])
class SessionListApi(ApiMixin, generics.ListAPIView):
    """Charging sessions, newest first. Drivers see the sessions of their own cards."""

    queryset = Session.objects.none()  # for the schema; get_queryset() decides
    permission_classes = [IsStaffOrDriverRead]
    serializer_class = SessionSerializer
    pagination_class = _SessionPagination
    filter_backends = [filters.DjangoFilterBackend, OrderingFilter]
    filterset_class = SessionFilter
    ordering_fields = ["started_at", "energy_wh"]

    def get_queryset(self):
        return _sessions_for(self.request.user)


@extend_schema(tags=["sessions"])
class SessionDetailApi(ApiMixin, generics.RetrieveAPIView):
    """One charging session (a driver may read only those of their own cards)."""

    queryset = Session.objects.none()  # for the schema; get_queryset() decides
    permission_classes = [IsStaffOrDriverRead]
    serializer_class = SessionSerializer

    def get_queryset(self):
        return _sessions_for(self.request.user)


class MeterSampleFilter(filters.FilterSet):
    measurand = filters.CharFilter()
    after = IsoDateTimeFilter(field_name="timestamp", lookup_expr="gte")
    before = IsoDateTimeFilter(field_name="timestamp", lookup_expr="lt")

    class Meta:
        model = MeterSample
        fields = ["measurand", "after", "before"]


class _MeterPagination(ApiCursorPagination):
    ordering = "timestamp"


@extend_schema(tags=["sessions"])
class SessionMeterValueListApi(ApiMixin, generics.ListAPIView):
    """The meter values of a session, oldest first."""

    queryset = MeterSample.objects.none()  # for the schema; get_queryset() decides
    permission_classes = [IsStaffOrDriverRead]
    serializer_class = MeterSampleSerializer
    pagination_class = _MeterPagination
    filter_backends = [filters.DjangoFilterBackend]
    filterset_class = MeterSampleFilter

    def get_queryset(self):
        session = get_object_or_404(_sessions_for(self.request.user), pk=self.kwargs["pk"])
        return MeterSample.objects.filter(session=session)


@extend_schema(tags=["sessions"])
class SessionRemoteStopApi(ApiView):
    permission_classes = [IsStaffReadOperateWrite]
    audit_object_type = "session"
    audit_lookup = "pk"

    @extend_schema(
        summary="Stop a session remotely",
        request=RemoteStopSerializer,
        responses={201: CommandSerializer},
        parameters=[IDEMPOTENCY_PARAMETER],
    )
    def post(self, request, pk: int):
        return self.idempotent(request, lambda: self._stop(request, pk))

    def _stop(self, request, pk: int) -> Response:
        session = get_object_or_404(Session.objects.select_related("station"), pk=pk)
        serializer = RemoteStopSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        command = services.session_remote_stop(session=session, requested_by=request.user)
        return _command_created(command, serializer.validated_data.get("wait"))


# --- message log and faults -------------------------------------------------------------------
class OcppMessageFilter(filters.FilterSet):
    after = IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    before = IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = OcppMessage
        fields = ["direction", "action", "message_id", "after", "before"]


class _MessagePagination(ApiCursorPagination):
    ordering = "-created_at"


@extend_schema(tags=["stations"])
class StationMessageListApi(ApiMixin, generics.ListAPIView):
    """The OCPP message log of a station, newest first."""

    queryset = OcppMessage.objects.none()  # for the schema; get_queryset() decides
    permission_classes = [IsStaffReadOperateWrite]
    serializer_class = OcppMessageSerializer
    pagination_class = _MessagePagination
    filter_backends = [filters.DjangoFilterBackend]
    filterset_class = OcppMessageFilter

    def get_queryset(self):
        return OcppMessage.objects.filter(station=_station(self.request, self.kwargs["identity"]))


class FaultFilter(filters.FilterSet):
    station = filters.CharFilter(field_name="evse__station__identity", help_text="Station identity")
    location = IdFilter(field_name="evse__station__location_id")

    class Meta:
        model = Connector
        fields = ["station", "location", "error_code"]


@extend_schema(tags=["stations"])
class FaultListApi(ApiMixin, generics.ListAPIView):
    """Connectors that report a fault now: status Faulted, or an error code other than NoError."""

    queryset = Connector.objects.none()  # for the schema; get_queryset() decides
    permission_classes = [IsStaffReadOperateWrite]
    serializer_class = FaultSerializer
    filter_backends = [filters.DjangoFilterBackend]
    filterset_class = FaultFilter

    def get_queryset(self):
        return (
            Connector.objects.select_related("evse__station")
            .filter(Q(status=Connector.Status.FAULTED) | ~Q(error_code__in=["", "NoError"]))
            .order_by("evse__station__identity", "evse__evse_id", "connector_id")
        )
