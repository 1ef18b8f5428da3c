import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402  (needs the apps loaded)
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402

from operations.routing import websocket_urlpatterns as operations_websockets  # noqa: E402
from portal.body_limit import BodySizeLimit  # noqa: E402
from portal.origins import SameOriginValidator  # noqa: E402
from transcription.routing import websocket_urlpatterns as transcription_websockets  # noqa: E402

websocket_urlpatterns = [*transcription_websockets, *operations_websockets]

application = ProtocolTypeRouter(
    {
        "http": BodySizeLimit(
            django_asgi_app, max_bytes=settings.REQUEST_MAX_BODY_MB * 1024 * 1024
        ),
        "websocket": SameOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
