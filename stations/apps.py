from django.apps import AppConfig


class StationsConfig(AppConfig):
    name = "stations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from stations import local_lists

        # Card and station changes reach the stations' local lists and caches (docs/drivers-and-cards.md).
        local_lists.subscribe()
