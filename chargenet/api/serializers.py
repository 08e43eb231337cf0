"""REST API representations of API keys."""

from rest_framework import serializers

from chargenet.api.models import ApiKey


class ApiKeySerializer(serializers.ModelSerializer):
    """An API key as listed: its prefix identifies it; the key itself is never shown again."""

    class Meta:
        model = ApiKey
        fields = ["id", "name", "role", "prefix", "created_at", "last_used_at", "revoked_at"]
        read_only_fields = fields


class ApiKeyCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    role = serializers.ChoiceField(choices=ApiKey.Role.choices, default=ApiKey.Role.READ)


class ApiKeyWithSecretSerializer(ApiKeySerializer):
    """A new key: `key` is shown this once; send it as `Authorization: Token <key>`."""

    key = serializers.CharField()

    class Meta(ApiKeySerializer.Meta):
        fields = [*ApiKeySerializer.Meta.fields, "key"]
        read_only_fields = fields
