from django.urls import path

from transcription.consumers import JobProgressConsumer

websocket_urlpatterns = [path("ws/jobs/", JobProgressConsumer.as_asgi())]
