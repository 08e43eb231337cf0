from django.apps import AppConfig


class ChargenetConfig(AppConfig):
    name = "chargenet"
    verbose_name = "ChargeNet"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from chargenet.events import event_subscribe
        from chargenet.webhooks import tasks  # noqa: F401  (registers the task with the worker)
        from chargenet.webhooks.services import webhook_event_received

        event_subscribe("*", webhook_event_received)
