from django.apps import AppConfig


class FleetConfig(AppConfig):
    """Fleet operations: firmware campaigns and diagnostics/log collection (docs/firmware-and-diagnostics.md)."""

    name = "fleet"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from chargenet.events import event_subscribe
        from fleet import subscribers

        event_subscribe("station.status_reported", subscribers.on_station_status_reported)
        event_subscribe("station.booted", subscribers.on_station_booted)
        event_subscribe("command.updated", subscribers.on_command_updated)
