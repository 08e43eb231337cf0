"""WebSocket routes of the stations app: the OCPP endpoint and the live dashboard feed."""

websocket_urlpatterns: list = []

from stations.live import websocket_urlpatterns as live_urlpatterns  # noqa: E402

websocket_urlpatterns += live_urlpatterns
