"""REST API of fleet operations (under /api/v1/): firmware images, firmware campaigns, diagnostics."""

from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import generics, serializers
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response

from chargenet.api.base import ApiMixin, ApiView
from chargenet.api.permissions import IsStaffReadOperateWrite
from fleet import selectors, services
from fleet.models import (
    Campaign,
    CampaignEvent,
    CampaignStation,
    DiagnosticsRequest,
    FirmwareImage,
    FirmwarePublication,
)
from stations.models import Station

ID_MAX = 2**63 - 1  # a database id (a larger number would overflow the query, not miss)


# --- serializers ------------------------------------------------------------------------------
class FirmwareImageSerializer(serializers.ModelSerializer):
    is_signed = serializers.BooleanField(read_only=True)

    class Meta:
        model = FirmwareImage
        fields = [
            "id",
            "vendor",
            "model",
            "version",
            "file_name",
            "size",
            "sha256",
            "is_signed",
            "signing_certificate",
            "signature",
            "notes",
            "created_at",
        ]


class FirmwareImageCreateSerializer(serializers.Serializer):
    vendor = serializers.CharField(max_length=50)
    model = serializers.CharField(max_length=50)
    version = serializers.CharField(max_length=50)
    file = serializers.FileField(help_text="The image (multipart/form-data)")
    sha256 = serializers.CharField(
        max_length=64,
        required=False,
        default="",
        help_text="The vendor's SHA-256; a mismatch refuses the upload",
    )
    signing_certificate = serializers.CharField(required=False, default="", allow_blank=True)
    signature = serializers.CharField(required=False, default="", allow_blank=True)
    notes = serializers.CharField(required=False, default="", allow_blank=True)


class DiagnosticsRequestSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="uuid", read_only=True)
    identity = serializers.CharField(source="station.identity", read_only=True)
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = DiagnosticsRequest
        fields = [
            "id",
            "identity",
            "kind",
            "log_type",
            "transport",
            "since",
            "until",
            "status",
            "station_status",
            "file_name",
            "size",
            "error",
            "created_at",
            "uploaded_at",
            "download_url",
        ]

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_download_url(self, request: DiagnosticsRequest) -> str | None:
        if not request.file:
            return None
        http = self.context.get("request")
        path = f"/api/v1/diagnostics/{request.uuid}/file/"
        return http.build_absolute_uri(path) if http else path


class CampaignStationSerializer(serializers.ModelSerializer):
    identity = serializers.CharField(source="station.identity", read_only=True)
    diagnostics = serializers.SerializerMethodField()

    class Meta:
        model = CampaignStation
        fields = [
            "identity",
            "diagnostics",
            "wave",
            "status",
            "attempts",
            "last_report",
            "last_report_at",
            "waiting_reason",
            "failure_reason",
            "version_before",
            "started_at",
            "finished_at",
        ]

    @extend_schema_field(DiagnosticsRequestSerializer(allow_null=True))
    def get_diagnostics(self, row: CampaignStation) -> dict | None:
        """A diagnostics campaign: the request of the latest attempt, with its file's download URL."""
        if row.diagnostics is None:
            return None
        return DiagnosticsRequestSerializer(row.diagnostics, context=self.context).data


class CampaignEventSerializer(serializers.ModelSerializer):
    identity = serializers.CharField(source="station.identity", read_only=True, default=None, allow_null=True)

    class Meta:
        model = CampaignEvent
        fields = ["at", "identity", "message"]


@extend_schema_field({"type": "string", "pattern": r"^\d{2}:\d{2}(:\d{2}(\.\d+)?)?$", "example": "22:00:00"})
class LocalTimeField(serializers.TimeField):
    """A wall-clock time at each station's location, without an offset: OpenAPI's `format: time`
    (RFC 3339) requires one, so the schema gives the form instead."""


class CampaignSerializer(serializers.ModelSerializer):
    image = FirmwareImageSerializer(read_only=True, allow_null=True)
    window_start = LocalTimeField(read_only=True, allow_null=True)
    window_end = LocalTimeField(read_only=True, allow_null=True)
    counts = serializers.SerializerMethodField()

    class Meta:
        model = Campaign
        fields = [
            "id",
            "name",
            "kind",
            "image",
            "status",
            "target",
            "waves",
            "current_wave",
            "max_failure_rate",
            "window_start",
            "window_end",
            "allow_while_charging",
            "max_retries",
            "log_since",
            "log_until",
            "transport",
            "log_type",
            "halted_reason",
            "counts",
            "created_at",
            "finished_at",
        ]

    @extend_schema_field(serializers.DictField(child=serializers.IntegerField()))
    def get_counts(self, campaign: Campaign) -> dict[str, int]:
        return selectors.campaign_counts(campaign=campaign)


