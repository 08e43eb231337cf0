from django.apps import AppConfig


class SmartChargingConfig(AppConfig):
    name = "smartcharging"
    verbose_name = "Smart charging"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from smartcharging import subscribers

        subscribers.subscribe()
