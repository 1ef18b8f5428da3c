from typing import Any

from django.http import Http404
from django.shortcuts import get_object_or_404
from rest_framework import generics, status
from rest_framework.permissions import IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from operations import actions, selectors
from operations.models import AuditEntry
from operations.serializers import AuditEntrySerializer, WorkerActionSerializer
from transcription.models import Job


class WorkerListView(APIView):
    """The workers' statuses, for site staff: online first."""

    permission_classes = [IsAdminUser]

    def get(self, request: Request) -> Response:
        return Response(selectors.worker_list())


class WorkerDetailView(APIView):
    permission_classes = [IsAdminUser]

    def get(self, request: Request, name: str) -> Response:
        worker = selectors.worker_get(name)
        if worker is None:
            raise Http404
        return Response(worker)


class WorkerActionView(APIView):
    """An action sent to one worker (by name) or to every worker, each one's answer back."""

    permission_classes = [IsAdminUser]

    def post(self, request: Request, name: str | None = None) -> Response:
        if name is not None and selectors.worker_get(name) is None:
            raise Http404
        serializer = WorkerActionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        entry = actions.worker_action(
            actor=request.user,
            action=serializer.validated_data["action"],
            worker=name,
            model=serializer.validated_data.get("model", ""),
        )
        answer = {"action": entry.action, "target": entry.target, "ok": entry.ok, **entry.result}
        return Response({**answer, "audit": entry.pk})


class QueueJobActionView(APIView):
    """Staff's cancel or retry of anyone's job; 409 with the reason when it cannot be done."""

    permission_classes = [IsAdminUser]
    job_action = staticmethod(actions.job_cancel)

    def post(self, request: Request, job_id: int) -> Response:
        job = get_object_or_404(Job.objects.select_related("recording"), pk=job_id)
        try:
            entry = self.job_action(actor=request.user, job=job)
        except actions.ActionRefused as refusal:
            body = {"detail": f"Cannot do it: {refusal.detail}.", "audit": refusal.entry.pk}
            return Response(body, status=status.HTTP_409_CONFLICT)
        return Response({**job_answer(job), "audit": entry.pk})


def job_answer(job: Job) -> dict[str, Any]:
    return {
        "id": job.pk,
        "status": job.status,
        "cancel_requested": job.cancel_requested,
        "cancelled_by": job.cancelled_by.get_username() if job.cancelled_by else None,
    }


class AuditListView(generics.ListAPIView):
    """The audit log, newest first."""

    permission_classes = [IsAdminUser]
    serializer_class = AuditEntrySerializer
    queryset = AuditEntry.objects.all()
