"""REST API of smart charging (under /api/v1/): charging profiles per station, the composite
schedule, site capacities with their allocation decisions, and schedule rules.

Interfaces only: parse → one service or selector call → render. Refusals are
`400 smart_charging_invalid` with the reason (chargenet.api.exceptions)."""

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from chargenet.api.base import ApiMixin, ApiView
from chargenet.api.permissions import IsStaffReadOperateWrite
from smartcharging import selectors, services
from smartcharging.models import AllocationDecision, Circuit, ScheduleRule, SiteCapacity
from smartcharging.serializers import (
    PURPOSES,
    AllocationDecisionSerializer,
    ChargingProfileCreateSerializer,
    ChargingProfileSerializer,
    CircuitSerializer,
    CircuitSetSerializer,
    CompositeQuerySerializer,
    ScheduleRuleCreateSerializer,
    ScheduleRuleSerializer,
    SiteCapacitySerializer,
    SiteCapacitySetSerializer,
)
from stations.api.serializers import CommandSerializer
from stations.models import ChargingProfile, Command, Location, Station, Tag
from stations.services import command_wait, tag_normalise


def _station(identity: str) -> Station:
    return get_object_or_404(Station.objects.select_related("location"), identity=identity)


def _command(command: Command, wait: float | None, code: int = status.HTTP_201_CREATED) -> Response:
    if wait:
        command = command_wait(command=command, timeout=wait)
    return Response(CommandSerializer(command).data, status=code)


@extend_schema(tags=["smart charging"])
class ChargingProfileListApi(ApiMixin, generics.ListAPIView):
    """A station's charging profiles: installed ones first, then the history (?installed=true: only
    the installed). POST sends a new one."""

    permission_classes = [IsStaffReadOperateWrite]
    serializer_class = ChargingProfileSerializer
    queryset = ChargingProfile.objects.none()  # for the schema; get_queryset() decides
    audit_object_type = "station"
    audit_lookup = "identity"

    def get_queryset(self):
        installed = self.request.query_params.get("installed") in ("1", "true")
        return selectors.charging_profile_list(
            station=_station(self.kwargs["identity"]), installed_only=installed
        )

    @extend_schema(
        summary="Send a charging profile",
        request=ChargingProfileCreateSerializer,
        responses={201: CommandSerializer},
        description="Checks the profile against the station (connector/EVSE, a running session for "
        "Tx, stack level range and clashes, ChargingScheduleMaxPeriods, the allowed units) and queues "
        "SetChargingProfile in the station's OCPP version. The station's answer marks it installed or "
        "rejected; `wait` waits for it.",
    )
    def post(self, request, identity: str):
        station = _station(identity)
        serializer = ChargingProfileCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        wait = data.pop("wait", None)
        spec = services.ProfileSpec(
            purpose=PURPOSES[data.pop("purpose")],
            periods=[{**p, "limit": float(p["limit"])} for p in data.pop("periods")],
            **data,
        )
        command = services.charging_profile_send(station=station, spec=spec, requested_by=request.user)
        return _command(command, wait)


@extend_schema(tags=["smart charging"])
class ChargingProfileDetailApi(ApiView):
    permission_classes = [IsStaffReadOperateWrite]
    audit_object_type = "station"
    audit_lookup = "identity"

    @extend_schema(summary="Clear one installed profile", responses={202: CommandSerializer})
    def delete(self, request, identity: str, profile_id: int):
        command = services.charging_profile_clear(
            station=_station(identity), profile_id=profile_id, requested_by=request.user
        )
        wait = request.query_params.get("wait")
        return _command(
            command, min(float(wait), 30) if wait and wait.isdigit() else None, status.HTTP_202_ACCEPTED
        )


