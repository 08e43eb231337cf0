"""Every model of the stations app, as Django and the rest of the code import them.

Each room keeps its models in its own `models.py`; this module gathers them so that
`from stations.models import Station` works everywhere and Django finds them all (app label
`stations`, so the migrations stay as they are).
"""

from stations.access.models import LocalListSync
from stations.alerts.models import AlertAcknowledgement, AlertMailPreference, AlertNotification
from stations.certificates.models import IssuedCertificate
from stations.connection.models import (
    ChargingProfile,
    Command,
    OcppMessage,
    ProtocolViolation,
    SecurityEvent,
    StationConfigurationKey,
    StationProtocolState,
)
from stations.devicemodel.models import (
    ChargingNotice,
    DeviceEvent,
    DeviceMonitor,
    DeviceVariable,
    DisplayMessage,
    StationReport,
)
from stations.network.models import Connector, ConnectorStatusChange, Evse, Location, Station, Tag
from stations.sessions.models import MeterSample, Reservation, Session

__all__ = [
    "AlertAcknowledgement",
    "AlertMailPreference",
    "AlertNotification",
    "ChargingProfile",
    "Command",
    "Connector",
    "ConnectorStatusChange",
    "Evse",
    "IssuedCertificate",
    "LocalListSync",
    "Location",
    "MeterSample",
    "OcppMessage",
    "ProtocolViolation",
    "Reservation",
    "SecurityEvent",
    "Session",
    "Station",
    "StationConfigurationKey",
    "StationProtocolState",
    "Tag",
    "ChargingNotice",
    "DeviceEvent",
    "DeviceMonitor",
    "DeviceVariable",
    "DisplayMessage",
    "StationReport",
]
