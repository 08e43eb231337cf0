"""The stations' part of /metrics (chargenet.metrics): connected stations and command outcomes,
read from the database at scrape time so every node reports the whole network."""

from collections.abc import Iterator

from django.db.models import Count
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from stations.models import Command, Station


class StationsCollector(Collector):
    """Stations (registered, connected) and CSMS commands by status."""

    def collect(self) -> Iterator[Metric]:
        connected = GaugeMetricFamily("chargenet_stations_connected", "Stations with a live OCPP connection.")
        connected.add_metric([], Station.objects.filter(is_online=True).count())
        yield connected
        total = GaugeMetricFamily("chargenet_stations", "Stations registered.")
        total.add_metric([], Station.objects.count())
        yield total
        commands = GaugeMetricFamily(
            "chargenet_commands", "CSMS-initiated commands by status (their outcomes).", labels=["status"]
        )
        counts = dict(Command.objects.values("status").annotate(n=Count("id")).values_list("status", "n"))
        for status in Command.Status.values:
            commands.add_metric([status], counts.get(status, 0))
        yield commands
