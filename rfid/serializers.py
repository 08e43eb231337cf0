"""REST API representations of id tokens (RFID cards) and drivers."""

from drf_spectacular.utils import OpenApiExample, extend_schema_serializer
from rest_framework import serializers

from rfid.models import Driver, IdToken


class IdTokenSerializer(serializers.ModelSerializer):
    """An identification token (RFID card, key fob, app token …) and who owns it."""

    class Meta:
        model = IdToken
        fields = [
            "id",
            "uid",
            "type",
            "printed_number",
            "status",
            "expires_at",
            "parent_id_tag",
            "driver",
            "label",
            "source",
            "created_at",
            "last_used_at",
        ]
        read_only_fields = fields


class IdTokenUpdateSerializer(serializers.ModelSerializer):
    """What an operator may change on a card (its uid never changes)."""

    class Meta:
        model = IdToken
        fields = [
            "type",
            "printed_number",
            "status",
            "expires_at",
            "parent_id_tag",
            "driver",
            "label",
            "source",
        ]


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "A driver's card",
            value={
                "uid": "04A2B3C4D5E6F7",
                "printed_number": "NL-CNT-000123",
                "driver": 1,
                "label": "Work car",
            },
            request_only=True,
        )
    ]
)
class IdTokenCreateSerializer(IdTokenUpdateSerializer):
    uid = serializers.RegexField(
        r"^[\x21-\x7e]{1,36}$", max_length=36, help_text="1–36 printable ASCII characters without spaces"
    )

    class Meta(IdTokenUpdateSerializer.Meta):
        fields = ["uid", *IdTokenUpdateSerializer.Meta.fields]


class DriverSerializer(serializers.ModelSerializer):
    """A driver's account: contact and billing details; its cards are under /id-tokens/?driver=<id>."""

    username = serializers.CharField(source="user.username", read_only=True)

    class Meta:
        model = Driver
        fields = [
            "id",
            "username",
            "name",
            "email",
            "phone",
            "billing_name",
            "billing_address",
            "vat_number",
            "created_at",
        ]
        read_only_fields = fields
