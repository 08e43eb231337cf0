"""Simulated charge points: the station side of OCPP, for demo mode, operators and tests.

`SimulatedStation` is one charger you drive from code; `DemoBehaviour` makes it live on its own;
`fleet_run` runs many of them (this is what `manage.py simulate` does).
"""

from stations.simulator.demo import Backoff, DemoBehaviour, fleet_run
from stations.simulator.station import Connector, ReceivedCall, SentCall, SimulatedStation, now_iso

__all__ = [
    "Backoff",
    "Connector",
    "DemoBehaviour",
    "ReceivedCall",
    "SentCall",
    "SimulatedStation",
    "fleet_run",
    "now_iso",
]
