"""The operator dashboard: server-rendered pages whose live regions htmx refreshes on events."""

from stations.dashboard.views.locations import location_create, location_edit, location_list
from stations.dashboard.views.overview import dashboard
from stations.dashboard.views.sessions import session_detail, session_list
from stations.dashboard.views.stations import (
    station_command,
    station_create,
    station_detail,
    station_list,
    station_list_tags,
    station_tags,
)
from stations.dashboard.views.users import user_invite_view, user_list, user_update

__all__ = [
    "dashboard",
    "location_create",
    "location_edit",
    "location_list",
    "session_detail",
    "session_list",
    "station_command",
    "station_create",
    "station_detail",
    "station_list",
    "station_list_tags",
    "station_tags",
    "user_invite_view",
    "user_list",
    "user_update",
]
