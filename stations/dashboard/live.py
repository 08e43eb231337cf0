"""The dashboard's live feed: domain events pushed to operators' browsers over `/ws/events/`.

Services publish events after commit to the channel-layer group "events" (chargenet.events); this
consumer forwards them as JSON to every signed-in operator (any role), and to a signed-in driver
only the session, CDR and remote-start events of their own cards (matched on the card's uid). The page's script
(static/js/live.js) then re-fetches the server-rendered fragments the event concerns, so the browser
never builds markup from event data.
"""

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.security.websocket import AllowedHostsOriginValidator
from django.urls import path

from chargenet.events import EVENTS_GROUP

# A policy-violation close code in the private range: not signed in as an operator or a driver.
CLOSE_FORBIDDEN = 4403


# What a driver's feed carries: the events of their own cards' sessions and of their CDRs, and the
# outcome of remote starts for their cards (command events carry the card's id_tag only then).
DRIVER_EVENTS = ("session.", "cdr.", "command.")


@database_sync_to_async
def _driver_card_uids(user) -> frozenset[str]:
    from rfid.models import IdToken

    return frozenset(IdToken.objects.filter(driver__user=user).values_list("uid", flat=True))


class EventsConsumer(AsyncJsonWebsocketConsumer):
    """Forwards every domain event to an operator's browser, and a driver's own session events to
    the driver's."""

    # None for operators (everything); for a driver, the uids of their cards.
    driver_uids: frozenset[str] | None = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        if getattr(user, "is_driver", False):
            self.driver_uids = await _driver_card_uids(user)
        elif not getattr(user, "is_staff_member", False):
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
            if self.driver_uids is not None:
                # A card added since the page opened counts from the next ping on.
                self.driver_uids = await _driver_card_uids(self.scope["user"])
            await self.send_json({"type": "pong"})

    async def event_message(self, message: dict) -> None:
        await self.event_forward(message["event"], message["data"])

    async def event_batch(self, message: dict) -> None:
        # The ASGI server sends the events of its last group commits as one group message.
        for event in message["events"]:
            await self.event_forward(event["event"], event["data"])

    async def event_forward(self, event: str, data: dict) -> None:
        if self.driver_uids is not None and not (
            event.startswith(DRIVER_EVENTS) and data.get("id_tag") in self.driver_uids
        ):
            return
        await self.send_json({"type": "event", "event": event, "data": data})


# Browsers send their cookies with a WebSocket from any site: check the Origin (cross-site
# WebSocket hijacking). The session middleware is applied here too, so the route keeps working
# if the outer stack stops wrapping every route (the OCPP route does not need it).
websocket_urlpatterns = [
    path("ws/events/", AllowedHostsOriginValidator(AuthMiddlewareStack(EventsConsumer.as_asgi()))),
]
