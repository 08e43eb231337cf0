"""OCPI's part of /metrics (chargenet.metrics): pushes to partners still waiting to be delivered."""

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ocpi.models import Push


class OcpiCollector(Collector):
    """Pending OCPI pushes (location, EVSE, tariff, session and CDR updates a partner has not taken)."""

    def collect(self) -> Iterator[Metric]:
        pending = GaugeMetricFamily(
            "chargenet_ocpi_pushes_pending", "OCPI pushes not yet delivered to a partner."
        )
        pending.add_metric([], Push.objects.filter(status=Push.Status.PENDING).count())
        yield pending
