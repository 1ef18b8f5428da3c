from django.urls import path

from transcription import views

urlpatterns = [
    path("", views.upload, name="upload"),
    path("history/", views.history, name="history"),
    path("recordings/<int:pk>/", views.recording, name="recording"),
]
