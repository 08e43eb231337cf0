"""Every WebSocket route of ChargeNet, collected from the apps: chargers' and browsers'."""

from channels.generic.websocket import AsyncWebsocketConsumer
from django.urls import re_path

from stations.routing import ocpp_urlpatterns as station_ocpp_routes
from stations.routing import websocket_urlpatterns as station_routes


class UnroutedConsumer(AsyncWebsocketConsumer):
    """A WebSocket path no route serves (e.g. an identity with an encoded '/', which the server
    decodes into a second path segment): refused at the handshake instead of an unhandled error."""

    async def connect(self) -> None:
        await self.close()  # before accept: the server refuses the handshake


unrouted = re_path(r"", UnroutedConsumer.as_asgi())
ocpp_urlpatterns = [*station_ocpp_routes, unrouted]
websocket_urlpatterns = [*station_routes, unrouted]