@extend_schema(tags=["smart charging"])
class CompositeScheduleApi(ApiView):
    permission_classes = [IsStaffReadOperateWrite]
    audit_object_type = "station"
    audit_lookup = "identity"

    @extend_schema(
        summary="ChargeNet's composite schedule and the station's last answer",
        parameters=[CompositeQuerySerializer],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request, identity: str):
        station = _station(identity)
        query = CompositeQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        composite = selectors.station_composite(
            station=station, **{k: v for k, v in query.validated_data.items() if k != "wait"}
        )
        reported = selectors.station_reported_composite(station=station)
        return Response(
            {
                "start": composite.start,
                "duration": composite.duration,
                "unit": composite.unit,
                "periods": [
                    {"start": s.start, "limit": s.limit, "source": s.source} for s in composite.slots
                ],
                "station_reported": {
                    "received_at": reported.completed_at,
                    "request": reported.payload,
                    "periods": selectors.reported_periods(reported),
                }
                if reported
                else None,
            }
        )

    @extend_schema(
        summary="Ask the station for its composite schedule",
        request=CompositeQuerySerializer,
        responses={201: CommandSerializer},
    )
    def post(self, request, identity: str):
        query = CompositeQuerySerializer(data=request.data)
        query.is_valid(raise_exception=True)
        data = dict(query.validated_data)
        wait = data.pop("wait", None)
        command = services.composite_schedule_request(
            station=_station(identity), requested_by=request.user, **data
        )
        return _command(command, wait)


@extend_schema(tags=["smart charging"])
class SiteCapacityApi(ApiView):
    permission_classes = [IsStaffReadOperateWrite]
    audit_object_type = "location"
    audit_lookup = "pk"

    @extend_schema(summary="A location's capacity", responses=SiteCapacitySerializer)
    def get(self, request, pk: int):
        site = selectors.site_capacity_get(location_id=get_object_or_404(Location, pk=pk).pk)
        if site is None:
            return Response({"error": {"code": "not_found", "message": "No capacity set."}}, status=404)
        return Response(SiteCapacitySerializer(site).data)

    @extend_schema(
        summary="Set a location's capacity",
        request=SiteCapacitySetSerializer,
        responses=SiteCapacitySerializer,
        description="Give `capacity_a` (per phase) or `capacity_kw` (three phases at 230 V), and "
        "optionally `capacity_windows` by time of day and `plan_priorities`; what is not given is kept. "
        "Refused when below the minimum current of the sessions running there.",
    )
    def put(self, request, pk: int):
        location = get_object_or_404(Location, pk=pk)
        serializer = SiteCapacitySetSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        site = services.site_capacity_set(location=location, **serializer.validated_data)
        return Response(SiteCapacitySerializer(site).data)


def _circuit_args(site: SiteCapacity, data: dict) -> dict:
    identities = data.pop("stations", [])
    stations = list(Station.objects.filter(identity__in=identities))
    unknown = sorted(set(identities) - {s.identity for s in stations})
    if unknown:
        raise ValidationError({"stations": [f"No such station: {', '.join(unknown)}."]})
    parent_id = data.pop("parent", None)
    parent = Circuit.objects.filter(pk=parent_id, site=site).first() if parent_id is not None else None
    if parent_id is not None and parent is None:
        raise ValidationError({"parent": ["No such circuit at this site."]})
    return {**data, "parent": parent, "stations": stations}


def _site(pk: int) -> SiteCapacity:
    site = selectors.site_capacity_get(location_id=get_object_or_404(Location, pk=pk).pk)
    if site is None:
        raise services.SmartChargingError("set the location's capacity first")
    return site


@extend_schema(tags=["smart charging"])
class CircuitListApi(ApiMixin, generics.ListAPIView):
    """A site's circuits (a page of them, as every list). POST adds one."""

    permission_classes = [IsStaffReadOperateWrite]
    serializer_class = CircuitSerializer
    audit_object_type = "location"
    audit_lookup = "pk"

    def get_queryset(self):
        return selectors.circuit_list(location_id=get_object_or_404(Location, pk=self.kwargs["pk"]).pk)

    @extend_schema(
        summary="Add a circuit to a site",
        request=CircuitSetSerializer,
        responses={201: CircuitSerializer},
        description="A feeder or board with its own limit (`capacity_a` per phase or `capacity_kw`), "
        "under `parent` (a circuit id) or the site, feeding `stations` (identities).",
    )
    def post(self, request, pk: int):
        site = _site(pk)
        serializer = CircuitSetSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        circuit = services.circuit_set(site=site, **_circuit_args(site, dict(serializer.validated_data)))
        return Response(CircuitSerializer(circuit).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["smart charging"])