class CampaignDetailSerializer(CampaignSerializer):
    stations = CampaignStationSerializer(many=True, read_only=True)
    timeline = serializers.SerializerMethodField()

    class Meta(CampaignSerializer.Meta):
        fields = [*CampaignSerializer.Meta.fields, "stations", "timeline"]

    @extend_schema_field(CampaignEventSerializer(many=True))
    def get_timeline(self, campaign: Campaign) -> list[dict]:
        return CampaignEventSerializer(
            selectors.campaign_timeline(campaign=campaign, limit=100), many=True
        ).data


class CampaignTargetSerializer(serializers.Serializer):
    """What a campaign targets: every criterion given narrows the set of stations."""

    stations = serializers.ListField(
        child=serializers.CharField(max_length=48),
        required=False,
        help_text="Station identities",
    )
    location = serializers.IntegerField(
        required=False, min_value=1, max_value=ID_MAX, help_text="A location's id"
    )
    vendor = serializers.CharField(max_length=50, required=False, default="")
    model = serializers.CharField(max_length=50, required=False, default="")
    firmware_version = serializers.CharField(
        max_length=50, required=False, default="", help_text="Stations that report this firmware version"
    )
    tags = serializers.ListField(
        child=serializers.CharField(max_length=40), required=False, max_length=20, help_text="Station tags"
    )
    tags_match = serializers.ChoiceField(
        choices=["any", "all"], default="any", help_text="Stations with any of the tags, or with all of them"
    )

    def target(self) -> services.CampaignTarget:
        data = self.validated_data
        return services.CampaignTarget(
            identities=data.get("stations") or [],
            location_id=data.get("location"),
            vendor=data["vendor"],
            model=data["model"],
            firmware_version=data["firmware_version"],
            tags=data.get("tags") or [],
            tags_match=data["tags_match"],
        )


class CampaignWavesSerializer(CampaignTargetSerializer):
    name = serializers.CharField(max_length=200)
    waves = serializers.ListField(
        child=serializers.CharField(max_length=10),
        required=False,
        help_text='Wave sizes: counts ("1"), percentages ("10%") or "rest" (default 1, 10%, rest)',
    )
    max_failure_rate = serializers.IntegerField(min_value=0, max_value=100, default=10)
    window_start = LocalTimeField(required=False, allow_null=True, default=None)
    window_end = LocalTimeField(required=False, allow_null=True, default=None)
    max_retries = serializers.IntegerField(min_value=0, max_value=10, default=1)


class CampaignCreateSerializer(CampaignWavesSerializer):
    image = serializers.IntegerField(min_value=1, max_value=ID_MAX, help_text="The firmware image's id")
    allow_while_charging = serializers.BooleanField(default=False)


class DiagnosticsCampaignCreateSerializer(CampaignWavesSerializer):
    since = serializers.DateTimeField(required=False, allow_null=True, default=None)
    until = serializers.DateTimeField(required=False, allow_null=True, default=None)
    transport = serializers.ChoiceField(choices=DiagnosticsRequest.Transport.choices, default="http")
    log_type = serializers.ChoiceField(choices=["DiagnosticsLog", "SecurityLog"], default="DiagnosticsLog")


class DiagnosticsCollectSerializer(serializers.Serializer):
    since = serializers.DateTimeField(required=False, allow_null=True, default=None)
    until = serializers.DateTimeField(required=False, allow_null=True, default=None)
    transport = serializers.ChoiceField(choices=DiagnosticsRequest.Transport.choices, default="http")
    kind = serializers.ChoiceField(
        choices=DiagnosticsRequest.Kind.choices,
        required=False,
        default="",
        help_text="Default: diagnostics for OCPP 1.6, log for 2.0.1",
    )
    log_type = serializers.ChoiceField(choices=["DiagnosticsLog", "SecurityLog"], default="DiagnosticsLog")


