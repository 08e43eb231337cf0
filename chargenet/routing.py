"""Every WebSocket route of ChargeNet, collected from the apps: chargers' and browsers'."""

from stations.routing import ocpp_urlpatterns as station_ocpp_routes
from stations.routing import websocket_urlpatterns as station_routes

ocpp_urlpatterns = [*station_ocpp_routes]
websocket_urlpatterns = [*station_routes]
