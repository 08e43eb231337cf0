"""Every WebSocket route of ChargeNet, collected from the apps."""

from stations.routing import websocket_urlpatterns as station_routes

websocket_urlpatterns = [*station_routes]
