"""REST API representations of webhook subscriptions and deliveries."""

from drf_spectacular.utils import OpenApiExample, extend_schema_serializer
from rest_framework import serializers

from chargenet.webhooks.models import WebhookDelivery, WebhookSubscription
from chargenet.webhooks.services import WEBHOOK_EVENTS

EVENT_CHOICES = ["*", *WEBHOOK_EVENTS]


class WebhookSubscriptionSerializer(serializers.ModelSerializer):
    """An endpoint and the events it receives."""

    events = serializers.ListField(child=serializers.ChoiceField(choices=EVENT_CHOICES))

    class Meta:
        model = WebhookSubscription
        fields = ["id", "url", "events", "description", "is_active", "created_at"]
        read_only_fields = fields


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Sessions and faults",
            value={
                "url": "https://integrator.example.com/chargenet/hooks",
                "events": ["session.started", "session.stopped", "connector.fault_raised"],
                "description": "Fleet app",
            },
            request_only=True,
        )
    ]
)
class WebhookSubscriptionCreateSerializer(serializers.Serializer):
    url = serializers.URLField(max_length=500, help_text="Where events are POSTed (http or https)")
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=EVENT_CHOICES),
        min_length=1,
        max_length=len(EVENT_CHOICES),
        help_text="Event types, or '*' for every event",
    )
    description = serializers.CharField(max_length=200, required=False, default="", allow_blank=True)


class WebhookSubscriptionUpdateSerializer(serializers.Serializer):
    url = serializers.URLField(max_length=500, required=False)
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=EVENT_CHOICES),
        min_length=1,
        max_length=len(EVENT_CHOICES),
        required=False,
    )
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)
    is_active = serializers.BooleanField(required=False)


class WebhookSubscriptionWithSecretSerializer(WebhookSubscriptionSerializer):
    """A new subscription: `secret` (to verify signatures) is shown this once."""

    class Meta(WebhookSubscriptionSerializer.Meta):
        fields = [*WebhookSubscriptionSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class WebhookDeliverySerializer(serializers.ModelSerializer):
    """One event sent to one subscription, with every attempt and the receiver's last answer."""

    id = serializers.UUIDField(source="uuid", read_only=True)
    subscription = serializers.PrimaryKeyRelatedField(read_only=True)
    replay_of = serializers.SlugRelatedField(slug_field="uuid", read_only=True)

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "subscription",
            "event_id",
            "event_type",
            "payload",
            "status",
            "attempts",
            "attempt_log",
            "response_status",
            "response_body",
            "replay_of",
            "created_at",
            "delivered_at",
        ]
        read_only_fields = fields
