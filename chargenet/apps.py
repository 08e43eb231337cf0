from django.apps import AppConfig


class ChargenetConfig(AppConfig):
    name = "chargenet"
    verbose_name = "ChargeNet"
    default_auto_field = "django.db.models.BigAutoField"
