from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    """A person who logs in: an operator (admin, operator or viewer role) or a driver."""

    class Role(models.TextChoices):
        ADMIN = "admin", "Admin"
        OPERATOR = "operator", "Operator"
        VIEWER = "viewer", "Viewer"
        DRIVER = "driver", "Driver"

    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)
    # The zone pages show times in; blank: the browser's (chargenet.middleware).
    time_zone = models.CharField(max_length=64, blank=True)

    @property
    def is_driver(self) -> bool:
        return self.role == self.Role.DRIVER

    @property
    def is_staff_member(self) -> bool:
        """Operators of any role: they see the operator dashboard."""
        return self.role in (self.Role.ADMIN, self.Role.OPERATOR, self.Role.VIEWER)

    @property
    def can_operate(self) -> bool:
        """Admins and operators may act on stations; viewers only look."""
        return self.role in (self.Role.ADMIN, self.Role.OPERATOR)


# The API's and the webhooks' models live beside their code; importing them here registers them.
from chargenet.api.models import ApiKey, AuditLog, IdempotencyRecord  # noqa: E402, F401
from chargenet.webhooks.models import WebhookDelivery, WebhookSubscription  # noqa: E402, F401
