"""WebSocket routes of the stations app: the OCPP endpoint and the live dashboard feed."""

websocket_urlpatterns: list = []
