from django.db import models


class Tariff(models.Model):
    """A price list in one currency: components (energy, time, parking, flat) with restrictions.

    `elements` holds OCPI 2.2.1 tariff elements as they appear on the wire, so a tariff maps one to
    one onto OCPI; the pricing engine in `billing.pricing` interprets them.
    """

    code = models.CharField(max_length=36, unique=True)
    name = models.CharField(max_length=200)
    currency = models.CharField(max_length=3, default="EUR")
    vat_percent = models.DecimalField(max_digits=5, decimal_places=2, default=0)
    elements = models.JSONField(default=list, blank=True)
    valid_from = models.DateTimeField(null=True, blank=True)
    valid_to = models.DateTimeField(null=True, blank=True)
    is_default = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.currency})"
