"""WebSocket routes of the stations app: the OCPP endpoint and the live dashboard feed."""

from django.urls import re_path

from stations.connection.consumers import OcppConsumer
from stations.dashboard.live import websocket_urlpatterns as live_urlpatterns

# ws(s)://HOST/ocpp/<identity>, a trailing slash tolerated (a public contract, docs/architecture.md).
# Chargers send no cookies: chargenet/asgi.py serves these without the browser middleware.
ocpp_urlpatterns: list = [
    re_path(r"^ocpp/(?P<identity>[^/]+)/?$", OcppConsumer.as_asgi()),
]

# Browser WebSockets (session-authenticated).
websocket_urlpatterns: list = [*live_urlpatterns]