# --- images -----------------------------------------------------------------------------------
@extend_schema(tags=["firmware"])
class FirmwareImageListApi(ApiMixin, generics.ListAPIView):
    """Firmware images, newest first. POST (multipart/form-data) uploads one; the SHA-256 is computed
    on upload and a given `sha256` that differs refuses it (400), as does a version already stored."""

    queryset = FirmwareImage.objects.all()
    permission_classes = [IsStaffReadOperateWrite]
    serializer_class = FirmwareImageSerializer
    parser_classes = [MultiPartParser, FormParser, JSONParser]
    audit_object_type = "firmware_image"

    @extend_schema(
        request={"multipart/form-data": FirmwareImageCreateSerializer},
        responses={201: FirmwareImageSerializer},
    )
    def post(self, request):
        serializer = FirmwareImageCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        image = services.firmware_image_create(
            vendor=data["vendor"],
            model=data["model"],
            version=data["version"],
            file=data["file"],
            file_name=data["file"].name or "",
            sha256=data["sha256"],
            signing_certificate=data["signing_certificate"],
            signature=data["signature"],
            notes=data["notes"],
            uploaded_by=request.user,
        )
        return Response(FirmwareImageSerializer(image).data, status=201)


@extend_schema(tags=["firmware"])
class FirmwareImageDetailApi(ApiMixin, generics.RetrieveAPIView):
    """One firmware image."""

    queryset = FirmwareImage.objects.all()
    permission_classes = [IsStaffReadOperateWrite]
    serializer_class = FirmwareImageSerializer


# --- campaigns --------------------------------------------------------------------------------
def _campaigns(kind: str):
    return (
        Campaign.objects.filter(kind=kind)
        .select_related("image")
        .prefetch_related("stations__station", "stations__diagnostics__station")
    )


def _campaign_created(request, campaign: Campaign) -> Response:
    campaign = _campaigns(campaign.kind).get(pk=campaign.pk)
    return Response(CampaignDetailSerializer(campaign, context={"request": request}).data, status=201)


TARGET_HELP = (
    "Target: `stations` (identities), `location`, `vendor`, `model`, `firmware_version`, `tags` (with "
    '`tags_match` "any" or "all"); every criterion given narrows the set, none given is every station. '
    'Waves are counts, percentages or "rest"; the campaign halts when more than `max_failure_rate` % of '
    "a wave fails. `window_start`/`window_end` are local times of each station's location."
)


@extend_schema(tags=["firmware"])
class CampaignListApi(ApiMixin, generics.ListAPIView):
    """Firmware campaigns, newest first, with counts of their stations by step."""

    queryset = Campaign.objects.filter(kind=Campaign.Kind.FIRMWARE).select_related("image")
    permission_classes = [IsStaffReadOperateWrite]
    serializer_class = CampaignSerializer
    audit_object_type = "firmware_campaign"

    @extend_schema(
        request=CampaignCreateSerializer,
        responses={201: CampaignDetailSerializer},
        description="Starts a firmware campaign at once; only stations of the image's vendor and model are "
        f"updated. {TARGET_HELP} Refused (400) for an unknown image or station, a listed station of another "
        "model, or a malformed wave or tag.",
    )
    def post(self, request):
        serializer = CampaignCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        image = FirmwareImage.objects.filter(pk=data["image"]).first()
        if image is None:
            raise services.FleetError(f"no firmware image {data['image']}")
        campaign = services.campaign_create(
            name=data["name"],
            image=image,
            target=serializer.target(),
            waves=data.get("waves") or None,
            max_failure_rate=data["max_failure_rate"],
            window_start=data["window_start"],
            window_end=data["window_end"],
            allow_while_charging=data["allow_while_charging"],
            max_retries=data["max_retries"],
            created_by=request.user,
        )
        return _campaign_created(request, campaign)


@extend_schema(tags=["diagnostics"])
class DiagnosticsCampaignListApi(ApiMixin, generics.ListAPIView):
    """Diagnostics campaigns (bulk collection of diagnostics and logs), newest first, with counts of
    their stations by step."""

    queryset = Campaign.objects.filter(kind=Campaign.Kind.DIAGNOSTICS)
    permission_classes = [IsStaffReadOperateWrite]
    serializer_class = CampaignSerializer
    audit_object_type = "diagnostics_campaign"

    @extend_schema(
        request=DiagnosticsCampaignCreateSerializer,
        responses={201: CampaignDetailSerializer},
        description="Starts collecting diagnostics (1.6 GetDiagnostics) or logs (2.0.1 GetLog) from the "
        f"targeted stations in waves, each with a one-time upload location. {TARGET_HELP} `since`/`until` "
        "bound the logs; `transport` is http or ftp. Refused (400) for an unknown station, no match, a "
        "malformed wave or tag, or FTP while the FTP server is off.",
    )
    def post(self, request):
        serializer = DiagnosticsCampaignCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        campaign = services.diagnostics_campaign_create(
            name=data["name"],
            target=serializer.target(),
            since=data["since"],
            until=data["until"],
            transport=data["transport"],
            log_type=data["log_type"],
            waves=data.get("waves") or None,
            max_failure_rate=data["max_failure_rate"],
            window_start=data["window_start"],
            window_end=data["window_end"],
            max_retries=data["max_retries"],
            created_by=request.user,
        )
        return _campaign_created(request, campaign)


