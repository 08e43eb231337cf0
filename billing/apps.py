import logging

from django.apps import AppConfig

logger = logging.getLogger(__name__)


class BillingConfig(AppConfig):
    name = "billing"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from chargenet.events import event_subscribe

        event_subscribe("session.stopped", _on_session_stopped)


def _on_session_stopped(event_type: str, data: dict) -> None:
    """Price the session in a worker; subscribers must be quick (chargenet.events)."""
    from billing.tasks import cdr_create_task

    cdr_create_task.delay(data["session_id"])
