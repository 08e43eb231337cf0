from django.apps import AppConfig


class OcpiConfig(AppConfig):
    name = "ocpi"
    default_auto_field = "django.db.models.BigAutoField"
