"""ASGI entry point: HTTP through Django, WebSockets through Channels with our tenant
resolution. Serve with `daphne pdm_saas.asgi:application` or uvicorn."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pdm_saas.settings")
django_asgi_app = get_asgi_application()  # before importing anything that touches models

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

from pdm_saas.live.consumers import LiveConsumer  # noqa: E402
from pdm_saas.live.tenancy import TenantScopeMiddleware  # noqa: E402

websocket_urlpatterns = [path("ws/live/", LiveConsumer.as_asgi())]

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # Origin checks live in LiveConsumer: cookie sessions must be same-origin, API-key
        # clients (no browser, no Origin) are not subject to cross-site hijacking.
        "websocket": TenantScopeMiddleware(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
