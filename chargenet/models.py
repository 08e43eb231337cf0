import uuid
from typing import Any, ClassVar

from django.contrib.auth.models import AbstractUser
from django.contrib.auth.models import UserManager as DjangoUserManager
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class UserManager(DjangoUserManager["User"]):
    """Django's user manager, except that a superuser is an admin (the first operator account is
    made with `createsuperuser`)."""

    def create_superuser(
        self, username: str, email: str | None = None, password: str | None = None, **extra_fields: Any
    ) -> "User":
        extra_fields.setdefault("role", User.Role.ADMIN)
        return super().create_superuser(username, email, password, **extra_fields)


class User(AbstractUser):
    """A person who logs in: an operator (admin, operator or viewer role) or a driver. A user made
    without a role sees nothing until an admin gives one."""

    class Role(models.TextChoices):
        NONE = "", _("No role")
        ADMIN = "admin", pgettext_lazy("a user's role", "Admin")
        OPERATOR = "operator", _("Operator")
        VIEWER = "viewer", _("Viewer")
        DRIVER = "driver", _("Driver")

    role = models.CharField(max_length=16, choices=Role.choices, default=Role.NONE, blank=True)
    # The zone pages show times in; blank: the browser's (chargenet.middleware).
    time_zone = models.CharField(max_length=64, blank=True)
    # The language pages and e-mails are in (one of LANGUAGES); blank: not chosen, the browser's.
    language = models.CharField(max_length=8, blank=True)

    objects: ClassVar[UserManager] = UserManager()

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


class Event(models.Model):
    """A domain event in the outbox: written in the transaction of the change it reports, then
    delivered to every durable subscriber (chargenet.events) until each has taken it."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    type = models.CharField(max_length=50)
    data = models.JSONField(encoder=DjangoJSONEncoder)
    created_at = models.DateTimeField(default=timezone.now)
    # The subscribers (module.name) that have taken the event; their work committed with this list.
    done = models.JSONField(default=list, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_error = models.TextField(blank=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # The dispatcher's due events, in id order (chargenet/events.py _events_claim_due).
            models.Index(
                fields=["id"], condition=models.Q(dispatched_at__isnull=True), name="event_pending_id_idx"
            )
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.uuid}"
