"""REST API of roaming partners (under /api/v1/ocpi/): add a partner, see it, register with it."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response

from chargenet.api.base import ApiMixin, ApiView
from chargenet.api.permissions import IsStaffReadOperateWrite
from ocpi import selectors, services
from ocpi.models import Partner
from ocpi.views import versions_url


class PartnerSerializer(serializers.ModelSerializer):
    class Meta:
        model = Partner
        fields = [
            "id",
            "name",
            "country_code",
            "party_id",
            "roles",
            "status",
            "version",
            "versions_url",
            "endpoints",
            "send_base64",
            "last_success_at",
            "last_error",
            "last_error_at",
            "created_at",
        ]
        read_only_fields = fields


class PartnerCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    country_code = serializers.CharField(max_length=2, help_text="ISO 3166-1 alpha-2, e.g. DE")
    party_id = serializers.CharField(max_length=3, help_text="3 letters or digits")
    roles = serializers.JSONField(help_text='Role names or CredentialsRole objects, e.g. ["EMSP"]')


class PartnerCreatedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    country_code = serializers.CharField()
    party_id = serializers.CharField()
    roles = serializers.JSONField()
    status = serializers.CharField()
    token_a = serializers.CharField(help_text="Credentials token A for the partner, shown only this once")
    versions_url = serializers.CharField(help_text="ChargeNet's OCPI versions URL to give the partner")


class PartnerRegisterSerializer(serializers.Serializer):
    versions_url = serializers.URLField(max_length=500, help_text="The partner's OCPI versions URL")
    token_a = serializers.CharField(max_length=64, help_text="The token A the partner issued to us")
    version = serializers.ChoiceField(
        choices=["2.2.1", "2.1.1"], required=False,
        help_text="The OCPI version to speak with the partner; the highest both speak when left out",
    )  # fmt: skip


@extend_schema(tags=["ocpi"])
class PartnerListApi(ApiMixin, generics.ListAPIView):
    """Roaming partners (OCPI). Operators only."""

    queryset = Partner.objects.none()  # for the schema; get_queryset() decides
    permission_classes = [IsStaffReadOperateWrite]
    serializer_class = PartnerSerializer
    audit_object_type = "ocpi_partner"

    def get_queryset(self):
        return selectors.partner_list()

    @extend_schema(
        summary="Add a roaming partner",
        request=PartnerCreateSerializer,
        responses={201: PartnerCreatedSerializer},
        description="Issues credentials token A (shown only this once) for the partner to register with "
        "at `versions_url`.",
    )
    def post(self, request):
        serializer = PartnerCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        partner, token_a = services.partner_create(**serializer.validated_data)
        body = {
            "id": partner.pk,
            "name": partner.name,
            "country_code": partner.country_code,
            "party_id": partner.party_id,
            "roles": partner.roles,
            "status": partner.status,
            "token_a": token_a,
            "versions_url": versions_url(request),
        }
        return Response(PartnerCreatedSerializer(body).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["ocpi"])
class PartnerDetailApi(ApiView):
    """One roaming partner."""

    permission_classes = [IsStaffReadOperateWrite]

    @extend_schema(responses=PartnerSerializer)
    def get(self, request, pk: int):
        return Response(PartnerSerializer(get_object_or_404(Partner, pk=pk)).data)


@extend_schema(tags=["ocpi"])
class PartnerRegisterApi(ApiView):
    """ChargeNet registers with the partner, given the partner's versions URL and the token A it issued."""

    permission_classes = [IsStaffReadOperateWrite]
    audit_object_type = "ocpi_partner"
    audit_lookup = "pk"

    @extend_schema(request=PartnerRegisterSerializer, responses={200: PartnerSerializer})
    def post(self, request, pk: int):
        partner = get_object_or_404(Partner, pk=pk)
        serializer = PartnerRegisterSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        partner = services.partner_register_with(
            partner=partner, our_versions_url=versions_url(request), **serializer.validated_data
        )
        return Response(PartnerSerializer(partner).data)


class RoamingSessionSerializer(serializers.Serializer):
    session_id = serializers.IntegerField()
    station = serializers.CharField(source="session.station.identity")
    status = serializers.CharField(source="session.status")
    started_at = serializers.DateTimeField(source="session.started_at")
    stopped_at = serializers.DateTimeField(source="session.stopped_at", allow_null=True)
    energy_wh = serializers.IntegerField(source="session.energy_wh")
    cdr_token = serializers.JSONField()
    auth_method = serializers.CharField()
    authorization_reference = serializers.CharField()
    cdr_id = serializers.SerializerMethodField()
    total_incl_vat = serializers.SerializerMethodField()
    currency = serializers.SerializerMethodField()

    def _cdr(self, obj):
        return next(iter(obj.session.cdrs.all()), None)

    def get_cdr_id(self, obj) -> str | None:
        cdr = self._cdr(obj)
        return cdr.cdr_id if cdr else None

    def get_total_incl_vat(self, obj) -> str | None:
        cdr = self._cdr(obj)
        return f"{cdr.total_incl_vat:.2f}" if cdr else None

    def get_currency(self, obj) -> str | None:
        cdr = self._cdr(obj)
        return cdr.currency if cdr else None


@extend_schema(tags=["ocpi"])
class PartnerSessionListApi(ApiMixin, generics.ListAPIView):
    """A partner's roaming sessions, newest first, with how they were authorized and their CDR."""

    permission_classes = [IsStaffReadOperateWrite]
    serializer_class = RoamingSessionSerializer

    def get_queryset(self):
        partner = get_object_or_404(Partner, pk=self.kwargs["pk"])
        return selectors.partner_sessions(partner=partner)
