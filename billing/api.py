"""REST API of the billing app (under /api/v1/): tariffs, read only for now."""

from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.filters import OrderingFilter

from billing.models import Tariff
from billing.serializers import TariffSerializer
from chargenet.api.base import ApiMixin
from chargenet.api.permissions import IsStaffOrDriverRead


@extend_schema(tags=["tariffs"])
class TariffListApi(ApiMixin, generics.ListAPIView):
    """Price lists; drivers may read them too (prices are public)."""

    permission_classes = [IsStaffOrDriverRead]
    serializer_class = TariffSerializer
    queryset = Tariff.objects.all()
    filter_backends = [filters.DjangoFilterBackend, OrderingFilter]
    filterset_fields = ["code", "currency", "is_default"]
    ordering_fields = ["code", "name", "updated_at"]
    ordering = ["code"]


@extend_schema(tags=["tariffs"])
class TariffDetailApi(ApiMixin, generics.RetrieveAPIView):
    """One tariff."""

    permission_classes = [IsStaffOrDriverRead]
    serializer_class = TariffSerializer
    queryset = Tariff.objects.all()