@extend_schema(tags=["firmware"])
class CampaignDetailApi(ApiMixin, generics.RetrieveAPIView):
    """One firmware campaign with each station's wave and step, and the timeline."""

    queryset = _campaigns(Campaign.Kind.FIRMWARE)
    permission_classes = [IsStaffReadOperateWrite]
    serializer_class = CampaignDetailSerializer


@extend_schema(tags=["diagnostics"])
class DiagnosticsCampaignDetailApi(ApiMixin, generics.RetrieveAPIView):
    """One diagnostics campaign with each station's wave, step and uploaded file, and the timeline."""

    queryset = _campaigns(Campaign.Kind.DIAGNOSTICS)
    permission_classes = [IsStaffReadOperateWrite]
    serializer_class = CampaignDetailSerializer


class CampaignActionApi(ApiView):
    permission_classes = [IsStaffReadOperateWrite]
    audit_lookup = "pk"
    action = ""
    kind = Campaign.Kind.FIRMWARE

    def post(self, request, pk: int):
        campaign = get_object_or_404(Campaign, pk=pk, kind=self.kind)
        services.CAMPAIGN_ACTIONS[self.action](campaign=campaign)
        campaign = _campaigns(self.kind).get(pk=pk)
        return Response(CampaignDetailSerializer(campaign, context={"request": request}).data)


ACTION_DOCS = {
    "pause": (
        "Pause a campaign",
        "No station starts while paused; steps under way go on. 400 unless running.",
    ),
    "resume": (
        "Resume a campaign",
        "Runs a paused or halted campaign again; resuming a halted one accepts the failures that halted it.",
    ),
    "cancel": (
        "Cancel a campaign",
        "Stations not started are dropped; steps under way finish and are followed.",
    ),
    "retry-failed": (
        "Retry failed stations",
        "Every failed station is put back in line with its retries renewed (resume a halted campaign after).",
    ),
}


def _action_api(action: str, kind: str) -> type[CampaignActionApi]:
    summary, description = ACTION_DOCS[action]
    decorated = extend_schema(
        tags=["firmware" if kind == Campaign.Kind.FIRMWARE else "diagnostics"],
        summary=summary,
        description=description,
        request=None,
        responses={200: CampaignDetailSerializer},
    )
    prefix = "Campaign" if kind == Campaign.Kind.FIRMWARE else "DiagnosticsCampaign"
    name = prefix + "".join(part.title() for part in action.split("-")) + "Api"
    return type(
        name,
        (CampaignActionApi,),
        {
            "action": action,
            "kind": kind,
            "audit_object_type": f"{kind}_campaign",
            "__doc__": None,
            "post": decorated(CampaignActionApi.post),
        },
    )


# The action views per kind, for the URLs: CAMPAIGN_ACTION_APIS[kind][action].
CAMPAIGN_ACTION_APIS = {
    kind: {action: _action_api(action, kind) for action in ACTION_DOCS} for kind in Campaign.Kind
}


# --- diagnostics ------------------------------------------------------------------------------
@extend_schema(tags=["diagnostics"])
class StationDiagnosticsListApi(ApiMixin, generics.ListAPIView):
    """A station's diagnostics and log requests, newest first. POST collects: ChargeNet sends
    GetDiagnostics (1.6) or GetLog with a one-time upload location (HTTP, or FTP) and stores the file."""

    permission_classes = [IsStaffReadOperateWrite]
    serializer_class = DiagnosticsRequestSerializer
    queryset = DiagnosticsRequest.objects.none()  # for the schema; get_queryset() decides
    audit_object_type = "station"
    audit_lookup = "identity"

    def get_queryset(self):
        station = get_object_or_404(Station, identity=self.kwargs["identity"])
        return DiagnosticsRequest.objects.filter(station=station).select_related("station")

    @extend_schema(request=DiagnosticsCollectSerializer, responses={201: DiagnosticsRequestSerializer})
    def post(self, request, identity: str):
        station = get_object_or_404(Station, identity=identity)
        serializer = DiagnosticsCollectSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        diagnostics = services.diagnostics_collect(
            station=station,
            since=data["since"],
            until=data["until"],
            transport=data["transport"],
            kind=data["kind"],
            log_type=data["log_type"],
            requested_by=request.user,
        )
        return Response(
            DiagnosticsRequestSerializer(diagnostics, context={"request": request}).data, status=201
        )


