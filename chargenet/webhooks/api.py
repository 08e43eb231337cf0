"""REST API of the webhooks (under /api/v1/webhooks/): subscribe, inspect deliveries, replay."""

from django.shortcuts import get_object_or_404
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.response import Response

from chargenet.api.base import ApiMixin, ApiView
from chargenet.api.filters import IsoDateTimeFilter
from chargenet.api.pagination import ApiCursorPagination
from chargenet.api.permissions import IsStaffReadOperateWrite
from chargenet.webhooks import services
from chargenet.webhooks.models import WebhookDelivery, WebhookSubscription
from chargenet.webhooks.serializers import (
    WebhookDeliverySerializer,
    WebhookSubscriptionCreateSerializer,
    WebhookSubscriptionSerializer,
    WebhookSubscriptionUpdateSerializer,
    WebhookSubscriptionWithSecretSerializer,
)


def _subscriptions_for(user):
    """Each user sees and manages the subscriptions they made."""
    return WebhookSubscription.objects.filter(user=user)


@extend_schema(tags=["webhooks"])
class WebhookSubscriptionListApi(ApiMixin, generics.ListAPIView):
    """Your webhook subscriptions. Operators only: events carry data of the whole network."""

    queryset = WebhookSubscription.objects.none()  # for the schema; get_queryset() decides
    permission_classes = [IsStaffReadOperateWrite]
    serializer_class = WebhookSubscriptionSerializer
    audit_object_type = "webhook_subscription"

    def get_queryset(self):
        return _subscriptions_for(self.request.user)

    @extend_schema(
        summary="Subscribe to events",
        request=WebhookSubscriptionCreateSerializer,
        responses={201: WebhookSubscriptionWithSecretSerializer},
        description="The response holds the signing `secret`, shown only this once.",
    )
    def post(self, request):
        serializer = WebhookSubscriptionCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        subscription = services.webhook_subscription_create(user=request.user, **serializer.validated_data)
        return Response(
            WebhookSubscriptionWithSecretSerializer(subscription).data, status=status.HTTP_201_CREATED
        )


@extend_schema(tags=["webhooks"])
class WebhookSubscriptionDetailApi(ApiView):
    """One of your subscriptions; PATCH changes it, DELETE ends it."""

    permission_classes = [IsStaffReadOperateWrite]
    audit_object_type = "webhook_subscription"
    audit_lookup = "pk"

    @extend_schema(responses=WebhookSubscriptionSerializer)
    def get(self, request, pk: int):
        return Response(WebhookSubscriptionSerializer(self._get(request, pk)).data)

    @extend_schema(request=WebhookSubscriptionUpdateSerializer, responses=WebhookSubscriptionSerializer)
    def patch(self, request, pk: int):
        subscription = self._get(request, pk)
        serializer = WebhookSubscriptionUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        subscription = services.webhook_subscription_update(
            subscription=subscription, **serializer.validated_data
        )
        return Response(WebhookSubscriptionSerializer(subscription).data)

    @extend_schema(responses={204: None})
    def delete(self, request, pk: int):
        services.webhook_subscription_delete(subscription=self._get(request, pk))
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _get(self, request, pk: int) -> WebhookSubscription:
        return get_object_or_404(_subscriptions_for(request.user), pk=pk)


class WebhookDeliveryFilter(filters.FilterSet):
    created_after = IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = WebhookDelivery
        fields = ["status", "event_type", "event_id", "created_after", "created_before"]


class _DeliveryPagination(ApiCursorPagination):
    ordering = "-created_at"


@extend_schema(tags=["webhooks"])
class WebhookDeliveryListApi(ApiMixin, generics.ListAPIView):
    """The deliveries of one of your subscriptions, newest first."""

    queryset = WebhookDelivery.objects.none()  # for the schema; get_queryset() decides
    permission_classes = [IsStaffReadOperateWrite]
    serializer_class = WebhookDeliverySerializer
    pagination_class = _DeliveryPagination
    filter_backends = [filters.DjangoFilterBackend]
    filterset_class = WebhookDeliveryFilter

    def get_queryset(self):
        subscription = get_object_or_404(_subscriptions_for(self.request.user), pk=self.kwargs["pk"])
        return WebhookDelivery.objects.filter(subscription=subscription).select_related("replay_of")


def _delivery(request, delivery_id) -> WebhookDelivery:
    return get_object_or_404(
        WebhookDelivery.objects.select_related("subscription", "replay_of"),
        subscription__user=request.user,
        uuid=delivery_id,
    )


@extend_schema(tags=["webhooks"])
class WebhookDeliveryDetailApi(ApiView):
    """One delivery of one of your subscriptions, with every attempt."""

    permission_classes = [IsStaffReadOperateWrite]

    @extend_schema(responses=WebhookDeliverySerializer)
    def get(self, request, delivery_id):
        return Response(WebhookDeliverySerializer(_delivery(request, delivery_id)).data)


@extend_schema(tags=["webhooks"])
class WebhookDeliveryReplayApi(ApiView):
    permission_classes = [IsStaffReadOperateWrite]
    audit_object_type = "webhook_delivery"
    audit_lookup = "delivery_id"

    @extend_schema(
        summary="Send a delivery's event again",
        request=None,
        responses={202: WebhookDeliverySerializer},
        description="Creates and enqueues a new delivery of the same event (same `event_id`).",
    )
    def post(self, request, delivery_id):
        replay = services.webhook_delivery_replay(delivery=_delivery(request, delivery_id))
        replay.refresh_from_db()
        return Response(WebhookDeliverySerializer(replay).data, status=status.HTTP_202_ACCEPTED)
