"""REST API of the API keys themselves (under /api/v1/api-keys/): each user manages their own."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.response import Response

from chargenet.api.base import ApiMixin, ApiView
from chargenet.api.models import ApiKey
from chargenet.api.permissions import IsAuthenticatedOwner
from chargenet.api.serializers import ApiKeyCreateSerializer, ApiKeySerializer, ApiKeyWithSecretSerializer
from chargenet.api.services import api_key_create, api_key_revoke


@extend_schema(tags=["api keys"])
class ApiKeyListApi(ApiMixin, generics.ListAPIView):
    """Your API keys, active and revoked."""

    queryset = ApiKey.objects.none()  # for the schema; get_queryset() decides
    permission_classes = [IsAuthenticatedOwner]
    serializer_class = ApiKeySerializer
    audit_object_type = "api_key"

    def get_queryset(self):
        return ApiKey.objects.filter(user=self.request.user)

    @extend_schema(
        summary="Create an API key",
        request=ApiKeyCreateSerializer,
        responses={201: ApiKeyWithSecretSerializer},
        description="The response holds the key itself, shown only this once.",
    )
    def post(self, request):
        serializer = ApiKeyCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        api_key, key = api_key_create(user=request.user, **serializer.validated_data)
        data = ApiKeyWithSecretSerializer({**ApiKeySerializer(api_key).data, "key": key}).data
        return Response(data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["api keys"])
class ApiKeyDetailApi(ApiView):
    """One of your API keys; DELETE revokes it at once."""

    permission_classes = [IsAuthenticatedOwner]
    audit_object_type = "api_key"
    audit_lookup = "pk"

    @extend_schema(responses=ApiKeySerializer)
    def get(self, request, pk: int):
        return Response(ApiKeySerializer(get_object_or_404(ApiKey, user=request.user, pk=pk)).data)

    @extend_schema(summary="Revoke an API key", responses={204: None})
    def delete(self, request, pk: int):
        api_key_revoke(api_key=get_object_or_404(ApiKey, user=request.user, pk=pk))
        return Response(status=status.HTTP_204_NO_CONTENT)
