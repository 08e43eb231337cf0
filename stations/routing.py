"""WebSocket routes of the stations app: the OCPP endpoint and the live dashboard feed."""

from django.urls import re_path

from stations.connection.consumers import OcppConsumer
from stations.dashboard.live import websocket_urlpatterns as live_urlpatterns

websocket_urlpatterns: list = [
    # ws(s)://HOST/ocpp/<identity>, a trailing slash tolerated (a public contract, docs/architecture.md).
    re_path(r"^ocpp/(?P<identity>[^/]+)/?$", OcppConsumer.as_asgi()),
    *live_urlpatterns,
]
