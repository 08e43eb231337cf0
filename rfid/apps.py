from django.apps import AppConfig


class RfidConfig(AppConfig):
    name = "rfid"
    default_auto_field = "django.db.models.BigAutoField"
