"""ASGI entry point: Django for HTTP, Channels for the OCPP and dashboard WebSockets."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chargenet.settings")

from django.core.asgi import get_asgi_application  # noqa: E402

django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from chargenet.routing import ocpp_urlpatterns, websocket_urlpatterns  # noqa: E402
from chargenet.web_server import settle_collector  # noqa: E402

OCPP_PREFIX = "/ocpp/"
ocpp_application = URLRouter(ocpp_urlpatterns)
browser_application = AuthMiddlewareStack(URLRouter(websocket_urlpatterns))


async def websocket_application(scope, receive, send):
    """Chargers on /ocpp/ go straight to the OCPP consumer: the cookie/session/auth middleware the
    browser feed needs would cost every handshake of a reconnect storm for nothing."""
    app = ocpp_application if scope["path"].startswith(OCPP_PREFIX) else browser_application
    return await app(scope, receive, send)


application = ProtocolTypeRouter({"http": django_asgi_app, "websocket": websocket_application})

settle_collector()
