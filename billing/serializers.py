"""REST API representations of billing objects (tariffs; CDRs and invoices follow the billing app)."""

from rest_framework import serializers

from billing.models import Tariff


class TariffSerializer(serializers.ModelSerializer):
    """A price list; `elements` are OCPI 2.2.1 tariff elements as on the wire."""

    class Meta:
        model = Tariff
        fields = [
            "id",
            "code",
            "name",
            "currency",
            "vat_percent",
            "elements",
            "valid_from",
            "valid_to",
            "is_default",
            "updated_at",
        ]
        read_only_fields = fields
