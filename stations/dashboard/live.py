"""The dashboard's live feed: domain events pushed to operators' browsers over `/ws/events/`.

Services publish events after commit to the channel-layer group "events" (chargenet.events); this
consumer forwards them as JSON to every signed-in operator (any role). The page's script
(static/js/live.js) then re-fetches the server-rendered fragments the event concerns, so the browser
never builds markup from event data.
"""

from channels.auth import AuthMiddlewareStack
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.security.websocket import AllowedHostsOriginValidator
from django.urls import path

from chargenet.events import EVENTS_GROUP

# A policy-violation close code in the private range: not signed in as an operator.
CLOSE_FORBIDDEN = 4403


class EventsConsumer(AsyncJsonWebsocketConsumer):
    """Forwards every domain event to an operator's browser."""

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not getattr(user, "is_staff_member", False):
            await self.close(code=CLOSE_FORBIDDEN)
            return
        await self.channel_layer.group_add(EVENTS_GROUP, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(EVENTS_GROUP, self.channel_name)

    async def receive_json(self, content, **kwargs) -> None:
        # The page pings every minute; re-joining renews the group membership, which channels-redis
        # otherwise drops after a day, so a wall-mounted dashboard keeps updating.
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.channel_layer.group_add(EVENTS_GROUP, self.channel_name)
            await self.send_json({"type": "pong"})

    async def event_message(self, message: dict) -> None:
        await self.send_json({"type": "event", "event": message["event"], "data": message["data"]})


# Browsers send their cookies with a WebSocket from any site: check the Origin (cross-site
# WebSocket hijacking). The session middleware is applied here too, so the route keeps working
# if the outer stack stops wrapping every route (the OCPP route does not need it).
websocket_urlpatterns = [
    path("ws/events/", AllowedHostsOriginValidator(AuthMiddlewareStack(EventsConsumer.as_asgi()))),
]
