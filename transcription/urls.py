from django.urls import path

from transcription import views, workspaces

urlpatterns = [
    path("", views.upload, name="upload"),
    path("history/", views.history, name="history"),
    path("recordings/<int:pk>/", views.recording, name="recording"),
    path("recordings/<int:pk>/move/", views.recording_move, name="recording-move"),
    path("search/", views.search, name="search"),
    path("hotwords/", views.hotwords, name="hotwords"),
    path("hotwords/<int:pk>/toggle/", views.hotword_list_toggle, name="hotword-list-toggle"),
    path("hotwords/<int:pk>/delete/", views.hotword_list_delete, name="hotword-list-delete"),
    path("workspace/", workspaces.switch_workspace, name="switch-workspace"),
]
