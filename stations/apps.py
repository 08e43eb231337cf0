from django.apps import AppConfig


class StationsConfig(AppConfig):
    name = "stations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from chargenet.events import event_subscribe
        from chargenet.metrics import scrape_collector_register
        from stations.access import local_lists
        from stations.alerts import services as alerts
        from stations.connection.metrics import StationsCollector
        from stations.devicemodel import services as devicemodel
        from stations.sessions import services as sessions

        # Card and station changes reach the stations' local lists and caches (docs/drivers-and-cards.md).
        local_lists.subscribe()
        # New alert occurrences are mailed to operators who opted in (docs/dashboard.md).
        alerts.subscribe()
        # /metrics reports the stations and the commands (docs/deployment.md).
        scrape_collector_register(StationsCollector())
        # A 2.0.1 station charging a session is told its running cost (CostUpdated, docs/ocpp-2.0.1-coverage.md).
        sessions.subscribe()
        # A driver who closes the account is erased on every 2.0.1 station (docs/ocpp-2.0.1-coverage.md).
        event_subscribe("driver.deleted", devicemodel.on_driver_deleted)
