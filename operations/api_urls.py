from django.urls import path

from operations import actions
from operations.api import (
    AuditListView,
    QueueJobActionView,
    QueueView,
    WorkerActionView,
    WorkerDetailView,
    WorkerListView,
)

urlpatterns = [
    path("workers/", WorkerListView.as_view(), name="worker-list"),
    # Before the worker's own routes: "actions" is not a worker's name.
    path("workers/actions/", WorkerActionView.as_view(), name="workers-action"),
    path("workers/<str:name>/", WorkerDetailView.as_view(), name="worker-detail"),
    path("workers/<str:name>/actions/", WorkerActionView.as_view(), name="worker-action"),
    path("queue/", QueueView.as_view(), name="queue"),
    path(
        "queue/<int:job_id>/cancel/",
        QueueJobActionView.as_view(job_action=actions.job_cancel),
        name="queue-cancel",
    ),
    path(
        "queue/<int:job_id>/retry/",
        QueueJobActionView.as_view(job_action=actions.job_retry),
        name="queue-retry",
    ),
    path("audit/", AuditListView.as_view(), name="audit-list"),
]
