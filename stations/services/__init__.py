"""Every write and business rule of the stations app (CONTRIBUTING.md: services), gathered from the
rooms that hold them (`stations/<room>/services`).

`from stations.services import X` and `services.X` name any of them: every public name is re-exported here.
"""

from stations.common import StationError
from stations.connection.services.commands import (
    ACCEPTING_STATUSES,
    REMOTE_START_REFUSED,
    CommandError,
    basic_auth_password,
    command_claim_next,
    command_complete,
    command_create,
    command_dispatch,
    command_expire,
    command_release,
    command_wait,
    commands_nudge_stale,
    session_remote_start,
    session_remote_stop,
)
from stations.connection.services.message_log import ocpp_messages_prune, ocpp_messages_store
from stations.connection.services.presence import (
    station_connected,
    station_disconnected,
    station_mark_offline,
    station_seen_flush,
)
from stations.connection.services.reports import (
    REPORT_KINDS,
    protocol_violation_record,
    security_event_record,
    station_publish_status_report,
    station_report_status,
)
from stations.network.services.locations import LOCATION_FIELDS, location_create, location_update
from stations.network.services.stations import (
    STATION_FIELDS,
    StationAuthError,
    StationAuthLocked,
    network_profile_set_request,
    station_boot,
    station_connect_authenticate,
    station_create,
    station_delete,
    station_ocpp_url,
    station_password_set,
    station_update,
)
from stations.network.services.status import FAULT_FREE_ERROR_CODES, connector_status_record
from stations.network.services.tags import (
    station_tags_change,
    station_tags_set,
    tag_normalise,
    tags_normalise,
)
from stations.sessions.services import (
    ENERGY_REGISTER,
    meter_values_record,
    session_cost_register,
    session_start,
    session_stop,
    session_total_cost,
    station_id_tag_authorize,
    station_id_token_tariff_text,
    tariff_text_register,
    transaction_event_record,
)

__all__ = [
    "station_tags_change",
    "station_tags_set",
    "tag_normalise",
    "tags_normalise",
    "session_cost_register",
    "session_total_cost",
    "station_id_token_tariff_text",
    "tariff_text_register",
    "basic_auth_password",
    "ACCEPTING_STATUSES",
    "CommandError",
    "ENERGY_REGISTER",
    "FAULT_FREE_ERROR_CODES",
    "LOCATION_FIELDS",
    "REMOTE_START_REFUSED",
    "REPORT_KINDS",
    "STATION_FIELDS",
    "StationAuthError",
    "StationAuthLocked",
    "StationError",
    "command_claim_next",
    "command_complete",
    "command_create",
    "command_dispatch",
    "command_expire",
    "commands_nudge_stale",
    "command_release",
    "command_wait",
    "connector_status_record",
    "location_create",
    "location_update",
    "meter_values_record",
    "ocpp_messages_prune",
    "ocpp_messages_store",
    "protocol_violation_record",
    "security_event_record",
    "session_remote_start",
    "session_remote_stop",
    "session_start",
    "session_stop",
    "station_boot",
    "station_connect_authenticate",
    "network_profile_set_request",
    "station_ocpp_url",
    "station_connected",
    "station_create",
    "station_delete",
    "station_disconnected",
    "station_id_tag_authorize",
    "station_mark_offline",
    "station_password_set",
    "station_publish_status_report",
    "station_report_status",
    "station_seen_flush",
    "station_update",
    "transaction_event_record",
]
