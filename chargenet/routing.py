"""Every WebSocket route of ChargeNet, collected from the apps."""

from channels.generic.websocket import AsyncWebsocketConsumer
from django.urls import re_path

from stations.routing import websocket_urlpatterns as station_routes


class UnroutedConsumer(AsyncWebsocketConsumer):
    """A WebSocket path no route serves (e.g. an identity with an encoded '/', which the server
    decodes into a second path segment): refused at the handshake instead of an unhandled error."""

    async def connect(self) -> None:
        await self.close()  # before accept: the server answers HTTP 403


websocket_urlpatterns = [*station_routes, re_path(r"", UnroutedConsumer.as_asgi())]
