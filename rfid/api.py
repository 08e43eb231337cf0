"""REST API of the rfid app (under /api/v1/): id tokens and drivers."""

from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.filters import OrderingFilter
from rest_framework.response import Response

from chargenet.api.base import ApiMixin
from chargenet.api.filters import IdFilter
from chargenet.api.permissions import IsStaffOrDriverRead
from rfid import services
from rfid.models import Driver, IdToken
from rfid.serializers import (
    DriverSerializer,
    IdTokenCreateSerializer,
    IdTokenSerializer,
    IdTokenUpdateSerializer,
)


def _id_tokens_for(user):
    """Operators see every card; a driver only their own (another driver's card is a 404)."""
    if user.is_staff_member:
        return IdToken.objects.all()
    return IdToken.objects.filter(driver__user=user)


class IdTokenFilter(filters.FilterSet):
    uid = filters.CharFilter(lookup_expr="iexact")
    driver = IdFilter(field_name="driver_id")

    class Meta:
        model = IdToken
        fields = ["uid", "status", "type", "driver", "source", "parent_id_tag"]


@extend_schema(tags=["id tokens"])
class IdTokenListApi(ApiMixin, generics.ListCreateAPIView):
    """Cards and other id tokens. Drivers see their own cards."""

    queryset = IdToken.objects.none()  # for the schema; get_queryset() decides
    permission_classes = [IsStaffOrDriverRead]
    filter_backends = [filters.DjangoFilterBackend, OrderingFilter]
    filterset_class = IdTokenFilter
    ordering_fields = ["uid", "created_at", "last_used_at"]
    ordering = ["uid"]
    audit_object_type = "id_token"

    serializer_class = IdTokenSerializer

    def get_queryset(self):
        return _id_tokens_for(self.request.user)

    @extend_schema(
        summary="Issue a card", request=IdTokenCreateSerializer, responses={201: IdTokenSerializer}
    )
    def post(self, request):
        serializer = IdTokenCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        token = services.id_token_create(**serializer.validated_data)
        return Response(IdTokenSerializer(token).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["id tokens"])
class IdTokenDetailApi(ApiMixin, generics.RetrieveUpdateAPIView):
    """One card. PATCH blocks, unblocks, re-assigns or changes the expiry of a card."""

    queryset = IdToken.objects.none()  # for the schema; get_queryset() decides
    permission_classes = [IsStaffOrDriverRead]
    serializer_class = IdTokenSerializer
    http_method_names = ["get", "patch", "head", "options"]
    audit_object_type = "id_token"
    audit_lookup = "pk"

    def get_queryset(self):
        return _id_tokens_for(self.request.user)

    @extend_schema(summary="Change a card", request=IdTokenUpdateSerializer, responses=IdTokenSerializer)
    def patch(self, request, pk: int):
        token = self.get_object()
        serializer = IdTokenUpdateSerializer(token, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        token = services.id_token_update(id_token=token, **serializer.validated_data)
        return Response(IdTokenSerializer(token).data)


def _drivers_for(user):
    if user.is_staff_member:
        return Driver.objects.select_related("user")
    return Driver.objects.select_related("user").filter(user=user)


class DriverFilter(filters.FilterSet):
    email = filters.CharFilter(lookup_expr="iexact")
    name = filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = Driver
        fields = ["email", "name"]


@extend_schema(tags=["drivers"])
class DriverListApi(ApiMixin, generics.ListAPIView):
    """Driver accounts. A driver sees only their own."""

    queryset = Driver.objects.none()  # for the schema; get_queryset() decides
    permission_classes = [IsStaffOrDriverRead]
    serializer_class = DriverSerializer
    filter_backends = [filters.DjangoFilterBackend, OrderingFilter]
    filterset_class = DriverFilter
    ordering_fields = ["name", "created_at"]
    ordering = ["id"]

    def get_queryset(self):
        return _drivers_for(self.request.user)


@extend_schema(tags=["drivers"])
class DriverDetailApi(ApiMixin, generics.RetrieveAPIView):
    """One driver account (a driver may read only their own)."""

    queryset = Driver.objects.none()  # for the schema; get_queryset() decides
    permission_classes = [IsStaffOrDriverRead]
    serializer_class = DriverSerializer

    def get_queryset(self):
        return _drivers_for(self.request.user)
