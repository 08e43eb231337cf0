from django.apps import AppConfig


class RfidConfig(AppConfig):
    name = "rfid"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from chargenet.events import event_subscribe

        event_subscribe("driver.signed_up", _on_driver_signed_up)


def _on_driver_signed_up(event_type: str, data: dict) -> None:
    """Send the verification mail of a new account (a failing mail server: retried by the outbox)."""
    from rfid import services

    services.driver_verification_mail_send(
        driver_id=data["driver_id"], site_url=data["site_url"], language=data.get("language")
    )