@extend_schema(tags=["diagnostics"])
class DiagnosticsDetailApi(ApiMixin, generics.RetrieveAPIView):
    """One diagnostics or log request with its status."""

    permission_classes = [IsStaffReadOperateWrite]
    serializer_class = DiagnosticsRequestSerializer
    queryset = DiagnosticsRequest.objects.select_related("station")
    lookup_field = "uuid"
    lookup_url_kwarg = "request_uuid"


class DiagnosticsFileApi(ApiView):
    permission_classes = [IsStaffReadOperateWrite]

    @extend_schema(
        tags=["diagnostics"],
        summary="Download the uploaded file",
        responses={(200, "application/octet-stream"): OpenApiTypes.BINARY},
    )
    def get(self, request, request_uuid):
        diagnostics = get_object_or_404(DiagnosticsRequest, uuid=request_uuid)
        if not diagnostics.file:
            raise Http404("nothing was uploaded for this request")
        return FileResponse(
            diagnostics.file.storage.open(diagnostics.file.name, "rb"),
            as_attachment=True,
            filename=diagnostics.file_name or "diagnostics.log",
        )


# --- publishing firmware on a Local Controller (OCPP 2.0.1 L03, L04) ---------------------------
class FirmwarePublicationSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="uuid", read_only=True)
    identity = serializers.CharField(source="station.identity", read_only=True)

    class Meta:
        model = FirmwarePublication
        fields = [
            "id",
            "identity",
            "image",
            "request_id",
            "location",
            "checksum",
            "status",
            "station_status",
            "locations",
            "error",
            "unpublish_status",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class FirmwarePublishSerializer(serializers.Serializer):
    image = serializers.PrimaryKeyRelatedField(
        queryset=FirmwareImage.objects.all(), help_text="The firmware image to publish (its id)"
    )
    retries = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=0)
    retry_interval = serializers.IntegerField(
        required=False, allow_null=True, default=None, min_value=0, help_text="Seconds between retries"
    )


@extend_schema(tags=["firmware"])
class StationFirmwarePublicationListApi(ApiMixin, generics.ListAPIView):
    """The firmware a Local Controller (an OCPP 2.0.1 station) was asked to publish, newest first.
    POST publishes an image: ChargeNet sends PublishFirmware with the image's signed download link and
    its MD5; the station's PublishFirmwareStatusNotifications move the publication's status."""

    permission_classes = [IsStaffReadOperateWrite]
    serializer_class = FirmwarePublicationSerializer
    queryset = FirmwarePublication.objects.none()  # for the schema; get_queryset() decides
    audit_object_type = "station"
    audit_lookup = "identity"

    def get_queryset(self):
        station = get_object_or_404(Station, identity=self.kwargs["identity"])
        return selectors.station_firmware_publications(station=station)

    @extend_schema(request=FirmwarePublishSerializer, responses={201: FirmwarePublicationSerializer})
    def post(self, request, identity: str):
        station = get_object_or_404(Station, identity=identity)
        serializer = FirmwarePublishSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        publication = services.firmware_publish(
            station=station,
            image=data["image"],
            retries=data["retries"],
            retry_interval=data["retry_interval"],
            requested_by=request.user,
        )
        return Response(FirmwarePublicationSerializer(publication).data, status=201)


class FirmwarePublicationUnpublishApi(ApiView):
    permission_classes = [IsStaffReadOperateWrite]
    audit_object_type = "station"
    audit_lookup = "identity"

    @extend_schema(
        tags=["firmware"],
        summary="Unpublish a published image",
        description="Sends UnpublishFirmware with the image's MD5; the station's answer (Unpublished, "
        "NoFirmware, DownloadOngoing) appears as unpublish_status.",
        request=None,
        responses={200: FirmwarePublicationSerializer},
    )
    def post(self, request, identity: str, publication_uuid):
        publication = get_object_or_404(
            FirmwarePublication, station__identity=identity, uuid=publication_uuid
        )
        publication = services.firmware_unpublish(publication=publication, requested_by=request.user)
        return Response(FirmwarePublicationSerializer(publication).data)
