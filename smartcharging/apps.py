from django.apps import AppConfig


class SmartChargingConfig(AppConfig):
    name = "smartcharging"
    verbose_name = "Smart charging"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from smartcharging import subscribers
        from smartcharging.services import ev_charging_needs_answer, ev_charging_schedule_answer
        from stations.devicemodel.services import (
            charging_needs_answer_register,
            ev_charging_schedule_answer_register,
        )

        subscribers.subscribe()
        charging_needs_answer_register(ev_charging_needs_answer)
        ev_charging_schedule_answer_register(ev_charging_schedule_answer)
