from django.urls import path

from operations.consumers import WorkersConsumer

websocket_urlpatterns = [path("ws/workers/", WorkersConsumer.as_asgi())]
