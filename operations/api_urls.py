from django.urls import path

from operations.api import WorkerDetailView, WorkerListView

urlpatterns = [
    path("workers/", WorkerListView.as_view(), name="worker-list"),
    path("workers/<str:name>/", WorkerDetailView.as_view(), name="worker-detail"),
]