class CircuitDetailApi(ApiView):
    permission_classes = [IsStaffReadOperateWrite]
    audit_object_type = "circuit"
    audit_lookup = "circuit_id"

    @extend_schema(summary="Change a circuit", request=CircuitSetSerializer, responses=CircuitSerializer)
    def put(self, request, pk: int, circuit_id: int):
        site = _site(pk)
        circuit = get_object_or_404(Circuit, pk=circuit_id, site=site)
        serializer = CircuitSetSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        args = _circuit_args(site, dict(serializer.validated_data))
        circuit = services.circuit_set(site=site, circuit=circuit, **args)
        return Response(CircuitSerializer(circuit).data)

    @extend_schema(summary="Delete a circuit (and those below it)", responses={204: None})
    def delete(self, request, pk: int, circuit_id: int):
        services.circuit_delete(circuit=get_object_or_404(Circuit, pk=circuit_id, site=_site(pk)))
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=["smart charging"])
class AllocationListApi(ApiMixin, generics.ListAPIView):
    """A location's allocation decisions, newest first: what each session got and why."""

    permission_classes = [IsStaffReadOperateWrite]
    serializer_class = AllocationDecisionSerializer
    queryset = AllocationDecision.objects.none()

    def get_queryset(self):
        return selectors.allocation_decision_list(
            location_id=get_object_or_404(Location, pk=self.kwargs["pk"]).pk
        )


@extend_schema(tags=["smart charging"])
class ScheduleRuleListApi(ApiMixin, generics.ListAPIView):
    """Schedule rules (power limits, opening hours, maintenance windows). POST creates one."""

    permission_classes = [IsStaffReadOperateWrite]
    serializer_class = ScheduleRuleSerializer
    queryset = ScheduleRule.objects.none()
    audit_object_type = "schedule_rule"

    def get_queryset(self):
        return (
            ScheduleRule.objects.filter(is_active=True)
            .select_related("station", "tag")
            .order_by("name", "id")
        )

    @extend_schema(
        summary="Create a schedule rule",
        request=ScheduleRuleCreateSerializer,
        responses={201: ScheduleRuleSerializer},
    )
    def post(self, request):
        serializer = ScheduleRuleCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        location_id, identity = data.pop("location", None), data.pop("station", None)
        tag_name = data.pop("tag", None)
        location = Location.objects.filter(pk=location_id).first() if location_id is not None else None
        station = Station.objects.filter(identity=identity).first() if identity else None
        tag = Tag.objects.filter(name=tag_normalise(tag_name)).first() if tag_name else None
        if location_id is not None and location is None:
            raise ValidationError({"location": ["No such location."]})
        if identity and station is None:
            raise ValidationError({"station": ["No such station."]})
        if tag_name and tag is None:
            raise ValidationError({"tag": ["No station has this tag."]})
        rule = services.schedule_rule_create(location=location, station=station, tag=tag, **data)
        return Response(ScheduleRuleSerializer(rule).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["smart charging"])
class ScheduleRuleDetailApi(ApiView):
    permission_classes = [IsStaffReadOperateWrite]
    audit_object_type = "schedule_rule"
    audit_lookup = "pk"

    @extend_schema(
        summary="Delete a schedule rule (what it imposed is lifted at the next tick)", responses={204: None}
    )
    def delete(self, request, pk: int):
        services.schedule_rule_delete(rule=get_object_or_404(ScheduleRule, pk=pk))
        return Response(status=status.HTTP_204_NO_CONTENT)
