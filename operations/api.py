from typing import Any

from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext_lazy as _
from rest_framework import generics, serializers, status
from rest_framework.permissions import IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from operations import actions, selectors
from operations.models import AuditEntry
from operations.serializers import AuditEntrySerializer, WorkerActionSerializer
from transcription import queue
from transcription.models import Job
from transcription.selectors import PERSONAL


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


# The queue, for site staff: what waits, in the order it runs (transcription.queue).


class QueuedJobSerializer(serializers.ModelSerializer):
    """A row of queue.waiting_jobs(); `eta_s` from the throughput the view measured once."""

    owner = serializers.CharField(source="owner.get_username")
    workspace = serializers.SerializerMethodField()
    audio_s = serializers.FloatField(source="recording.duration_s", allow_null=True)
    position = serializers.IntegerField()
    eta_s = serializers.SerializerMethodField()

    class Meta:
        model = Job
        fields = ["id", "recording", "owner", "workspace", "model", "audio_s", "position",
                  "priority", "queued_at", "eta_s"]  # fmt: skip
        read_only_fields = fields

    def get_workspace(self, job: Job) -> str:
        team = job.recording.team
        return team.name if team else PERSONAL

    def get_eta_s(self, job: Job) -> float | None:
        return self.context["throughput"].seconds_for(job.audio_ahead_s)


class QueueView(generics.ListAPIView):
    """The waiting jobs in the order they will run, a page at a time, with the queue's totals:
    how many, how many hours of audio, and when it should drain at the measured throughput."""

    permission_classes = [IsAdminUser]
    serializer_class = QueuedJobSerializer

    def get_queryset(self):
        return queue.waiting_jobs().select_related("owner", "recording__team")

    def list(self, request: Request) -> Response:
        totals = queue.totals()
        page = self.paginate_queryset(self.get_queryset())
        context = {**self.get_serializer_context(), "throughput": totals.throughput}
        rows = self.get_serializer(page, many=True, context=context).data
        response = self.get_paginated_response(rows)
        response.data["totals"] = {
            "jobs": totals.jobs,
            "audio_hours": round(totals.audio_s / 3600, 4),
            "drain_eta_s": totals.drain_eta_s,
            "throughput_audio_s_per_s": totals.throughput.audio_s_per_s,
            "running_jobs": totals.throughput.running_jobs,
        }
        return response


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
            body = {
                "detail": _("Cannot do it: %(reason)s.") % {"reason": refusal.detail},
                "audit": refusal.entry.pk,
            }
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
