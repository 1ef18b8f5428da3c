from django.urls import path

from operations.api import QueueView, WorkerDetailView, WorkerListView

urlpatterns = [
    path("workers/", WorkerListView.as_view(), name="worker-list"),
    path("workers/<str:name>/", WorkerDetailView.as_view(), name="worker-detail"),
    path("queue/", QueueView.as_view(), name="queue"),
]
