from django.apps import AppConfig


class OcpiConfig(AppConfig):
    name = "ocpi"
    verbose_name = "OCPI roaming"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from ocpi import subscribers

        subscribers.subscribe()
